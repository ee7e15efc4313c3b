"""Re-enabling a key that was disabled while it has dependents (GUARD_DISABLE_MODE=enforce), as the decision
record and the alert report it: which API the guard called, and, when EnableKey is refused, that the refusal
names the API and the service's answer (shared/keys.py, enable_key). End to end through key-guard against the
local cloud, with the official KMS SDK."""
from __future__ import annotations

from alibabacloud_kms20160120 import models as kms

from tests.conftest import alerts, alice_kms, decision_records, disk, key_state, make_account

ENFORCE = {"GUARD_DISABLE_MODE": "enforce"}


def disable(cloud) -> dict:
    """alice disables the key; key-guard decides; its one DisableKey record."""
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=cloud.account.kms.keys[0].KeyId))
    assert cloud.bus.drain(timeout=60), "key-guard did not finish"
    records = [r for r in decision_records(cloud) if r.get("eventName") == "DisableKey"]
    assert len(records) == 1, records
    return records[0]


def test_a_re_enabled_key_is_recorded_with_the_enable_key_call_it_took(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env=ENFORCE)

    record = disable(cloud)

    assert key_state(cloud) == "Enabled"
    assert record["status"] == "acted" and record["actionDone"] is True
    assert record["actionResult"] == "Disabled -> Enabled" and record["keyStateAfter"] == "Enabled"
    # The record counts the calls by their API name: the one write is there, under its own name.
    assert record["apiCalls"]["kms:EnableKey"] == 1
    assert cloud.calls.get("kms:EnableKey") == 1
    assert alerts(cloud)[0]["Name"] == "KmsKeyReenabled"


def test_a_refused_re_enable_names_enable_key_and_the_refusal_in_the_record_and_the_alert(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:EnableKey", "Code": "Forbidden.RAM"}]),
                        env=ENFORCE)

    record = disable(cloud)

    assert key_state(cloud) == "Disabled"
    assert record["status"] == "error" and record["actionDone"] is False and record["keyStateAfter"] == "Disabled"
    # What an operator reads first: which call failed, and the service's own code.
    assert record["actionResult"].startswith("kms:EnableKey failed: Forbidden.RAM: ")
    assert record["reason"] == record["actionResult"]
    assert record["apiCalls"]["kms:EnableKey"] == 1  # refused for good: not retried
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["severity"] == "CRITICAL" and alert["action"] == "enable_key"
    assert alert["actionResult"] == record["actionResult"]
