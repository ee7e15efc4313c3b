"""The local cloud answers as the documentation says the service does, where an answer is unkind: page sizes
clamped only where the docs say so, KMS key names taken only where documented, ActionTrail records carrying what
the service adds (and never a secret), CloudMonitor's PutCustomEvent limits, and contract samples that name where
they come from. The RPC signature v1 has its own file (tests/test_classic_sdk_signature.py).

Every test names its source; what the docs do not settle is marked UNCONFIRMED in the emulator's code.
"""
from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from alibabacloud_cms20190101 import models as cms
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.auth.credentials import AccessKeyCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from localcloud.clock import parse_time
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms, refused, sdk_config
from tests.support.resources import disk

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
SAMPLES = Path(__file__).parent / "contract" / "samples"
ARN = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
ALIAS = "alias/payments"
NOT_FOUND = ("Forbidden.KeyNotFound", 404)


# ---------------------------------------------------------------- page sizes


def test_describe_disks_clamps_max_results_to_10_through_500(start_cloud):
    # DescribeDisks: "MaxResults ... Valid values: 10 to 500. If this parameter is not specified or the specified value is
    # less than 10, the default value is 10. If the specified value is greater than 500, the default value is 500."
    # (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describedisks; the same text in
    # alibabacloud-ecs20140526 7.11.8's DescribeDisksRequest). Clamped, not refused.
    cloud = start_cloud(make_account(disks=[disk(f"d-{i:04}") for i in range(510)]))
    client = EcsClient(sdk_config(cloud))

    def page(max_results):
        return client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, kmskey_id=KEY, max_results=max_results)).body

    assert len(page(1).disks.disk) == 10
    assert len(page(4).disks.disk) == 10
    assert len(page(600).disks.disk) == 500 and page(600).next_token
    assert len(page(500).disks.disk) == 500
    assert len(client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION)).body.disks.disk) == 10  # not specified


@pytest.mark.parametrize(("name", "call"), [
    # KMS ListKeys, "PageSize ... Valid values: 1 to 100" (https://www.alibabacloud.com/help/doc-detail/28951.html)
    ("ListKeys", lambda c: alice_kms(c).list_keys(kms.ListKeysRequest(page_size=101))),
    # ListAliasesByKeyId "Valid values: 0 to 101" (sic; the current API reference), ListSecrets "between 1 and 100"
    # (alibabacloud-kms20160120 3.3.1's request models): no clamp is documented, so a larger size stays refused.
    ("ListAliasesByKeyId", lambda c: alice_kms(c).list_aliases_by_key_id(kms.ListAliasesByKeyIdRequest(key_id=KEY, page_size=101))),
    ("ListSecrets", lambda c: alice_kms(c).list_secrets(kms.ListSecretsRequest(page_size=101))),
    # ECS DescribeSnapshots, MaxResults "Maximum value: 100" (SDK 7.11.8): no clamp documented.
    ("DescribeSnapshots", lambda c: EcsClient(sdk_config(c)).describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, max_results=101))),
])
def test_page_sizes_without_a_documented_clamp_stay_refused(start_cloud, name, call):
    cloud = start_cloud(make_account())
    assert refused(lambda: call(cloud)) == ("InvalidParameter", 400), name


# ---------------------------------------------------------------- which names of a key each KMS API takes

