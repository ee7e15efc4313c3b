"""The safety net takes a claim's subject as what follows its folder. A claim listed in today's folder that notes an
action started, or owes an alert, but whose `event` names no subject of that folder (empty, the folder itself,
another day's folder, not text: damaged, or copied by hand) is named among the claims not read, for the run to
alert: never dropped silently."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from shared.events import clip
from shared.guard import SAFETY_NET_SOURCE
from shared.idempotency import PREFIX, EventClaims
from tests.support.accounts import KEY, REGION, make_account
from tests.support.guard import alerts
from tests.support.resources import disk
from tests.support.scanners import clients
from tests.test_guard_failure_paths import TIMER, guard

FOLDER = f"{SAFETY_NET_SOURCE}/2026-12-02/{REGION}"


def put_claim(cloud, keeper, name: str, body: dict) -> None:
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims._put(f"{PREFIX}{FOLDER}/{name}", body, forbid_overwrite=False)


@pytest.mark.parametrize("event", ["", FOLDER, FOLDER + "/", f"{SAFETY_NET_SOURCE}/2026-12-01/{REGION}/{KEY}", 123, "x" * 500],
                         ids=["empty", "the folder", "the folder and a slash", "another day", "not text", "long (clipped)"])
def test_a_claim_left_acting_whose_event_names_no_subject_is_not_dropped_silently(start_cloud, event):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))  # the key is Enabled: nothing pending today
    keeper = guard(cloud)
    put_claim(cloud, keeper, "damaged.json", {"event": event, "status": "in_progress", "invocation": "inv-timer",
                                             "started": datetime.now(timezone.utc).isoformat(), "acting": "cancel_deletion"})

    result = keeper.handle(TIMER, "inv-timer-2")

    said = f"a claim in {FOLDER} names no key of it (event {clip(event, 120)})"
    assert result["safetyNet"].get("claimsNotRead") == [said], json.dumps(result)[:600]
    [told] = alerts(cloud)
    assert told["Name"] == "KmsKeyGuardFailed" and said in told["reasons"][0]


def test_a_well_formed_claim_left_acting_is_still_told(start_cloud):
    # control: the same claim, its event the folder and the key, is met and told
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    EventClaims(clients(cloud), keeper.config.state_bucket, REGION)  # bucket exists
    claims = EventClaims(clients(cloud), keeper.config.state_bucket, REGION)
    claims.claim(f"{FOLDER}/{KEY}", "inv-timer")
    claims.note_acting(f"{FOLDER}/{KEY}", "cancel_deletion")

    result = keeper.handle(TIMER, "inv-timer")

    [told] = alerts(cloud)
    assert told["Name"] == "KmsKeyGuardFailed" and told["keyId"] == KEY
    assert "an earlier attempt at this event (invocation inv-timer, started" in json.dumps(told)
    assert result["safetyNet"].get("claimsNotRead") is None


@pytest.mark.parametrize("event", ["", f"{SAFETY_NET_SOURCE}/2026-12-01/{REGION}/{KEY}"], ids=["empty", "another day"])
def test_an_owed_alert_whose_claim_event_names_no_subject_is_not_lost(start_cloud, event):
    # The same, for a claim settled "done" that still owes its alert (a valid one): it is never raised, nor named.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    keeper = guard(cloud)
    put_claim(cloud, keeper, "owed.json", {"event": event, "status": "done", "invocation": "inv-timer", "decision": "block",
                                          "action": "cancel_deletion", "alertOwed": {
                                              "name": "KmsKeyDeletionBlocked", "severity": "CRITICAL", "content": {"keyId": KEY}}})

    result = keeper.handle(TIMER, "inv-timer-2")

    assert alerts(cloud) or result["safetyNet"].get("claimsNotRead"), json.dumps(result)[:600]
