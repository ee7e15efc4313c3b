"""key-guard's paths when something fails: an alert CloudMonitor refused is owed, raised by the retry once with the
severity it was decided with, and never again; a fail-safe cancel KMS refuses is "already done" only when the key
says it is not pending deletion (a denial or another refusal is alerted); a rejection whose alert is refused says
so; a malformed failed invocation is answered and recorded; every record names the invocation that wrote it and the
calls it made. The guard runs in-process against the local cloud, through the official SDKs."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from alibabacloud_kms20160120 import models as kms

from shared import alerts as shared_alerts
from shared.clients import Clients, TransientError
from shared.config import GuardConfig
from shared.events import event_dedupe_key, parse_fc_events_each
from shared import guard as shared_guard
from shared.guard import SAFETY_NET_SOURCE, KeyGuard
from shared.idempotency import PREFIX, EventClaims
from shared.ratelimit import RateLimiter
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, ROOT, make_account
from tests.support.clients import alice_kms, key_state
from tests.support.guard import a_person_cancels_just_before_the_guard, alerts, decision_records
from tests.support.resources import disk
from tests.support.scanners import clients

SCHEDULE = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
DISABLE = json.loads((ROOT / "events" / "disable_key.json").read_text())
CMS_DOWN_ONCE = {"Api": "cms:PutCustomEvent", "Code": "ServiceUnavailable", "Status": 503, "Remaining": 1}
CMS_DOWN = {"Api": "cms:PutCustomEvent", "Code": "ServiceUnavailable", "Status": 503}
TIMER = {"triggerTime": "2026-12-02T03:00:00Z", "triggerName": "safety-net", "payload": '{"task":"safety-net"}'}


def guard(cloud, **kwargs) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region), **kwargs)


def pending_key_with_a_dependent(start_cloud, *faults):
    return start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=list(faults)))


class CloudMonitorUnreachable(Clients):
    """The guard's clients, but CloudMonitor's endpoint refuses every connection: the official SDK client meets a
    closed port, as it does when the endpoint cannot be reached. The request never leaves."""

    def cms(self, region=None):
        return Clients(self.credentials, region or self.region, endpoint_override="http://127.0.0.1:1").cms(region)


def test_an_alert_that_never_left_is_owed_and_raised_by_the_retry(start_cloud):
    # No connection to CloudMonitor (after the retries a request that cannot have run gets): the deletion is
    # cancelled, and the alert is provably not sent, so it is owed: the invocation hands back to FC, whose retry
    # raises it. Taking "no answer" for "may have landed" here would leave it unsent, and no one told.
    cloud = pending_key_with_a_dependent(start_cloud)
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    cut_off = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: CloudMonitorUnreachable(
        clients(cloud, region).credentials, region, endpoint_override=cloud.endpoint_override(region),
        limiter=RateLimiter(lambda api: None)))

    with pytest.raises(TransientError, match="KmsKeyDeletionBlocked not raised"):
        cut_off.handle(SCHEDULE, "inv-first")
    assert key_state(cloud) == "Enabled" and alerts(cloud) == []
    guard(cloud).handle(SCHEDULE, "inv-retry")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    first, retry = decision_records(cloud)
    assert first["alertOwed"] == "KmsKeyDeletionBlocked"
    assert first["alertError"].startswith("KmsKeyDeletionBlocked not raised: UnretryableException")
    assert retry["status"] == "alert_raised"


def test_an_owed_alert_is_raised_by_the_retry_once_and_a_later_delivery_raises_nothing(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)

    with pytest.raises(TransientError):  # decided and cancelled; CloudMonitor refused the alert: FC retries
        keeper.handle(SCHEDULE, "inv-first")
    assert alerts(cloud) == []
    keeper.handle(SCHEDULE, "inv-retry")  # raises the owed alert, only it
    keeper.handle(SCHEDULE, "inv-late")  # a late duplicate delivery: everything is done

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    first, retry, late = decision_records(cloud)
    assert first["alertOwed"] == "KmsKeyDeletionBlocked" and first["invocation"] == "inv-first"
    assert retry["status"] == "alert_raised" and retry["invocation"] == "inv-retry"
    assert retry["reason"] == "KmsKeyDeletionBlocked raised for the decision of invocation inv-first"
    assert late["status"] == "duplicate" and late["invocation"] == "inv-late"
    assert "step" not in late  # nothing failed: no step is named
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1
    # The event's claim says the alert came late and owes nothing any more.
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claim = json.loads(claims.bucket.get_object(claims.object_key(event_dedupe_key(event))).read())
    assert claim["alertRaisedLate"] is True and "alertOwed" not in claim and claim["status"] == "done"


def test_an_owed_alert_keeps_the_severity_it_was_decided_with(start_cloud):
    # Turning deletion protection off a key with dependents is a WARN: raised late by FC's retry, still a WARN.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], protection="Enabled", faults=[CMS_DOWN_ONCE]))
    arn = alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.arn
    alice_kms(cloud).set_deletion_protection(kms.SetDeletionProtectionRequest(protected_resource_arn=arn,
                                                                              enable_deletion_protection=False))
    assert cloud.bus.drain(timeout=60)

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionProtectionRemoved" and alert["severity"] == "WARN"
    assert [r["status"] for r in decision_records(cloud)] == ["decided", "alert_raised"]
    assert decision_records(cloud)[-1]["alertSeverity"] == "WARN"


def claim_of(cloud, keeper) -> tuple[EventClaims, str]:
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    return claims, claims.object_key(event_dedupe_key(event))


def test_an_owed_alert_whose_claim_names_no_severity_is_raised_critical(start_cloud):
    # A claim whose owed alert carries no severity (written by an earlier version, or by hand) is raised as
    # what an unknown failure to tell a person is: CRITICAL.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")
    claims, key = claim_of(cloud, keeper)
    claim = json.loads(claims.bucket.get_object(key).read())
    del claim["alertOwed"]["severity"]
    claims.bucket.put_object(key, json.dumps(claim))

    keeper.handle(SCHEDULE, "inv-retry")

    retry = decision_records(cloud)[-1]
    assert retry["status"] == "alert_raised" and retry["alert"] == "KmsKeyDeletionBlocked"
    assert retry["alertSeverity"] == "CRITICAL"


def test_an_owed_alert_raised_whose_claim_cannot_be_completed_says_so(start_cloud):
    # The retry raises the owed alert, then cannot write the claim back: the alert stands, and the record says a
    # later delivery may raise it again (at least once, never silently none).
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")
    # The retry's calls to OSS: the claim it tries (refused: the event's claim is there), then its completion.
    cloud.faults.add("oss:PutObject", kind="denied", after=1)

    keeper.handle(SCHEDULE, "inv-retry")

    retry = decision_records(cloud)[-1]
    assert retry["status"] == "alert_raised" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert retry["idempotencyProblem"].startswith("claim not settled: AccessDenied")


def guard_with_no_region_of_its_own(cloud) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": ""}
    env.pop("ALIBABA_CLOUD_REGION_ID", None)
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))


def test_a_guard_with_no_region_of_its_own_raises_its_failure_alert_in_the_events_region(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "kms:DescribeKey", "Code": "Forbidden.RAM"})

    guard_with_no_region_of_its_own(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    assert [(e.Name, e.RegionId) for e in cloud.account.cms.events] == [("KmsKeyGuardFailed", REGION)]


def test_a_guard_with_no_region_of_its_own_raises_an_owed_alert_in_the_events_region(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard_with_no_region_of_its_own(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")

    keeper.handle(SCHEDULE, "inv-retry")

    assert [(e.Name, e.RegionId) for e in cloud.account.cms.events] == [("KmsKeyDeletionBlocked", REGION)]
    assert decision_records(cloud)[-1]["status"] == "alert_raised"


def test_an_owed_alert_refused_again_hands_back_to_fc_naming_the_alert_and_the_refusal(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN)
    keeper = guard(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")

    with pytest.raises(TransientError) as raised:
        keeper.handle(SCHEDULE, "inv-retry")

    assert re.match(r"KmsKeyDeletionBlocked still not raised \(KmsKeyDeletionBlocked not raised: ServiceUnavailable", str(raised.value))
    assert str(raised.value).endswith("): the retry raises it")


def test_on_the_last_chance_an_owed_alert_still_refused_is_recorded_as_an_error_with_the_refusal(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN)
    keeper = guard(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")

    result = keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [outcome] = result["results"]
    assert outcome["status"] == "error"
    last = decision_records(cloud)[-1]
    assert last["status"] == "error" and last["step"] == "alert" and last["invocation"] == "inv-destination"
    assert last["reason"].startswith("KmsKeyDeletionBlocked not raised: ServiceUnavailable")


def test_the_failure_destination_and_the_safety_net_name_their_invocation_in_every_record(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-destination")
    named = decision_records(cloud)
    assert named and all(r["invocation"] == "inv-net-destination" for r in named)

    cloud2 = pending_key_with_a_dependent(start_cloud)
    keeper2 = guard(cloud2)
    keeper2.handle_failed_invocation(SCHEDULE, "EventAgeExceeded")  # no id given: one is made up, never none
    [record] = decision_records(cloud2)
    assert re.fullmatch(r"[0-9a-f-]{36}", record["invocation"])
    keeper2.handle(TIMER)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", r["invocation"]) for r in decision_records(cloud2))


@pytest.mark.parametrize("payload, reason", [
    ({"triggerTime": ["2026-12-02T03:00:00Z"], "triggerName": {"name": "safety-net"}},
     "failed invocation with a malformed timer event (EventAgeExceeded): "),
    (b"\xff\xfe not an event", "failed invocation with a malformed event (EventAgeExceeded): "),
])
def test_a_malformed_failed_invocation_is_answered_and_recorded_as_rejected(start_cloud, payload, reason):
    cloud = pending_key_with_a_dependent(start_cloud)

    result = guard(cloud).handle_failed_invocation(payload, "EventAgeExceeded", "inv-destination")

    [outcome] = result["results"]
    assert outcome["status"] == "rejected" and outcome["reason"].startswith(reason)
    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and record["reason"].startswith(reason)


def test_a_fail_safe_cancel_refused_because_the_key_is_not_pending_deletion_is_already_done_and_silent(start_cloud):
    # The failure destination meets a key it cannot read (one denied DescribeKey), so it cancels fail-safe; KMS
    # refuses: the key is Enabled (someone cancelled meanwhile). Nothing is at risk, and no one is paged.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Forbidden.RAM",
                                                                       "Status": 403, "Remaining": 1}]))

    result = guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [outcome] = result["results"]
    assert outcome["status"] == "already_done" and outcome["keyStateAfter"] == "Enabled"
    [record] = decision_records(cloud)
    assert record["status"] == "already_done" and record["keyStateAfter"] == "Enabled" and record.get("step") is None
    assert record["reason"].startswith("guard failed at read key: Forbidden.RAM")
    assert record["reason"].endswith("; the key is Enabled, not pending deletion: nothing at risk")
    assert alerts(cloud) == []


def test_a_rejection_cloudmonitor_refuses_is_recorded_with_the_refusal(start_cloud):
    cloud = start_cloud(make_account(faults=[CMS_DOWN]))
    event = json.loads(json.dumps(SCHEDULE))
    del event["data"]["requestParameters"]["KeyId"]

    guard(cloud).handle(event, "inv-reject")

    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and "alert" not in record
    assert record["alertError"].startswith("KmsKeyGuardEventRejected not raised: ServiceUnavailable")


@pytest.mark.parametrize("key_state", ["PendingDeletion", "Enabled"])
def test_a_fail_safe_cancel_denied_is_alerted_as_not_done_whatever_the_keys_state(start_cloud, key_state):
    # A denial says the guard's role cannot cancel: worth a page, and the key's state is never taken from it, even
    # when the key is no longer pending deletion.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state=key_state, faults=[
        {"Api": "kms:DescribeKey", "Code": "Forbidden.RAM", "Status": 403, "Remaining": 1},
        {"Api": "kms:CancelKeyDeletion", "Code": "Forbidden.NoPermission", "Status": 403}]))

    guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["actionResult"].startswith("fail-safe cancel not done: Forbidden.NoPermission")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["actionResult"] == record["actionResult"]


def test_a_fail_safe_cancel_refused_while_the_key_is_still_pending_deletion_is_alerted_as_not_done(start_cloud):
    # A refusal that is not about the key's state (here an operation KMS does not support for it) leaves the
    # key pending deletion: never "already done".
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "kms:DescribeKey", "Code": "Forbidden.RAM", "Status": 403, "Remaining": 1},
        {"Api": "kms:CancelKeyDeletion", "Code": "Rejected.UnsupportedOperation", "Status": 400}]))

    guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["actionResult"].startswith("fail-safe cancel not done: Rejected.UnsupportedOperation")
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]


def test_an_event_for_an_unknown_key_is_rejected_without_a_step_left_over(start_cloud):
    cloud = start_cloud(make_account())
    event = json.loads(json.dumps(SCHEDULE))
    event["data"]["requestParameters"]["KeyId"] = "5e1c2b3a-0d9f-4c8b-a7e6-00000000dead"

    guard(cloud).handle(event, "inv-unknown")

    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and record["reason"].startswith("unknown key")
    assert "step" not in record
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardEventRejected" and alert["keyId"] == "5e1c2b3a-0d9f-4c8b-a7e6-00000000dead"


def test_the_safety_nets_failure_records_count_the_calls_they_made(start_cloud):
    # A record says what it cost: the calls made for it, per API, also when the safety net ran out of time or
    # could not list a region's keys.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    guard(cloud, time_limit_s=100, clock=lambda: 0.0).handle_failed_invocation(TIMER, "EventAgeExceeded")
    not_reached = decision_records(cloud)[0]
    assert not_reached["step"] == "safety net" and not_reached["apiCalls"]["kms:CancelKeyDeletion"] == 1

    blind_cloud = start_cloud(make_account(faults=[{"Api": "kms:ListKeys", "Code": "Forbidden.NoPermission", "Status": 403}]))
    guard(blind_cloud).handle(TIMER)
    blind = decision_records(blind_cloud)[0]
    assert blind["step"] == "list keys pending deletion" and blind["apiCalls"]["cms:PutCustomEvent"] == 1


def claim_left_by(cloud, keeper: KeyGuard, invocation: str, original=SCHEDULE, acting: str | None = "cancel_deletion") -> None:
    """What an attempt cut off mid-way (FC's timeout, the instance killed) leaves behind: its claim, in progress,
    with the action it had started noted (`acting`; None: cut off before acting)."""
    [event] = parse_fc_events_each(json.dumps(original).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims.claim(event_dedupe_key(event), invocation)
    if acting:
        claims.note_acting(event_dedupe_key(event), acting)


@pytest.mark.parametrize("original, action", [(SCHEDULE, "cancel_deletion"), (DISABLE, "enable_key")],
                         ids=["cancelled", "enabled again"])
def test_an_attempt_cut_off_after_its_action_is_told_by_its_retry_that_finds_nothing_to_do(start_cloud, original, action):
    # The attempt acted (cancelled the deletion, or enabled the key again: the key is Enabled) and was cut off before
    # its alert. FC's retry (the same request id) takes its claim over and finds nothing left to do, yet the action
    # may be the attempt's own and untold. A person is told what is known, and that the key is safe.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_DISABLE_MODE": "enforce"}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    claim_left_by(cloud, keeper, "inv-1", original, action)

    keeper.handle(original, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["earlierAttempt"] == "inv-1" and record["decision"] == "no_action"
    assert re.match(r"an earlier attempt at this event \(invocation inv-1, started 20\d\d-\d\d-\d\dT[\d:.]+\+00:00\) ",
                    record["reason"])  # when that attempt took the event: its claim's start
    assert record["reason"].endswith(f"started to {action} and did not finish: it may have acted and been cut off before its "
                                     "alert; the key is Enabled now")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["reasons"][0] == record["reason"]
    assert key_state(cloud) == "Enabled" and cloud.calls.get("kms:CancelKeyDeletion") == cloud.calls.get("kms:EnableKey") == 0


def test_an_attempt_cut_off_after_its_cancel_is_told_by_the_failure_destination_when_its_retries_end_busy(start_cloud):
    # FC's retries carry other request ids: each finds the claim held and hands back; the failure destination's
    # fail-safe cancel is refused (the key is Enabled). The holder may have cancelled and been cut off: told.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")

    for attempt in ("inv-2", "inv-3"):
        with pytest.raises(TransientError, match="being handled by invocation inv-1"):
            keeper.handle(SCHEDULE, attempt)
    keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["keyStateAfter"] == "Enabled"
    assert record["actionResult"] == ("fail-safe cancel refused: the key is Enabled, not pending deletion (invocation inv-1 "
                                      "started to cancel_deletion and may not have told anyone)")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["actionResult"] == record["actionResult"]


def test_a_claim_whose_answer_was_lost_is_its_own_and_no_cut_off_attempt(start_cloud):
    # The claim's PUT went through but its answer was lost: the retried PUT meets the very claim this attempt wrote
    # (same start), which is no earlier attempt. A key someone else already cancelled is then nothing to tell.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[
        {"Api": "oss:PutObject", "Code": "ServiceUnavailable", "Status": 503, "AnswerLost": True, "Remaining": 1}]))
    guard(cloud).handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "no_action" and "earlierAttempt" not in record
    assert alerts(cloud) == []


def test_in_alert_mode_a_cut_off_attempt_acted_on_nothing_and_a_key_cancelled_since_is_nothing_to_tell(start_cloud):
    # GUARD_DELETION_MODE=alert: no attempt cancels anything, so a key found cancelled was cancelled by someone else.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DELETION_MODE": "alert"})
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    claim_left_by(cloud, keeper, "inv-1")

    keeper.handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "no_action" and alerts(cloud) == []


def test_an_attempt_cut_off_while_cancelling_a_key_that_is_gone_by_the_retry_says_its_state_is_unknown(start_cloud):
    # The retry reads the key and audits it; then KMS no longer knows it, so its cancel is "not needed". The attempt
    # cut off while cancelling may still have acted untold: told, with the key's state unknown (not guessed).
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "kms:DescribeKey", "Code": "Forbidden.KeyNotFound", "Status": 404,
                                                       "After": 2})
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")

    keeper.handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["earlierAttempt"] == "inv-1"
    assert record["reason"].endswith("started to cancel_deletion and did not finish: it may have acted and been cut off "
                                     "before its alert; the key is unknown now")
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]


def test_a_disable_left_by_an_attempt_cut_off_after_enabling_the_key_says_how_the_key_is(start_cloud):
    # Its retries end busy; the failure destination does nothing to a disabled key (re-enabling is opt-in), but says
    # that the holder had started to enable it, and how the key is now.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_DISABLE_MODE": "enforce"}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    claim_left_by(cloud, keeper, "inv-1", DISABLE, "enable_key")

    keeper.handle_failed_invocation(DISABLE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["keyStateAfter"] == "Enabled"
    assert record["actionResult"] == ("nothing done; invocation inv-1 started to enable_key and may not have told anyone: "
                                      "the key is Enabled now")
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]


@pytest.mark.parametrize("retry", ["same request id", "failure destination"])
def test_an_attempt_that_stopped_before_acting_is_no_cut_off_action_to_tell(start_cloud, retry):
    # The attempt failed before acting (say its key read was throttled) and could not release its claim; a person
    # cancelled the deletion meanwhile. Its claim notes no action: nothing of the guard's is untold, no one is paged.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1", acting=None)

    if retry == "same request id":
        keeper.handle(SCHEDULE, "inv-1")
    else:
        keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert record["status"] in ("no_action", "already_done") and alerts(cloud) == []


class InstanceKilled(BaseException):
    """FC ending the instance (its timeout, out of memory): nothing after this point runs, no handler sees it."""


def killed_at_first_call(monkeypatch, module, name: str) -> None:
    """The instance dies the first time the guard calls `module.name`; calls after that (a later attempt's) run."""
    real = getattr(module, name)

    def dies_once(*args, **kwargs):
        monkeypatch.setattr(module, name, real)
        raise InstanceKilled()
    monkeypatch.setattr(module, name, dies_once)


def todays_claim(cloud, keeper: KeyGuard, *, acting: str | None = None, owed: str | None = None) -> tuple[EventClaims, str]:
    """The claim an earlier attempt of today's safety-net run left for KEY (invocation inv-timer, which FC's retry
    shares): in progress with `acting` noted (cut off after it), or done owing the alert `owed`."""
    dedupe = f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}/{KEY}"
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims.claim(dedupe, "inv-timer")
    if acting:
        claims.note_acting(dedupe, acting)
    if owed:
        claims.complete(dedupe, {"decision": "block", "action": "cancel_deletion",
                                 "alertOwed": {"name": owed, "content": {}, "severity": "CRITICAL"}})
    return claims, dedupe


def safety_net_run_killed_at_its_alert(start_cloud, monkeypatch):
    """A key pending deletion with a dependent, and a safety-net run (inv-timer) that cancelled it and died as it
    raised the alert."""
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    killed_at_first_call(monkeypatch, shared_alerts, "raise_alert")
    with pytest.raises(InstanceKilled):
        keeper.handle(TIMER, "inv-timer")
    return cloud, keeper


@pytest.mark.parametrize("payload, first, later", [(SCHEDULE, "inv-1", "inv-2"), (TIMER, "inv-timer", "inv-timer-2")],
                         ids=["event", "safety net"])
@pytest.mark.parametrize("retry", ["same request id", "failure destination"])
def test_an_attempt_killed_between_its_cancel_and_its_alert_is_told_afterwards(start_cloud, monkeypatch, retry, payload,
                                                                               first, later):
    # The whole chain, with a real attempt: it notes the cancel in its claim, cancels, and dies as it raises the
    # alert. Whoever meets its claim next finds the key cancelled and tells a person. For the safety net, the
    # cancelled key is no longer pending deletion, so listing the pending keys again would never meet it: the next
    # run also lists the claims today's runs left acting in the region, and decides those keys again.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    killed_at_first_call(monkeypatch, shared_alerts, "raise_alert")
    with pytest.raises(InstanceKilled):
        keeper.handle(payload, first)
    assert key_state(cloud) == "Enabled" and alerts(cloud) == []

    if retry == "same request id":
        keeper.handle(payload, first)
    else:
        with pytest.raises(TransientError):
            keeper.handle(payload, later)
        keeper.handle_failed_invocation(payload, "EventAgeExceeded", "inv-destination")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert re.search(rf"invocation {first}[ ,]", json.dumps(alert)) and "cancel_deletion" in json.dumps(alert)
    assert cloud.calls.get("kms:CancelKeyDeletion") == (1 if retry == "same request id" else 2)


def test_a_safety_net_run_finds_no_left_claims_on_a_quiet_day_and_decides_only_the_pending_keys(start_cloud):
    # Today's finished claims are not left acting: a second run of the day redoes nothing and tells no one.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    keeper.handle(TIMER, "inv-timer")
    first = len(alerts(cloud))
    result = keeper.handle(TIMER, "inv-timer-again")

    assert first == 1 and len(alerts(cloud)) == 1
    assert result["safetyNet"]["keysPendingDeletion"] == 0 and result["results"] == []


DESCRIBE_DOWN_ONE_ATTEMPT = {"Api": "kms:DescribeKey", "Code": "ServiceUnavailable", "Status": 503, "Remaining": 4}


@pytest.mark.parametrize("then", ["same request id", "failure destination"])
def test_a_cut_off_action_survives_a_retry_that_fails_before_telling(start_cloud, then):
    # The retry that takes the claim over fails transiently itself (its key read: 503 past the retries) and hands
    # back to FC. The claim it leaves still carries the first attempt's action (released, not deleted), so whoever
    # comes next still tells.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[DESCRIBE_DOWN_ONE_ATTEMPT]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")
    with pytest.raises(TransientError, match=r"retry later \(read key\)"):
        keeper.handle(SCHEDULE, "inv-1")

    if then == "same request id":
        keeper.handle(SCHEDULE, "inv-1")
    else:
        keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and "invocation inv-1" in alert["reasons"][0]


def test_a_cut_off_action_survives_a_retry_cut_off_in_turn(start_cloud, monkeypatch):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")
    killed_at_first_call(monkeypatch, shared_guard, "read_key")
    with pytest.raises(InstanceKilled):
        keeper.handle(SCHEDULE, "inv-1")
    keeper.handle(SCHEDULE, "inv-1")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and "invocation inv-1" in alert["reasons"][0]


def test_the_safety_net_alerts_the_claims_of_an_earlier_run_it_could_not_read_and_still_finds_the_others(start_cloud, monkeypatch):
    cloud, keeper = safety_net_run_killed_at_its_alert(start_cloud, monkeypatch)
    folder = f"{PREFIX}{SAFETY_NET_SOURCE}/2026-12-02/{REGION}/"
    bucket = EventClaims(clients(cloud), keeper.config.state_bucket, REGION).bucket
    bucket.put_object(folder + "0" * 64 + ".json", b"{not json")

    result = keeper.handle(TIMER, "inv-timer")

    [told] = [a for a in alerts(cloud) if a["keyId"] == KEY]
    [unread_alert] = [a for a in alerts(cloud) if a["keyId"] != KEY]
    assert told["Name"] == unread_alert["Name"] == "KmsKeyGuardFailed"
    [unread] = result["safetyNet"]["claimsNotRead"]
    assert unread.startswith(folder + "0" * 64 + ".json: JSONDecodeError") and unread in unread_alert["reasons"][0]


def test_the_safety_net_that_may_not_list_its_claims_says_so_and_decides_the_pending_keys(start_cloud):
    # No oss:ListObjects on the state bucket: a cancel an earlier run made just before it was cut off cannot be looked
    # for. The pending keys are decided as ever, and the region's blind spot is alerted, not only recorded.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:ListObjectsV2", "Code": "AccessDenied", "Status": 403})
    result = guard(cloud).handle(TIMER, "inv-timer")

    assert key_state(cloud) == "Enabled"
    assert sorted(a["Name"] for a in alerts(cloud)) == ["KmsKeyDeletionBlocked", "KmsKeyGuardFailed"]
    [unread] = result["safetyNet"]["claimsNotRead"]
    assert unread.startswith(f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}: AccessDenied")
    [blind] = [a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed"]
    assert blind["reasons"][0].startswith(f"the safety net could not read the claims its earlier runs of today left in {REGION}")
    [said] = [r for r in decision_records(cloud) if r.get("eventName") == "SafetyNet" and r.get("status") == "error"]
    assert (said["step"], said["eventId"]) == ("read claims", f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}")


def test_an_event_naming_the_safety_nets_own_source_is_rejected_and_cannot_pre_empt_it(start_cloud):
    # Its id chosen to be the safety net's claim for the key and day: were it taken, the daily run would find the key
    # "already handled". It is no service's event: rejected before any claim, and the safety net decides the key.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    forged = json.loads(json.dumps(DISABLE))
    forged.update(source=SAFETY_NET_SOURCE, id=f"2026-12-02/{REGION}/{KEY}")

    [outcome] = keeper.handle(forged, "inv-forged")["results"]
    assert outcome["status"] == "rejected" and "not an Alibaba Cloud service" in outcome["reason"]
    keeper.handle(TIMER, "inv-timer")
    assert key_state(cloud) == "Enabled"


def test_an_action_note_whose_answer_is_lost_is_not_sent_again_and_the_action_goes_ahead(start_cloud):
    # The note is a write: after a 503 it may have landed, so it is not retried (the cancel waits for none of that).
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:PutObject", "Code": "ServiceUnavailable", "Status": 503,
                                                       "After": 1, "Remaining": 1})
    guard(cloud).handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "acted" and key_state(cloud) == "Enabled"
    assert record["idempotencyProblem"].startswith("action not noted in the claim: ServiceUnavailable")
    assert cloud.calls.get("oss:PutObject") == 3  # the claim, the note once, the claim settled


