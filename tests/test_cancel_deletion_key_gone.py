"""A key pending deletion can be deleted for good between key-guard's look at it and its CancelKeyDeletion: KMS
deletes the key when its waiting period ends ("ScheduleKeyDeletion",
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-schedulekeydeletion:
PendingWindowInDays, 7 to 366 days, after which the key is deleted), and a person may cancel the deletion first.
The cancel (shared/keys.py, cancel_deletion) then has nothing to do, and what the record's actionResult says names
the key and the region it was looked for in, or the state the key is in now. Against the local cloud with the
official KMS SDK."""
from __future__ import annotations

from shared.keys import cancel_deletion
from tests.support.accounts import KEY, REGION, make_account
from tests.support.scanners import clients


def test_a_key_deleted_before_its_cancel_is_not_needed_and_the_detail_names_key_and_region(start_cloud):
    cloud = start_cloud(make_account(key_state="PendingDeletion"))
    with cloud.account.lock:  # its waiting period ended: KMS deleted it
        cloud.account.kms.keys = [k for k in cloud.account.kms.keys if k.KeyId != KEY]

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done) == ("already", False)
    assert result.detail == f"not needed: key {KEY} not found in {REGION}"
    assert not cloud.calls.get("kms:CancelKeyDeletion")  # nothing written


def test_a_key_someone_already_cancelled_is_not_needed_and_the_detail_says_its_state(start_cloud):
    # Between the guard's look and its cancel, a person cancelled the deletion (the key is Enabled again).
    cloud = start_cloud(make_account())

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after) == ("already", False, "Enabled")
    assert result.detail == "not needed: key is Enabled now"
    # One DescribeKey, nothing written, and no alias listing (the state is all this read needs).
    assert cloud.calls.get("kms:DescribeKey") == 1
    assert not cloud.calls.get("kms:CancelKeyDeletion") and not cloud.calls.get("kms:ListAliasesByKeyId")


def test_a_cancel_is_confirmed_by_the_keys_state_alone(start_cloud):
    cloud = start_cloud(make_account(key_state="PendingDeletion"))

    result = cancel_deletion(clients(cloud), KEY, REGION)

    assert (result.outcome, result.done, result.state_after, result.detail) == ("done", True, "Enabled", "PendingDeletion -> Enabled")
    # Read before and after the one write; the state is all either read needs, so no alias listing.
    assert (cloud.calls.get("kms:DescribeKey"), cloud.calls.get("kms:CancelKeyDeletion")) == (2, 1)
    assert not cloud.calls.get("kms:ListAliasesByKeyId")
