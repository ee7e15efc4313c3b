"""A safety-net cancel that may have run (shared/keys.py WriteUnconfirmed) keeps its claim; the run's retry, or its
last chance, meets the claim and tells once, also when the cancel lands in between and the key is no longer listed."""
from __future__ import annotations

import json

import pytest

from shared.clients import Clients, TransientError
from tests.support.accounts import KEY
from tests.support.clients import key_state
from tests.support.guard import alerts
from tests.test_guard_action_unconfirmed import REPEATS_THROTTLED, land, the_first_cancel_is_taken_but_shown_late
from tests.test_guard_failure_paths import TIMER, guard, pending_key_with_a_dependent


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch):
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: None)


@pytest.mark.parametrize("lands", [True, False], ids=["landed", "never landed"])
@pytest.mark.parametrize("then", ["same request id", "other ids then the last chance"])
def test_a_safety_net_cancel_that_may_have_run_is_told_once(start_cloud, monkeypatch, then, lands):
    the_first_cancel_is_taken_but_shown_late(monkeypatch)
    cloud = pending_key_with_a_dependent(start_cloud, REPEATS_THROTTLED)
    keeper = guard(cloud)

    with pytest.raises(TransientError, match="CancelKeyDeletion not confirmed"):
        keeper.handle(TIMER, "inv-timer")
    assert alerts(cloud) == []
    if lands:
        land(cloud)
    cloud.faults.clear()
    if then == "same request id":
        keeper.handle(TIMER, "inv-timer")
    else:
        with pytest.raises(TransientError, match="being handled by invocation inv-timer"):
            keeper.handle(TIMER, "inv-timer-2")
        keeper.handle_failed_invocation(TIMER, "MaxRetriesExceeded", "inv-destination")

    assert key_state(cloud) == "Enabled"
    told = [(a["Name"], a.get("keyId")) for a in alerts(cloud)]
    assert len(told) == 1 and told[0][1] == KEY, told
    if lands:  # the cancel the first attempt may have made is what the person reads about
        assert "inv-timer" in json.dumps(alerts(cloud)[0])
