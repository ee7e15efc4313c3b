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