def test_a_cut_off_action_met_by_a_retry_that_cannot_read_the_key_is_told_with_what_the_retry_did(start_cloud):
    # The retry takes over the claim of an attempt that noted a cancel; it may not read the key (denied), so it
    # cancels fail-safe, which KMS refuses: the key is Enabled. Nothing is at risk, and the first attempt's cancel
    # may be untold: the alert says so, with this attempt's own action (none) and no decision it never made.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Forbidden.RAM",
                                                                    "Status": 403, "Remaining": 1}]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")

    keeper.handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["earlierAttempt"] == "inv-1" and record["keyStateAfter"] == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert (alert["action"], alert["actionResult"]) == ("none", "no action")
    assert alert["reasons"] == [record["reason"]] and record["reason"].endswith("the key is Enabled now")



def test_a_key_an_earlier_run_left_acting_and_the_last_chance_has_little_time_for_is_still_told(start_cloud, monkeypatch):
    # The safety net's failure destination has time only to cancel fail-safe (under the 180 s a decision needs):
    # the left key's cancel is refused (it is Enabled), and it is told as the earlier run's untold action.
    cloud = pending_key_with_a_dependent(start_cloud)
    killed_at_first_call(monkeypatch, shared_alerts, "raise_alert")
    with pytest.raises(InstanceKilled):
        guard(cloud).handle(TIMER, "inv-timer")

    guard(cloud, time_limit_s=120).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert alert["actionResult"] == ("fail-safe cancel refused: the key is Enabled, not pending deletion (invocation inv-timer "
                                     "started to cancel_deletion and may not have told anyone)")


