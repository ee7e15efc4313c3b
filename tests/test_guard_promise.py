"""key-guard's promise: a key that something still depends on is never deleted, and a person always
learns what happened. Each test here is one way that promise was broken, tried as an adversary would
on the local cloud through the official SDKs; each outcome is one of: the deletion is cancelled; FC
retries the invocation (only while nothing was done); or KmsKeyGuardFailed names the key, the step
and the reason. An alert's name says what happened, never what was intended."""
from __future__ import annotations

import json
import time
from datetime import timedelta

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient

from shared.audit.runner import run_audit
from shared.audit.scanners.kms_secrets import KmsSecretsScanner
from shared.clients import is_access_denied, is_not_found, is_transient
from tests.support.accounts import KEY, OTHER_KEY, REGION, SHANGHAI_KEY, make_account, two_region_account
from tests.support.clients import alice_kms, error_of, key_state, sdk_config
from tests.support.guard import a_person_cancels_just_before_the_guard, alerts, decision_records, only_record, schedule_deletion
from tests.support.resources import bucket, disk, secret
from tests.support.scanners import clients, target

KMS_THROTTLED = {"Code": "Rejected.Throttling", "Status": 429}  # KMS's flow control answer (KMS "Limits" page)


def guard_invocations(cloud):
    return [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]


# ---------------------------------------------------------------- 1. a throttled action


def test_a_cancel_throttled_past_every_retry_is_never_reported_as_blocked(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:CancelKeyDeletion", **KMS_THROTTLED}]))
    schedule_deletion(cloud)

    # Nothing was done, so every attempt failed for FC to retry it; none said the key was safe.
    attempts = guard_invocations(cloud)
    assert attempts and all(not inv.ok for inv in attempts)
    assert all("Rejected.Throttling" in inv.error["errorMessage"] for inv in attempts)
    # What FC logs for each failed attempt names the step that failed: the cancel, not the audit before it.
    assert all(inv.error["errorMessage"].startswith("retry later (cancel_deletion): ") for inv in attempts)
    assert "KmsKeyDeletionBlocked" not in [a["Name"] for a in alerts(cloud)]
    assert not [r for r in decision_records(cloud) if r.get("status") in ("acted", "decided")]


def test_a_cancel_throttled_a_few_times_still_goes_through_once(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")],
                                     faults=[{"Api": "kms:CancelKeyDeletion", **KMS_THROTTLED, "Remaining": 5}]))
    schedule_deletion(cloud)

    # The first attempt gives up after its own retries and hands back to FC with the claim released;
    # FC's retry cancels. One cancel done, one alert, one record.
    assert [inv.ok for inv in guard_invocations(cloud)] == [False, True]
    assert key_state(cloud) == "Enabled" and cloud.calls.get("kms:CancelKeyDeletion") == 6
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert only_record(cloud)["status"] == "acted"


def test_a_cancel_denied_for_good_raises_guard_failed_naming_key_step_and_reason(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:CancelKeyDeletion", "Code": "Forbidden.NoPermission",
                                                                       "Status": 403}]))
    schedule_deletion(cloud)

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["severity"] == "CRITICAL"
    assert alert["keyId"] == KEY and alert["step"] == "cancel_deletion"
    assert "Forbidden.NoPermission" in alert["actionResult"]
    assert alert["dependents"] == {"ECS": {"count": 1, "ids": ["d-app1"]}}  # what the failed cancel leaves at risk
    record = only_record(cloud)
    assert record["status"] == "error" and "Forbidden.NoPermission" in record["reason"]
    assert key_state(cloud) == "PendingDeletion"  # the guard could not act, and said so


def test_a_person_cancelling_between_event_and_action_is_already_done(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    cloud.bus.hold()
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    alice_kms(cloud).cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=KEY))
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    record = only_record(cloud)
    assert record["status"] == "no_action" and "Enabled" in record["reason"]
    assert alerts(cloud) == [] and cloud.calls.get("kms:CancelKeyDeletion") == 1  # alice's only


def test_a_key_gone_between_the_decision_and_the_cancel_is_recorded_as_not_needed_where_it_was_looked_for(start_cloud):
    # The guard read the key and audited it (two DescribeKey calls); from then on KMS no longer knows it.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[
        {"Api": "kms:DescribeKey", "Code": "Forbidden.KeyNotFound", "Status": 404, "After": 2}]))
    schedule_deletion(cloud)

    record = only_record(cloud)
    assert record["status"] == "already_done" and alerts(cloud) == []
    assert record["reason"] == f"not needed: key {KEY} not found in {REGION}"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0


