"""The rotation role may read and write only the secrets it rotates. ROTATION_SECRETS names them (a name pattern, * and
?); the role's policy (ram/kms-steward-secret-rotation.json) is rendered with it, so the local cloud refuses the role any
other secret's value, and the function itself never asks: a secret outside is refused before any call on demand, and
left out of the timer's rotations (named in the run's summary, not alerted hour after hour)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from localcloud.ram_access import render_policy
from localcloud.ram_policy import Policy, evaluate
from shared.rotation.config import RotationConfig
from tests.rotation_kit import (INTERVAL_TAG, NOW, alerts, create_secret, holder, invoke, rotation_account,
                                rotation_records)
from tests.support.accounts import ACCOUNT_ID, REGION, ROOT

SCOPE = {"ROTATION_SECRETS": "app/*"}
ROTATION = json.loads((ROOT / "ram" / "kms-steward-secret-rotation.json").read_text())
SECRET = f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/db/payments"


@pytest.fixture
def cloud(start_cloud):
    return start_cloud(rotation_account(), now=NOW, env=SCOPE)


def test_a_secret_outside_the_scope_is_refused_before_any_call_on_it(cloud):
    create_secret(cloud, "db/payments", "initial-token-000001")

    invocation = invoke(cloud, {"SecretName": "db/payments"})

    assert invocation.ok, invocation.error
    [record] = rotation_records(cloud)
    assert (record["status"], record["step"]) == ("refused", "scope")
    assert record["reason"].startswith("db/payments is not among the secrets this function rotates (ROTATION_SECRETS='app/*')")
    assert [a["secretName"] for a in alerts(cloud)] == ["db/payments"]
    assert holder(cloud, "db/payments", "ACSCurrent") == "v1"
    assert not [d for d in cloud.ram.log.decisions if d.call.resource.endswith(":secret/db/payments")]


def test_the_timer_rotates_the_secrets_in_scope_and_names_the_others(cloud):
    create_secret(cloud, "app/api-token", "initial-token-000002", tags={INTERVAL_TAG: "7d"})
    create_secret(cloud, "db/payments", "initial-token-000003", tags={INTERVAL_TAG: "7d"})
    cloud.clock.advance(timedelta(days=8))

    run = cloud.fc.fire_timer("secret-rotation")

    assert run.ok, run.error
    assert run.result["sweep"]["outOfScope"] == ["db/payments"] and run.result["sweep"]["rotated"] == 1
    assert holder(cloud, "app/api-token", "ACSCurrent") != "v1" and holder(cloud, "db/payments", "ACSCurrent") == "v1"
    assert alerts(cloud) == [] and not [d for d in cloud.ram.log.decisions if not d.allowed]


def test_the_role_may_touch_only_the_secrets_in_scope(cloud):
    policies = [Policy.parse("p", d) for d in cloud.ram.function_policies("kms-steward-secret-rotation")]
    secret = f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/"
    for action in ("kms:GetSecretValue", "kms:PutSecretValue", "kms:UpdateSecretVersionStage", "kms:DescribeSecret"):
        assert evaluate(policies, action, secret + "app/api-token", {}).allowed, action
        assert not evaluate(policies, action, secret + "db/payments", {}).allowed, action


@pytest.mark.parametrize("raw, pattern, rotates, problem", [
    (None, "*", ["db/payments", "app/x", "app/a/b"], False),  # not set (the CLI outside FC)
    ("*", "*", ["db/payments", "app/x", "app/a/b"], False),
    ("", "", [], True),  # set and empty: as its role's policy, which then grants no secret
    ("app/*", "app/*", ["app/x", "app/a/b"], False),
    ("app/?", "app/?", ["app/x"], False),
    ("app/<all>", "", [], True),  # not a pattern a secret name can hold: no secret, and said
])
def test_the_scope_setting(raw, pattern, rotates, problem):
    config = RotationConfig.from_env({} if raw is None else {"ROTATION_SECRETS": raw})
    assert config.secret_names == pattern and bool(config.problems) is problem
    assert [n for n in ("db/payments", "app/x", "app/a/b") if config.rotates(n)] == rotates


def test_an_empty_rotation_scope_means_the_same_to_the_function_and_to_its_role():
    config = RotationConfig.from_env({"ROTATION_SECRETS": ""})
    rendered = [Policy.parse("r", render_policy(ROTATION, {"ROTATION_SECRETS": "", "RECORDS_PROJECT": "p",
                                                           "RECORDS_LOGSTORE": "l"}))]
    function_rotates = config.rotates("db/payments")
    role_may = evaluate(rendered, "kms:GetSecretValue", SECRET, {}).allowed
    assert function_rotates == role_may, (function_rotates, role_may)


def test_the_rotation_role_may_decrypt_with_the_key_protecting_its_secrets():
    # GetSecretValue (KMS API reference): "If a user-specified key is used to protect the secret value, the caller must
    # have the kms:Decrypt permission on the corresponding master key." Every secret of a KMS instance names one.
    rendered = [Policy.parse("r", render_policy(ROTATION, {"ROTATION_SECRETS": "*", "ROTATION_KEYS": "*",
                                                           "RECORDS_PROJECT": "p", "RECORDS_LOGSTORE": "l"}))]
    assert evaluate(rendered, "kms:GetSecretValue", SECRET, {}).allowed
    assert evaluate(rendered, "kms:Decrypt", "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz6", {}).allowed, \
        "deployed as is, every GetSecretValue of a key-protected secret is refused"