def test_the_failure_destination_names_the_attempt_that_acted_not_the_one_holding_the_event_now(start_cloud):
    # inv-1 noted a cancel and was cut off; inv-B took its claim over and holds it (still running, say). The
    # destination tells of inv-1's action: inv-B started none.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims.bucket.put_object(claims.object_key(event_dedupe_key(event)), json.dumps({  # inv-B's claim, carrying inv-1's
        "event": event_dedupe_key(event), "status": "in_progress", "started": datetime.now(timezone.utc).isoformat(),
        "invocation": "inv-B", "cutOff": {"invocation": "inv-1", "started": "2026-12-03T02:00:00+00:00",
                                          "acting": "cancel_deletion"}}))

    keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [record] = decision_records(cloud)
    assert "invocation inv-1 started to cancel_deletion" in record["actionResult"] and "inv-B" not in record["actionResult"]


@pytest.mark.parametrize("then", ["same request id", "another request id", "failure destination"])
def test_a_safety_net_alert_cloudmonitor_refused_is_raised_by_the_next_run_though_the_key_is_cancelled(start_cloud, then):
    # The run cancels a key and CloudMonitor refuses the alert: it is owed, kept with the key's claim, and the run
    # hands back to FC. The key is no longer pending deletion, so only the claims the run left lead back to it.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)
    with pytest.raises(TransientError, match="KmsKeyDeletionBlocked not raised"):
        keeper.handle(TIMER, "inv-timer")
    assert key_state(cloud) == "Enabled" and alerts(cloud) == []

    if then == "failure destination":
        keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")
    else:
        keeper.handle(TIMER, "inv-timer" if then == "same request id" else "inv-timer-2")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1


