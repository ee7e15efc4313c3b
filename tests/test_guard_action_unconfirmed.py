"""A cancel the guard cannot confirm is never taken for "nothing done" (shared/keys.py WriteUnconfirmed, shared/guard.py).

KMS took the first CancelKeyDeletion (answered OK) but the key does not show it yet; every repeat is throttled past
its retries. The cancel may land at any moment, so the attempt did act, possibly: handing the event back to FC as
"nothing done" (and releasing its claim, with the note that it was acting) would leave that cancel told to no one
once it lands. Instead the claim noting the action is kept for whoever decides the event next, or, with nowhere to
keep it, a person is told at once."""
from __future__ import annotations

import json
import re

import pytest

from localcloud.products.base import api
from localcloud.products.kms import Kms
from shared.clients import Clients, TransientError
from tests.support.accounts import KEY, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, decision_records
from tests.support.resources import disk
from tests.test_guard_failure_paths import SCHEDULE, guard, pending_key_with_a_dependent

REPEATS_THROTTLED = {"Api": "kms:CancelKeyDeletion", "Kind": "throttled", "After": 1}


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)


def the_first_cancel_is_taken_but_shown_late(monkeypatch) -> None:
    cancel = Kms.cancel_key_deletion
    taken = []

    def taken_not_shown(self, call):
        if not taken:
            taken.append(call.request_id)  # KMS took it (answered OK); the key shows it later (land())
            return {"RequestId": call.request_id}
        return cancel(self, call)

    monkeypatch.setattr(Kms, "cancel_key_deletion", api("CancelKeyDeletion", write=True)(taken_not_shown))


def land(cloud) -> None:
    key = next(k for k in cloud.account.kms.keys if k.KeyId == KEY)
    key.KeyState, key.DeleteDate = "Enabled", None


@pytest.mark.parametrize("then", ["same request id", "failure destination"])
def test_a_cancel_that_may_have_run_keeps_its_claim_and_is_told_when_it_lands(start_cloud, monkeypatch, then):
    the_first_cancel_is_taken_but_shown_late(monkeypatch)
    cloud = pending_key_with_a_dependent(start_cloud, REPEATS_THROTTLED)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=r"^retry later \(cancel_deletion\): .*CancelKeyDeletion not confirmed: an earlier "
                                             r"attempt answered OK, and the key still showed PendingDeletion"):
        keeper.handle(SCHEDULE, "inv-1")
    land(cloud)
    cloud.faults.clear()
    if then == "same request id":
        keeper.handle(SCHEDULE, "inv-1")
    else:  # FC's retries under other request ids find the event held; the failure destination decides it last
        with pytest.raises(TransientError, match="being handled by invocation inv-1"):
            keeper.handle(SCHEDULE, "inv-2")
        keeper.handle_failed_invocation(SCHEDULE, "MaxRetriesExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["keyId"] == KEY
    assert re.search(r"invocation inv-1[ ,].*started to cancel_deletion", json.dumps(alert))


def test_without_a_claim_store_a_cancel_that_may_have_run_is_told_at_once(start_cloud, monkeypatch):
    the_first_cancel_is_taken_but_shown_late(monkeypatch)
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion", faults=[REPEATS_THROTTLED]),
                        env={"STATE_BUCKET": ""})
    keeper = guard(cloud)

    keeper.handle(SCHEDULE, "inv-1")  # no claim could keep what it did: no hand-back to FC

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["actionUnconfirmed"].startswith("kms:CancelKeyDeletion not confirmed")
    assert record["actionResult"].startswith("fail-safe cancel not done: Rejected.Throttling")
    assert "(this attempt's cancel_deletion may have run: kms:CancelKeyDeletion not confirmed" in record["actionResult"]
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["actionResult"] == record["actionResult"]


