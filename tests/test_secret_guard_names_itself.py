"""secret-guard's records and alerts speak of secrets, never of keys: its records carry its own SLS topic (a query
or dashboard by topic over a shared logstore keeps the two guards apart), and the safety net's words for what it
could not reach in time name secrets."""
from __future__ import annotations

import re

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.clients import TransientError
from shared.config import GuardConfig
from shared.secret_guard import SecretGuard
from tests.support.accounts import ACCOUNT_ID, REGION
from tests.support.guard import alerts
from tests.support.scanners import clients
from tests.test_secret_guard import account, alice_deletes, alice_kms

TIMER = {"triggerTime": "2026-12-02T03:30:00Z", "triggerName": "secret-safety-net", "payload": '{"task":"safety-net"}'}


def test_secret_guards_records_carry_its_own_topic(start_cloud):
    cloud = start_cloud(account())

    alice_deletes(cloud)

    [log] = [log for log in cloud.account.sls.logs if log.logstoreName == "secret-guard-decisions"]
    assert log.topic == "secret-guard"  # not key-guard's, nor none


def short_of_time(cloud, seconds: float) -> SecretGuard:
    env = {**cloud.project.function("secret-guard").environment, "FC_REGION": REGION}
    return SecretGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region),
                       time_limit_s=seconds)


def test_the_safety_net_out_of_time_speaks_of_secrets(start_cloud):
    cloud = start_cloud(account())
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name="payments/db-password"))

    with pytest.raises(TransientError) as raised:
        short_of_time(cloud, 100).handle(TIMER, "inv-timer")  # under 180 s left: the retry carries on
    assert not re.search(r"\bkey\(s\)", str(raised.value)), str(raised.value)


def test_the_safety_nets_last_chance_out_of_time_speaks_of_secrets(start_cloud):
    cloud = start_cloud(account())
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name="payments/db-password"))

    short_of_time(cloud, 60).handle_failed_invocation(TIMER, "MaxRetriesExceeded", "inv-last")  # under 90 s: named only
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretGuardFailed"
    assert not re.search(r"\bkey\(s\)", alert["actionResult"]), alert["actionResult"]
