"""pytest plugin loaded into mutmut's test runs only (pyproject.toml [tool.mutmut] pytest_add_cli_args).

Every key-guard run audits usage with one LookupEvents query per crypto API, paced to ActionTrail's
published 2 calls a second: about 6 s of sleep per end-to-end test, which mutmut multiplies by every
mutant the test covers (its per-mutant timeouts are measured in wall time as well). The local cloud
enforces no quota, and pacing is not part of the decision path being mutated, so the figure is lifted
here, as tests/test_usage_busy_key.py does with AUDIT_QPS. Every assertion stays what `make test` runs.
"""
from __future__ import annotations

import pytest

from shared import quotas


@pytest.fixture(autouse=True)
def _unpaced_lookup_events(monkeypatch):
    monkeypatch.setitem(quotas.PUBLISHED, "actiontrail:LookupEvents", quotas.Quota(1000, "lifted for mutation runs"))
