"""The emulated KMS through the official SDK: the key state machine with its real errors, paging,
aliases, deletion protection, and a pending deletion that completes when the clock passes DeleteDate."""
from __future__ import annotations

from datetime import timedelta

from alibabacloud_kms20160120 import models as kms

from tests.support.accounts import ALICE_AK, KEY, OTHER_KEY, make_account
from tests.support.clients import alice_kms, error_of, key_state



def test_state_machine_and_refusals(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert key_state(cloud) == "Disabled"
    client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert key_state(cloud) == "PendingDeletion"
    for refused in (lambda: client.enable_key(kms.EnableKeyRequest(key_id=KEY)),
                    lambda: client.disable_key(kms.DisableKeyRequest(key_id=KEY)),
                    lambda: client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))):
        err = error_of(refused)
        assert (err.code, err.status_code) == ("Rejected.StateModifiedFailed", 409)
    client.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=KEY))
    assert key_state(cloud) == "Enabled"
    err = error_of(lambda: client.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=KEY)))
    assert (err.code, err.status_code) == ("Rejected.StateModifiedFailed", 409)


def test_pending_window_is_validated(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    err = error_of(lambda: client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=3)))
    assert (err.code, err.status_code) == ("InvalidParameter", 400)


def test_deletion_protection_refuses_schedule_key_deletion(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    arn = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.arn
    client.set_deletion_protection(kms.SetDeletionProtectionRequest(protected_resource_arn=arn, enable_deletion_protection=True,
                                                                    deletion_protection_description="payments"))
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
    assert meta.deletion_protection == "Enabled" and meta.deletion_protection_description == "payments"
    err = error_of(lambda: client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7)))
    assert err.status_code == 409 and "DeletionProtection" in err.code
    assert key_state(cloud) == "Enabled"


def test_pending_deletion_completes_when_the_clock_passes_delete_date(start_cloud):
    cloud = start_cloud(make_account(), now="2026-01-01T00:00:00Z")
    client = alice_kms(cloud)
    client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.delete_date == "2026-01-08T00:00:00Z"
    cloud.clock.advance(timedelta(days=6, hours=23))
    assert key_state(cloud) == "PendingDeletion"
    cloud.clock.advance(timedelta(hours=1))
    err = error_of(lambda: client.describe_key(kms.DescribeKeyRequest(key_id=KEY)))
    assert (err.code, err.status_code) == ("Forbidden.KeyNotFound", 404)
    assert [k.key_id for k in client.list_keys(kms.ListKeysRequest()).body.keys.key] == [OTHER_KEY]


def test_keys_and_aliases_page_with_total_count(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    first = client.list_keys(kms.ListKeysRequest(page_size=1, page_number=1)).body
    second = client.list_keys(kms.ListKeysRequest(page_size=1, page_number=2)).body
    assert first.total_count == 2 and len(first.keys.key) == 1 and len(second.keys.key) == 1
    assert {first.keys.key[0].key_id, second.keys.key[0].key_id} == {KEY, OTHER_KEY}
    aliases = client.list_aliases_by_key_id(kms.ListAliasesByKeyIdRequest(key_id=KEY)).body
    assert [a.alias_name for a in aliases.aliases.alias] == ["alias/payments"]
    assert client.describe_key(kms.DescribeKeyRequest(key_id="alias/payments")).body.key_metadata.key_id == KEY


def test_unknown_key_is_key_not_found(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    err = error_of(lambda: client.describe_key(kms.DescribeKeyRequest(key_id="ffffffff-0000-4000-8000-000000000000")))
    assert (err.code, err.status_code) == ("Forbidden.KeyNotFound", 404)


def test_wrong_secret_gets_signature_does_not_match(start_cloud):
    cloud = start_cloud(make_account())
    err = error_of(lambda: alice_kms(cloud, secret="not-the-secret").describe_key(kms.DescribeKeyRequest(key_id=KEY)))
    assert (err.code, err.status_code) == ("SignatureDoesNotMatch", 400)
    assert "not-the-secret" not in err.message


def test_unknown_access_key_gets_invalid_access_key_id(start_cloud):
    cloud = start_cloud(make_account())
    err = error_of(lambda: alice_kms(cloud, access_key_id="LTAI5tNobody0000000000").describe_key(kms.DescribeKeyRequest(key_id=KEY)))
    assert (err.code, err.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_every_call_is_counted_and_write_calls_reach_actiontrail(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    client.describe_key(kms.DescribeKeyRequest(key_id=KEY))
    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)
    assert cloud.calls.get("kms:DescribeKey") >= 1 and cloud.calls.get("kms:DisableKey") == 1
    trail = [e for e in cloud.account.actiontrail.events if e["userIdentity"]["accessKeyId"] == ALICE_AK]
    assert [(e["eventName"], e["eventRW"]) for e in trail] == [("DescribeKey", "Read"), ("DisableKey", "Write")]
    published = cloud.bus.published[0]
    assert published["type"] == "kms:ActionTrail:ApiCall" and published["source"] == "acs.kms"
    assert published["data"]["requestParameters"]["KeyId"] == KEY and published["data"]["serviceName"] == "Kms"
    assert published["subject"].endswith(f":key/{KEY}")
