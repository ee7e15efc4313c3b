"""The local cloud's OSS, driven by the real oss2 client over HTTP (no mocks): signatures, the XML
error bodies oss2 turns into its exception classes, paging, encryption rules, data replication rules and
forbid-overwrite."""
from __future__ import annotations

import oss2
import pytest

from localcloud.account import Account, AccountError
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from tests.support.accounts import (ACCOUNT_ID, ALICE_AK, ALICE_SECRET, PROTOCOL_NOW, STS_AK, STS_SECRET, STS_TOKEN,
                                    protocol_account)

KEY_ID = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"


def account() -> Account:
    return protocol_account(oss={"buckets": [
        {"Name": "app-data-kms", "Location": "oss-cn-hangzhou",
         "ServerSideEncryptionRule": {"SSEAlgorithm": "KMS", "KMSMasterKeyID": KEY_ID}},
        {"Name": "app-logs-default-kms", "Location": "oss-cn-hangzhou", "ServerSideEncryptionRule": {"SSEAlgorithm": "KMS"}},
        {"Name": "app-plain", "Location": "oss-cn-hangzhou"},
        {"Name": "backup-aes", "Location": "oss-cn-shanghai", "ServerSideEncryptionRule": {"SSEAlgorithm": "AES256"}},
        {"Name": "kms-steward-state", "Location": "oss-cn-hangzhou"},
    ]})


@pytest.fixture
def cloud():
    with LocalCloud(account(), clock=Clock(PROTOCOL_NOW)) as c:
        yield c


def url(cloud: LocalCloud, region: str = "cn-hangzhou") -> str:
    return "http://" + cloud.endpoint(region)


def alice() -> oss2.Auth:
    return oss2.Auth(ALICE_AK, ALICE_SECRET)


def bucket(cloud: LocalCloud, name: str, auth=None, region: str = "cn-hangzhou") -> oss2.Bucket:
    return oss2.Bucket(auth or alice(), url(cloud, region), name)


ALL_BUCKETS = ["app-data-kms", "app-logs-default-kms", "app-plain", "backup-aes", "kms-steward-state"]


# ---------------------------------------------------------------- ListBuckets


def test_list_buckets_pages_with_marker_and_lists_every_region(cloud):
    service = oss2.Service(alice(), url(cloud))
    first = service.list_buckets(max_keys=2)
    assert [b.name for b in first.buckets] == ["app-data-kms", "app-logs-default-kms"]
    assert first.is_truncated is True and first.next_marker == "app-logs-default-kms"
    second = service.list_buckets(marker=first.next_marker, max_keys=2)
    assert [b.name for b in second.buckets] == ["app-plain", "backup-aes"]
    assert second.is_truncated is True
    last = service.list_buckets(marker=second.next_marker, max_keys=2)
    assert [b.name for b in last.buckets] == ["kms-steward-state"]
    assert last.is_truncated is False
    # The iterator follows NextMarker to the end; one call lists every region's buckets.
    assert [b.name for b in oss2.BucketIterator(service, max_keys=2)] == ALL_BUCKETS
    shanghai = next(b for b in service.list_buckets().buckets if b.name == "backup-aes")
    assert (shanghai.location, shanghai.region) == ("oss-cn-shanghai", "cn-shanghai")
    assert shanghai.extranet_endpoint == "oss-cn-shanghai.aliyuncs.com"
    assert cloud.calls.get("oss:ListBuckets") == 4 + 3


def test_list_buckets_prefix_and_max_keys_limits(cloud):
    service = oss2.Service(alice(), url(cloud))
    assert [b.name for b in service.list_buckets(prefix="app-").buckets] == ["app-data-kms", "app-logs-default-kms", "app-plain"]
    with pytest.raises(oss2.exceptions.InvalidArgument) as exc:
        service.list_buckets(max_keys=1001)
    assert exc.value.status == 400 and exc.value.name == "max-keys"


# ---------------------------------------------------------------- encryption


def test_get_bucket_encryption_returns_the_rule(cloud):
    rule = bucket(cloud, "app-data-kms").get_bucket_encryption()
    assert (rule.sse_algorithm, rule.kms_master_keyid) == ("KMS", KEY_ID)
    default = bucket(cloud, "app-logs-default-kms").get_bucket_encryption()
    assert (default.sse_algorithm, default.kms_master_keyid) == ("KMS", None)  # OSS-managed default CMK
    assert cloud.calls.get("oss:GetBucketEncryption") == 2


def test_bucket_without_rule_raises_no_such_server_side_encryption_rule(cloud):
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule) as exc:
        bucket(cloud, "app-plain").get_bucket_encryption()
    assert exc.value.status == 404
    assert exc.value.code == "NoSuchServerSideEncryptionRule"
    assert exc.value.request_id