def test_claims_the_safety_net_cannot_read_are_alerted_once_by_the_attempt_that_ends_the_run(start_cloud):
    # Every attempt of the run is retried (the key's read fails transiently) and none can list the claims: the
    # attempts handed back to FC say nothing of the claims; the failure destination, which ends the run, says it once.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:ListObjectsV2", "Code": "AccessDenied", "Status": 403},
                                         {"Api": "kms:DescribeKey", "Code": "ServiceUnavailable", "Status": 503, "Remaining": 12})
    keeper = guard(cloud)
    for attempt in ("inv-1", "inv-2", "inv-3"):
        with pytest.raises(TransientError):
            keeper.handle(TIMER, attempt)
    assert alerts(cloud) == []
    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    blind = [a for a in alerts(cloud) if a["reasons"][0].startswith("the safety net could not read the claims")]
    assert len(blind) == 1
    [said] = [r for r in decision_records(cloud) if r.get("step") == "read claims"]
    assert said["invocation"] == "inv-destination" and said["failedInvocation"]
    assert blind[0]["reasons"][-1] == f"the invocation failed every retry: {said['failedInvocation']}"


def test_a_claim_read_failing_transiently_retries_the_run_which_then_tells(start_cloud, monkeypatch):
    cloud, keeper = safety_net_run_killed_at_its_alert(start_cloud, monkeypatch)
    cloud.faults.add("oss:GetObject", "ServiceUnavailable", status=503, remaining=4)  # one read, past its retries

    with pytest.raises(TransientError, match="claim\\(s\\) an earlier run left not read"):
        keeper.handle(TIMER, "inv-timer")
    assert alerts(cloud) == []
    keeper.handle(TIMER, "inv-timer")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY


def test_an_alert_owed_for_a_cancelled_key_is_raised_even_by_a_last_chance_short_of_time(start_cloud):
    # Owing only its alert, the key is not decided again: its claim raises the alert, whatever the time left.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    with pytest.raises(TransientError, match="KmsKeyDeletionBlocked not raised"):
        guard(cloud).handle(TIMER, "inv-timer")

    guard(cloud, time_limit_s=120).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]



def test_a_claim_whose_carried_action_is_unreadable_is_no_cut_off_action(start_cloud):
    # A claim written by hand or damaged on the way (its `cutOff` not what the guard writes) tells of nothing, and
    # breaks nothing: the retry decides as ever (the key is Enabled: nothing to do, no one paged).
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    for carried in ("cancel_deletion", {"invocation": "inv-0"}):
        claims.bucket.put_object(claims.object_key(event_dedupe_key(event)), json.dumps({
            "event": event_dedupe_key(event), "status": "in_progress", "started": datetime.now(timezone.utc).isoformat(),
            "invocation": "inv-1", "cutOff": carried}))
        keeper.handle(SCHEDULE, "inv-1")

    assert [r["status"] for r in decision_records(cloud)] == ["no_action", "no_action"] and alerts(cloud) == []


def test_the_alert_for_unread_claims_names_each_claim_how_many_and_the_run(start_cloud, monkeypatch):
    # Two claims of today's region folder cannot be read: the alert says how many, which (in full up to 300
    # characters, each separated), and the record names the run that found them.
    cloud, keeper = safety_net_run_killed_at_its_alert(start_cloud, monkeypatch)
    folder = f"{PREFIX}{SAFETY_NET_SOURCE}/2026-12-02/{REGION}/"
    bucket = EventClaims(clients(cloud), keeper.config.state_bucket, REGION).bucket
    for digit in "01":
        bucket.put_object(folder + digit * 64 + ".json", b"{not json")

    result = keeper.handle(TIMER, "inv-timer")

    unread = result["safetyNet"]["claimsNotRead"]
    assert len(unread) == 2 and len("; ".join(unread)) > 300
    [alert] = [a for a in alerts(cloud) if a["keyId"] != KEY]
    assert alert["actionResult"] == "2 claim(s) an earlier run of today left could not be read"
    assert alert["reasons"][0] == (f"the safety net could not read the claims its earlier runs of today left in {REGION} "
                                   "(a cancel made just before a run was cut off may be untold): "
                                   + "; ".join(unread)[:300])
    [said] = [r for r in decision_records(cloud) if r.get("step") == "read claims"]
    assert said["invocation"] == "inv-timer" and said.get("failedInvocation") is None


def test_a_cut_off_attempt_on_an_event_naming_the_key_by_an_alias_is_told_with_the_keys_id_and_the_decisions_reasons(
        start_cloud):
    # The event names the key by an alias; the alert names the key by the id the guard resolved, and carries the
    # attempt that did not finish first, then the reasons of the decision this attempt made (nothing left to do).
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    by_alias = json.loads(json.dumps(SCHEDULE))
    by_alias["data"]["requestParameters"]["KeyId"] = "alias/payments"
    claim_left_by(cloud, keeper, "inv-1", by_alias)

    keeper.handle(by_alias, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["decision"] == "no_action" and record["reasons"]
    assert record.get("step") is None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert alert["reasons"] == [record["reason"]] + record["reasons"]
    assert alert["action"] == record["action"] and alert["actionResult"] == record["actionResult"]


def test_a_cut_off_attempt_whose_retry_is_beaten_to_the_cancel_is_told_with_the_refused_cancel(start_cloud, monkeypatch):
    # The earlier attempt noted its cancel and was cut off before it went out. The retry reads the key pending
    # deletion and audits it; a person cancels in the moment before the retry's cancel, which KMS refuses. Whether the
    # earlier attempt's cancel landed no one can say: the alert tells it, with the action this attempt tried and its
    # answer, and no step (nothing failed: the key is safe).
    a_person_cancels_just_before_the_guard(monkeypatch)
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")

    keeper.handle(SCHEDULE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["earlierAttempt"] == "inv-1" and record.get("step") is None
    assert record["action"] == "cancel_deletion" and record["actionResult"].startswith("not done: the key became Enabled")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert.get("step") is None
    assert (alert["action"], alert["actionResult"]) == (record["action"], record["actionResult"])


def safety_net_folder(keeper: KeyGuard, cloud, day: str = "2026-12-02", region: str = REGION) -> tuple:
    """The state bucket, and the folder of the safety net's claims for a day and region, as the guard writes them."""
    return EventClaims(clients(cloud), keeper.config.state_bucket, REGION).bucket, f"{PREFIX}{SAFETY_NET_SOURCE}/{day}/{region}/"


def test_claims_left_acting_on_another_day_or_in_another_region_are_not_this_runs(start_cloud):
    # Yesterday's run, and today's run of another region, each left a claim acting on the key. Today's run in this
    # region reads only its own folder: the key (Enabled, not pending) is nothing to tell here.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    for day, region in (("2026-12-01", REGION), ("2026-12-02", "cn-shanghai")):
        original = {"source": SAFETY_NET_SOURCE, "id": f"{day}/{region}/{KEY}"}
        claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
        claims.claim(f"{SAFETY_NET_SOURCE}/{day}/{region}/{KEY}", "inv-old")
        claims.note_acting(f"{SAFETY_NET_SOURCE}/{day}/{region}/{KEY}", "cancel_deletion")
        assert original  # (the dedupe key above is the safety net's own: its source, day, region and key)

    result = keeper.handle(TIMER, "inv-timer")

    assert result["results"] == [] and alerts(cloud) == []


def test_the_claims_of_a_run_are_listed_a_thousand_to_a_call(start_cloud):
    # OSS's ListObjectsV2 returns up to 1,000 keys a call (max-keys; its default is 100): 150 claims, one call.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    bucket, folder = safety_net_folder(keeper, cloud)
    for n in range(150):
        bucket.put_object(f"{folder}{n:064x}.json", b'{"status": "done"}')
    calls_before = cloud.calls.get("oss:ListObjectsV2") or 0

    keeper.handle(TIMER, "inv-timer")

    assert (cloud.calls.get("oss:ListObjectsV2") or 0) - calls_before == 1 and alerts(cloud) == []


def a_settled_claim_listed_first(start_cloud, code: str, status: int) -> tuple:
    """A safety net whose day's folder holds, first in listing order, a settled claim whose one read is answered
    with `code`; (cloud, guard, folder)."""
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[
        {"Api": "oss:GetObject", "Code": code, "Status": status, "Remaining": 1}]))
    keeper = guard(cloud)
    bucket, folder = safety_net_folder(keeper, cloud)
    bucket.put_object(f"{folder}{'0' * 64}.json", b'{"status": "done"}')
    return cloud, keeper, folder


