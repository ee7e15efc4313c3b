"""On the safety net's last chance, the pauses to send a refused alert again leave the time of the fail-safe cancels
of every key still to come in the run: in the same region, and in the regions listed after it (protection before
telling). A control shows the next region's keys are all cancelled when no alert is sent again."""
from __future__ import annotations

import copy

import pytest

from localcloud.account import Account
from shared.clients import Clients
from shared.config import GuardConfig
from shared.guard import KeyGuard
from tests.support.accounts import ACCOUNT_ID, BASE_ACCOUNT, KEY, REGION
from tests.support.clients import key_state
from tests.support.resources import disk
from tests.support.scanners import clients

SHANGHAI = "cn-shanghai"
KEY_A, KEY_B = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
TIMER = {"triggerTime": "2026-12-02T03:00:00Z", "triggerName": "safety-net", "payload": '{"task":"safety-net"}'}


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)


def account() -> Account:
    data = copy.deepcopy(BASE_ACCOUNT)
    data["regions"] = [{"RegionId": REGION}, {"RegionId": SHANGHAI}]
    data["kms"]["keys"][0].update(KeyState="PendingDeletion", DeleteDate="2099-01-01T00:00:00Z")
    data["kms"]["keys"] += [{"KeyId": k, "RegionId": SHANGHAI, "KeyState": "PendingDeletion", "DeleteDate": "2099-01-01T00:00:00Z",
                             "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID} for k in (KEY_A, KEY_B)]
    data["ecs"]["disks"] = [disk("d-app1"), {**disk("d-sh-a", key=KEY_A), "RegionId": SHANGHAI},
                            {**disk("d-sh-b", key=KEY_B), "RegionId": SHANGHAI}]
    # CloudMonitor refuses the first two alerts (the cn-hangzhou key's, and its first resend).
    data["faults"] = [{"Api": "cms:PutCustomEvent", "Kind": "server_error", "Remaining": 2}]
    return Account.from_data(data)


def shanghai_state(cloud, key_id):
    return next(k.KeyState for k in cloud.account.kms.keys if k.KeyId == key_id)


def last_chance_of_the_two_region_run(cloud) -> None:
    """The safety net's last chance over both regions, with 220 s left: each alert sent takes 25 s, each cancel 20 s
    (as in test_guard_failure_paths)."""
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_REGIONS": f"{REGION},{SHANGHAI}"}
    clock = lambda: 25.0 * cloud.calls.get("cms:PutCustomEvent") + 20.0 * cloud.calls.get("kms:CancelKeyDeletion")  # noqa: E731
    keeper = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda r: clients(cloud, r),
                      time_limit_s=220, clock=clock)
    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-net-last")


def test_a_refused_alert_told_again_never_starves_the_next_regions_fail_safe_cancels(start_cloud):
    cloud = start_cloud(account())

    last_chance_of_the_two_region_run(cloud)

    assert key_state(cloud) == "Enabled"
    assert (shanghai_state(cloud, KEY_A), shanghai_state(cloud, KEY_B)) == ("Enabled", "Enabled")


def test_control_without_the_resend_both_keys_of_the_next_region_are_cancelled(start_cloud, monkeypatch):
    # The same run with no in-place resend: the time is enough for both of cn-shanghai's fail-safe cancels.
    from shared import guard as shared_guard
    monkeypatch.setattr(shared_guard, "IN_PLACE_ALERT_PAUSES_S", ())
    cloud = start_cloud(account())

    last_chance_of_the_two_region_run(cloud)

    assert (shanghai_state(cloud, KEY_A), shanghai_state(cloud, KEY_B)) == ("Enabled", "Enabled")
