"""The allow-list tag (GUARD_ALLOW_TAG, by default kms-steward:intended-deletion=true) lets a deletion through
key-guard. Whoever can tag a key could use it; the guardrail policy ram/guardrails/allow-tag-approvers-only.json,
attached to every identity that may tag keys or schedule deletions except the approvers, denies ScheduleKeyDeletion and
DisableKey of a key that carries the tag. It rests on the documented condition key `kms:tag/<tag key>`, the key's own tags, which
KMS evaluates for ScheduleKeyDeletion and DisableKey ("Policy condition keys", KMS docs,
https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key). KMS documents no condition on the
tags a TagResource call sets, so the tag itself cannot be kept from being set; what it would let through can.

Enforced by the local cloud for an operator's role: alice enters it with STS, as an operator would."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms

from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, ROOT, make_account
from tests.support.clients import error_of, key_state, operator_kms

GUARDRAIL = (ROOT / "ram" / "guardrails" / "allow-tag-approvers-only.json").read_text()
OPERATOR_POWERS = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})


@pytest.fixture
def cloud(start_cloud):
    cloud = start_cloud(make_account())
    cloud.bus.hold()  # key-guard's decisions are not the subject here
    yield cloud
    cloud.bus.release()


def tag(client, key_id: str) -> None:
    client.tag_resource(kms.TagResourceRequest(key_id=key_id, tags=json.dumps([
        {"TagKey": "kms-steward:intended-deletion", "TagValue": "true"}])))


def test_an_operator_under_the_guardrail_cannot_delete_a_key_carrying_the_allow_tag(cloud):
    operator = operator_kms(cloud, ("operator", OPERATOR_POWERS), ("allow-tag-approvers-only", GUARDRAIL))
    tag(operator, KEY)  # tagging stays possible: no documented condition reads the tags a call sets

    err = error_of(lambda: operator.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7)))

    assert (err.code, err.status_code) == ("Forbidden.NoPermission", 403)
    assert f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}" in err.message
    assert key_state(cloud) == "Enabled"


def test_nor_disable_it(cloud):
    # key-guard lets a disable of a tagged key stand too (GUARD_DISABLE_MODE=enforce re-enables only untagged keys)
    operator = operator_kms(cloud, ("operator", OPERATOR_POWERS), ("allow-tag-approvers-only", GUARDRAIL))
    tag(operator, KEY)

    err = error_of(lambda: operator.disable_key(kms.DisableKeyRequest(key_id=KEY)))

    assert (err.code, err.status_code) == ("Forbidden.NoPermission", 403) and key_state(cloud) == "Enabled"


def test_the_guardrail_leaves_every_other_deletion_to_key_guard(cloud):
    operator = operator_kms(cloud, ("operator", OPERATOR_POWERS), ("allow-tag-approvers-only", GUARDRAIL))
    operator.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    assert key_state(cloud, OTHER_KEY) == "PendingDeletion"


def test_an_approver_without_the_guardrail_can_use_the_tag(cloud):
    approver = operator_kms(cloud, ("operator", OPERATOR_POWERS))
    tag(approver, KEY)
    approver.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert key_state(cloud) == "PendingDeletion"
