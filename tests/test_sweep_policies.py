"""policies on the local cloud: GetKeyPolicy/GetSecretPolicy through the official SDK, principals outside the
allow-list and wildcards found, keys and secrets outside a KMS instance not asked."""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as kms

from shared.sweeps.checks.policies import CHECK, classify, granted_principals
from tests.support.accounts import ACCOUNT_ID
from tests.support.clients import alice_kms, refused
from tests.support.sweeps import NOW, by_resource, key, run, secret, sweep_account

INSTANCE = "kst-hzz000000000001"
DEFAULT = "33333333-0000-4000-8000-000000000001"
SHARED = "33333333-0000-4000-8000-000000000002"
OPEN = "33333333-0000-4000-8000-000000000003"
OUTSIDE = "33333333-0000-4000-8000-000000000004"
PARTNER, STRANGER = "1111111111111111", "2222222222222222"


def policy(*principals: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "1", "Statement": [{"Effect": effect, "Principal": {"RAM": list(principals)},
                                                      "Action": ["kms:*"], "Resource": ["*"]}]})


KEYS = [
    key(DEFAULT, DKMSInstanceId=INSTANCE),
    key(SHARED, DKMSInstanceId=INSTANCE, Policy=policy(f"acs:ram::{ACCOUNT_ID}:*", f"acs:ram::{PARTNER}:role/reader",
                                                        f"acs:ram::{STRANGER}:*")),
    key(OPEN, DKMSInstanceId=INSTANCE, Policy=policy("*")),
    key(OUTSIDE),
]
SECRETS = [
    secret("inst/open", created=NOW, DKMSInstanceId=INSTANCE, Policy=policy("acs:ram::*:*")),
    secret("inst/denied-stranger", created=NOW, DKMSInstanceId=INSTANCE, Policy=policy(f"acs:ram::{STRANGER}:*", effect="Deny")),
    secret("plain", created=NOW),
]


def test_foreign_and_wildcard_principals_are_found(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, secrets=SECRETS), now=NOW)
    result = run(cloud, CHECK, allowed_accounts=[PARTNER])
    assert result.complete, result.reason
    found = {(f.resource_id, f.kind): f for f in result.findings}
    assert set(found) == {(SHARED, "foreign_principal"), (OPEN, "wildcard_principal"), ("inst/open", "wildcard_principal")}
    assert found[(SHARED, "foreign_principal")].detail["accounts"] == [STRANGER]
    assert found[(OPEN, "wildcard_principal")].severity == "CRITICAL"


def test_without_the_allow_list_a_partner_is_foreign(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, secrets=SECRETS), now=NOW)
    found = [f for f in run(cloud, CHECK).findings if f.kind == "foreign_principal"]
    assert found[0].detail["accounts"] == [PARTNER, STRANGER]


def test_local_cloud_answers_the_documented_shapes(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, secrets=SECRETS), now=NOW)
    client = alice_kms(cloud)
    default = json.loads(client.get_key_policy(kms.GetKeyPolicyRequest(key_id=DEFAULT, policy_name="default")).body.policy)
    assert default["Version"] == "1" and default["Statement"][0]["Principal"] == {"RAM": [f"acs:ram::{ACCOUNT_ID}:*"]}
    assert refused(lambda: client.get_key_policy(kms.GetKeyPolicyRequest(key_id=DEFAULT, policy_name="other")))[1] == 404
    assert refused(lambda: client.get_key_policy(kms.GetKeyPolicyRequest(key_id=OUTSIDE)))[0] == "Rejected.UnsupportedOperation"
    assert "acs:ram::*:*" in client.get_secret_policy(kms.GetSecretPolicyRequest(secret_name="inst/open")).body.policy


def test_a_policy_that_cannot_be_read_is_a_gap(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, secrets=SECRETS,
                                      faults=[{"Api": "kms:GetKeyPolicy", "Code": "Forbidden.RAM", "Status": 403,
                                               "Params": {"KeyId": OPEN}}]), now=NOW)
    result = run(cloud, CHECK, allowed_accounts=[PARTNER])
    assert not result.complete and f"key {OPEN} policy" in result.reason
    assert ("inst/open", "wildcard_principal") in {(f.resource_id, f.kind) for f in result.findings}


def test_principal_parsing():
    assert granted_principals(policy("a", "b")) == ["a", "b"]
    assert granted_principals(policy("a", effect="Deny")) == []
    assert classify(["*", "acs:ram::*:role/x", f"acs:ram::{ACCOUNT_ID}:user/u", "acs:ram::9:*"], ACCOUNT_ID, frozenset()) == (
        ["*", "acs:ram::*:role/x"], ["9"])