def test_get_bucket_info_carries_region_and_encryption(cloud):
    info = bucket(cloud, "app-data-kms").get_bucket_info()
    assert info.name == "app-data-kms" and info.location == "oss-cn-hangzhou"
    assert info.bucket_encryption_rule.sse_algorithm == "KMS"
    assert info.bucket_encryption_rule.kms_master_keyid == KEY_ID
    assert info.owner.id == ACCOUNT_ID
    plain = bucket(cloud, "app-plain").get_bucket_info()
    assert plain.bucket_encryption_rule.sse_algorithm is None  # OSS answers SSEAlgorithm "None"


def test_put_and_delete_bucket_encryption_change_the_account(cloud):
    b = bucket(cloud, "app-plain")
    b.put_bucket_encryption(oss2.models.ServerSideEncryptionRule(sse_algorithm="KMS", kms_master_keyid=KEY_ID))
    assert b.get_bucket_encryption().kms_master_keyid == KEY_ID
    stored = next(x for x in cloud.account.oss.buckets if x.Name == "app-plain")
    assert stored.ServerSideEncryptionRule.KMSMasterKeyID == KEY_ID
    b.delete_bucket_encryption()
    with pytest.raises(oss2.exceptions.NoSuchServerSideEncryptionRule):
        b.get_bucket_encryption()


def test_no_such_bucket(cloud):
    with pytest.raises(oss2.exceptions.NoSuchBucket) as exc:
        bucket(cloud, "does-not-exist").get_bucket_encryption()
    assert exc.value.status == 404 and exc.value.details["BucketName"] == "does-not-exist"


def test_bucket_at_another_regions_endpoint_is_access_denied(cloud):
    with pytest.raises(oss2.exceptions.AccessDenied) as exc:
        bucket(cloud, "backup-aes", region="cn-hangzhou").get_bucket_encryption()
    assert exc.value.status == 403
    assert "must be addressed using the specified endpoint" in exc.value.message
    assert exc.value.details["Endpoint"] == "oss-cn-shanghai.aliyuncs.com"
    assert bucket(cloud, "backup-aes", region="cn-shanghai").get_bucket_encryption().sse_algorithm == "AES256"


# ---------------------------------------------------------------- signatures


def test_wrong_secret_is_signature_does_not_match(cloud):
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as exc:
        bucket(cloud, "app-data-kms", auth=oss2.Auth(ALICE_AK, "not-the-secret")).get_bucket_encryption()
    assert exc.value.status == 403
    assert exc.value.details["OSSAccessKeyId"] == ALICE_AK
    assert "/app-data-kms/?encryption" in exc.value.details["StringToSign"]
    # A refused call is still counted, as every API call is.
    assert cloud.calls.get("oss:GetBucketEncryption") == 1


def test_unknown_access_key_is_invalid_access_key_id(cloud):
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        oss2.Service(oss2.Auth("LTAI" + "5tUnknown" + "00000000", "x"), url(cloud)).list_buckets()
    assert (exc.value.status, exc.value.code) == (403, "InvalidAccessKeyId")


def test_signature_covers_the_object_key(cloud):
    """A request whose path differs from what was signed is refused (the key is part of the string to sign)."""
    b = bucket(cloud, "kms-steward-state")
    b.put_object("claims/a.json", b"{}")
    req = oss2.http.Request("GET", url(cloud) + "/kms-steward-state/claims/b.json")
    alice()._sign_request(req, "kms-steward-state", "claims/a.json")
    resp = b.session.do_request(req, timeout=10)
    assert resp.status == 403
    assert b"SignatureDoesNotMatch" in resp.read()


def test_v4_signature_is_verified(cloud):
    good = oss2.Bucket(oss2.AuthV4(ALICE_AK, ALICE_SECRET), url(cloud), "app-data-kms", region="cn-hangzhou")
    assert good.get_bucket_encryption().kms_master_keyid == KEY_ID
    bad = oss2.Bucket(oss2.AuthV4(ALICE_AK, "wrong"), url(cloud), "app-data-kms", region="cn-hangzhou")
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        bad.get_bucket_encryption()