def test_a_claim_gone_between_the_listing_and_its_read_does_not_hide_the_claims_after_it(start_cloud):
    # The first claim listed is settled and removed before it is read (NoSuchKey); the one after it was left acting
    # by an earlier run of today and is still told.
    cloud, keeper, folder = a_settled_claim_listed_first(start_cloud, "NoSuchKey", 404)
    claims, dedupe = todays_claim(cloud, keeper, acting="cancel_deletion")  # cut off after its cancel: FC retries it
    assert claims.object_key(dedupe) > f"{folder}{'0' * 64}.json"  # listed after the one that goes

    keeper.handle(TIMER, "inv-timer")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and "invocation inv-timer" in alert["reasons"][0]


def test_a_claim_that_may_not_be_read_is_named_with_its_error_cut_to_120_characters(start_cloud):
    cloud, keeper, folder = a_settled_claim_listed_first(start_cloud, "AccessDenied", 403)

    result = keeper.handle(TIMER, "inv-timer")

    [unread] = result["safetyNet"]["claimsNotRead"]
    named, _, error = unread.partition(": AccessDenied: ")
    assert named == f"{folder}{'0' * 64}.json" and len(error) == 120 and error.startswith("{'status': 403")


def test_a_claims_listing_failing_transiently_retries_the_run_and_alerts_nothing_yet(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:ListObjectsV2", "Code": "ServiceUnavailable",
                                                       "Status": 503, "Remaining": 4})  # one listing, past its retries
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=f"{REGION}: listing the claims an earlier run left \\(ServiceUnavailable"):
        keeper.handle(TIMER, "inv-timer")
    assert cloud.calls.get("oss:ListObjectsV2") == 4  # the clients' attempts, paced: no burst of oss2's own retries
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]  # the key is decided all the same

    result = keeper.handle(TIMER, "inv-timer")
    assert "claimsNotRead" not in result["safetyNet"] and len(alerts(cloud)) == 1


def test_damaged_claims_naming_no_event_stop_no_run_and_are_named_for_a_person(start_cloud):
    # A claim in the folder with an empty event, and one with none: no key to decide again, and no run stopped by
    # them; but each notes an action that may have been taken and told to no one, so the run names them.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    bucket, folder = safety_net_folder(keeper, cloud)
    acting = {"status": "in_progress", "acting": "cancel_deletion", "invocation": "inv-x", "started": "2026-12-02T03:00:00+00:00"}
    bucket.put_object(f"{folder}{'0' * 64}.json", json.dumps({**acting, "event": ""}))
    bucket.put_object(f"{folder}{'1' * 64}.json", json.dumps(acting))

    keeper.handle(TIMER, "inv-timer")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked", "KmsKeyGuardFailed"]
    assert json.dumps(alerts(cloud)[1]).count("names no key of it") == 2


def test_a_fail_safe_cancel_after_the_read_names_the_key_by_its_id_not_by_the_events_alias(start_cloud, monkeypatch):
    # The event names its key by an alias; the guard reads the key, then fails (a scanner's bug). CancelKeyDeletion
    # takes no alias (its KeyId is the key's id), so the fail-safe cancel, and the alert, name the key read.
    def broken_audit(*args, **kwargs):
        raise ValueError("a scanner's bug")

    monkeypatch.setattr(shared_guard, "run_audit", broken_audit)
    cloud = pending_key_with_a_dependent(start_cloud)
    by_alias = json.loads(json.dumps(SCHEDULE))
    by_alias["data"]["requestParameters"]["KeyId"] = "alias/payments"

    guard(cloud).handle(by_alias, "inv-1")

    assert key_state(cloud) == "Enabled"
    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["reason"].startswith("guard failed at audit: ValueError")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY


def test_a_busy_claim_whose_holder_started_to_enable_the_key_is_told_even_when_the_key_cannot_be_read(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Forbidden.RAM",
                                                                       "Status": 403}]))
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_DISABLE_MODE": "enforce"}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    claim_left_by(cloud, keeper, "inv-1", DISABLE, "enable_key")

    keeper.handle_failed_invocation(DISABLE, "EventAgeExceeded", "inv-destination")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed"
    assert alert["actionResult"].endswith("invocation inv-1 started to enable_key and may not have told anyone: the key is "
                                          "unreadable now")


def test_a_key_both_pending_and_left_acting_by_an_earlier_run_is_decided_once(start_cloud):
    # The earlier attempt of this run noted its cancel and was cut off before the cancel went out: the key is still
    # pending deletion, so it is listed, and its claim is left acting. One decision, not two.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    todays_claim(cloud, keeper, acting="cancel_deletion")

    result = keeper.handle(TIMER, "inv-timer")

    assert [r["keyId"] for r in result["results"]] == [KEY] and key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1


def test_an_owed_alert_is_not_swallowed_when_its_keys_claim_cannot_be_read_on_the_last_chance(start_cloud):
    # Earlier today the safety net cancelled the key and CloudMonitor refused its alert: the claim is done and owes
    # it. The run's last attempt lists that claim, but reading it again for the key's decision fails (OSS answers
    # 503 past the retries). The fail-safe cancel finds the key safe; the owed alert must still reach a person.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[
        {"Api": "oss:GetObject", "Code": "ServiceUnavailable", "Status": 503, "After": 1}]))
    keeper = guard(cloud)
    todays_claim(cloud, keeper, owed="KmsKeyDeletionBlocked")

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert alert["actionResult"] == ("fail-safe cancel refused: the key is Enabled, not pending deletion (an earlier run "
                                     "of today owes its alert KmsKeyDeletionBlocked, which may not have been raised (its claim "
                                     "still owes it))")


def test_on_the_last_chance_claims_not_listed_for_a_transient_failure_are_alerted_at_once(start_cloud):
    # No retry follows the failure destination: a claims listing failing transiently (503, past the clients'
    # retries) is not left for a retry that will never come; it is alerted, under the day's and region's id.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:ListObjectsV2", "Code": "ServiceUnavailable",
                                                       "Status": 503})
    keeper = guard(cloud)

    result = keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled"
    [unread] = result["safetyNet"]["claimsNotRead"]
    assert unread.startswith(f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}: ServiceUnavailable")
    [said] = [r for r in decision_records(cloud) if r.get("step") == "read claims"]
    assert said["eventId"] == f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}"
    assert any(a["reasons"][0].startswith("the safety net could not read the claims") for a in alerts(cloud))


def test_on_the_last_chance_a_key_left_acting_and_out_of_time_is_named_as_left_acting(start_cloud):
    # A run earlier today noted a cancel on the key and was cut off; the key is no longer pending deletion, so it is
    # known only from that claim. The last chance has no time left for even a fail-safe cancel: the alert naming
    # the keys left says they may be left acting, not only pending deletion.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud, time_limit_s=60, clock=lambda: 0.0)  # 60 s: less than a fail-safe cancel needs
    todays_claim(cloud, keeper, acting="cancel_deletion")

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    [named] = [a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed" and a["keyId"] == ""]
    assert named["actionResult"] == (f"1 key(s) pending deletion or left acting by an earlier run neither decided nor "
                                     f"cancelled: {KEY}")


@pytest.mark.parametrize("fault", [{"Api": "oss:PutObject", "Code": "AccessDenied", "Status": 403, "After": 2},
                                   {"Api": "oss:GetObject", "Code": "AccessDenied", "Status": 403, "After": 1}],
                         ids=["claim not written", "claim not read"])
@pytest.mark.parametrize("last_chance", [False, True], ids=["run", "last chance"])
@pytest.mark.parametrize("left", ["alert owed", "acting"])
def test_what_todays_claim_says_is_told_when_the_keys_claim_store_cannot_be_used(start_cloud, fault, last_chance, left):
    # The safety net lists today's claims and reads this key's: its alert is owed, or a cancel was noted and cut off.
    # Then the key's own claim cannot be used (refused for good): the guard decides without duplicate protection,
    # finds the key safe (Enabled), and still tells what the listing said rather than nothing.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[fault]))
    keeper = guard(cloud)
    if left == "acting":
        todays_claim(cloud, keeper, acting="cancel_deletion")
    else:
        todays_claim(cloud, keeper, owed="KmsKeyDeletionBlocked")

    if last_chance:
        keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")
    else:
        keeper.handle(TIMER, "inv-timer")

    [alert] = [a for a in alerts(cloud) if a["keyId"] == KEY]
    told = "owes its alert KmsKeyDeletionBlocked" if left == "alert owed" else "invocation inv-timer"
    assert alert["Name"] == "KmsKeyGuardFailed" and told in alert["reasons"][0]


@pytest.mark.parametrize("owed", ["KmsKeyDeletionBlocked", {"name": "KmsKeyDeletionBlocked"}], ids=["a bare name", "no content"])
@pytest.mark.parametrize("last_chance", [False, True], ids=["run", "last chance"])
def test_a_damaged_owed_alert_stops_nothing_and_is_told(start_cloud, owed, last_chance):
    # Today's claim for another key (cancelled earlier, so not listed) says an alert is owed, but not in a form the
    # guard can raise. The key pending deletion with a dependent is decided all the same, and the damage is told.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    bucket, _ = safety_net_folder(keeper, cloud)
    dedupe = f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}/{OTHER_KEY}"
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    bucket.put_object(claims.object_key(dedupe), json.dumps(
        {"event": dedupe, "status": "done", "invocation": "inv-old", "alertOwed": owed}))

    if last_chance:
        result = keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")
    else:
        result = keeper.handle(TIMER, "inv-timer")

    assert key_state(cloud) == "Enabled"
    [unread] = result["safetyNet"]["claimsNotRead"]
    assert unread.startswith(f"{claims.object_key(dedupe)} (event '{dedupe}'): the alert it owes is damaged")
    assert any(a["reasons"][0].startswith("the safety net could not read the claims") for a in alerts(cloud))