def test_a_person_cancelling_between_the_audit_and_the_cancel_is_already_done_and_not_alerted(start_cloud, monkeypatch):
    # The guard read the key pending deletion and audited it; a person cancels in the moment before the guard's
    # cancel, which KMS then refuses. The key is safe and nothing was blocked by the guard: already done, no alert.
    a_person_cancels_just_before_the_guard(monkeypatch)
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)

    record = only_record(cloud)
    assert record["status"] == "already_done" and key_state(cloud) == "Enabled"
    assert record["reason"].startswith("not done: the key became Enabled meanwhile (Rejected.StateModifiedFailed")
    assert [inv.ok for inv in guard_invocations(cloud)] == [True]  # decided at once, no retry
    assert alerts(cloud) == []


def test_a_missing_key_is_not_found_not_access_denied(start_cloud):
    cloud = start_cloud(make_account())
    err = error_of(lambda: alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id="ffffffff-0000-4000-8000-000000000000")))
    assert err.code == "Forbidden.KeyNotFound" and err.status_code == 404
    assert is_not_found(err) and not is_access_denied(err) and not is_transient(err)


# ---------------------------------------------------------------- 3. a configuration the guard does not understand


def test_an_invalid_state_bucket_name_never_switches_protection_off(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"STATE_BUCKET": "Not_A_Valid_Bucket!"})
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    record = only_record(cloud)
    assert record["status"] == "acted"
    assert any("STATE_BUCKET" in problem and "duplicate" in problem for problem in record["configProblems"])


# ---------------------------------------------------------------- 6. runaway scanners


def test_scanners_past_the_audit_deadline_stop_calling(start_cloud):
    # 120 secrets described at 150 ms each, 16 at a time: over a second of work against a 0.2 s deadline.
    secrets = [secret(f"app/secret-{n:03d}") for n in range(120)]
    cloud = start_cloud(make_account(kms={"secrets": secrets}, faults=[{"Api": "kms:DescribeSecret", "LatencyMs": 150}]))
    report = run_audit(target(), clients(cloud), scanners=(KmsSecretsScanner(),), deadline_s=0.2)

    [result] = report.results
    assert not result.complete and "timeout" in result.reason
    time.sleep(0.3)  # the calls in flight at the deadline land
    settled = cloud.calls.get("kms:DescribeSecret")
    time.sleep(1.5)
    assert cloud.calls.get("kms:DescribeSecret") == settled < 120  # none started after the deadline


# ---------------------------------------------------------------- any region


def test_an_event_for_a_key_in_another_region_is_decided_in_that_region(start_cloud):
    shanghai_key = SHANGHAI_KEY
    cloud = start_cloud(two_region_account())
    cloud.bus.hold()
    config = sdk_config(cloud)
    config.endpoint, config.region_id = cloud.endpoint("cn-shanghai"), "cn-shanghai"
    shanghai = KmsClient(config)
    shanghai.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=shanghai_key, pending_window_in_days=7))
    [event] = [e for e in cloud.bus.published if e["data"]["eventName"] == "ScheduleKeyDeletion"]

    # The function runs in cn-hangzhou, as a single deployment would.
    invocation = cloud.fc.invoke("key-guard", json.dumps(event).encode(), region=REGION)
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    assert invocation.ok, invocation.error
    [result] = invocation.result["results"]
    assert result["status"] == "acted" and result["region"] == "cn-shanghai"
    assert "d-sh-app" in json.dumps(result["dependents"])
    meta = shanghai.describe_key(kms.DescribeKeyRequest(key_id=shanghai_key)).body.key_metadata
    assert meta.key_state == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    # Its claim is kept where the guard's own things live, the function's region: a duplicate is caught there.
    [record] = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert "idempotencyProblem" not in record
    again = cloud.fc.invoke("key-guard", json.dumps(event).encode(), region=REGION)
    assert again.result["results"][0]["status"] == "duplicate"


# ---------------------------------------------------------------- 5. lost events: the failure destination and the safety net