def test_sts_token_must_match_and_be_unexpired(cloud):
    sts = oss2.StsAuth(STS_AK, STS_SECRET, STS_TOKEN)
    assert bucket(cloud, "app-data-kms", auth=sts).get_bucket_encryption().sse_algorithm == "KMS"
    with pytest.raises(oss2.exceptions.ServerError) as wrong:
        bucket(cloud, "app-data-kms", auth=oss2.StsAuth(STS_AK, STS_SECRET, "CAIS-forged")).get_bucket_encryption()
    assert (wrong.value.status, wrong.value.code) == (403, "InvalidSecurityToken")
    with pytest.raises(oss2.exceptions.ServerError) as missing:
        bucket(cloud, "app-data-kms", auth=oss2.Auth(STS_AK, STS_SECRET)).get_bucket_encryption()
    assert (missing.value.status, missing.value.code) == (403, "InvalidAccessKeyId")
    cloud.clock.set("2030-01-01T02:00:00Z")
    with pytest.raises(oss2.exceptions.ServerError) as expired:
        bucket(cloud, "app-data-kms", auth=sts).get_bucket_encryption()
    assert (expired.value.status, expired.value.code) == (403, "SecurityTokenExpired")


# ---------------------------------------------------------------- objects


def test_put_object_with_forbid_overwrite_is_an_atomic_claim(cloud):
    b = bucket(cloud, "kms-steward-state")
    claim = {"x-oss-forbid-overwrite": "true"}
    b.put_object("claims/evt-1.json", b'{"owner": "first"}', headers=claim)
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.put_object("claims/evt-1.json", b'{"owner": "second"}', headers=claim)
    assert (exc.value.status, exc.value.code) == (409, "FileAlreadyExists")
    assert b.get_object("claims/evt-1.json").read() == b'{"owner": "first"}'
    # Without the header the object is overwritten, as OSS does by default.
    b.put_object("claims/evt-1.json", b'{"owner": "third"}')
    assert b.get_object("claims/evt-1.json").read() == b'{"owner": "third"}'
    assert cloud.calls.get("oss:PutObject") == 3
    stored = [o for o in cloud.account.oss.objects if o.Bucket == "kms-steward-state"]
    assert [(o.Key, o.Content) for o in stored] == [("claims/evt-1.json", '{"owner": "third"}')]


def test_get_head_delete_object_round_trip(cloud):
    b = bucket(cloud, "app-data-kms")
    put = b.put_object("markers/ü key.json", '{"done": true}')
    head = b.head_object("markers/ü key.json")
    assert head.content_length == len('{"done": true}') and head.etag == put.etag
    assert head.headers["x-oss-server-side-encryption"] == "KMS"
    assert head.headers["x-oss-server-side-encryption-key-id"] == KEY_ID
    got = b.get_object("markers/ü key.json")
    assert got.read() == b'{"done": true}' and got.content_type == "application/json"
    b.delete_object("markers/ü key.json")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        b.get_object("markers/ü key.json")
    with pytest.raises(oss2.exceptions.NoSuchKey):
        b.head_object("markers/ü key.json")  # HEAD: no body, the error travels in x-oss-err
    assert b.object_exists("markers/ü key.json") is False


def test_non_utf8_body_is_refused(cloud):
    with pytest.raises(oss2.exceptions.InvalidArgument) as exc:
        bucket(cloud, "kms-steward-state").put_object("bin", b"\xff\xfe\x00")
    assert exc.value.status == 400
    assert not cloud.account.oss.objects


def test_list_objects_with_prefix_delimiter_and_paging(cloud):
    b = bucket(cloud, "kms-steward-state")
    for key in ("claims/1", "claims/2", "claims/3", "records/a", "top"):
        b.put_object(key, b"{}")
    page = b.list_objects(prefix="claims/", max_keys=2)
    assert [o.key for o in page.object_list] == ["claims/1", "claims/2"] and page.is_truncated
    rest = b.list_objects(prefix="claims/", marker=page.next_marker, max_keys=2)
    assert [o.key for o in rest.object_list] == ["claims/3"] and not rest.is_truncated
    top = b.list_objects(delimiter="/")
    assert top.prefix_list == ["claims/", "records/"] and [o.key for o in top.object_list] == ["top"]
    assert [o.key for o in oss2.ObjectIteratorV2(b, max_keys=2)] == ["claims/1", "claims/2", "claims/3", "records/a", "top"]


# ---------------------------------------------------------------- faults


def test_injected_fault_surfaces_as_the_oss_error(cloud):
    cloud.faults.add("oss:GetBucketEncryption", "AccessDenied")
    b = bucket(cloud, "app-data-kms")
    with pytest.raises(oss2.exceptions.AccessDenied) as exc:
        b.get_bucket_encryption()
    assert exc.value.status == 403 and exc.value.code == "AccessDenied"
    # Only that API is affected.
    assert b.get_bucket_info().bucket_encryption_rule.kms_master_keyid == KEY_ID


def test_injected_fault_with_remaining_count_then_recovers(cloud):
    cloud.faults.add("oss:PutObject", "ServiceUnavailable", status=503, remaining=1)
    b = bucket(cloud, "kms-steward-state")
    with pytest.raises(oss2.exceptions.ServerError) as exc:
        b.put_object("k", b"{}")
    assert (exc.value.status, exc.value.code) == (503, "ServiceUnavailable")
    b.put_object("k", b"{}")
    assert b.get_object("k").read() == b"{}"


