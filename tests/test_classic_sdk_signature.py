"""The RPC signature v1 (HMAC-SHA1, SignatureVersion 1.0) that the classic Python core SDK
(aliyun-python-sdk-core with aliyun-python-sdk-kms), many users' scripts and the aliyun CLI speak: the local
cloud verifies it as strictly as ACS3, and answers what the gateway answers.

Sources (each test names the one it relies on):
- "Signature mechanism" / "Request signatures" for RPC APIs: https://www.alibabacloud.com/help/doc-detail/196741.htm,
  https://help.aliyun.com/en/document_detail/171741.html (the algorithm; the example request signed with
  AccessKey testid/testsecret whose Signature is CT9X0VtwR86fNWSnsc6v8YGOjuE=, worked through in "API 签名机制（示例）",
  https://developer.aliyun.com/ask/210168).
- The OpenAPI gateway's client errors: https://help.aliyun.com/en/document_detail/434846.html and
  https://help.aliyun.com/document_detail/48054.html (InvalidTimeStamp.Format/.Expired and the 15 minutes,
  SignatureNonceUsed, SignatureDoesNotMatch, Missing{ParameterName}, all 400); "管控OpenAPI的客户端公用错误码",
  https://developer.aliyun.com/ask/278265 (InvalidSignatureMethod); the SignatureDoesNotMatch body with the server's
  string to sign, https://github.com/NewFuture/DDNS/issues/57.
- The core SDK's own public signing function, `aliyunsdkcore.auth.composer.rpc_signature_composer.get_signed_url`, and
  the tea SDKs' `alibabacloud_openapi_util.client.Client.get_rpcsignature`, compute every expected value here.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from alibabacloud_openapi_util.client import Client as OpenApiUtil
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.composer import rpc_signature_composer
from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120.DescribeKeyRequest import DescribeKeyRequest
from aliyunsdkkms.request.v20160120.ListKeysRequest import ListKeysRequest

from localcloud import pop
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, PROTOCOL_NOW, REGION, make_account

# The documented example ("Signature mechanism": DescribeRegions, AccessKey testid / testsecret).
DOC_PARAMS = {"TimeStamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid", "Action": "DescribeRegions",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
              "Version": "2014-05-26", "SignatureVersion": "1.0"}
DOC_STRING_TO_SIGN = ("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
                      "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
                      "%26TimeStamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26")


def classic_kms(cloud, request, *, credential=None):
    """A classic core-SDK client on the region's endpoint, over http (the SDK's KMS requests default to https)."""
    client = AcsClient(region_id=REGION, credential=credential or AccessKeyCredential(ALICE_AK, ALICE_SECRET), auto_retry=False)
    request.set_endpoint(cloud.endpoint(REGION))
    request.set_protocol_type("http")
    return json.loads(client.do_action_with_exception(request))


def describe(key_id: str) -> DescribeKeyRequest:
    request = DescribeKeyRequest()
    request.set_KeyId(key_id)
    return request


def stamp(delta: timedelta = timedelta()) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def signed(params: dict, secret: str = ALICE_SECRET, method: str = "GET") -> dict:
    """`params` with the Signature the tea SDKs' public RPC signing function computes for them."""
    return {**params, "Signature": OpenApiUtil.get_rpcsignature(params, method, secret)}


def rpc_params(**overrides) -> dict:
    base = {"Action": "ListKeys", "Version": "2016-01-20", "Format": "JSON", "AccessKeyId": ALICE_AK, "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0", "SignatureNonce": str(uuid.uuid4()), "Timestamp": stamp()}
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def raw(cloud, params: dict) -> tuple[int, dict]:
    """GET /?<params> as the RPC request structure documents it: no SDK, no x-acs-* header."""
    url = f"http://{cloud.endpoint(REGION)}/?{urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# ---------------------------------------------------------------- the algorithm


