"""The resource a KMS call is checked on is the key, wherever the API names it: by id, by alias name or alias ARN,
SetDeletionProtection's ProtectedResourceArn, or inside Decrypt's ciphertext (localcloud/ram_access.py, kms_resource).
A Deny on a key holds whichever way it is named, and a grant scoped to keys lets those calls through.

An operator's role of the account file (its own Policies, entered with STS: tests/support/clients.py,
operator_kms) is enforced by the same path the functions' roles go through."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient

from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.clients import operator_kms as operator_kms_with

KEY_ARN = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
ALIAS_ARN = f"acs:kms:{REGION}:{ACCOUNT_ID}:alias/payments"  # alias/payments names KEY in make_account()
ALL_KMS = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}


def deny(*actions: str, resource: str = f"acs:kms:*:*:key/{KEY}") -> dict:
    return {"Effect": "Deny", "Action": list(actions), "Resource": resource}


def operator_kms(cloud, statements: list[dict], **kwargs) -> KmsClient:
    return operator_kms_with(cloud, ("operator", json.dumps({"Version": "1", "Statement": statements})), **kwargs)


def refused(call) -> bool:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the SDK's ClientException for a 403
        return "Forbidden.NoPermission" in str(exc)
    return False


@pytest.fixture
def cloud(start_cloud):
    cloud = start_cloud(make_account())
    cloud.bus.hold()
    yield cloud
    cloud.bus.release()



def test_a_deny_on_a_key_holds_when_the_key_is_named_by_its_alias_arn(cloud):
    op = operator_kms(cloud, [ALL_KMS, deny("kms:DescribeKey", "kms:Encrypt")])
    # control: the id and the alias name are both mapped to key/<id> and refused
    assert refused(lambda: op.describe_key(kms.DescribeKeyRequest(key_id=KEY)))
    assert refused(lambda: op.describe_key(kms.DescribeKeyRequest(key_id="alias/payments")))
    # the alias ARN (which DescribeKey/Encrypt/GenerateDataKey/GetKeyPolicy accept) is checked as the alias ARN itself
    assert refused(lambda: op.describe_key(kms.DescribeKeyRequest(key_id=ALIAS_ARN))), "alias ARN escaped the Deny"
    assert refused(lambda: op.encrypt(kms.EncryptRequest(key_id=ALIAS_ARN, plaintext="aGk="))), "alias ARN escaped"



def test_a_deny_on_a_key_holds_for_set_deletion_protection(cloud):
    op = operator_kms(cloud, [ALL_KMS, deny("kms:SetDeletionProtection")])
    assert refused(lambda: op.set_deletion_protection(kms.SetDeletionProtectionRequest(
        protected_resource_arn=KEY_ARN, enable_deletion_protection=False))), \
        "SetDeletionProtection is checked on acs:kms:<r>:<a>:* (ProtectedResourceArn ignored): the key's Deny escaped"


def test_a_deny_on_a_key_holds_for_decrypt(cloud):
    op = operator_kms(cloud, [ALL_KMS, deny("kms:Decrypt")])
    blob = op.encrypt(kms.EncryptRequest(key_id=KEY, plaintext="aGk=")).body.ciphertext_blob
    assert refused(lambda: op.decrypt(kms.DecryptRequest(ciphertext_blob=blob))), \
        "Decrypt is checked on acs:kms:<r>:<a>:* (the blob's key ignored): the key's Deny escaped"


def test_a_key_scoped_allow_lets_set_deletion_protection_through(cloud):
    # the other direction: the least-privilege grant on the key is refused (false denial)
    op = operator_kms(cloud, [{"Effect": "Allow", "Action": "kms:SetDeletionProtection", "Resource": "acs:kms:*:*:key/*"}])
    assert not refused(lambda: op.set_deletion_protection(kms.SetDeletionProtectionRequest(
        protected_resource_arn=KEY_ARN, enable_deletion_protection=True)))


def test_an_sts_session_policy_narrows_the_credentials(cloud):
    # AssumeRole's Policy: the session may do only what both its policy and the role's allow
    only_describe = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]}
    op = operator_kms(cloud, [ALL_KMS], session_policy=only_describe)

    op.describe_key(kms.DescribeKeyRequest(key_id=KEY))  # within both
    assert refused(lambda: op.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7)))
