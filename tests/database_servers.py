"""Real database servers for the rotation tests: one PostgreSQL and one MariaDB per test session, started on
127.0.0.1 in a temporary directory (kms_steward/local_databases.py) on first use and stopped at the end.

Without the server binaries a test that needs one fails in CI (CI=true: .ci/run installs them, so their
absence is a broken setup, never a silent skip) and is skipped elsewhere, saying what to install.

Test modules import the fixtures (`from tests.database_servers import postgres_server`); the servers
themselves are process-wide, so however many modules import them, each engine starts once.
"""
from __future__ import annotations

import atexit
import os
import threading

import pytest

from kms_steward import local_databases
from kms_steward.local_databases import DatabaseServer

_servers: dict[str, DatabaseServer] = {}
_lock = threading.Lock()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def server_for(engine: str) -> DatabaseServer:
    with _lock:
        if engine not in _servers:
            missing = local_databases.missing_binaries(engine)
            if missing:
                if _in_ci():
                    pytest.fail(f"CI=true but {missing} (.ci/run installs them)", pytrace=False)
                pytest.skip(missing)
            _servers[engine] = local_databases.start(engine)
        return _servers[engine]


@atexit.register
def stop_all() -> None:
    with _lock:
        while _servers:
            _servers.popitem()[1].stop()


@pytest.fixture(scope="session")
def postgres_server() -> DatabaseServer:
    yield server_for("postgresql")
    stop_all()


@pytest.fixture(scope="session")
def mariadb_server() -> DatabaseServer:
    yield server_for("mysql")
    stop_all()
