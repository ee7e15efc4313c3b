"""What a person reads: the decision record and the CloudMonitor alert, field by field, on each path the
guard can take. An operator's alert rule, a dashboard query or an incident review reads these fields by
name and these reasons by their words, so each path's record and alert are asserted whole here (the
other tests check the decisions themselves). Only what differs from run to run is masked: request ids,
record and invocation ids, timings, the instant a claim was taken.

The guard is built as the handler builds it, against the local cloud through the official SDKs."""
from __future__ import annotations

import copy
import json
import re
import time

from alibabacloud_kms20160120 import models as kms

from shared.config import GuardConfig
from shared.events import event_dedupe_key, parse_fc_events_each
from shared.guard import KeyGuard
from shared.idempotency import EventClaims
from tests.conftest import (ACCOUNT_ID, KEY, REGION, ROOT, alerts, alice_kms, decision_records, disk, key_state,
                            make_account)
from tests.scanner_kit import clients

SCHEDULE = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
DISABLE = json.loads((ROOT / "events" / "disable_key.json").read_text())
TIMER = {"triggerTime": "2026-12-02T03:00:00Z", "triggerName": "safety-net", "payload": '{"task":"safety-net"}'}
SAMPLE_CALLER = "ram-user alice (uid 2034567890123456, AK LTAI****)"  # the schedule sample's caller
SAMPLE_EVENT_ID = SCHEDULE["id"]
ALICE = "ram-user alice (uid 1287370224856720, AK LTAI****)"  # the test cloud's alice, calling through the SDK
NET_KEY_EVENT = f"kms-steward.safety-net/2026-12-02/{REGION}/{KEY}"
NET_CALLER = "unknown: found pending deletion by the daily safety net (see ActionTrail for who scheduled it)"
VOLATILE = {"durationMs", "recordId", "invocation", "eventTime", "userAgent", "sourceIp", "apiCalls", "scanners", "recordedTo"}
THROTTLED = {"Code": "Rejected.Throttling", "Status": 429}
DENIED_READ = {"Api": "kms:DescribeKey", "Code": "Forbidden.RAM"}
RAM_DENIAL = ("Forbidden.RAM: code: 403, User not authorized to operate on the specified resource, or this API doesn't "
              "support RAM. (kms:DescribeKey) request id: <id>")