# ---------------------------------------------------------------- data replication


def replicating_account() -> Account:
    """A CRR source in Shanghai replicating into Hangzhou with the key, and an SRR pair in Hangzhou."""
    rule = {"ID": "crr-to-hz", "Destination": {"Bucket": "dr-replica", "Location": "oss-cn-hangzhou", "TransferType": "oss_acc"},
            "Status": "doing", "Action": "PUT", "PrefixSet": {"Prefix": ["invoices/", "video"]}, "HistoricalObjectReplication": "disabled",
            "SyncRole": "aliyunramrole", "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "EncryptionConfiguration": {"ReplicaKmsKeyID": KEY_ID}, "RTC": {"Status": "enabled"}}
    srr = {"ID": "srr-local", "Destination": {"Bucket": "app-plain", "Location": "oss-cn-hangzhou"}}
    return protocol_account(oss={"buckets": [
        {"Name": "dr-source", "Location": "oss-cn-shanghai", "ReplicationConfiguration": {"Rule": [rule]}},
        {"Name": "dr-replica", "Location": "oss-cn-hangzhou"},
        {"Name": "app-data-kms", "Location": "oss-cn-hangzhou", "ReplicationConfiguration": {"Rule": [srr]}},
        {"Name": "app-plain", "Location": "oss-cn-hangzhou"},
    ]})


def test_get_bucket_replication_returns_the_rules_as_oss2_parses_them():
    with LocalCloud(replicating_account(), clock=Clock(PROTOCOL_NOW)) as cloud:
        [rule] = bucket(cloud, "dr-source", region="cn-shanghai").get_bucket_replication().rule_list
        assert (rule.rule_id, rule.target_bucket_name, rule.target_bucket_location) == ("crr-to-hz", "dr-replica", "oss-cn-hangzhou")
        assert (rule.replica_kms_keyid, rule.sse_kms_encrypted_objects_status) == (KEY_ID, "Enabled")
        assert (rule.status, rule.action_list, rule.prefix_list) == ("doing", ["PUT"], ["invoices/", "video"])
        assert rule.is_enable_historical_object_replication is False
        assert (rule.sync_role_name, rule.target_transfer_type) == ("aliyunramrole", "oss_acc")
        [srr] = bucket(cloud, "app-data-kms").get_bucket_replication().rule_list
        assert (srr.status, srr.action_list, srr.replica_kms_keyid, srr.target_transfer_type) == ("doing", ["ALL"], None, None)
        assert cloud.calls.get("oss:GetBucketReplication") == 2


def test_bucket_without_rules_answers_no_such_replication_configuration():
    with LocalCloud(replicating_account(), clock=Clock(PROTOCOL_NOW)) as cloud:
        with pytest.raises(oss2.exceptions.ServerError) as none:
            bucket(cloud, "app-plain").get_bucket_replication()
        assert (none.value.status, none.value.code) == (404, "NoSuchReplicationConfiguration")
        assert none.value.details["BucketName"] == "app-plain"
        with pytest.raises(oss2.exceptions.AccessDenied):  # a bucket is addressed at its own region's endpoint
            bucket(cloud, "dr-source", region="cn-hangzhou").get_bucket_replication()


def test_get_bucket_info_reports_cross_region_replication():
    with LocalCloud(replicating_account(), clock=Clock(PROTOCOL_NOW)) as cloud:
        assert bucket(cloud, "dr-source", region="cn-shanghai").get_bucket_info().cross_region_replication == "Enabled"
        # Same-region replication is not cross-region: GetBucketInfo has no field for it.
        assert bucket(cloud, "app-data-kms").get_bucket_info().cross_region_replication == "Disabled"
        assert bucket(cloud, "dr-replica").get_bucket_info().cross_region_replication == "Disabled"  # a destination


@pytest.mark.parametrize("change, message", [
    (lambda b: b[0]["ReplicationConfiguration"]["Rule"][0]["Destination"].update(Bucket="gone"), "another bucket of the account"),
    (lambda b: b[0]["ReplicationConfiguration"]["Rule"][0]["Destination"].update(Location="oss-cn-beijing"), "Location"),
    (lambda b: b[0]["ReplicationConfiguration"]["Rule"][0].pop("EncryptionConfiguration"), "ReplicaKmsKeyID"),
])
def test_account_file_validates_replication_rules(change, message):
    data = replicating_account().to_data()
    change(data["oss"]["buckets"])
    with pytest.raises(AccountError, match=message):
        Account.from_data(data)
