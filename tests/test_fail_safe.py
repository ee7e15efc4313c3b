"""Fail safe across the whole scanner table: for every scanner and every API it calls, a denied call makes
that scanner incomplete, and key-guard then cancels the deletion and raises an alert naming the part.

The APIs are not listed by hand: each scanner is first run alone against an account where it has a
dependent of every kind it reads, and whatever it calls then is what gets denied. A scanner added to
the table is covered without touching this file."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from localcloud.cloud import LocalCloud
from shared.audit.runner import run_audit
from shared.audit.scanners import SCANNERS
from tests.conftest import KEY, REGION, S_YAML, alerts, bucket, disk, key_state, make_account, snapshot
from tests.scanner_kit import clients, target
from tests.test_key_guard import only_record, schedule_deletion
from tests.test_localcloud_actiontrail import crypto_event
from tests.test_localcloud_cs import cluster as ack_cluster
from tests.test_localcloud_ecs import image
from tests.test_localcloud_mongodb import instance as mongodb_instance
from tests.test_localcloud_nas import file_system
from tests.test_localcloud_polardb import cluster as polardb_cluster
from tests.test_localcloud_rds import rds_instance
from tests.test_localcloud_redis import instance as redis_instance
from tests.test_localcloud_secrets import secret
from tests.test_scanners_ecs_oss import replicating, rule
from tests.test_scanners_secrets_sls import logstore

# The guard's own reads of the key: denying those is the "guard cannot read the key" path
# (test_resilience); here only the audit's parts are denied.
GUARD_APIS = {"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliasesByKeyId"}
CALLS_NOTHING = {"lb_certificates"}  # a finding from the API facts: no call can show such a dependent


def rich_account(faults=()):
    """A dependent on the audited key for every scanner (usage: a data key generated two days ago)."""
    recent = datetime.now(timezone.utc) - timedelta(days=2)
    return make_account(
        disks=[disk("d-app1")], snapshots=[{**snapshot("s-golden"), "Usage": "image"}],
        buckets=[bucket("acme-invoices"), replicating("acme-source", rule("to-dr", "acme-dr")), bucket("acme-dr", key=None)],
        faults=faults,
        ecs={"images": [image("m-golden", "s-golden")],
             "encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": True}]},
        rds={"instances": [rds_instance("rm-payments", tde=KEY)]},
        polardb={"clusters": [polardb_cluster("pc-ledger", tde=KEY)]},
        kms={"secrets": [secret("payments/db-password")]},
        nas={"file_systems": [file_system("31a8e4app")]},
        redis={"instances": [redis_instance("r-sessions")]},
        mongodb={"instances": [mongodb_instance("dds-orders", tde=KEY)]},
        cs={"clusters": [ack_cluster("c-pro")]},
        sls={"logstores": [logstore("app-logs", "audit")]},
        actiontrail={"events": [crypto_event("GenerateDataKey", when=recent)]},
    )


def _exercise_each_scanner() -> dict[str, tuple[object, list[str]]]:
    """scanner name -> (its result alone against the rich account, the APIs it called but the guard's)."""
    cloud = LocalCloud(rich_account(), project=S_YAML, env={})
    cloud.start()
    try:
        out = {}
        for scanner in SCANNERS:
            before = cloud.calls.snapshot()
            [result] = run_audit(target(), clients(cloud), scanners=(scanner,)).results
            called = sorted(a for a, n in cloud.calls.snapshot().items() if n > before.get(a, 0) and a not in GUARD_APIS)
            out[scanner.name] = (result, called)
        return out
    finally:
        cloud.stop()


EXERCISED = _exercise_each_scanner()


@pytest.mark.parametrize("scanner", sorted(EXERCISED))
def test_every_scanner_finds_its_dependent_in_the_rich_account(scanner):
    result, called = EXERCISED[scanner]
    assert result.complete, result.reason
    if scanner in CALLS_NOTHING:
        assert called == [] and result.dependents == []
    else:  # it found something, so it made every call it makes for a dependent
        assert called and result.dependents, (called, result.dependents)


@pytest.mark.parametrize("scanner, api", [(name, api) for name, (_, called) in sorted(EXERCISED.items()) for api in called])
def test_a_denied_call_of_any_scanner_cancels_the_deletion_and_the_alert_names_it(start_cloud, scanner, api):
    cloud = start_cloud(rich_account(faults=[{"Api": api, "Code": "Forbidden.RAM"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    parts = {p["part"]: p["reason"] for p in alert["auditIncomplete"]}
    # Exactly the scanners that need this API are incomplete (a listing shared by two fails both); the rest stand.
    assert set(parts) == {name for name, (_, called) in EXERCISED.items() if api in called}
    assert "access denied" in parts[scanner] and "Forbidden.RAM" in parts[scanner]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["decision"] == "block"
    assert {p["part"] for p in record["auditIncomplete"]} == set(parts)