def test_a_duplicate_event_whose_owed_alert_is_damaged_is_told_not_crashed_on(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    bucket = claims.bucket
    bucket.put_object(claims.object_key(event_dedupe_key(event)), json.dumps(
        {"event": event_dedupe_key(event), "status": "done", "invocation": "inv-1", "action": "cancel_deletion",
         "alertOwed": "KmsKeyDeletionBlocked"}))

    keeper.handle(SCHEDULE, "inv-2")

    reason = "the alert owed for the decision of invocation inv-1 is damaged in its claim ('KmsKeyDeletionBlocked')"
    [alert] = alerts(cloud)
    assert (alert["Name"], alert["severity"], alert["decision"], alert["keyId"]) == ("KmsKeyGuardFailed", "CRITICAL", "error", KEY)
    assert (alert["action"], alert["actionResult"], alert["reasons"]) == ("cancel_deletion", reason, [reason])
    [record] = decision_records(cloud)
    assert record["status"] == "alert_raised" and record["alertSeverity"] == "CRITICAL"


def test_a_damaged_owed_alert_is_cut_to_80_characters_in_what_is_told(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    [event] = parse_fc_events_each(json.dumps(SCHEDULE).encode())
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims.bucket.put_object(claims.object_key(event_dedupe_key(event)), json.dumps(
        {"event": event_dedupe_key(event), "status": "done", "invocation": "inv-1", "alertOwed": "x" * 100}))

    keeper.handle(SCHEDULE, "inv-2")

    [alert] = alerts(cloud)
    assert alert["actionResult"].endswith(f"is damaged in its claim ({'x' * 80!r}… (100 characters))")
    assert alert["action"] == "none"  # the claim names no action


def test_an_attempt_that_fails_transiently_lets_another_delivery_of_the_event_take_it_at_once(start_cloud):
    # The first attempt releases its claim as it hands the event back to FC: a second delivery of the same event
    # (another request id) arriving meanwhile decides it, rather than waiting for the claim to go stale.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "kms:DescribeKey", "Code": "ServiceUnavailable",
                                                       "Status": 503, "Remaining": 4})
    keeper = guard(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-1")

    keeper.handle(SCHEDULE, "inv-2")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]


@pytest.mark.parametrize("mode, owed", [("alert", "KmsKeyDeletionAtRisk"), ("enforce", "KmsKeyDeletionAllowed")])
def test_the_owed_alert_of_a_key_still_pending_is_named_when_its_claim_cannot_be_read_on_the_last_chance(start_cloud, mode,
                                                                                                         owed):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "oss:GetObject", "Code": "ServiceUnavailable", "Status": 503, "After": 1}]))
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_DELETION_MODE": mode}
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))
    todays_claim(cloud, keeper, owed=owed)

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    [alert] = [a for a in alerts(cloud) if a["keyId"] == KEY]
    assert alert["Name"] == "KmsKeyGuardFailed" and f"owes its alert {owed}" in alert["actionResult"]


def test_an_unforeseen_failure_after_this_attempts_own_cancel_is_told_not_taken_for_nothing_at_risk(start_cloud, monkeypatch):
    # The guard cancels the deletion, then fails before its alert (a bug building it). The fail-safe cancel is refused
    # (the key is Enabled: this attempt's own cancel), which must not read as "nothing at risk, nothing to tell".
    built = shared_alerts.alert_content

    def broken_once(*args, **kwargs):
        if not getattr(broken_once, "done", False):
            broken_once.done = True
            raise ValueError("a bug building the alert")
        return built(*args, **kwargs)

    monkeypatch.setattr(shared_alerts, "alert_content", broken_once)
    cloud = pending_key_with_a_dependent(start_cloud)

    guard(cloud).handle(SCHEDULE, "inv-1")

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed"
    assert alert["actionResult"] == ("fail-safe cancel refused: the key is Enabled, not pending deletion (this attempt had "
                                     "already done cancel_deletion: PendingDeletion -> Enabled)")


def test_an_unforeseen_failure_of_one_key_is_retried_by_fc_and_stops_no_other_key(start_cloud, monkeypatch):
    # A bug meets one key's decision; the safety net decides the others and hands the run back to FC for the one.
    # On the last chance that key is cancelled fail-safe and alerted; and should even that fail, it is named.
    cloud = start_cloud(make_account(disks=[disk("d-app1"), disk("d-other", key=OTHER_KEY)], key_state="PendingDeletion"))
    cloud.bus.hold()  # the event of the deletion below is never delivered: only the safety net meets it
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    claim = KeyGuard._claim

    def broken_for_key(self, m, *args, **kwargs):  # a fault outside the decision's own handling: in the claim step
        if m.key_ref == KEY:
            raise ValueError("a bug reading this key")
        return claim(self, m, *args, **kwargs)

    monkeypatch.setattr(KeyGuard, "_claim", broken_for_key)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=f"{KEY} \\(unforeseen failure: ValueError"):
        keeper.handle(TIMER, "inv-timer")
    assert key_state(cloud, OTHER_KEY) == "Enabled"

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")
    assert key_state(cloud) == "Enabled"
    [told] = [a for a in alerts(cloud) if a["keyId"] == KEY]
    assert told["Name"] == "KmsKeyGuardFailed" and "ValueError: a bug reading this key" in told["reasons"][0]
    assert told["reasons"][-1] == "the invocation failed every retry: EventAgeExceeded"
    [record] = [r for r in decision_records(cloud) if r.get("keyId") == KEY and r.get("status") == "error"]
    assert record["invocation"] == "inv-destination"


def test_a_claim_carrying_a_cut_off_action_is_released_for_any_delivery_when_its_attempt_fails_transiently(start_cloud):
    # inv-1's first try noted a cancel and was cut off; its retry takes the claim over (carrying that note) and fails
    # transiently. The claim is kept, marked released: a second delivery (another request id) takes it at once.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "kms:DescribeKey", "Code": "ServiceUnavailable",
                                                       "Status": 503, "Remaining": 4})
    keeper = guard(cloud)
    claim_left_by(cloud, keeper, "inv-1")
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-1")

    keeper.handle(SCHEDULE, "inv-2")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]


def test_a_key_the_last_chance_cannot_reach_keeps_no_owed_alert_in_its_record(start_cloud):
    # No time left for the key's decision, and CloudMonitor refuses the fail-safe's alert: no retry follows to raise
    # it, so the record says the alert failed, and carries no alert kept for a retry.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[CMS_DOWN]))
    guard(cloud, time_limit_s=100, clock=lambda: 0.0).handle_failed_invocation(TIMER, "EventAgeExceeded")

    not_reached = [r for r in decision_records(cloud) if r.get("step") == "safety net"][0]
    assert not_reached["alertError"].startswith("KmsKeyGuardFailed not raised")
    assert not [field for field in not_reached if field.startswith("_")]


def test_a_damaged_owed_alert_and_its_event_are_cut_in_the_name_of_the_claim_not_read(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    bucket, folder = safety_net_folder(keeper, cloud)
    event = "e" * 130
    bucket.put_object(f"{folder}{'0' * 64}.json", json.dumps({"event": event, "status": "done", "alertOwed": "x" * 100}))

    result = keeper.handle(TIMER, "inv-timer")

    [unread] = result["safetyNet"]["claimsNotRead"]
    assert unread == (f"{folder}{'0' * 64}.json (event {'e' * 120!r}… (130 characters)): the alert it owes is damaged "
                      f"({'x' * 80!r}… (100 characters))")


def test_a_claim_that_is_not_an_object_is_passed_over_and_the_claims_after_it_are_read(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    bucket, folder = safety_net_folder(keeper, cloud)
    bucket.put_object(f"{folder}{'0' * 64}.json", b"[]")
    todays_claim(cloud, keeper, acting="cancel_deletion")

    keeper.handle(TIMER, "inv-timer")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and "invocation inv-timer" in alert["reasons"][0]


def test_a_key_the_fail_safe_itself_fails_on_is_named_with_the_keys_left_on_the_last_chance(start_cloud, monkeypatch):
    # A fault of the guard's own meets the key's claim step, and then the fail-safe path too: the key is not lost
    # from sight, it is named in the region's alert of keys neither decided nor cancelled.
    cloud = pending_key_with_a_dependent(start_cloud)

    def broken(self, *args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(KeyGuard, "_claim", broken)
    monkeypatch.setattr(KeyGuard, "_not_reached", broken)

    guard(cloud).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    [named] = [a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed" and a["keyId"] == ""]
    assert named["actionResult"] == f"1 key(s) pending deletion neither decided nor cancelled: {KEY}"


# ---------------------------------------------------------------- an alert no retry of the invocation can raise


def no_claim_store(start_cloud, cms_fault, how):
    """A key with a dependent, a cloud whose claim store cannot be used (`how`: no STATE_BUCKET configured, or the
    bucket refusing every write), and CloudMonitor failing as `cms_fault` says."""
    if how == "unset":
        return start_cloud(make_account(disks=[disk("d-app1")], faults=[cms_fault]), env={"STATE_BUCKET": ""})
    return start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "oss:PutObject", "Code": "AccessDenied", "Status": 403},
                                                                    cms_fault]))