def test_the_documented_example_signs_to_the_documented_signature():
    # "Signature mechanism" (doc-detail/196741, the example request's Signature=CT9X0VtwR86fNWSnsc6v8YGOjuE%3D; worked
    # through in developer.aliyun.com/ask/210168): the string to sign and the HMAC-SHA1 with "testsecret&".
    assert pop.rpc_v1_string_to_sign("GET", DOC_PARAMS) == DOC_STRING_TO_SIGN
    assert pop.rpc_v1_signature("GET", DOC_PARAMS, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="
    # Signature itself is never part of what is signed.
    assert pop.rpc_v1_signature("GET", {**DOC_PARAMS, "Signature": "anything"}, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_core_sdk_public_signer_and_the_local_cloud_agree_on_awkward_values(method):
    # Percent-encoding rules of "Signature mechanism" step 1 (space -> %20, * -> %2A, ~ kept, UTF-8 bytes -> %XY); the
    # core SDK's public get_signed_url signs query and body parameters together.
    query = {"Action": "Encrypt", "Version": "2016-01-20", "KeyId": "alias/a b*c~d", "EncryptionContext": '{"k":"v/1+2=3&4"}'}
    body = {"Plaintext": "aGVsbG8gd29ybGQ=", "Note": "päyments ✓"}
    url, sdk_string_to_sign = rpc_signature_composer.get_signed_url(dict(query), ALICE_AK, ALICE_SECRET, "JSON", method, body)
    sent = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    everything = {**sent, **body}
    assert pop.rpc_v1_string_to_sign(method, everything) == sdk_string_to_sign
    assert pop.rpc_v1_signature(method, everything, ALICE_SECRET) == sent["Signature"]
    assert "SignatureType" in sent and sent["SignatureType"] == ""  # an empty value is signed too


# ---------------------------------------------------------------- the classic SDK against the local cloud


def test_the_classic_sdk_reads_keys_from_the_local_cloud(start_cloud):
    # The cloud's clock is frozen years ahead: Timestamp is checked against the wall clock, as the SDK stamps it.
    cloud = start_cloud(make_account(), now=PROTOCOL_NOW)

    by_id = classic_kms(cloud, describe(KEY))
    by_alias = classic_kms(cloud, describe("alias/payments"))
    listed = classic_kms(cloud, ListKeysRequest())

    assert by_id["KeyMetadata"]["KeyId"] == by_alias["KeyMetadata"]["KeyId"] == KEY
    assert by_id["KeyMetadata"]["Arn"] == f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
    assert listed["TotalCount"] == 2 and {k["KeyId"] for k in listed["Keys"]["Key"]} == {KEY, OTHER_KEY}
    assert cloud.calls.get("kms:DescribeKey") == 2 and cloud.calls.get("kms:ListKeys") == 1
    # ActionTrail records the call's own parameters, not the signature's (ActionTrail samples, localcloud/actiontrail.py).
    record = next(e for e in cloud.account.actiontrail.events if e["eventName"] == "DescribeKey")
    assert record["requestParameters"]["KeyId"] == KEY and record["requestParameters"]["RegionId"] == REGION
    assert not {"Signature", "SignatureNonce", "SignatureMethod", "Timestamp", "AccessKeyId", "Format"} & set(record["requestParameters"])


def test_a_wrong_secret_is_told_apart_by_the_sdk_from_the_server_string_to_sign(start_cloud):
    # SignatureDoesNotMatch, 400, "Specified signature is not matched with our calculation. server string to sign is:<...>"
    # (gateway client errors, doc 434846; the body shape in NewFuture/DDNS#57). The core SDK compares that string with
    # its own and, when they are equal, reports InvalidAccessKeySecret: proof that the server signed what it did.
    cloud = start_cloud(make_account())
    with pytest.raises(ServerException) as wrong:
        classic_kms(cloud, describe(KEY), credential=AccessKeyCredential(ALICE_AK, "not-the-secret"))
    assert (wrong.value.get_error_code(), wrong.value.get_http_status()) == ("InvalidAccessKeySecret", 400)

    status, body = raw(cloud, signed(rpc_params(), secret="not-the-secret"))
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    prefix = "Specified signature is not matched with our calculation. server string to sign is:"
    assert body["Message"].startswith(prefix)
    assert body["Message"][len(prefix):].startswith("GET&%2F&AccessKeyId%3D")


def test_an_unknown_access_key_is_refused_as_for_acs3(start_cloud):
    cloud = start_cloud(make_account())
    status, body = raw(cloud, signed(rpc_params(AccessKeyId="LTAI5tNobodyAtAll000000")))
    assert (status, body["Code"]) == (404, "InvalidAccessKeyId.NotFound")


@pytest.mark.parametrize(("overrides", "code"), [
    ({"SignatureMethod": None}, "MissingSignatureMethod"),  # Missing{ParameterName} (doc 434846); UNCONFIRMED for this one
    ({"SignatureMethod": "HMAC-SHA256"}, "InvalidSignatureMethod"),  # "Only HMAC-SHA1 is supported" (doc 171741), ask/278265
    ({"SignatureVersion": None}, "MissingSignatureVersion"),  # UNCONFIRMED, as above
    ({"SignatureVersion": "2.0"}, "InvalidSignatureVersion"),  # "The value must be 1.0"; the code is UNCONFIRMED
    ({"Timestamp": None}, "MissingTimestamp"),
    ({"SignatureNonce": None}, "MissingSignatureNonce"),
    ({"Timestamp": "2030/01/01 00:00:00"}, "InvalidTimeStamp.Format"),  # ISO 8601 UTC required (doc 434846)
])
def test_signature_parameters_the_gateway_refuses(start_cloud, overrides, code):
    cloud = start_cloud(make_account())
    status, body = raw(cloud, signed(rpc_params(**overrides)))
    assert (status, body["Code"]) == (400, code)
    assert cloud.account.actiontrail.events == []  # refused before any product saw it, as an unsigned ACS3 call


@pytest.mark.parametrize("minutes", [-20, 20])
def test_a_timestamp_more_than_15_minutes_away_is_expired(start_cloud, minutes):
    # "The interval between the request time (Timestamp) and the time the server receives the request is more than
    # 15 minutes" -> InvalidTimeStamp.Expired, 400 (doc 434846 / 48054), whichever side of the server's time.
    cloud = start_cloud(make_account())
    status, body = raw(cloud, signed(rpc_params(Timestamp=stamp(timedelta(minutes=minutes)))))
    assert (status, body["Code"], body["Message"]) == (400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    status, body = raw(cloud, signed(rpc_params(Timestamp=stamp(timedelta(minutes=14 if minutes > 0 else -14)))))
    assert status == 200 and body["TotalCount"] == 2


def test_a_signature_nonce_is_used_once(start_cloud):
    # "SignatureNonce: A unique random number used to prevent replay attacks. You must use a different random number for
    # each request" (doc 171741); a replay is refused SignatureNonceUsed, 400 (doc 434846).
    cloud = start_cloud(make_account())
    request = signed(rpc_params())
    assert raw(cloud, request)[0] == 200
    status, body = raw(cloud, request)
    assert (status, body["Code"], body["Message"]) == (400, "SignatureNonceUsed", "Specified signature nonce was used already.")
    assert cloud.calls.get("kms:ListKeys") == 2 and len(cloud.account.actiontrail.events) == 1
    # A request refused for its signature does not spend its nonce: the right signature still gets through after it.
    fresh = rpc_params()
    assert raw(cloud, signed(fresh, secret="not-the-secret"))[1]["Code"] == "SignatureDoesNotMatch"
    assert raw(cloud, signed(fresh))[0] == 200


def test_sts_credentials_need_their_security_token(start_cloud):
    # The SecurityToken parameter of an STS caller is signed with the others and must match the AccessKey, as the
    # x-acs-security-token header must under ACS3 (InvalidSecurityToken.MismatchWithAccessKey).
    cloud = start_cloud(make_account())
    role = cloud.assume_role(f"acs:ram::{ACCOUNT_ID}:role/kms-steward-key-guard", session="classic")

    ok = classic_kms(cloud, describe(KEY), credential=StsTokenCredential(role.AccessKeyId, role.AccessKeySecret, role.SecurityToken))
    assert ok["KeyMetadata"]["KeyId"] == KEY
    with pytest.raises(ServerException) as no_token:
        classic_kms(cloud, describe(KEY), credential=AccessKeyCredential(role.AccessKeyId, role.AccessKeySecret))
    assert no_token.value.get_error_code() == "InvalidSecurityToken.MismatchWithAccessKey"
    status, body = raw(cloud, signed(rpc_params(AccessKeyId=role.AccessKeyId, SecurityToken="CAISnot-the-token"), secret=role.AccessKeySecret))
    assert (status, body["Code"]) == (400, "InvalidSecurityToken.MismatchWithAccessKey")

    record = next(e for e in cloud.account.actiontrail.events if e["eventName"] == "DescribeKey")
    assert record["userIdentity"]["type"] == "assumed-role" and "SecurityToken" not in record["requestParameters"]