# "The ID of the CMK" / "The globally unique ID of the CMK": the key id only (each API's reference; the parameter text
# alibabacloud-kms20160120 3.3.1's request models carry; ScheduleKeyDeletion's page lists 404 Forbidden.KeyNotFound).
ID_ONLY = {
    "ScheduleKeyDeletion": lambda c, ref: c.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=ref, pending_window_in_days=7)),
    "CancelKeyDeletion": lambda c, ref: c.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=ref)),
    "EnableKey": lambda c, ref: c.enable_key(kms.EnableKeyRequest(key_id=ref)),
    "DisableKey": lambda c, ref: c.disable_key(kms.DisableKeyRequest(key_id=ref)),
    "ListResourceTags": lambda c, ref: c.list_resource_tags(kms.ListResourceTagsRequest(key_id=ref)),
    "ListAliasesByKeyId": lambda c, ref: c.list_aliases_by_key_id(kms.ListAliasesByKeyIdRequest(key_id=ref)),
    "TagResource": lambda c, ref: c.tag_resource(kms.TagResourceRequest(key_id=ref, tags='[{"TagKey":"team","TagValue":"pay"}]')),
    "UpdateRotationPolicy": lambda c, ref: c.update_rotation_policy(
        kms.UpdateRotationPolicyRequest(key_id=ref, enable_automatic_rotation=False)),
    "GetParametersForImport": lambda c, ref: c.get_parameters_for_import(
        kms.GetParametersForImportRequest(key_id=ref, wrapping_algorithm="RSAES_OAEP_SHA_256", wrapping_key_spec="RSA_2048")),
    "DeleteKeyMaterial": lambda c, ref: c.delete_key_material(kms.DeleteKeyMaterialRequest(key_id=ref)),
    "SetDeletionProtection(KeyId)": lambda c, ref: c.set_deletion_protection(
        kms.SetDeletionProtectionRequest(key_id=ref, enable_deletion_protection=False)),
}


@pytest.mark.parametrize("api", sorted(ID_ONLY))
def test_apis_documented_to_take_the_key_id_refuse_an_alias_or_an_arn(start_cloud, api):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    assert refused(lambda: ID_ONLY[api](client, ALIAS)) == NOT_FOUND
    assert refused(lambda: ID_ONLY[api](client, ARN)) == NOT_FOUND
    try:  # by its id the key is found: whatever the answer, it is not KeyNotFound
        ID_ONLY[api](client, KEY)
    except Exception as exc:
        assert getattr(exc, "code", None) != "Forbidden.KeyNotFound", exc