@pytest.mark.parametrize("how", ["unset", "refused"])
def test_an_alert_refused_with_no_claim_to_keep_it_is_raised_in_place_after_a_pause(start_cloud, how):
    # The cancel is done; CloudMonitor refuses its alert once. With no claim to keep the alert owed, FC's retry would
    # find the key cancelled and nothing to tell: the alert is sent again here, after a pause.
    cloud = no_claim_store(start_cloud, CMS_DOWN_ONCE, how)
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=120)

    assert key_state(cloud) == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    [record] = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert record["status"] == "acted" and record["alert"] == "KmsKeyDeletionBlocked" and "alertError" not in record
    assert record["alertLate"].startswith("raised after a pause; the first attempt failed: "
                                          "KmsKeyDeletionBlocked not raised: ServiceUnavailable")
    assert [inv.ok for inv in cloud.fc.invocations if inv.function == "key-guard"] == [True]


@pytest.mark.parametrize("store", ["unset", "cannot keep the owed alert"])
def test_a_guard_with_no_region_of_its_own_raises_a_refused_alert_no_claim_keeps_again_in_the_events_region(start_cloud, store):
    if store == "unset":
        cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[CMS_DOWN_ONCE]),
                            env={"STATE_BUCKET": ""})
    else:  # the claim and its note are written; the write that would keep the alert owed is refused
        cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
            CMS_DOWN_ONCE, {"Api": "oss:PutObject", "Kind": "denied", "After": 2}]))

    guard_with_no_region_of_its_own(cloud).handle(SCHEDULE, "inv-1")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]  # in the event's region, where it is read
    [record] = decision_records(cloud)
    assert record["status"] == "acted" and record["alertLate"].startswith("raised after a pause")


def test_a_claim_that_cannot_be_settled_leaves_the_decision_standing_and_says_so(start_cloud):
    # The claim and its note are written; settling it is refused. The key is cancelled and told; the record says a
    # duplicate of this event may be handled again.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[
        {"Api": "oss:PutObject", "Kind": "denied", "After": 2}]))

    guard(cloud).handle(SCHEDULE, "inv-1")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    [record] = decision_records(cloud)
    assert record["status"] == "acted" and record["idempotencyProblem"].startswith("claim not settled: AccessDenied")


def test_an_alert_refused_every_time_with_no_claim_to_keep_it_is_tried_three_times_and_recorded(start_cloud):
    cloud = no_claim_store(start_cloud, CMS_DOWN, "unset")
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=120)

    assert key_state(cloud) == "Enabled" and alerts(cloud) == []
    [record] = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert record["status"] == "acted" and "alert" not in record
    assert record["alertError"].startswith("KmsKeyDeletionBlocked not raised: ServiceUnavailable")
    assert record["alertError"].endswith("(tried 3 time(s); no retry of the invocation would raise it)")
    assert cloud.calls.get("cms:PutCustomEvent") == 1 + len(shared_guard.IN_PLACE_ALERT_PAUSES_S)
    # Nothing a retry could do: the invocation does not fail into a retry storm.
    assert [inv.ok for inv in cloud.fc.invocations if inv.function == "key-guard"] == [True]


def test_the_last_chance_raises_its_refused_alert_in_place(start_cloud):
    # The failure destination decides the event one last time and cancels; CloudMonitor refuses once. No retry
    # follows the last chance: the alert is sent again here.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)

    result = guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert result["results"][0]["status"] == "acted" and result["results"][0]["alert"] == "KmsKeyDeletionBlocked"
    assert decision_records(cloud)[-1]["alertLate"].startswith("raised after a pause")


def test_an_owed_alert_the_last_chance_meets_refused_once_more_is_raised_in_place(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)
    with pytest.raises(TransientError):  # cancelled; the alert owed in the event's claim
        keeper.handle(SCHEDULE, "inv-first")
    cloud.faults.add("cms:PutCustomEvent", "ServiceUnavailable", status=503, remaining=1)

    result = keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    assert result["results"][0]["status"] == "alert_raised"
    assert result["results"][0]["reason"] == "KmsKeyDeletionBlocked raised for the decision of invocation inv-first"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1


def region_the_safety_net_cannot_list(start_cloud):
    return pending_key_with_a_dependent(start_cloud, {"Api": "kms:ListKeys", "Code": "Forbidden.NoPermission", "Status": 403},
                                        CMS_DOWN_ONCE)


def test_a_region_alert_cloudmonitor_refuses_makes_the_safety_net_run_again(start_cloud):
    # The region's keys could not be listed, so none was re-decided: the alert saying so is owed like any other. The
    # run is handed back to FC, whose retry says it.
    cloud = region_the_safety_net_cannot_list(start_cloud)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=r"KmsKeyGuardFailed \(list keys pending deletion\) not raised: "
                                             r"KmsKeyGuardFailed not raised: ServiceUnavailable"):
        keeper.handle(TIMER, "inv-net")
    assert alerts(cloud) == []
    keeper.handle(TIMER, "inv-net-retry")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]
    assert all("_alertOwed" not in r for r in decision_records(cloud))


def test_the_safety_nets_last_chance_raises_a_refused_region_alert_in_place(start_cloud):
    cloud = region_the_safety_net_cannot_list(start_cloud)

    guard(cloud).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-destination")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]
    [region] = [r for r in decision_records(cloud) if r.get("step") == "list keys pending deletion"]
    assert region["alertLate"].startswith("raised after a pause") and "alertError" not in region


def test_no_pause_to_raise_an_alert_again_is_taken_from_the_time_the_work_after_it_needs(start_cloud):
    # The last chance, with 90 s left of the invocation: a pause and another try would eat into the time a fail-safe
    # cancel of the next key or event needs (FAIL_SAFE_KEY_S). The refusal is recorded at once.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)

    guard(cloud, time_limit_s=90).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled" and alerts(cloud) == []
    assert decision_records(cloud)[-1]["alertError"].endswith("(tried 1 time(s); no retry of the invocation would raise it)")
    assert cloud.calls.get("cms:PutCustomEvent") == 1


def test_an_owed_alert_the_last_chance_raises_is_settled_and_a_later_delivery_raises_nothing(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard(cloud)
    with pytest.raises(TransientError):  # cancelled; the alert owed in the event's claim
        keeper.handle(SCHEDULE, "inv-first")
    cloud.faults.add("cms:PutCustomEvent", "ServiceUnavailable", status=503, remaining=1)
    assert keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")["results"][0]["status"] \
        == "alert_raised"

    keeper.handle(SCHEDULE, "inv-late")  # EventBridge's at-least-once duplicate, or the destination's own retry

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    claims, key = claim_of(cloud, keeper)
    claim = json.loads(claims.bucket.get_object(key).read())
    assert "alertOwed" not in claim and claim["alertRaisedLate"] is True


def test_the_last_chance_that_cannot_claim_raises_its_refused_alert_in_place_and_records_no_working_field(start_cloud):
    # The failure destination cannot take the event's claim (OSS 500): it cancels fail-safe; CloudMonitor refuses
    # the alert once, and it is sent again here. The alert's content, kept while it was owed, is not recorded.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:PutObject", "Code": "InternalError", "Status": 500},
                                         CMS_DOWN_ONCE)

    guard(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]
    assert all(not name.startswith("_") for r in decision_records(cloud) for name in r)


THIRD_KEY, FOURTH_KEY = "3a3a3a3a-0000-4000-8000-000000000003", "4b4b4b4b-0000-4000-8000-000000000004"