def test_an_event_failing_every_retry_reaches_the_failure_destination_which_cancels_and_alerts(start_cloud):
    # key-guard cannot read the key on any attempt: FC gives up and hands the event to key-guard-failures.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", **KMS_THROTTLED}]))
    schedule_deletion(cloud)

    assert guard_invocations(cloud) and not any(inv.ok for inv in guard_invocations(cloud))
    [last] = [inv for inv in cloud.fc.invocations if inv.function == "key-guard-failures"]
    assert last.ok, last.error
    assert key_state_bypassing_faults(cloud) == "Enabled"  # cancelled fail-safe, without re-reading the key
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY and alert["step"] == "read key"
    # DescribeKey never answers, so the cancel is not claimed beyond what can be seen
    assert alert["actionResult"] == "fail-safe cancel sent; the key's state could not be re-read"
    assert any("failed every retry" in reason for reason in alert["reasons"])
    record = only_record(cloud)
    assert record["status"] == "error"
    # The record names the destination's own invocation, and how FC said the event failed (the last attempt's error)
    assert record["invocation"] == last.request_id
    assert record["failedInvocation"].startswith(f"UnhandledInvocationError; after {len(guard_invocations(cloud))} attempt(s); ")
    assert "Rejected.Throttling" in record["failedInvocation"]


def test_the_failure_destination_never_raises_on_a_payload_it_cannot_read(start_cloud):
    cloud = start_cloud(make_account())
    for payload in (b"not json", b"{}", b'{"requestPayload": "{\\"id\\": 1}"}'):
        invocation = cloud.fc.invoke("key-guard-failures", payload)
        assert invocation.ok, invocation.error
        [result] = invocation.result["results"]
        assert result["status"] == "rejected" and result["reason"]


def key_state_bypassing_faults(cloud) -> str:
    cloud.faults.clear()
    return key_state(cloud)


def test_the_safety_net_cancels_a_pending_deletion_whose_event_never_arrived(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    invocation = cloud.fc.fire_timer("key-guard", "safety-net")

    assert invocation.ok, invocation.error
    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["keyId"] == KEY
    record = only_record(cloud)
    assert record["status"] == "acted" and record["eventSource"] == "kms-steward.safety-net"
    assert "safety net" in record["caller"]
    [summary] = [r for r in decision_records(cloud) if r.get("status") == "safety_net"]
    assert summary["keysPendingDeletion"] == 1


def test_the_safety_net_decides_each_key_once_a_day_and_leaves_keys_without_dependents(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"), env={"GUARD_DELETION_MODE": "alert"})
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60)
    cloud.fc.fire_timer("key-guard", "safety-net")
    cloud.fc.fire_timer("key-guard", "safety-net")  # a doubled timer delivery: nothing decided twice

    net = [r for r in decision_records(cloud) if r.get("eventSource") == "kms-steward.safety-net"]
    assert sorted((r["keyId"], r["status"]) for r in net) == sorted(
        [(KEY, "decided"), (OTHER_KEY, "decided"), (KEY, "duplicate"), (OTHER_KEY, "duplicate")])
    assert [a["Name"] for a in alerts(cloud)].count("KmsKeyDeletionAtRisk") == 1
    assert key_state(cloud, OTHER_KEY) == "PendingDeletion"  # no dependents: the deletion stands

    cloud.clock.advance(timedelta(days=1))  # the next day's run reminds again
    cloud.fc.fire_timer("key-guard", "safety-net")
    assert [a["Name"] for a in alerts(cloud)].count("KmsKeyDeletionAtRisk") == 2


def test_the_safety_net_covers_every_configured_region(start_cloud):
    cloud = start_cloud(two_region_account(), env={"GUARD_REGIONS": "cn-hangzhou,cn-shanghai"})
    config = sdk_config(cloud)
    config.endpoint, config.region_id = cloud.endpoint("cn-shanghai"), "cn-shanghai"
    shanghai = KmsClient(config)
    cloud.bus.hold()  # the event is "lost": only the safety net sees the key
    shanghai.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=SHANGHAI_KEY, pending_window_in_days=7))
    invocation = cloud.fc.fire_timer("key-guard", "safety-net", region=REGION)

    assert invocation.ok, invocation.error
    assert shanghai.describe_key(kms.DescribeKeyRequest(key_id=SHANGHAI_KEY)).body.key_metadata.key_state == "Enabled"
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)


