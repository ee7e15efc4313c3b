"""key-guard within its invocation's time limit: FC ends an invocation at the function's timeout, whatever it
was doing, so a decision cut off there is one nobody hears of. The audit leaves time for the action, the alert
and the record; the daily safety net starts a key only with time left to decide it, leaves the rest to FC's
retry, and on its last chance (the failure destination, no retry after it) cancels what it cannot reach.

The guard is built here as the handler builds it, with the local cloud's clients, and given a clock that
moves only as decisions are recorded, so "time left" is the same on every machine."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.clients import TransientError
from shared.config import GuardConfig
from shared.guard import FAIL_SAFE_KEY_S, SAFETY_NET_KEY_S, KeyGuard
from tests.conftest import ROOT, ACCOUNT_ID, KEY, OTHER_KEY, REGION, alerts, alice_kms, decision_records, disk, key_state, make_account
from tests.scanner_kit import clients

SAFETY_NET_TIMER = {"triggerTime": "2026-12-02T03:00:00Z", "triggerName": "safety-net", "payload": '{"task":"safety-net"}'}
SECONDS_PER_RECORD = 100.0


def guard(cloud, *, time_limit_s: float, seconds_per_record: float = SECONDS_PER_RECORD) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    # Time passes only as decision records are written: each decision "takes" seconds_per_record.
    clock = lambda: seconds_per_record * cloud.calls.get("sls:PutLogs")  # noqa: E731
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region),
                    time_limit_s=time_limit_s, clock=clock)


@pytest.fixture
def two_keys_pending(start_cloud):
    """Both keys pending deletion with a disk on each; their events were lost (only the safety net sees them)."""
    cloud = start_cloud(make_account(disks=[disk("d-app1"), disk("d-app2", key=OTHER_KEY)], key_state="PendingDeletion"))
    cloud.bus.hold()
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    yield cloud
    cloud.bus.release()  # the "lost" event arrives late, after the test: nothing waits on it at teardown
    assert cloud.bus.drain(timeout=60)


def test_the_safety_net_stops_before_the_time_limit_and_its_retry_finishes_the_job(two_keys_pending):
    cloud = two_keys_pending
    # Time for one key: after the first decision's record, less than a key's budget is left.
    with pytest.raises(TransientError, match="not reached within the time limit"):
        guard(cloud, time_limit_s=250).handle(SAFETY_NET_TIMER)
    states = sorted([key_state(cloud), key_state(cloud, OTHER_KEY)])
    assert states == ["Enabled", "PendingDeletion"]  # one decided whole, the other not started

    guard(cloud, time_limit_s=10_000).handle(SAFETY_NET_TIMER)  # FC's retry of the same timer event
    assert key_state(cloud) == "Enabled" and key_state(cloud, OTHER_KEY) == "Enabled"
    decided = sorted((r["keyId"], r["status"]) for r in decision_records(cloud) if r.get("eventSource") == "kms-steward.safety-net")
    assert decided == sorted([(KEY, "acted"), (OTHER_KEY, "acted")])  # each key once: the retry lists only what is left
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyDeletionBlocked"] * 2


def test_on_its_last_chance_the_safety_net_cancels_the_keys_it_has_no_time_to_decide(two_keys_pending):
    cloud = two_keys_pending
    # Less time left than a key's decision needs, enough for a fail-safe cancel of each (shared/guard.py FAIL_SAFE_KEY_S).
    answer = guard(cloud, time_limit_s=170, seconds_per_record=40).handle_failed_invocation(SAFETY_NET_TIMER, "EventAgeExceeded")

    assert key_state(cloud) == "Enabled" and key_state(cloud, OTHER_KEY) == "Enabled"
    assert sorted(r["status"] for r in answer["results"]) == ["error", "error"]
    raised = alerts(cloud)
    assert sorted(a["keyId"] for a in raised) == sorted([KEY, OTHER_KEY])
    assert all(a["Name"] == "KmsKeyGuardFailed" and "time limit" in json.dumps(a["reasons"]) for a in raised)
    assert cloud.calls.get("ecs:DescribeDisks") == 0  # no audit was started that could not finish


def test_an_audit_ends_early_enough_to_leave_time_for_the_action_alert_and_record(start_cloud):
    # DescribeDisks answers after 20 s; the invocation has 66 s left, 60 of them kept for what follows the audit.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion",
                                     faults=[{"Api": "ecs:DescribeDisks", "LatencyMs": 20_000}]))
    event = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
    [result] = guard(cloud, time_limit_s=66).handle(event)["results"]

    assert result["status"] == "acted" and key_state(cloud) == "Enabled"  # incomplete: may have dependents, so cancelled
    [record] = [r for r in decision_records(cloud) if r.get("keyId") == KEY]
    [disks] = [part for part in record["auditIncomplete"] if part["part"] == "ecs_disks"]
    assert "audit deadline of 6 s" in disks["reason"]


def test_the_deployed_handler_is_bounded_by_its_functions_timeout(two_keys_pending):
    # The handler builds its guard from the invocation's context: a function deployed with a timeout shorter than
    # a key's decision must not start one (FC would cut it off untold); it hands the run back to FC instead.
    cloud = two_keys_pending
    cloud.project.function("key-guard").props["timeout"] = 60  # seconds; a key of the safety net needs more
    timer = json.dumps(SAFETY_NET_TIMER).encode()

    cut_short = cloud.fc.invoke("key-guard", timer, region=REGION)

    assert not cut_short.ok and "not reached within the time limit" in cut_short.error["errorMessage"]
    assert key_state(cloud) == "PendingDeletion" and key_state(cloud, OTHER_KEY) == "PendingDeletion"
    cloud.project.function("key-guard").props["timeout"] = 900
    assert cloud.fc.invoke("key-guard", timer, region=REGION).ok  # FC's retry, with the time a key needs
    assert key_state(cloud) == "Enabled" and key_state(cloud, OTHER_KEY) == "Enabled"


# The budgets are met exactly: a key with exactly its budget left is still decided, and on the last chance, exactly a
# fail-safe cancel's time is enough to cancel.
def exact_guard(cloud, time_limit_s: float) -> KeyGuard:
    """A guard whose clock stands still: the time left is exactly its limit."""
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION}
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region),
                    time_limit_s=time_limit_s, clock=lambda: 0.0)


def test_exactly_a_keys_budget_left_is_enough_to_decide_it(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    answer = exact_guard(cloud, SAFETY_NET_KEY_S).handle(SAFETY_NET_TIMER)
    assert [r["status"] for r in answer["results"]] == ["acted"] and key_state(cloud) == "Enabled"


def test_exactly_a_fail_safe_cancels_budget_left_on_the_last_chance_cancels_the_key(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    exact_guard(cloud, FAIL_SAFE_KEY_S).handle_failed_invocation(SAFETY_NET_TIMER, "EventAgeExceeded")
    assert key_state(cloud) == "Enabled"


def test_the_handler_calls_with_the_invocations_credentials_not_the_environments(start_cloud, monkeypatch):
    # FC hands each invocation its role's fresh temporary credentials in the context; the environment's copy is set when
    # the instance starts. The guard must call with the invocation's: here the environment's are no longer valid.
    from types import SimpleNamespace

    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    spec = cloud.project.function("key-guard")
    fresh = cloud.assume_role(spec.role, session=spec.function_name)
    for name, value in {**spec.environment, "FC_REGION": REGION, "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(REGION),
                        "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.NoLongerValid0000001", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "expired",
                        "ALIBABA_CLOUD_SECURITY_TOKEN": "CAIS-expired"}.items():
        monkeypatch.setenv(name, value)
    context = SimpleNamespace(request_id="inv-1", account_id=ACCOUNT_ID, region=REGION,
                              credentials=SimpleNamespace(access_key_id=fresh.AccessKeyId, access_key_secret=fresh.AccessKeySecret,
                                                          security_token=fresh.SecurityToken),
                              function=SimpleNamespace(name=spec.function_name, timeout=spec.timeout))

    KeyGuard.for_invocation(context).handle(SAFETY_NET_TIMER, "inv-1")

    assert key_state(cloud) == "Enabled"
