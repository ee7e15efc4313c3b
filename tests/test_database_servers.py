"""The database fixtures themselves: without the server binaries they fail in CI (a broken setup must not pass
as skipped tests) and skip elsewhere, saying what to install."""
from __future__ import annotations

import pytest

from tests import database_servers


def test_missing_binaries_fail_in_ci_and_skip_elsewhere(monkeypatch):
    monkeypatch.setattr(database_servers.local_databases, "missing_binaries",
                        lambda engine: "PostgreSQL server binaries (initdb, postgres) not found: apt-get install postgresql")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but PostgreSQL server binaries"):
        database_servers.server_for("not-started-engine")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        database_servers.server_for("not-started-engine")