def test_apis_documented_to_take_an_alias_take_it_and_those_documented_with_an_arn_take_that_too(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    plaintext = base64.b64encode(b"fidelity").decode()
    # DescribeKey: "the ID, alias, or ARN of the key" (https://www.alibabacloud.com/help/doc-detail/28952.htm); Encrypt and
    # GenerateDataKey: "You can also specify the alias or ARN of the key" (their API references).
    for ref in (KEY, ALIAS, ARN):
        assert client.describe_key(kms.DescribeKeyRequest(key_id=ref)).body.key_metadata.key_id == KEY
        assert client.encrypt(kms.EncryptRequest(key_id=ref, plaintext=plaintext)).body.key_id == KEY
        assert client.generate_data_key(kms.GenerateDataKeyRequest(key_id=ref)).body.key_id == KEY
    # ListKeyVersions, DescribeKeyVersion, GenerateDataKeyWithoutPlaintext: the id "or an alias that is bound to the CMK";
    # no ARN is documented for them, so an ARN names no key.
    versions = client.list_key_versions(kms.ListKeyVersionsRequest(key_id=ALIAS)).body.key_versions.key_version
    version = versions[0].key_version_id
    assert client.describe_key_version(kms.DescribeKeyVersionRequest(key_id=ALIAS, key_version_id=version)).body.key_version.key_id == KEY
    assert client.generate_data_key_without_plaintext(kms.GenerateDataKeyWithoutPlaintextRequest(key_id=ALIAS)).body.key_id == KEY
    assert refused(lambda: client.list_key_versions(kms.ListKeyVersionsRequest(key_id=ARN))) == NOT_FOUND
    assert refused(lambda: client.generate_data_key_without_plaintext(kms.GenerateDataKeyWithoutPlaintextRequest(key_id=ARN))) == NOT_FOUND
    # ReEncrypt's DestinationKeyId: "The ID of the symmetric master key" (the id only).
    blob = client.encrypt(kms.EncryptRequest(key_id=KEY, plaintext=plaintext)).body.ciphertext_blob
    assert refused(lambda: client.re_encrypt(kms.ReEncryptRequest(ciphertext_blob=blob, destination_key_id=ALIAS))) == NOT_FOUND
    assert client.re_encrypt(kms.ReEncryptRequest(ciphertext_blob=blob, destination_key_id=OTHER_KEY)).body.key_id == OTHER_KEY


# ---------------------------------------------------------------- ActionTrail records


def sts_kms(cloud, role) -> KmsClient:
    return KmsClient(Config(access_key_id=role.AccessKeyId, access_key_secret=role.AccessKeySecret, security_token=role.SecurityToken,
                            endpoint=cloud.endpoint(REGION), protocol="http", region_id=REGION))


def doc_sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_an_assumed_role_kms_call_is_recorded_with_what_the_service_adds(start_cloud):
    # The documentation's sample of a call by an assumed role ("Query ActionTrail events by assuming a RAM role",
    # https://www.alibabacloud.com/help/en/actiontrail/user-guide/query-actiontrail-events-by-assuming-a-ram-role, copied in
    # events/doc_actiontrail_assumed_role_lookup_events.json) and of an API call delivered to EventBridge (EventBridge
    # "ActionTrail events", events/doc_eventbridge_actiontrail_api_call.json).
    sample = doc_sample("doc_actiontrail_assumed_role_lookup_events.json")
    bridge = doc_sample("doc_eventbridge_actiontrail_api_call.json")
    cloud = start_cloud(make_account())
    role = cloud.assume_role(f"acs:ram::{ACCOUNT_ID}:role/kms-steward-key-guard", session="fidelity")
    sts_kms(cloud, role).list_keys(kms.ListKeysRequest(page_number=1, page_size=10))
    [record] = [e for e in cloud.account.actiontrail.events if e["eventName"] == "ListKeys"]

    assert set(record) <= set(sample) | set(bridge)  # no field the service's records do not have
    identity, doc_identity = record["userIdentity"], sample["userIdentity"]
    assert set(identity) == set(doc_identity) and identity["type"] == "assumed-role"
    assert set(identity["sessionContext"]["attributes"]) == set(doc_identity["sessionContext"]["attributes"])
    attributes = identity["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == doc_identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", attributes["creationDate"])
    assert parse_time(attributes["creationDate"]) == parse_time(role.Expiration) - timedelta(hours=1)

    params, doc_params = record["requestParameters"], sample["requestParameters"]
    added = {"AcsHost", "HostId", "AcsProduct", "RequestId", "Region", "stsTokenPrincipalName"}
    assert added <= set(doc_params) and added <= set(params)
    assert params["AcsHost"] == params["HostId"] == record["eventSource"] == f"kms.{REGION}.aliyuncs.com"
    assert (params["AcsProduct"], params["RequestId"], params["Region"]) == ("Kms", record["requestId"], record["acsRegion"])
    assert params["stsTokenPrincipalName"] == identity["userName"].replace(":", "/") == "kms-steward-key-guard/fidelity"
    # Numbers are numbers, as the sample's stsTokenPlayerUid (and the STS samples' DurationSeconds) are.
    assert isinstance(doc_params["stsTokenPlayerUid"], int)
    assert (params["PageNumber"], params["PageSize"]) == (1, 10)
    # The signature's common parameters are not recorded (none is in the sample, which an SDK signed with v1).
    assert not {"Action", "Version", "Format", "Timestamp", "AccessKeyId", "SecurityToken", "SignatureNonce"} & set(params)


def test_console_calls_are_api_calls_and_secrets_stay_masked(start_cloud):
    # eventType of a console-made API call: "ApiCall" (ActionTrail's UpdateTrail console sample,
    # https://www.alibabacloud.com/help/doc-detail/28826.htm, userAgent "actiontrail.console.aliyun.com"). Secrets are
    # masked as the KMS sample shows a crypto call ("CiphertextBlob": "****", tests/contract/samples/actiontrail).
    cloud = start_cloud(make_account())
    client = alice_kms(cloud, user_agent="AliyunConsole")
    secret = base64.b64encode(b"the-plaintext-nobody-may-log").decode()
    blob = client.encrypt(kms.EncryptRequest(key_id=KEY, plaintext=secret)).body.ciphertext_blob
    data_key = client.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY)).body
    client.decrypt(kms.DecryptRequest(ciphertext_blob=blob))
    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    records = {e["eventName"]: e for e in cloud.account.actiontrail.events}
    assert {r["eventType"] for r in records.values()} == {"ApiCall"}
    assert cloud.bus.published[0]["type"] == "kms:ActionTrail:ApiCall"
    assert records["Encrypt"]["requestParameters"]["Plaintext"] == "****"
    assert records["Decrypt"]["requestParameters"]["CiphertextBlob"] == "****"
    everything = json.dumps(cloud.account.actiontrail.events) + json.dumps(cloud.bus.published)
    for value in (secret, blob, data_key.plaintext, data_key.ciphertext_blob, ALICE_SECRET):
        assert value not in everything


