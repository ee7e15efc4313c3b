"""secret-guard's restore (shared/keys.py transition) when an earlier RestoreSecret may have run: answered OK, not
shown yet by DescribeSecret. Never "nothing done", never "failed": the claim noting the restore is kept for whoever
meets it next, or, on the last chance, a person is told at once."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms

from localcloud import errors
from localcloud.products.base import api
from localcloud.products.kms import Kms
from shared.clients import Clients, TransientError
from tests.support.guard import alerts
from tests.test_secret_guard import SECRET, account, alice_kms, app_reads, guard, planned_delete_time, records

REPEATS_THROTTLED = {"Api": "kms:RestoreSecret", "Kind": "throttled", "After": 1}


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)


def restore_taken_but_shown_late(monkeypatch, *, repeat_refused_as_restored: bool = False) -> dict:
    """The first RestoreSecret is taken (answered OK) but DescribeSecret keeps showing PlannedDeleteTime until land().
    With repeat_refused_as_restored, the service (which knows it is restored) refuses each repeat as KMS refuses a
    restore of a normal secret: Rejected.ResourceInUse."""
    restore = Kms.restore_secret
    state = {"taken": False}

    def taken_not_shown(self, call):
        if not state["taken"]:
            state["taken"] = True
            return {"RequestId": call.request_id, "SecretName": SECRET}
        if repeat_refused_as_restored:
            raise errors.ApiError("Rejected.ResourceInUse", f"restore normal secret: {SECRET} is not pending deletion.", 409)
        return restore(self, call)

    monkeypatch.setattr(Kms, "restore_secret", api("RestoreSecret", write=True)(taken_not_shown))
    return state


def land(cloud) -> None:
    s = next(s for s in cloud.account.kms.secrets if s.SecretName == SECRET)
    s.PlannedDeleteTime = None


_EVENT: dict = {}


def deleted_and_read(start_cloud, *faults):
    cloud = start_cloud(account(faults=list(faults)))
    cloud.bus.hold()  # the guard is driven by hand with the event ActionTrail published
    app_reads(cloud)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    _EVENT.clear()
    _EVENT.update(next(e for e in cloud.bus.published if e["data"].get("eventName") == "DeleteSecret"))
    return cloud


def event():
    return json.loads(json.dumps(_EVENT))


@pytest.mark.parametrize("then", ["same request id", "failure destination"])
def test_a_restore_that_may_have_run_keeps_its_claim_and_is_told_when_it_lands(start_cloud, monkeypatch, then):
    restore_taken_but_shown_late(monkeypatch)
    cloud = deleted_and_read(start_cloud, REPEATS_THROTTLED)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=r"RestoreSecret not confirmed: an earlier attempt answered OK, and the secret "
                                             r"still showed PendingDeletion"):
        keeper.handle(event(), "inv-1")
    land(cloud)
    cloud.faults.clear()
    if then == "same request id":
        keeper.handle(event(), "inv-1")
    else:
        with pytest.raises(TransientError, match="being handled by invocation inv-1"):
            keeper.handle(event(), "inv-2")
        keeper.handle_failed_invocation(event(), "MaxRetriesExceeded", "inv-destination")

    assert planned_delete_time(cloud) is None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretGuardFailed" and alert["secretName"] == SECRET
    assert "inv-1" in json.dumps(alert) and "restore_secret" in json.dumps(alert)
    assert "keyId" not in records(cloud)[-1]


def test_a_restore_that_may_have_run_on_the_last_chance_is_told_at_once(start_cloud, monkeypatch):
    restore_taken_but_shown_late(monkeypatch)
    cloud = deleted_and_read(start_cloud, REPEATS_THROTTLED)
    keeper = guard(cloud)

    keeper.handle_failed_invocation(event(), "MaxRetriesExceeded", "inv-destination")

    [record] = [r for r in records(cloud) if r.get("eventName") == "DeleteSecret"]
    assert record["status"] == "error" and record["actionUnconfirmed"].startswith("kms:RestoreSecret not confirmed")
    assert "(this attempt's restore_secret may have run" in record["actionResult"]
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretGuardFailed"


def test_a_repeat_restore_refused_after_an_ok_not_yet_shown_is_not_a_failure_but_may_have_run(start_cloud, monkeypatch):
    # The first RestoreSecret answered OK; DescribeSecret lags. The repeat is refused "restore normal secret", which
    # KMS says of a secret not pending deletion: the first may have landed. Not "failed": the claim noting the restore
    # is kept, and the attempt that meets it once the secret shows it tells.
    restore_taken_but_shown_late(monkeypatch, repeat_refused_as_restored=True)
    cloud = deleted_and_read(start_cloud)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match=r"RestoreSecret not confirmed: an earlier attempt answered OK, .*the repeat "
                                             r"was refused: Rejected.ResourceInUse"):
        keeper.handle(event(), "inv-1")
    land(cloud)
    keeper.handle(event(), "inv-1")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretGuardFailed" and "restore_secret" in json.dumps(alert)
    assert records(cloud)[-1]["secretStateAfter"] == "Normal"
