"""pytest plugin loaded into mutmut's test runs only (pyproject.toml [tool.mutmut] pytest_add_cli_args).

Every key-guard run audits usage with one LookupEvents query per crypto API, paced to ActionTrail's
published 2 calls a second: about 6 s of sleep per end-to-end test, which mutmut multiplies by every
mutant the test covers (its per-mutant timeouts are measured in wall time as well). The local cloud
enforces no quota, and pacing is not part of the decision path being mutated, so the figure is lifted
here, as tests/test_usage_busy_key.py does with AUDIT_QPS. Likewise the clients' waits between retries
(exponential backoff, up to seconds per throttled call): which calls are retried, and how often, is
unchanged; only the wall time spent waiting goes. Every assertion stays what `make test` runs.
A mutant's tests run fastest first: mutmut stops at the first failure (-x), so a mutant one quick test kills
does not wait for the slow retry tests before it.
A mutant that deadlocks (a fan-out waiting for a helper that never finishes) uses no CPU, so mutmut's CPU
limit never ends it, and its wall limit is 15 times the estimated duration of every test that reaches the
function (hours, for the functions every audit runs). Past HANG_S on one test, the run ends itself with
SIGXCPU, which mutmut counts as a timeout, the verdict it gives a mutant that runs too long.
"""
from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from shared import quotas
from shared.clients import Clients

HANG_S = 180  # the slowest test of the selection takes about 30 s on a busy 2-core machine


def _under_mutant() -> bool:
    return "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", "")


@pytest.fixture(autouse=True)
def _unpaced_lookup_events(monkeypatch):
    monkeypatch.setitem(quotas.PUBLISHED, "actiontrail:LookupEvents", quotas.Quota(1000, "lifted for mutation runs"))


@pytest.fixture(autouse=True)
def _no_wait_between_retries(monkeypatch):
    waits = Clients._sleep
    monkeypatch.setattr(Clients, "_sleep", lambda self, seconds: waits(self, 0))


def pytest_collection_modifyitems(config, items):
    """Fastest first, by the durations mutmut measured in its clean run (mutants/mutmut-stats.json)."""
    if not _under_mutant() or not os.path.exists("mutmut-stats.json"):
        return
    try:
        with open("mutmut-stats.json") as stats:
            duration = json.load(stats).get("duration_by_test", {})
    except (OSError, ValueError):
        return
    items.sort(key=lambda item: duration.get(item.nodeid, float("inf")))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _under_mutant():
        yield
        return
    timer = threading.Timer(HANG_S, os.kill, (os.getpid(), signal.SIGXCPU))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