def test_without_a_claim_store_a_cancel_that_lands_before_the_fail_safe_is_still_told(start_cloud, monkeypatch):
    # The first cancel is taken but not shown; every repeat is throttled; the key shows the cancel just after the
    # guard gave up on confirming it, so the fail-safe cancel is refused (the key is Enabled). Nothing is at risk,
    # but the deletion was stopped, possibly by this attempt: a person is told, never "already done" in silence.
    from localcloud import fault_kinds

    cancel, describe = Kms.cancel_key_deletion, Kms.describe_key
    seen = {"cancels": 0, "reads": 0}
    # DescribeKey: the guard's read, the audit's, then the transition's before, after the taken round and after the
    # throttled one (a write throttled past its retries ends the rounds)
    reads_until_given_up = 5

    def taken_then_throttled(self, call):
        seen["cancels"] += 1
        if seen["cancels"] == 1:
            return {"RequestId": call.request_id}  # taken; shown late
        if seen["reads"] < reads_until_given_up:
            raise fault_kinds.error("kms", "throttled", "CancelKeyDeletion")
        return cancel(self, call)  # the fail-safe's: refused, the key is Enabled now

    def read_then_land(self, call):
        answer = describe(self, call)
        seen["reads"] += 1
        if seen["reads"] == reads_until_given_up:
            land(cloud)
        return answer

    monkeypatch.setattr(Kms, "cancel_key_deletion", api("CancelKeyDeletion", write=True)(taken_then_throttled))
    monkeypatch.setattr(Kms, "describe_key", api("DescribeKey")(read_then_land))
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"), env={"STATE_BUCKET": ""})

    guard(cloud).handle(SCHEDULE, "inv-1")

    assert key_state(cloud) == "Enabled"
    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["keyStateAfter"] == "Enabled"
    assert record["actionResult"].startswith("fail-safe cancel refused: the key is Enabled, not pending deletion")
    assert "(this attempt's cancel_deletion may have run: kms:CancelKeyDeletion not confirmed" in record["actionResult"]
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["actionResult"] == record["actionResult"]


@pytest.mark.parametrize("own, said", [
    ({"actionDone": True, "actionResult": "PendingDeletion -> Enabled"},
     "(this attempt had already done cancel_deletion: PendingDeletion -> Enabled)"),
    ({"actionUnconfirmed": "kms:CancelKeyDeletion not confirmed"},
     "(this attempt's cancel_deletion may have run: kms:CancelKeyDeletion not confirmed)"),
])
def test_a_fail_safe_says_both_an_earlier_attempts_action_and_this_ones(own, said):
    # What a person reads when an earlier attempt was cut off while acting and this one acted (or may have) too:
    # neither may push the other out of the alert.
    from shared.guard import KeyGuard

    earlier = {"invocation": "inv-0", "started": "2026-12-02T03:00:00Z", "acting": "cancel_deletion"}
    text = KeyGuard._left_untold({"action": "cancel_deletion", **own}, earlier)

    assert text == f" (invocation inv-0 started to cancel_deletion and may not have told anyone) {said}"


def test_without_a_claim_store_an_enable_that_may_have_run_is_told_at_once(start_cloud, monkeypatch):
    # The same for a disabled key the guard enables again (GUARD_DISABLE_MODE=enforce): no fail-safe undoes a disable,
    # so "nothing done" would be false; the record and the alert say the enable may have run.
    from tests.test_guard_failure_paths import DISABLE

    enable = Kms.enable_key
    taken = []

    def taken_not_shown(self, call):
        if not taken:
            taken.append(call.request_id)
            return {"RequestId": call.request_id}
        return enable(self, call)

    monkeypatch.setattr(Kms, "enable_key", api("EnableKey", write=True)(taken_not_shown))
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="Disabled",
                                     faults=[{"Api": "kms:EnableKey", "Kind": "throttled", "After": 1}]),
                        env={"STATE_BUCKET": "", "GUARD_DISABLE_MODE": "enforce"})

    guard(cloud).handle(DISABLE, "inv-1")

    [record] = decision_records(cloud)
    assert record["status"] == "error" and record["action"] == "enable_key"
    assert record["actionResult"].startswith("nothing done; this attempt's enable_key may have run: kms:EnableKey not "
                                             "confirmed: an earlier attempt answered OK, and the key still showed Disabled")
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["actionResult"] == record["actionResult"]
