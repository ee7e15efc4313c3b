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
from pathlib import Path

import pytest

from shared import quotas
from shared.clients import Clients

HANG_S = 180  # the slowest test of the selection takes about 30 s on a busy 2-core machine

# The fast tests of the decision path: mutmut runs, for each mutant, those of them that reach its function.
# Kept here, not in pyproject.toml, so that adding a file keeps mutmut's cached verdicts (pyproject.toml says why).
DECISION_PATH_TESTS = frozenset(f"{name}.py" for name in """
    test_decision_rules test_fail_safe test_key_guard test_resilience test_usage_evidence test_fanout test_bad_input
    test_paging test_guard_promise test_guard_mutations test_guard_time_limit test_kms_instance_keys
    test_guard_what_a_person_reads test_keys_transitions test_audit_runner_reasons test_paging_reasons
    test_usage_trail_logstore test_usage_caller_details test_usage_window_edges test_usage_instance_log_fields
    test_usage_instance_log_reading test_guard_failure_paths test_safety_net_regions test_usage_caller_aggregation
    test_safety_net_listing test_cancel_deletion_key_gone test_key_aliases_listing test_usage_lookup_events_cut
    test_usage_trail_beside_lookup_events test_fanout_pool test_transition_confirmed_by_the_key test_guard_action_unconfirmed
    test_secret_guard test_secret_readers_unnamed test_secret_restore_unconfirmed test_safety_net_action_unconfirmed
    test_safety_net_damaged_claims test_safety_net_reserve_across_regions test_secret_guard_names_itself
""".split())


def pytest_ignore_collect(collection_path, config):
    """Outside DECISION_PATH_TESTS, a test file is not collected, unless it was named on the command line.
    Compared by file name: mutmut runs the tests from its copy in mutants/, whose root may be either."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    named = {Path(arg.split("::")[0]).name for arg in config.args}
    if collection_path.name in DECISION_PATH_TESTS or collection_path.name in named:
        return None
    return True


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