def three_keys_pending_deletion_with_dependents(start_cloud, *faults):
    extra = [{"KeyId": k, "RegionId": REGION, "KeyState": "PendingDeletion", "DeleteDate": "2099-01-01T00:00:00Z",
              "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID} for k in (THIRD_KEY, FOURTH_KEY)]
    return start_cloud(make_account(disks=[disk("d-app1"), disk("d-app3", key=THIRD_KEY), disk("d-app4", key=FOURTH_KEY)],
                                    key_state="PendingDeletion", faults=list(faults), kms={"keys": extra}))


def test_raising_an_alert_again_leaves_every_key_still_to_come_its_fail_safe_cancel(start_cloud):
    # Three keys, 205 s left, the same clock: reserving one key's fail-safe time would let the first key's alert be
    # sent twice more, and the third key would find less than FAIL_SAFE_KEY_S. Each key still to come keeps its own.
    cloud = three_keys_pending_deletion_with_dependents(start_cloud, CMS_DOWN)
    clock = lambda: 25.0 * cloud.calls.get("cms:PutCustomEvent") + 20.0 * cloud.calls.get("kms:CancelKeyDeletion")  # noqa: E731

    guard(cloud, time_limit_s=205, clock=clock).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-last")

    assert [key_state(cloud, k) for k in (KEY, THIRD_KEY, FOURTH_KEY)] == ["Enabled"] * 3


def test_raising_an_alert_again_never_takes_the_time_the_next_keys_fail_safe_cancel_needs(start_cloud):
    # The safety net's last chance, 180 s left, two keys pending deletion with dependents, CloudMonitor down. With a
    # clock where each alert sent takes 25 s (an unreachable endpoint: connect timeouts and back-off) and each cancel
    # 20 s, pausing to send the first key's alert again twice would leave the second key less than FAIL_SAFE_KEY_S:
    # it would stay pending deletion. Protection comes before telling.
    cloud = start_cloud(make_account(disks=[disk("d-app1"), disk("d-app2", key=OTHER_KEY)], key_state="PendingDeletion",
                                     faults=[CMS_DOWN]))
    cloud.bus.hold()
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    clock = lambda: 25.0 * cloud.calls.get("cms:PutCustomEvent") + 20.0 * cloud.calls.get("kms:CancelKeyDeletion")  # noqa: E731
    try:
        guard(cloud, time_limit_s=180, clock=clock).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-last")
        assert (key_state(cloud), key_state(cloud, OTHER_KEY)) == ("Enabled", "Enabled")
    finally:
        cloud.bus.release()
        cloud.faults.clear()
        assert cloud.bus.drain(timeout=60)


def test_a_key_the_last_chance_had_no_time_to_decide_has_its_refused_alert_raised_in_place(start_cloud):
    # 150 s left: too little to decide the key (SAFETY_NET_KEY_S), enough to cancel it fail-safe and to send its
    # refused alert again after a pause.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)

    guard(cloud, time_limit_s=150).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-last")

    assert key_state(cloud) == "Enabled"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyGuardFailed"]
    [net] = [r for r in decision_records(cloud) if r.get("keyId") == KEY]
    assert net["step"] == "safety net" and net["alertLate"].startswith("raised after a pause")


def test_claims_not_read_whose_alert_cloudmonitor_refuses_make_the_safety_net_run_again(start_cloud):
    # A claim of today's earlier run cannot be read (denied); saying so at the end of the run meets a CloudMonitor 503.
    cloud, keeper, folder = a_settled_claim_listed_first(start_cloud, "AccessDenied", 403)
    cloud.faults.add("cms:PutCustomEvent", "ServiceUnavailable", status=503, remaining=1)

    with pytest.raises(TransientError, match=r"KmsKeyGuardFailed \(read claims\) not raised"):
        keeper.handle(TIMER, "inv-timer")


def test_a_guard_with_no_region_of_its_own_raises_a_refused_alert_again_in_the_events_region(start_cloud):
    # The last chance, CloudMonitor refusing once: sent again in place, where the guard alerts with no region of its
    # own (the event's), with the severity it was decided with.
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)

    [result] = guard_with_no_region_of_its_own(cloud).handle_failed_invocation(SCHEDULE, "EventAgeExceeded",
                                                                                "inv-destination")["results"]

    assert result["alert"] == "KmsKeyDeletionBlocked"
    assert [(e.Name, e.RegionId) for e in cloud.account.cms.events] == [("KmsKeyDeletionBlocked", REGION)]
    assert decision_records(cloud)[-1]["alertSeverity"] == "CRITICAL"


def test_a_guard_with_no_region_of_its_own_raises_an_owed_alert_the_last_chance_meets_refused_again(start_cloud):
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard_with_no_region_of_its_own(cloud)
    with pytest.raises(TransientError):
        keeper.handle(SCHEDULE, "inv-first")
    cloud.faults.add("cms:PutCustomEvent", "ServiceUnavailable", status=503, remaining=1)

    [result] = keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")["results"]

    assert result["status"] == "alert_raised"
    assert [(e.Name, e.RegionId) for e in cloud.account.cms.events] == [("KmsKeyDeletionBlocked", REGION)]


def test_the_last_key_of_a_region_sends_its_refused_alert_again_with_the_time_it_has(start_cloud):
    # Three keys, 300 s left, the same clock; the third key's alert is refused once. No key comes after it, so only
    # its own record needs the reserve: with 165 s left the alert is sent again. Reserving for keys that are not
    # there would leave it unsent.
    cloud = three_keys_pending_deletion_with_dependents(
        start_cloud, {"Api": "cms:PutCustomEvent", "Code": "ServiceUnavailable", "Status": 503, "After": 2, "Remaining": 1})
    clock = lambda: 25.0 * cloud.calls.get("cms:PutCustomEvent") + 20.0 * cloud.calls.get("kms:CancelKeyDeletion")  # noqa: E731

    guard(cloud, time_limit_s=300, clock=clock).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-last")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"] * 3


def test_a_claim_store_failing_transiently_hands_the_event_back_to_fc_saying_why(start_cloud):
    # OSS answers the claim with a 503 through every retry: nothing was done, so FC retries; its failure record
    # (and, past every retry, the failure destination's alert) carries this reason.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:PutObject", "Code": "ServiceUnavailable", "Status": 503})

    with pytest.raises(TransientError, match=r"^retry later \(claim\): ServiceUnavailable: "):
        guard(cloud).handle(SCHEDULE, "inv-claim")
    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []


def test_a_guard_with_no_region_of_its_own_records_a_rejected_event_and_its_calls_in_the_events_region(start_cloud):
    # An event naming no key is rejected, alerted and recorded where the guard with no region of its own keeps its
    # things (the event's region), never left to crash and be retried.
    cloud = start_cloud(make_account())
    no_key = json.loads(json.dumps(SCHEDULE))
    del no_key["data"]["requestParameters"]["KeyId"]

    [result] = guard_with_no_region_of_its_own(cloud).handle(no_key, "inv-no-key")["results"]

    assert result["status"] == "rejected"
    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and record["apiCalls"] == {"cms:PutCustomEvent": 1}


def test_a_last_chance_meeting_the_event_held_elsewhere_resends_its_refused_alert_in_the_events_region(start_cloud, monkeypatch):
    # A guard with no region of its own, on the failure destination: the event's claim is held by an attempt that
    # never finished, so the last chance cancels fail-safe, and CloudMonitor refuses its first alert. No retry
    # follows, so the alert is sent again in place, in the region the event names (the only one the guard knows).
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)
    cloud = pending_key_with_a_dependent(start_cloud, CMS_DOWN_ONCE)
    keeper = guard_with_no_region_of_its_own(cloud)
    claim_left_by(cloud, keeper, "inv-1", acting=None)

    keeper.handle_failed_invocation(SCHEDULE, "EventAgeExceeded", "inv-destination")

    [(name, region)] = [(e.Name, e.RegionId) for e in cloud.account.cms.events]
    assert region == REGION and key_state(cloud) == "Enabled"
    [record] = decision_records(cloud)
    assert record["alert"] == name and record["alertLate"].startswith("raised after a pause; the first attempt failed: ")


def test_a_duplicate_delivery_records_the_calls_it_made(start_cloud):
    # A late duplicate does no decision, but it still spends the account's quota (its claim): the record counts it.
    cloud = pending_key_with_a_dependent(start_cloud)
    keeper = guard(cloud)
    keeper.handle(SCHEDULE, "inv-1")

    keeper.handle(SCHEDULE, "inv-late")

    late = decision_records(cloud)[-1]
    assert late["status"] == "duplicate" and late["apiCalls"]["oss:PutObject"] >= 1


def test_a_transient_failure_whose_claim_cannot_be_released_still_hands_back_to_fc_and_the_retry_decides(start_cloud):
    # The key's read fails past its retries, then the claim's release is refused: the invocation still hands back
    # to FC naming the step and the failure, and FC's retry (the same request id) takes its own claim and decides.
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "kms:DescribeKey", "Kind": "server_error", "Remaining": 4},
                                         {"Api": "oss:DeleteObject", "Kind": "denied", "Remaining": 1})
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=r"^retry later \(read key\): InternalError"):
        keeper.handle(SCHEDULE, "inv-1")
    assert key_state(cloud) == "PendingDeletion"
    keeper.handle(SCHEDULE, "inv-1")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]


def test_in_alert_mode_an_alert_an_earlier_run_still_owes_is_told_though_the_claim_store_refuses_writes(start_cloud):
    # GUARD_DELETION_MODE=alert acts on nothing, yet the alert an earlier run of today decided and could not raise is
    # owed all the same. This run may read the claims but not write its own (the bucket turned read-only): what the
    # listing says is all it has, and a person is told the alert may never have been raised.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DELETION_MODE": "alert"})
    keeper = guard(cloud)
    todays_claim(cloud, keeper, owed="KmsKeyDeletionBlocked")
    cloud.faults.add("oss:PutObject", "AccessDenied", status=403)

    keeper.handle(TIMER, "inv-timer-2")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert alert["reasons"][0].startswith("an earlier run of today owes its alert KmsKeyDeletionBlocked")


def test_an_owed_alert_the_claim_cannot_keep_is_sent_again_at_once_and_only_once(start_cloud, monkeypatch):
    # The claim is taken, then OSS refuses every write (the note before acting, the completion that would keep the
    # alert owed) and CloudMonitor refuses the alert once. No retry could know the alert is owed, so it is not
    # handed to one: it is sent again in place. Later deliveries find the event held and tell nothing twice.
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)
    cloud = pending_key_with_a_dependent(start_cloud, {"Api": "oss:PutObject", "Code": "ServiceUnavailable", "Status": 503,
                                                       "After": 1}, CMS_DOWN_ONCE)
    keeper = guard(cloud)

    keeper.handle(SCHEDULE, "inv-first")

    assert key_state(cloud) == "Enabled" and [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"]
    [first] = decision_records(cloud)
    assert "alertOwed" not in first and first["alertLate"].startswith("raised after a pause; the first attempt failed: ")
    assert first["idempotencyProblem"].startswith("claim not settled: ServiceUnavailable")
    cloud.faults.clear()
    with pytest.raises(TransientError, match="being handled by invocation inv-first"):
        keeper.handle(SCHEDULE, "inv-late")
    keeper.handle_failed_invocation(SCHEDULE, "MaxRetriesExceeded", "inv-destination")
    assert len(alerts(cloud)) == 1
