"""key_rotation on the local cloud: which keys are judged (customer-managed, Enabled, symmetric, generated material),
what is out of policy, how a finding's severity rises as time passes, and that a denied listing is incomplete."""
from __future__ import annotations

from datetime import timedelta

from shared.sweeps.checks.key_rotation import CHECK
from tests.support.sweeps import NOW, by_resource, days_before, key, run, sweep_account

ROTATING = "11111111-0000-4000-8000-000000000001"
OFF = "11111111-0000-4000-8000-000000000002"
TOO_LONG = "11111111-0000-4000-8000-000000000003"
IMPORTED = "11111111-0000-4000-8000-000000000004"
ASYMMETRIC = "11111111-0000-4000-8000-000000000005"
DISABLED = "11111111-0000-4000-8000-000000000006"
SERVICE = "11111111-0000-4000-8000-000000000007"

KEYS = [
    key(ROTATING, AutomaticRotation="Enabled", RotationInterval="31536000s", CreationDate=days_before(NOW, 100),
        NextRotationDate=days_before(NOW, -265)),
    key(OFF, AutomaticRotation="Disabled", CreationDate=days_before(NOW, 400)),
    key(TOO_LONG, AutomaticRotation="Enabled", RotationInterval="63072000s", CreationDate=days_before(NOW, 10),
        NextRotationDate=days_before(NOW, -720)),
    key(IMPORTED, Origin="EXTERNAL", AutomaticRotation="Disabled", CreationDate=days_before(NOW, 900)),
    key(ASYMMETRIC, KeySpec="RSA_2048", KeyUsage="SIGN/VERIFY", AutomaticRotation="Disabled", CreationDate=days_before(NOW, 900)),
    key(DISABLED, KeyState="Disabled", AutomaticRotation="Disabled", CreationDate=days_before(NOW, 900)),
    key(SERVICE, Creator="Oss", AutomaticRotation="Disabled", CreationDate=days_before(NOW, 900)),
]


def test_only_keys_that_can_rotate_are_judged(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS), now=NOW)
    result = run(cloud, CHECK)
    assert result.complete
    found = by_resource(result)
    assert set(found) == {OFF, TOO_LONG}
    assert found[OFF].kind == "rotation_off" and found[OFF].severity == "WARN"
    assert "400 days old" in found[OFF].message
    assert found[TOO_LONG].kind == "rotation_interval_too_long" and "730 days" in found[TOO_LONG].message


def test_the_policy_is_a_setting(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS), now=NOW)
    assert set(by_resource(run(cloud, CHECK, key_rotation_days=730))) == {OFF}
    assert set(by_resource(run(cloud, CHECK, key_rotation_days=90))) == {OFF, TOO_LONG, ROTATING}


def test_rotation_off_becomes_critical_past_twice_the_policy(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS), now=NOW)
    cloud.clock.advance(timedelta(days=400))
    later = cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    found = by_resource(run(cloud, CHECK, now=later))
    assert found[OFF].severity == "CRITICAL" and found[OFF].kind == "rotation_off"


def test_a_denied_listing_is_incomplete_not_clean(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, faults=[{"Api": "kms:ListKeys", "Code": "Forbidden.RAM", "Status": 403}]), now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete and not result.findings
    assert "access denied" in result.reason and "Forbidden.RAM" in result.reason


def test_throttling_past_retries_is_incomplete(start_cloud):
    cloud = start_cloud(sweep_account(keys=KEYS, faults=[{"Api": "kms:DescribeKey", "Kind": "throttled", "RetryAfterMs": 5}]),
                        now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete and "throttled" in result.reason