def test_the_safety_net_says_so_when_it_cannot_list_a_region(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "kms:ListKeys", "Code": "Forbidden.NoPermission", "Status": 403}]))
    invocation = cloud.fc.fire_timer("key-guard", "safety-net")

    assert invocation.ok, invocation.error
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and "Forbidden.NoPermission" in json.dumps(alert["reasons"])


def test_an_oversized_request_answered_414_is_not_taken_for_a_transient_failure(start_cloud):
    # The front end refuses the request line with an HTML 414 page, which the SDK cannot read as JSON:
    # retrying it would fail the same way forever (FC would retry the invocation again and again).
    cloud = start_cloud(make_account())
    try:
        alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id="k" * 100_000))
    except Exception as exc:  # noqa: BLE001 - what the official SDK raises is the subject
        assert "414" in str(exc) and not is_transient(exc)
    else:
        raise AssertionError("a 100,000-character KeyId was accepted")


# ---------------------------------------------------------------- 7. writes whose answer was lost


LOST = {"Code": "ServiceUnavailable", "Status": 503, "AnswerLost": True, "Remaining": 1}


def test_a_cancel_whose_answer_was_lost_is_confirmed_from_the_key_not_repeated(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:CancelKeyDeletion", **LOST}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1  # never sent again
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    record = only_record(cloud)
    assert record["status"] == "acted" and record["actionDone"] is True and "answer" in record["actionResult"]


def test_an_alert_cloudmonitor_refused_is_raised_by_the_retry_and_nothing_is_redone(start_cloud):
    # The cancel is done; CloudMonitor answers 503 once. The alert is owed: kept with the event's claim,
    # FC's retry raises it, and only it (at least once: a person always learns what happened).
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "cms:PutCustomEvent", "Code": "ServiceUnavailable",
                                                                       "Status": 503, "Remaining": 1}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled" and cloud.calls.get("kms:CancelKeyDeletion") == 1
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert [inv.ok for inv in guard_invocations(cloud)] == [False, True]
    statuses = [r["status"] for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert statuses == ["acted", "alert_raised"]


def test_a_cancel_answered_ok_that_changed_nothing_is_never_reported_as_blocked(start_cloud):
    # A front end answering 200 for a service it never asked: the key is still pending deletion.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:CancelKeyDeletion", "Kind": "silent_denial"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    names = [a["Name"] for a in alerts(cloud)]
    assert "KmsKeyDeletionBlocked" not in names and "KmsKeyGuardFailed" in names
    failed = next(a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed")
    assert failed["keyId"] == KEY and "still PendingDeletion" in json.dumps(failed)




def test_a_safety_net_run_failing_every_retry_still_cancels_through_the_failure_destination(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion",
                                     faults=[{"Api": "kms:DescribeKey", **KMS_THROTTLED}]))
    cloud.fc.fire_timer("key-guard", "safety-net")

    assert not any(inv.ok for inv in guard_invocations(cloud))
    [last] = [inv for inv in cloud.fc.invocations if inv.function == "key-guard-failures"]
    assert last.ok, last.error
    assert key_state_bypassing_faults(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY


def test_a_bucket_naming_the_key_by_alias_is_a_dependent(start_cloud):
    cloud = start_cloud(make_account(buckets=[bucket("acme-invoices", key="alias/payments")]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["dependents"]["OSS"]["ids"] == ["acme-invoices"]


def test_the_safety_net_pages_on_until_the_listing_is_proven_whole(start_cloud):
    # ListKeys capped at one key a page, echoing the size asked and omitting its total: the safety net
    # reads on page by page and decides both keys pending deletion, not just the first page's.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion",
                                     faults=[{"Api": "kms:ListKeys", "PageSizeCap": 1, "ReportRequestedPageSize": True,
                                              "OmitTotal": True}]))
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60)
    invocation = cloud.fc.fire_timer("key-guard", "safety-net")

    assert invocation.ok, invocation.error
    [summary] = [r for r in decision_records(cloud) if r.get("status") == "safety_net"]
    assert summary["keysPendingDeletion"] == 2
    assert sorted(d["keyId"] for d in summary["decisions"]) == sorted([KEY, OTHER_KEY])
    assert key_state(cloud) == "Enabled" and key_state(cloud, OTHER_KEY) == "PendingDeletion"
