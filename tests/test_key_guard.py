"""key-guard end to end: a person calls KMS with the official SDK, the local cloud records the call in
ActionTrail, EventBridge matches s.yaml's trigger and FC runs the handler, which talks to the local
cloud with the official SDKs. Assertions read the account state: the key, CloudMonitor, SLS."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.support.accounts import KEY, OTHER_KEY, make_account
from tests.support.clients import alice_kms, key_state
from tests.support.guard import alerts, decision_records, only_record, schedule_deletion
from tests.support.resources import bucket, disk, snapshot


def test_key_with_live_dependents_is_cancelled_alerted_and_recorded(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1"), disk("d-app2"), disk("d-plain", key=None)],
                                     snapshots=[snapshot("s-app1")], buckets=[bucket("acme-invoices"), bucket("acme-plain", key=None)]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["severity"] == "CRITICAL"
    assert alert["keyId"] == KEY and "alice" in alert["caller"]
    assert alert["dependents"]["ECS"]["count"] == 3 and set(alert["dependents"]["ECS"]["ids"]) == {"d-app1", "d-app2", "s-app1"}
    assert alert["dependents"]["OSS"]["ids"] == ["acme-invoices"]
    record = only_record(cloud)
    assert record["status"] == "acted" and record["decision"] == "block" and record["mode"] == "enforce"
    assert record["keyStateBefore"] == "PendingDeletion" and record["keyStateAfter"] == "Enabled"
    assert record["dependentCount"] == 4 and record["auditComplete"] is True
    assert record["apiCalls"]["ecs:DescribeDisks"] == 1 and record["apiCalls"]["kms:CancelKeyDeletion"] == 1
    assert "alice" in record["caller"] and record["account"] == "1234567890123456"


def test_key_without_dependents_proceeds_and_is_recorded(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-other", key=OTHER_KEY)], buckets=[bucket("acme-other", key=OTHER_KEY)]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0
    assert alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["dependentCount"] == 0 and record["auditComplete"] is True


def test_ecs_access_denied_makes_the_audit_incomplete_and_the_deletion_is_cancelled(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [part["part"] for part in alert["auditIncomplete"]] == ["ecs_disks"]
    assert "access denied" in alert["auditIncomplete"][0]["reason"] and "Forbidden.RAM" in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["dependentCount"] == 0 and record["decision"] == "block"


def test_throttling_past_retries_counts_as_incomplete(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeSnapshots", "Code": "Throttling.User"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    record = only_record(cloud)
    assert record["auditIncomplete"][0]["part"] == "ecs_snapshots"
    assert "throttled past retries" in record["auditIncomplete"][0]["reason"]
    assert record["apiCalls"]["ecs:DescribeSnapshots"] == 4  # retried, then given up


def test_transient_throttling_is_retried_and_the_audit_completes(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "ecs:DescribeDisks", "Code": "Throttling.User", "Remaining": 2}]))
    schedule_deletion(cloud)

    record = only_record(cloud)
    assert record["auditComplete"] is True and record["dependents"]["ECS"][0].startswith("d-app1")
    assert record["apiCalls"]["ecs:DescribeDisks"] == 3


def test_duplicate_delivery_causes_one_action_and_one_alert(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), duplicate_delivery=True)
    schedule_deletion(cloud)

    assert [d.attempt_of_event for d in cloud.bus.deliveries] == [1, 2]
    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1
    assert len(alerts(cloud)) == 1
    records = {r["status"]: r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"}
    assert sorted(records) == ["acted", "duplicate"]
    # the duplicate names the invocation that handled the event
    assert records["acted"]["invocation"] in records["duplicate"]["reason"]


def test_failed_call_event_is_recorded_and_ignored(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], protection="Enabled"))
    with pytest.raises(ClientException) as raised:
        alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert raised.value.status_code == 409
    assert cloud.bus.drain(timeout=60)

    assert cloud.bus.published[-1]["data"]["errorCode"] == raised.value.code
    record = only_record(cloud)
    assert record["status"] == "ignored" and raised.value.code in record["reason"]
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0 and alerts(cloud) == []


def test_disable_key_with_dependents_alerts_with_the_blast_radius_and_leaves_the_key_disabled(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], buckets=[bucket("acme-invoices")]))
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    assert key_state(cloud) == "Disabled"
    assert cloud.calls.get("kms:EnableKey") == 0
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDisabledWithDependents" and alert["mutation"] == "DisableKey"
    assert alert["dependents"]["ECS"]["ids"] == ["d-app1"] and alert["dependents"]["OSS"]["ids"] == ["acme-invoices"]
    record = only_record(cloud, "DisableKey")
    assert record["decision"] == "alert" and record["mode"] == "alert" and record["keyStateAfter"] == "Disabled"


def test_disable_key_is_re_enabled_only_when_configured(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DISABLE_MODE": "enforce"})
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    assert key_state(cloud) == "Enabled"
    assert alerts(cloud)[0]["Name"] == "KmsKeyReenabled"


@pytest.mark.parametrize("how", ["tag", "config"])
def test_allow_listed_key_deletion_proceeds_recorded_and_alerted_when_it_has_dependents(start_cloud, how):
    tags = {"kms-steward:intended-deletion": "true"} if how == "tag" else None
    env = {"GUARD_ALLOW_KEY_IDS": f"some-other-key, {KEY}"} if how == "config" else {}
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_tags=tags), env=env)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["allowListed"] is True
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionIntendedWithDependents" and alert["severity"] == "WARN"


def test_alert_mode_leaves_the_deletion_scheduled_but_alerts(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DELETION_MODE": "alert"})
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert alerts(cloud)[0]["Name"] == "KmsKeyDeletionAtRisk"


def test_a_bad_mode_in_config_falls_back_to_enforce_and_says_so(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DELETION_MODE": "off"})
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    assert "GUARD_DELETION_MODE" in only_record(cloud)["configProblems"][0]


def test_console_operation_is_handled_like_an_api_call(start_cloud):
    # A call the KMS console makes through the API is recorded as an ApiCall, whatever its User-Agent: the
    # ActionTrail samples of console-made calls say eventType "ApiCall" (UpdateTrail from the ActionTrail console,
    # https://www.alibabacloud.com/help/doc-detail/28826.htm; a KMS call with userAgent "AliyunConsole",
    # doc-detail/86812). key-guard acts on it.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud, user_agent="AliyunConsole")

    assert cloud.bus.published[0]["type"] == "kms:ActionTrail:ApiCall"
    assert cloud.bus.published[0]["data"]["userAgent"].endswith("AliyunConsole")
    assert key_state(cloud) == "Enabled"
    assert only_record(cloud)["eventType"] == "kms:ActionTrail:ApiCall"

    # A console page's own management operation comes as a ConsoleOperation (management event structure,
    # https://www.alibabacloud.com/help/doc-detail/28819.html): the same record, delivered under that type, is
    # handled alike (s.yaml's rule takes both types).
    cloud.bus.hold()
    alice_kms(cloud, user_agent="AliyunConsole").schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    console = cloud.bus.published[-1]
    console["type"], console["data"]["eventType"] = "kms:ActionTrail:ConsoleOperation", "ConsoleOperation"
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60), "key-guard did not finish"

    assert key_state(cloud) == "Enabled"
    records = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert [r["eventType"] for r in records] == ["kms:ActionTrail:ApiCall", "kms:ActionTrail:ConsoleOperation"]


def test_guard_own_cancel_does_not_trigger_it_again(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)

    names = [e["data"]["eventName"] for e in cloud.bus.published]
    assert names == ["ScheduleKeyDeletion", "CancelKeyDeletion", "PutCustomEvent"]
    assert [d.event["data"]["eventName"] for d in cloud.bus.deliveries] == ["ScheduleKeyDeletion"]
    cancel = cloud.bus.published[1]["data"]["userIdentity"]
    assert cancel["type"] == "assumed-role" and cancel["userName"].startswith("kms-steward-key-guard:")


def test_no_secret_reaches_records_alerts_or_state(start_cloud, tmp_path):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)
    cloud.dump_state(tmp_path / "state.yaml")

    secrets = [c.AccessKeySecret for c in cloud.account.credentials] + [c.SecurityToken for c in cloud.account.credentials if c.SecurityToken]
    text_outside_credentials = str(cloud.account.sls.logs) + str(cloud.account.cms.events) + str(cloud.account.actiontrail.events)
    for secret in secrets:
        assert secret not in text_outside_credentials
    state = (tmp_path / "state.yaml").read_text()
    for temp in [c for c in cloud.account.credentials if c.SecurityToken]:
        assert temp.AccessKeySecret not in state and temp.SecurityToken not in state