def masked(value):
    """The value with what differs between runs replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, str):
        value = re.sub(r"request id: [0-9A-F-]+", "request id: <id>", value)
        value = re.sub(r"since \S+ \(", "since <time> (", value)
        return re.sub(r"invocation [0-9a-f-]{36}", "invocation <id>", value)
    return value


def guard(cloud, **kwargs) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region), **kwargs)


def records(cloud) -> list[dict]:
    return [masked(r) for r in decision_records(cloud)]


def raised(cloud) -> list[dict]:
    return [masked(a) for a in alerts(cloud)]


def schedule_deletion(cloud):
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60)


BLOCKED_ALERT = {
    "Name": "KmsKeyDeletionBlocked", "severity": "CRITICAL", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID,
    "mutation": "ScheduleKeyDeletion", "caller": ALICE, "decision": "block", "action": "cancel_deletion",
    "actionResult": "PendingDeletion -> Enabled", "dependents": {"ECS": {"count": 1, "ids": ["d-app1"]}},
    "auditIncomplete": [], "reasons": ["1 dependent(s): ECS: 1"],
}


def blocked_record(event_id: str) -> dict:
    return {
        "status": "acted", "eventId": event_id, "eventSource": "acs.kms", "eventType": "kms:ActionTrail:ApiCall",
        "eventName": "ScheduleKeyDeletion", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID, "caller": ALICE,
        "keyStateBefore": "PendingDeletion", "keyArn": f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", "aliases": ["alias/payments"],
        "deletionProtection": "Disabled", "auditComplete": True, "dependentCount": 1,
        "dependents": {"ECS": ["d-app1 (live, data disk encryption, attached to i-bp1app000001)"]},
        "usageEvidence": {"complete": True, "callers": []}, "decision": "block", "mode": "enforce",
        "reasons": ["1 dependent(s): ECS: 1"], "allowListed": False, "action": "cancel_deletion",
        "actionResult": "PendingDeletion -> Enabled", "actionDone": True, "keyStateAfter": "Enabled",
        "reason": "1 dependent(s): ECS: 1", "alert": "KmsKeyDeletionBlocked", "alertSeverity": "CRITICAL",
    }


def test_a_blocked_deletion(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)

    [record] = records(cloud)
    assert record == blocked_record(record["eventId"])
    assert raised(cloud) == [{**BLOCKED_ALERT, "eventId": record["eventId"]}]
    # Per scanner: complete or not, what it found and how long it took (which one was slow when an audit
    # runs out of time); only the milliseconds differ from run to run.
    [scanners] = [r["scanners"] for r in decision_records(cloud)]
    assert all(set(s) == {"complete", "found", "ms"} and isinstance(s["ms"], int) and s["ms"] >= 0 for s in scanners.values())
    assert scanners["ecs_disks"]["found"] == 1 and sum(s["found"] for s in scanners.values()) == 1


def test_each_record_has_an_id_of_its_own_and_key_guards_topic(start_cloud):
    # The SLS SDK resends a PutLogs whose answer it did not get, so a record can land twice: its id tells a copy from
    # a second decision. The topic keeps key-guard's records apart from secret-guard's in a shared logstore.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)
    guard(cloud).handle(json.loads((ROOT / "events" / "disable_key.json").read_text()), "inv-2")

    logs = [log for log in cloud.account.sls.logs if log.logstoreName == "key-guard-decisions"]
    ids = [log.contents.get("recordId") for log in logs]
    assert len(logs) == 2 and all(re.fullmatch(r"[0-9a-f-]{36}", i or "") for i in ids) and len(set(ids)) == 2
    assert {log.topic for log in logs} == {"key-guard"}


def test_an_allowed_deletion(start_cloud):
    # No dependent, complete audit: nothing is done, no alert, and the record says so in these words.
    cloud = start_cloud(make_account())
    schedule_deletion(cloud)

    [record] = records(cloud)
    assert {k: record[k] for k in ("status", "decision", "action", "actionResult", "actionDone", "keyStateAfter", "reason")} == {
        "status": "decided", "decision": "allow", "action": "none", "actionResult": "no action", "actionDone": False,
        "keyStateAfter": "PendingDeletion", "reason": "audit complete: no dependents found"}
    assert raised(cloud) == []


def test_a_deletion_left_scheduled_in_alert_mode_reads_its_first_two_reasons_on_one_line(start_cloud):
    # Three reasons (what was found, what could not be looked at, why nothing was done): the record's one-line
    # reason, what a dashboard lists, carries the first two, joined by "; "; the record and the alert carry all three.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "oss:ListBuckets", "Code": "Forbidden.RAM"}]),
                        env={"GUARD_DELETION_MODE": "alert"})
    schedule_deletion(cloud)

    [record] = records(cloud)
    found, blind, left = record["reasons"]
    assert found.startswith("1 dependent(s): ECS: 1; INCOMPLETE: oss_buckets (access denied")
    assert blind.startswith("audit incomplete, counted as dependents: oss_buckets (access denied")
    assert left == "mode alert: deletion left scheduled"
    assert record["reason"] == f"{found}; {blind}"
    assert {k: record[k] for k in ("status", "decision", "action", "keyStateAfter", "alert")} == {
        "status": "decided", "decision": "alert", "action": "none", "keyStateAfter": "PendingDeletion",
        "alert": "KmsKeyDeletionAtRisk"}
    [alert] = raised(cloud)
    assert alert["reasons"] == [found, blind, left] and alert["Name"] == "KmsKeyDeletionAtRisk"


def test_a_records_api_calls_are_the_calls_the_cloud_answered_for_its_decision(start_cloud):
    # What a decision cost the account's quotas, per API, as the record says it (the figure an operator sums
    # when the guard and the account's own traffic share a quota): exactly what the cloud answered, named as the
    # cloud names it, but the record's own write, which comes after it is counted.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    before = cloud.calls.snapshot()
    guard(cloud).handle(SCHEDULE)
    after = cloud.calls.snapshot()

    [record] = decision_records(cloud)
    answered = {api: n - before.get(api, 0) for api, n in after.items() if n != before.get(api, 0)}
    assert answered.pop("sls:PutLogs") == 1
    assert record["apiCalls"] == answered
    assert record["apiCalls"]["kms:DescribeKey"] >= 1 and record["apiCalls"]["kms:CancelKeyDeletion"] == 1


def test_a_key_read_without_its_optional_fields_is_recorded_as_read_not_invented(start_cloud):
    # DescribeKey answers only the key's id and state (its Arn and DeletionProtection left out): the guard still
    # decides, the record invents no ARN, and protection it was not told of reads as off (what DescribeKey's
    # Enabled | Disabled means when absent: no protection to rely on, so nothing is skipped because of it).
    bare = {"RequestId": "bare-describe", "KeyMetadata": {"KeyId": KEY, "KeyState": "PendingDeletion"}}
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:DescribeKey", "Body": bare, "Remaining": 1}]))
    guard(cloud).handle(SCHEDULE)

    [record] = records(cloud)
    assert (record["keyArn"], record["deletionProtection"]) == ("", "Disabled")
    assert record["status"] == "acted" and key_state(cloud) == "Enabled"


def test_a_key_whose_tags_answer_carries_no_tags_is_decided_as_untagged(start_cloud):
    # ListResourceTags answering without a Tags element (a key never tagged, as a service may answer it): no
    # allow-list tag, so a deletion with a dependent is cancelled as any other; the answer is no failure.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:ListResourceTags", "Body": {"RequestId": "no-tags"}}]))
    guard(cloud).handle(SCHEDULE)

    [record] = records(cloud)
    assert record["status"] == "acted" and record["allowListed"] is False and key_state(cloud) == "Enabled"


def test_an_alert_cloudmonitor_refused_once_then_raised_by_the_retry(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[
        {"Api": "cms:PutCustomEvent", "Code": "ServiceUnavailable", "Status": 503, "Remaining": 1}]))
    schedule_deletion(cloud)

    first, retry = records(cloud)
    event_id = first["eventId"]
    refusal = "KmsKeyDeletionBlocked not raised: ServiceUnavailable: code: 503, Injected fault on cms:PutCustomEvent. request id: <id>"
    expected_first = {**blocked_record(event_id), "alertError": refusal, "alertOwed": "KmsKeyDeletionBlocked"}
    del expected_first["alert"], expected_first["alertSeverity"]
    assert first == expected_first
    assert decision_records(cloud)[0]["apiCalls"]["cms:PutCustomEvent"] == 1  # the refused alert is among its calls
    # FC's retry is asked for with what went wrong: the alert and why it was not raised
    [handed_back] = [inv.error["errorMessage"] for inv in cloud.fc.invocations if inv.function == "key-guard" and inv.error]
    assert masked(handed_back) == f"KmsKeyDeletionBlocked not raised ({refusal}): the retry raises it"
    assert retry == {
        "status": "alert_raised", "eventId": event_id, "eventSource": "acs.kms", "eventType": "kms:ActionTrail:ApiCall",
        "eventName": "ScheduleKeyDeletion", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID, "caller": ALICE,
        "decision": "block", "action": "cancel_deletion", "alert": "KmsKeyDeletionBlocked", "alertSeverity": "CRITICAL",
        "reason": "KmsKeyDeletionBlocked raised for the decision of invocation <id>",
    }
    assert raised(cloud) == [{**BLOCKED_ALERT, "eventId": event_id}]


def test_the_failure_destination_cancelling_a_key_it_cannot_read(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[DENIED_READ]))
    guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded")
    cloud.faults.clear()

    assert key_state(cloud) == "Enabled"
    reason = f"guard failed at read key: {RAM_DENIAL}"
    assert records(cloud) == [{
        "status": "error", "eventId": SAMPLE_EVENT_ID, "eventSource": "acs.kms", "eventType": "kms:ActionTrail:ApiCall",
        "eventName": "ScheduleKeyDeletion", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID, "caller": SAMPLE_CALLER,
        "failedInvocation": "EventAgeExceeded", "step": "read key", "decision": "block", "action": "cancel_deletion",
        "actionResult": "fail-safe cancel sent; the key's state could not be re-read", "reason": reason,
        "alert": "KmsKeyGuardFailed", "alertSeverity": "CRITICAL",
    }]
    assert raised(cloud) == [{
        "Name": "KmsKeyGuardFailed", "severity": "CRITICAL", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID,
        "mutation": "ScheduleKeyDeletion", "caller": SAMPLE_CALLER, "eventId": SAMPLE_EVENT_ID, "decision": "error",
        "action": "cancel_deletion", "actionResult": "fail-safe cancel sent; the key's state could not be re-read",
        "dependents": {}, "auditIncomplete": [], "step": "read key",
        "reasons": [reason, "the invocation failed every retry: EventAgeExceeded"],
    }]


def test_the_fail_safe_cancel_confirmed_by_the_key(start_cloud):
    # Another invocation holds the event's claim when the failure destination runs: it cancels anyway, and
    # the key, readable now, shows the cancel.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    keeper = guard(cloud)
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    EventClaims(clients(cloud), keeper.config.state_bucket, REGION).claim(event_dedupe_key(event), "another-invocation")
    keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded")

    assert key_state(cloud) == "Enabled"
    reason = (f"guard failed at claim: ClaimBusy: event acs.kms/{SAMPLE_EVENT_ID} is being handled by invocation "
              "another-invocation since <time> (another invocation holds the event, or a failed attempt could not release its claim)")
    [record] = records(cloud)
    assert record == {
        "status": "error", "eventId": SAMPLE_EVENT_ID, "eventSource": "acs.kms", "eventType": "kms:ActionTrail:ApiCall",
        "eventName": "ScheduleKeyDeletion", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID, "caller": SAMPLE_CALLER,
        "failedInvocation": "EventAgeExceeded", "step": "claim", "decision": "block", "action": "cancel_deletion",
        "actionResult": "fail-safe: deletion cancelled", "reason": reason, "alert": "KmsKeyGuardFailed", "alertSeverity": "CRITICAL",
    }
    [alert] = raised(cloud)
    assert alert["actionResult"] == "fail-safe: deletion cancelled" and alert["step"] == "claim"
    assert alert["reasons"] == [reason, "the invocation failed every retry: EventAgeExceeded"]


def fail_safe_cancel_with_the_claim_held(cloud, original=SCHEDULE, keeper=None) -> tuple[dict, dict]:
    """The failure destination meets an event whose claim another invocation holds: it cancels fail-safe,
    without reading the key first. Its one record and one alert."""
    keeper = keeper or guard(cloud)
    [event] = parse_fc_events_each(json.dumps(original).encode())
    EventClaims(clients(cloud), keeper.config.state_bucket, REGION).claim(event_dedupe_key(event), "another-invocation")
    keeper.handle_failed_invocation(original, "EventAgeExceeded")
    cloud.faults.clear()
    [record] = records(cloud)
    [alert] = raised(cloud)
    assert record["status"] == "error" and record["step"] == "claim" and alert["Name"] == "KmsKeyGuardFailed"
    assert alert["actionResult"] == record["actionResult"]
    return record, alert


INTERNAL_ERROR = ("InternalError: code: 500, The request processing has failed due to some unknown error, exception or "
                  "failure. request id: <id>")


def test_a_fail_safe_cancel_answered_ok_but_not_done_says_so(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:CancelKeyDeletion", "Body": {"RequestId": "answered-for-nothing"}}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert record["actionResult"] == "fail-safe cancel answered OK but the key is still PendingDeletion: not cancelled"


def test_a_fail_safe_cancel_whose_answer_was_lost_is_confirmed_by_the_key_and_not_sent_again(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:CancelKeyDeletion", "Kind": "server_error", "AnswerLost": True}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1  # a write: not retried after it may have run
    assert record["actionResult"] == (f"fail-safe cancel's answer was lost ({INTERNAL_ERROR}); the key is Enabled: "
                                      "no longer pending deletion")


def test_a_fail_safe_cancel_failing_on_the_server_is_not_done(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:CancelKeyDeletion", "Kind": "server_error"}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1
    assert record["actionResult"] == ("fail-safe cancel not confirmed: the key was still PendingDeletion when re-read "
                                      f"({INTERNAL_ERROR})")


def test_a_fail_safe_cancel_whose_key_cannot_be_re_read_reads_it_once(start_cloud):
    # The guard is failing already: a re-read that fails after reaching KMS (a 5xx, a read timeout) is not tried
    # again, since each try could spend a whole read timeout of the time the keys after this one need.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:DescribeKey", "Kind": "server_error"}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert cloud.calls.get("kms:DescribeKey") == 1
    assert record["actionResult"] == "fail-safe cancel sent; the key's state could not be re-read"
    [written] = decision_records(cloud)  # and the record counts that read under its API's name
    assert written["apiCalls"]["kms:DescribeKey"] == 1 and written["apiCalls"]["kms:CancelKeyDeletion"] == 1
    assert key_state(cloud) == "Enabled"


def test_a_fail_safe_cancel_whose_answer_was_lost_and_whose_key_cannot_be_read_says_both(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:CancelKeyDeletion", "Kind": "server_error", "AnswerLost": True}, DENIED_READ]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert key_state(cloud) == "Enabled"
    assert record["actionResult"] == (f"fail-safe cancel sent but its answer was lost ({INTERNAL_ERROR}); "
                                      "the key's state could not be re-read")


def test_a_fail_safe_cancel_bringing_a_key_without_material_back_to_pending_import_is_a_cancel(start_cloud):
    account = make_account(disks=[disk("d-app1")])
    next(k for k in account.kms.keys if k.KeyId == KEY).Origin = "EXTERNAL"  # imported material (BYOK)
    cloud = start_cloud(account)
    cloud.bus.hold()  # the guard sees these only through the failure destination below
    alice_kms(cloud).delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert key_state(cloud) == "PendingImport"
    assert record["actionResult"] == "fail-safe: deletion cancelled"


def test_a_fail_safe_cancel_answered_ok_on_a_key_in_another_state_names_that_state(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="Disabled", faults=[
        {"Api": "kms:CancelKeyDeletion", "Body": {"RequestId": "answered-for-nothing"}}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert record["actionResult"] == "fail-safe cancel sent; the key is Disabled now"


def test_a_fail_safe_cancel_throttled_is_not_done_even_when_a_person_cancelled_meanwhile(start_cloud):
    # Throttled: the cancel never ran, whatever state the key is in; the record does not take the person's
    # cancel for the guard's own.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:CancelKeyDeletion", **THROTTLED}]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud)

    assert record["actionResult"] == "fail-safe cancel not done: Rejected.Throttling: code: 429, Injected fault on " \
        "kms:CancelKeyDeletion. request id: <id>"


def test_a_deletion_in_alert_mode_left_to_a_held_claim_is_nothing_done_and_left_to_the_safety_net(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_DELETION_MODE": "alert"}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud, keeper=keeper)

    assert key_state(cloud) == "PendingDeletion" and cloud.calls.get("kms:CancelKeyDeletion") == 0
    assert record["actionResult"] == "nothing done; the daily safety net re-decides keys pending deletion"


def test_a_disable_left_to_a_held_claim_is_nothing_done(start_cloud):
    # The safety net re-decides keys pending deletion, not disabled ones: the record does not promise it.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))

    record, _ = fail_safe_cancel_with_the_claim_held(cloud, DISABLE)

    assert record["actionResult"] == "nothing done" and "action" not in record


def test_a_failed_disable_is_told_and_nothing_is_done(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[DENIED_READ]))
    guard(cloud).handle_failed_invocation(DISABLE, "EventAgeExceeded")

    [record] = records(cloud)
    assert record["status"] == "error" and record["actionResult"] == "nothing done" and "action" not in record
    assert record["reason"] == f"guard failed at read key: {RAM_DENIAL}"
    assert cloud.calls.get("kms:EnableKey") == 0 and cloud.calls.get("kms:CancelKeyDeletion") == 0
    [alert] = raised(cloud)
    assert (alert["Name"], alert["mutation"], alert["action"], alert["actionResult"]) == (
        "KmsKeyGuardFailed", "DisableKey", "none", "nothing done")


def test_a_rejected_event(start_cloud):
    cloud = start_cloud(make_account())
    event = copy.deepcopy(SCHEDULE)
    del event["data"]["requestParameters"]["KeyId"]
    guard(cloud).handle(event)

    reason = "ScheduleKeyDeletion event has no KeyId (nor a ProtectedResourceArn naming a key)"
    assert records(cloud) == [{
        "status": "rejected", "eventId": SAMPLE_EVENT_ID, "eventSource": "acs.kms", "eventType": "kms:ActionTrail:ApiCall",
        "eventName": "ScheduleKeyDeletion", "region": REGION, "account": ACCOUNT_ID, "caller": SAMPLE_CALLER,
        "reason": reason, "alert": "KmsKeyGuardEventRejected", "alertSeverity": "WARN",
    }]
    assert raised(cloud) == [{
        "Name": "KmsKeyGuardEventRejected", "severity": "WARN", "keyId": None, "region": REGION, "account": ACCOUNT_ID,
        "mutation": "ScheduleKeyDeletion", "caller": SAMPLE_CALLER, "eventId": SAMPLE_EVENT_ID, "decision": "rejected",
        "action": "none", "actionResult": "nothing done; the daily safety net re-decides every key pending deletion",
        "dependents": {}, "auditIncomplete": [], "reasons": [reason],
    }]


def test_an_unreadable_payload(start_cloud):
    cloud = start_cloud(make_account())
    guard(cloud).handle(b'{"id": "x"')

    reason = "malformed event: event is not valid JSON: Expecting ',' delimiter at line 1 column 11, near '{\"id\": \"x\"'"
    assert records(cloud) == [{"status": "rejected", "reason": reason, "alert": "KmsKeyGuardEventRejected", "alertSeverity": "WARN"}]
    assert raised(cloud) == [{
        "Name": "KmsKeyGuardEventRejected", "severity": "WARN", "account": ACCOUNT_ID, "region": REGION, "decision": "rejected",
        "action": "none", "actionResult": "nothing done; the daily safety net re-decides every key pending deletion",
        "reasons": [reason],
    }]


def test_the_safety_net_blind_in_a_region(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "kms:ListKeys", "Code": "Forbidden.NoPermission", "Status": 403}]))
    guard(cloud).handle(TIMER)

    denial = "Forbidden.NoPermission: code: 403, Injected fault on kms:ListKeys. request id: <id>"
    blind, summary = records(cloud)
    assert blind == {
        "status": "error", "eventId": f"kms-steward.safety-net/2026-12-02/{REGION}", "eventName": "SafetyNet", "region": REGION,
        "step": "list keys pending deletion", "reason": f"safety net could not list keys in {REGION}: {denial}",
        "alert": "KmsKeyGuardFailed", "alertSeverity": "CRITICAL",
    }
    assert summary == {
        "status": "safety_net", "eventName": "SafetyNet", "eventId": "kms-steward.safety-net/2026-12-02T03:00:00Z",
        "trigger": "safety-net", "regions": [REGION], "keysPendingDeletion": 0,
        "decisions": [{"keyId": None, "region": REGION, "status": "error", "decision": None}],
    }
    assert raised(cloud) == [{
        "Name": "KmsKeyGuardFailed", "severity": "CRITICAL", "keyId": "", "region": REGION, "account": ACCOUNT_ID,
        "mutation": "SafetyNet", "caller": "daily safety net", "eventId": f"kms-steward.safety-net/2026-12-02/{REGION}",
        "decision": "error", "action": "none", "actionResult": "keys pending deletion not re-decided in this region",
        "dependents": {}, "auditIncomplete": [], "step": "list keys pending deletion",
        "reasons": [f"safety net could not list keys in {REGION}: {denial}"],
    }]


def test_the_safety_net_deciding_a_key(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    answer = guard(cloud).handle(TIMER)

    decision, summary = records(cloud)
    expected = {**blocked_record(NET_KEY_EVENT), "eventSource": "kms-steward.safety-net", "eventType": "timer:safety-net",
                "caller": NET_CALLER}
    assert decision == expected
    assert summary == {
        "status": "safety_net", "eventName": "SafetyNet", "eventId": "kms-steward.safety-net/2026-12-02T03:00:00Z",
        "trigger": "safety-net", "regions": [REGION], "keysPendingDeletion": 1,
        "decisions": [{"keyId": KEY, "region": REGION, "status": "acted", "decision": "block"}],
    }
    assert masked(answer["safetyNet"]) == summary
    assert raised(cloud) == [{**BLOCKED_ALERT, "eventId": NET_KEY_EVENT, "caller": NET_CALLER}]


def test_a_key_the_last_safety_net_run_had_no_time_for(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    guard(cloud, time_limit_s=100, clock=lambda: 0.0).handle_failed_invocation(TIMER, "EventAgeExceeded")

    reason = "guard failed at safety net: TimeoutError: not reached within the invocation's time limit"
    decision, summary = records(cloud)
    assert decision == {
        "status": "error", "eventId": NET_KEY_EVENT, "eventSource": "kms-steward.safety-net", "eventType": "timer:safety-net",
        "eventName": "ScheduleKeyDeletion", "keyId": KEY, "region": REGION, "account": ACCOUNT_ID, "caller": NET_CALLER,
        "failedInvocation": "EventAgeExceeded", "step": "safety net", "decision": "block", "action": "cancel_deletion",
        "actionResult": "fail-safe: deletion cancelled", "reason": reason, "alert": "KmsKeyGuardFailed", "alertSeverity": "CRITICAL",
    }
    assert summary["decisions"] == [{"keyId": KEY, "region": REGION, "status": "error", "decision": "block"}]
    [alert] = raised(cloud)
    assert alert["reasons"] == [reason, "the invocation failed every retry: EventAgeExceeded"]


def test_a_records_duration_is_the_decisions_own_in_milliseconds(start_cloud):
    # durationMs is what the flood bench and an operator's "slowest decisions" query read: a decision slowed by
    # 400 ms of KMS latency says at least that, and no more than the test saw it take.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion",
                                     faults=[{"Api": "kms:DescribeKey", "LatencyMs": 400, "Remaining": 1}]))
    started = time.monotonic()
    guard(cloud).handle(SCHEDULE, "inv-timed")
    took_ms = (time.monotonic() - started) * 1000

    [record] = decision_records(cloud)
    assert 400 <= record["durationMs"] <= took_ms


def test_a_guard_with_no_region_of_its_own_records_an_ignored_event_in_the_events_region(start_cloud):
    # FC_REGION unset: the guard's own things go to the event's region. An event it ignores is recorded there
    # too, not only printed to the function's log.
    cloud = start_cloud(make_account())
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": ""}
    env.pop("ALIBABA_CLOUD_REGION_ID", None)
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    not_a_mutation = copy.deepcopy(SCHEDULE)
    not_a_mutation["data"]["eventName"] = "DescribeKey"

    [result] = keeper.handle(not_a_mutation, "inv-ignored")["results"]

    assert result["status"] == "ignored"
    [record] = decision_records(cloud)  # read back from the records logstore in the event's region
    assert (record["status"], record["region"], record["eventName"]) == ("ignored", REGION, "DescribeKey")


def test_the_invocations_result_names_the_event_the_key_the_caller_and_what_was_done(start_cloud):
    # What `kms-steward local invoke` prints and FC hands back for a synchronous call: read by an operator, so it
    # carries the event, the key as the event named it (an alias) beside its id, who asked, and the decision.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    by_alias = copy.deepcopy(SCHEDULE)
    by_alias["data"]["requestParameters"]["KeyId"] = "alias/payments"

    [result] = guard(cloud).handle(by_alias, "inv-result")["results"]

    assert result == {
        "status": "acted", "eventId": SAMPLE_EVENT_ID, "eventName": "ScheduleKeyDeletion", "keyId": KEY,
        "keyRef": "alias/payments", "region": REGION, "caller": SAMPLE_CALLER, "decision": "block", "mode": "enforce",
        "action": "cancel_deletion", "actionResult": "PendingDeletion -> Enabled", "alert": "KmsKeyDeletionBlocked",
        "dependentCount": 1, "dependents": {"ECS": ["d-app1 (live, data disk encryption, attached to i-bp1app000001)"]},
        "auditComplete": True, "reason": "1 dependent(s): ECS: 1", "keyStateBefore": "PendingDeletion",
        "keyStateAfter": "Enabled"}


def test_the_invocations_result_says_what_the_audit_could_not_see_and_where_the_guard_failed(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion",
                                     faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM", "Status": 403}]))
    [blind] = guard(cloud).handle(SCHEDULE, "inv-blind")["results"]
    assert blind["auditComplete"] is False and blind["auditIncomplete"]

    failing = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[DENIED_READ]))
    [failed] = guard(failing).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-failed")["results"]
    assert failed["status"] == "error" and failed["step"] == "read key"
