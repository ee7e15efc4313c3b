"""secret-guard's safety net finds the claims an earlier run of today left unfinished (an alert still owed, an action
cut off) by listing them, and takes the secret from the claim's event: its folder, then the secret's name, which may
hold "/" itself (payments/db-password). The restored secret is no longer pending, so only that claim brings its owed
alert back: FC's retry of the run raises it, for the secret it was decided for."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.clients import TransientError
from tests.support.guard import alerts
from tests.test_secret_guard import account, alice_kms, app_reads, guard, planned_delete_time, secret

CMS_DOWN_ONCE = {"Api": "cms:PutCustomEvent", "Kind": "server_error", "Remaining": 1}
TIMER = {"triggerTime": "2026-12-02T03:30:00Z", "triggerName": "secret-safety-net", "payload": '{"task":"safety-net"}'}


@pytest.mark.parametrize("name", ["payments-db-password", "payments/db-password"])
def test_the_alert_a_safety_net_run_owes_is_raised_by_its_retry(start_cloud, name):
    cloud = start_cloud(account(secret(name), faults=[CMS_DOWN_ONCE]))
    cloud.bus.hold()  # the deletion's event is lost: the safety net finds it
    app_reads(cloud, name)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=name))
    keeper = guard(cloud)

    with pytest.raises(TransientError, match="KmsSecretDeletionBlocked not raised"):
        keeper.handle(TIMER, "inv-timer")  # restored; CloudMonitor refused the alert: owed, FC retries the run
    assert planned_delete_time(cloud, name) is None and alerts(cloud) == []

    keeper.handle(TIMER, "inv-timer-retry")

    assert [(a["Name"], a.get("secretName")) for a in alerts(cloud)] == [("KmsSecretDeletionBlocked", name)]
