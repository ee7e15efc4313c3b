"""The safety net across regions and within its time: a region it cannot list never stops the others, a listing
throttled past the retries is handed back to FC (and, on the last chance, alerted), every region's pending keys are
counted, and keys left when the time runs out are counted and retried. The guard runs in-process against the local
cloud, through the official SDKs."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient

from shared.clients import TransientError
from shared.config import GuardConfig
from shared.guard import KeyGuard
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, SHANGHAI_KEY, make_account, two_region_account
from tests.support.clients import alice_kms, sdk_config
from tests.support.guard import alerts, decision_records
from tests.support.resources import disk
from tests.support.scanners import clients

SHANGHAI = "cn-shanghai"
TIMER = {"triggerTime": "2026-12-02T03:00:00Z", "triggerName": "safety-net", "payload": '{"task":"safety-net"}'}
BOTH_REGIONS = f"{REGION},{SHANGHAI}"


def guard(cloud, regions: str = BOTH_REGIONS, **kwargs) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, "GUARD_REGIONS": regions}
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region), **kwargs)


def kms_in(cloud, region: str) -> KmsClient:
    config = sdk_config(cloud)
    config.endpoint, config.region_id = cloud.endpoint(region), region
    return KmsClient(config)


def state(cloud, region: str, key_id: str) -> str:
    return kms_in(cloud, region).describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state


def both_keys_pending(start_cloud, *faults):
    """KEY (cn-hangzhou) and SHANGHAI_KEY (cn-shanghai) pending deletion, each with an in-use disk; events lost."""
    account = two_region_account()
    account.ecs.disks.append(type(account.ecs.disks[0]).model_validate({k: v for k, v in disk("d-app1").items() if v is not None}))
    account.faults.extend(faults)
    cloud = start_cloud(account)
    cloud.bus.hold()
    for region, key_id in ((REGION, KEY), (SHANGHAI, SHANGHAI_KEY)):
        kms_in(cloud, region).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    return cloud


def summary_of(cloud) -> dict:
    [summary] = [r for r in decision_records(cloud) if r.get("status") == "safety_net"]
    return summary


def test_every_regions_pending_keys_are_decided_and_counted(start_cloud):
    cloud = both_keys_pending(start_cloud)

    guard(cloud).handle(TIMER, "inv-net")

    assert state(cloud, REGION, KEY) == "Enabled" and state(cloud, SHANGHAI, SHANGHAI_KEY) == "Enabled"
    summary = summary_of(cloud)
    assert summary["keysPendingDeletion"] == 2 and summary["regions"] == [REGION, SHANGHAI]
    assert summary["invocation"] == "inv-net" and "retryLater" not in summary


def test_a_region_it_cannot_list_does_not_stop_the_next_one(start_cloud):
    from localcloud.account import Fault

    cloud = both_keys_pending(start_cloud, Fault(Api="kms:ListKeys", Code="Forbidden.NoPermission", Status=403, RegionId=REGION))

    guard(cloud).handle(TIMER, "inv-net")

    assert state(cloud, SHANGHAI, SHANGHAI_KEY) == "Enabled"  # decided although cn-hangzhou could not be listed
    assert [a["Name"] for a in alerts(cloud) if a["region"] == REGION] == ["KmsKeyGuardFailed"]


def test_a_listing_throttled_past_the_retries_is_handed_back_to_fc_and_the_other_region_still_decided(start_cloud):
    from localcloud.account import Fault

    cloud = both_keys_pending(start_cloud, Fault(Api="kms:ListKeys", Code="Rejected.Throttling", Status=429, RegionId=REGION))

    with pytest.raises(TransientError) as raised:
        guard(cloud).handle(TIMER, "inv-net")

    assert str(raised.value).startswith(f"safety net: 1 part(s) to retry: {REGION}: listing keys (Rejected.Throttling")
    assert state(cloud, SHANGHAI, SHANGHAI_KEY) == "Enabled"
    summary = summary_of(cloud)
    assert len(summary["retryLater"]) == 1 and summary["retryLater"][0].startswith(f"{REGION}: listing keys (Rejected.Throttling")
    assert summary["keysPendingDeletion"] == 1
    assert [a["Name"] for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed"] == []  # FC's retry comes first


def test_on_the_last_chance_a_throttled_listing_is_alerted_instead(start_cloud):
    from localcloud.account import Fault

    cloud = both_keys_pending(start_cloud, Fault(Api="kms:ListKeys", Code="Rejected.Throttling", Status=429, RegionId=REGION))

    result = guard(cloud).handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    assert "retryLater" not in result["safetyNet"]
    failed = [a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed"]
    assert len(failed) == 1 and failed[0]["region"] == REGION and "Rejected.Throttling" in failed[0]["reasons"][0]
    # Its record says which run it was, the last chance FC gave, and why: found by whoever reads the day's records.
    [record] = [r for r in decision_records(cloud) if r.get("step") == "list keys pending deletion"]
    assert (record["eventId"], record["invocation"], record["failedInvocation"]) == (
        f"kms-steward.safety-net/2026-12-02/{REGION}", "inv-destination", "EventAgeExceeded")
    assert record["apiCalls"] == {"cms:PutCustomEvent": 1}  # what telling it cost, as every record counts its calls


def two_keys_pending_with_time_for_one(start_cloud, seconds_used: float = 1000.0) -> tuple:
    """KEY and OTHER_KEY pending deletion, each with an in-use disk, their events lost; a guard with time enough
    for the first key only: the clock jumps to `seconds_used` of its 400 once a cancel has been made."""
    cloud = start_cloud(make_account(disks=[disk("d-app1"), disk("d-other", key=OTHER_KEY)]))
    cloud.bus.hold()
    for key_id in (KEY, OTHER_KEY):
        alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    keeper = guard(cloud, regions=REGION, time_limit_s=400,
                   clock=lambda: seconds_used if cloud.calls.get("kms:CancelKeyDeletion") else 0.0)
    return cloud, keeper


def test_keys_left_when_time_runs_out_are_counted_and_handed_back(start_cloud):
    cloud, keeper = two_keys_pending_with_time_for_one(start_cloud)

    with pytest.raises(TransientError) as raised:
        keeper.handle(TIMER, "inv-net")

    assert f"1 key(s) in {REGION} not reached within the time limit" in str(raised.value)
    assert summary_of(cloud)["retryLater"] == [f"1 key(s) in {REGION} not reached within the time limit"]
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1


def test_a_timer_event_without_a_trigger_time_decides_under_todays_utc_date(start_cloud):
    cloud = both_keys_pending(start_cloud)
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")

    result = guard(cloud, regions=REGION).handle({**TIMER, "triggerTime": ""}, "inv-net")

    [decision] = result["results"]
    # One decision per key per day: the day is the event's, or, when the timer names none, today's (UTC).
    after = datetime.now(timezone.utc).strftime("%Y-%m-%d")  # read again: the test may straddle midnight
    assert decision["eventId"] in {f"kms-steward.safety-net/{day}/{REGION}/{KEY}" for day in (today, after)}


@pytest.mark.parametrize("seconds_used, left_as", [
    (250.0, "cancelled fail-safe"),  # 150 s left: time for a fail-safe cancel, not for a decision
    (1000.0, "named in the region's alert"),  # out of time: not even a cancel fits
])
def test_on_the_last_chance_keys_left_when_time_runs_out_are_recorded_under_the_invocation(start_cloud, seconds_used, left_as):
    cloud, keeper = two_keys_pending_with_time_for_one(start_cloud, seconds_used)

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    left = [r for r in decision_records(cloud) if r.get("step") == "safety net"]
    assert len(left) == 1 and left[0]["invocation"] == "inv-destination" and left[0]["failedInvocation"] == "EventAgeExceeded"
    if left_as == "cancelled fail-safe":
        assert left[0]["eventId"] == f"kms-steward.safety-net/2026-12-02/{REGION}/{OTHER_KEY}" and left[0]["actionResult"] == "fail-safe: deletion cancelled"
    else:
        assert left[0]["eventId"] == f"kms-steward.safety-net/2026-12-02/{REGION}" and OTHER_KEY in left[0]["reason"]


def test_keys_whose_decision_must_be_retried_are_each_named_in_what_fc_is_told(start_cloud):
    from localcloud.account import Fault

    extra = [f"1111111{n}-0000-4000-8000-00000000000{n}" for n in range(5)]
    account = make_account(kms={"keys": [{"KeyId": key_id, "RegionId": REGION, "KeyState": "PendingDeletion",
                                          "DeleteDate": f"{datetime.now(timezone.utc).year + 1}-01-01T00:00:00Z",
                                          "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID} for key_id in extra]})
    account.faults.append(Fault(Api="kms:DescribeKey", Code="Rejected.Throttling", Status=429))
    cloud = start_cloud(account)

    with pytest.raises(TransientError) as raised:
        guard(cloud, regions=REGION).handle(TIMER, "inv-net")

    message = str(raised.value)
    head = "safety net: 5 part(s) to retry: "
    assert message.startswith(head + f"{extra[0]} (retry later (read key): Rejected.Throttling")
    assert f"); {extra[1]} (retry later (read key): " in message
    assert len(message) == len(head) + 500  # each part is named; the whole is cut to what a person can read
    assert [part.split(" ")[0] for part in summary_of(cloud)["retryLater"]] == extra


def test_on_the_last_chance_keys_it_has_no_time_to_cancel_are_named_in_one_alert(start_cloud):
    # Three keys pending deletion, the last run of the safety net, time for one fail-safe cancel: the other two are
    # neither decided nor cancelled, and one alert names them, before FC's time limit could cut the run off unheard.
    third = "2222222f-0000-4000-8000-000000000001"
    account = make_account(disks=[disk("d-app1"), disk("d-other", key=OTHER_KEY)],
                           kms={"keys": [{"KeyId": third, "RegionId": REGION, "KeyState": "Enabled", "Origin": "Aliyun_KMS",
                                          "Creator": ACCOUNT_ID}]})
    cloud = start_cloud(account)
    cloud.bus.hold()
    for key_id in (KEY, OTHER_KEY, third):
        alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    # 150 s left at the start (less than a key's decision needs), 50 s once the first fail-safe cancel was made.
    keeper = guard(cloud, regions=REGION, time_limit_s=150,
                   clock=lambda: 100.0 if cloud.calls.get("kms:CancelKeyDeletion") else 0.0)

    keeper.handle_failed_invocation(TIMER, "EventAgeExceeded", "inv-destination")

    states = {key_id: state(cloud, REGION, key_id) for key_id in (KEY, OTHER_KEY, third)}
    assert sorted(states.values()) == ["Enabled", "PendingDeletion", "PendingDeletion"]
    left = sorted(k for k, v in states.items() if v == "PendingDeletion")
    [named] = [a for a in alerts(cloud) if a["Name"] == "KmsKeyGuardFailed" and a["keyId"] == ""]
    head, ids = named["actionResult"].split(": ", 1)
    assert head == "2 key(s) pending deletion neither decided nor cancelled" and sorted(ids.split(", ")) == left
    assert named["reasons"][0] == f"the safety net's last run ran out of time before these keys in {REGION}: {ids}"
