"""Shared fixtures: a local cloud wired from the project's s.yaml, seeded from an account built per test.
The helpers the tests share live in tests/support (accounts, resources, clients, guard, scanners)."""
from __future__ import annotations

import pytest

from localcloud.account import Account
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
# Still importable from here for test files written before tests/support existed; new tests import from
# tests.support.
from tests.support.accounts import (ACCOUNT_ID, ALICE_AK, ALICE_SECRET, BASE_ACCOUNT, KEY, OTHER_KEY, PROTOCOL_NOW,  # noqa: F401
                                    REGION, ROOT, S_YAML, STS_AK, STS_SECRET, STS_TOKEN, make_account, protocol_account)
from tests.support.clients import alice_kms, error_of, key_state, refused, sdk_config  # noqa: F401
from tests.support.guard import alerts, decision_records  # noqa: F401
from tests.support.resources import bucket, disk, snapshot  # noqa: F401


@pytest.fixture
def start_cloud():
    """start_cloud(account, **options) -> a running LocalCloud wired from s.yaml; stopped after the test."""
    started = []

    def start(account: Account, *, env: dict | None = None, duplicate_delivery: bool = False, now: str | None = None):
        cloud = LocalCloud(account, project=S_YAML, env=env or {}, duplicate_delivery=duplicate_delivery, clock=Clock(now))
        cloud.start()
        started.append(cloud)
        return cloud

    yield start
    for cloud in started:
        cloud.stop()