# ---------------------------------------------------------------- CloudMonitor PutCustomEvent


def test_put_custom_event_takes_at_most_50_events_a_call(start_cloud):
    # PutCustomEvent's API reference: EventInfo.N, "Valid values of N: 1 to 50"
    # (https://www.alibabacloud.com/help/doc-detail/115012.html). The user guide's "up to 100 events" per report
    # (https://www.alibabacloud.com/help/doc-detail/60196.htm) is the looser of the two; the refusal's code is UNCONFIRMED.
    client = CmsClient(sdk_config(start_cloud(make_account())))

    def put(n):
        infos = [cms.PutCustomEventRequestEventInfo(event_name=f"e{i}", content="c") for i in range(n)]
        return client.put_custom_event(cms.PutCustomEventRequest(event_info=infos)).body

    assert put(50).code == "200"
    assert refused(lambda: put(51)) == ("InvalidParameter", 400)


def test_put_custom_event_takes_at_most_500_kb_a_call(start_cloud):
    # "Each report can contain up to 500 KB of data" ("Report custom events", Limits,
    # https://www.alibabacloud.com/help/doc-detail/60196.htm). Half a megabyte does not fit in a URL, so the events are sent
    # in a form body, signed with the rest (RPC signature v1, the classic core SDK's CommonRequest).
    cloud = start_cloud(make_account())
    client = AcsClient(region_id=REGION, credential=AccessKeyCredential(ALICE_AK, ALICE_SECRET), auto_retry=False)

    def put(content_bytes: int):
        request = CommonRequest(domain=cloud.endpoint(REGION), version="2019-01-01", action_name="PutCustomEvent")
        request.set_method("POST")
        request.set_protocol_type("http")
        request.add_body_params("EventInfo.1.EventName", "big")
        request.add_body_params("EventInfo.1.Content", "x" * content_bytes)
        return json.loads(client.do_action_with_exception(request))

    assert put(500 * 1024 - len("big"))["Code"] == "200"
    with pytest.raises(ServerException) as too_big:
        put(500 * 1024 - len("big") + 1)
    assert (too_big.value.get_error_code(), too_big.value.get_http_status()) == ("InvalidParameter", 400)
    assert [e.Name for e in cloud.account.cms.events] == ["big"]


# ---------------------------------------------------------------- contract samples name their source


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_contract_sample_says_where_it_comes_from(path):
    # tests/contract/samples: each response is an official documentation sample ("sample": "verbatim"), one trimmed to the
    # fields the audit reads ("trimmed"), or a body built from documentation ("built", with "built_from" saying from what).
    # "source" names the doc page, by URL, in every case.
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "response" in doc
    assert re.search(r"https?://", doc.get("source", "")), "source must name the documentation page"
    assert doc.get("sample") in ("verbatim", "trimmed", "built")
    assert (doc["sample"] == "built") == bool(doc.get("built_from"))


def test_every_event_file_is_listed_in_the_events_readme():
    # events/README.md names, for each sample event, the documentation sample it copies or what it was built from.
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")
    for path in EVENTS.glob("*.json"):
        assert f"`{path.name}`" in readme, path.name
    for name in ("doc_actiontrail_assumed_role_lookup_events.json", "doc_eventbridge_actiontrail_api_call.json", "doc_fc_timer_trigger.json"):
        assert "type" not in doc_sample(name)  # records, not CloudEvents: test_s_yaml delivers every CloudEvent here
