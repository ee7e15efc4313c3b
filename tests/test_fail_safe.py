"""Fail safe across the whole scanner table: for every scanner and every API it calls, a denied call makes
that scanner incomplete, and key-guard then cancels the deletion and raises an alert naming the part.

The APIs are not listed by hand: each scanner is first run alone against an account where it has a
dependent of every kind it reads, and whatever it calls then is what gets denied. That account is
composed of one piece per scanner (PIECES): a scanner added to the table needs its piece, and its
APIs are then covered without touching anything else.

Each denial is tested on an account holding only the pieces of the scanners that call the denied API,
so every other scanner finds nothing and the denied call is all that stands between the key and "no
dependents": the deletion is cancelled by the fail-safe rule alone (AuditReport.may_have_dependents),
never by some other scanner's finding."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from localcloud.cloud import LocalCloud
from shared.audit.model import AuditReport, Dependent, ScanResult
from shared.audit.runner import run_audit
from shared.audit.scanners import SCANNERS
from tests.support.accounts import KEY, REGION, S_YAML, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import (ack_cluster, bucket, crypto_event, disk, ecs_image as image, file_system, logstore,
                                     mongodb_instance, polardb_cluster, rds_instance, redis_instance,
                                     replicating_bucket as replicating, replication_rule as rule, secret, snapshot)
from tests.support.scanners import clients, target

# The guard's own reads of the key: denying those is the "guard cannot read the key" path
# (test_resilience); here only the audit's parts are denied.
GUARD_APIS = {"kms:DescribeKey", "kms:ListResourceTags", "kms:ListAliasesByKeyId"}
CALLS_NOTHING = {"lb_certificates"}  # a finding from the API facts: no call can show such a dependent
# key-guard paces LookupEvents to its published 2 calls a second, one query per crypto API: about 6 s
# of every run when it is not denied. Pacing is not what these tests are about, so it is lifted
# (the local cloud enforces no quota), which keeps the file at about a second per case.
FAST = {"AUDIT_QPS": "actiontrail:LookupEvents=1000"}
# usage: a data key generated two days ago (computed once at import: it stays inside the 30-day usage
# window however long a run lasts, mutmut's included)
RECENT = datetime.now(timezone.utc) - timedelta(days=2)

# scanner name -> make_account arguments giving that scanner a dependent on the audited key, of every
# kind it reads, and (but for OVERLAPS) giving no other scanner one.
PIECES: dict[str, dict] = {
    "ecs_disks": {"disks": [disk("d-app1")]},
    "ecs_snapshots": {"snapshots": [snapshot("s-app1")]},
    "ecs_images": {"snapshots": [{**snapshot("s-golden"), "Usage": "image"}], "ecs": {"images": [image("m-golden", "s-golden")]}},
    "ecs_default_key": {"ecs": {"encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": True}]}},
    "oss_buckets": {"buckets": [bucket("acme-invoices")]},
    # the source bucket and the destination are not encrypted with the key: only the replication rule names it
    "oss_replication": {"buckets": [replicating("acme-source", rule("to-dr", "acme-dr")), bucket("acme-dr", key=None)]},
    "rds_instances": {"rds": {"instances": [rds_instance("rm-payments", tde=KEY)]}},
    "polardb_clusters": {"polardb": {"clusters": [polardb_cluster("pc-ledger", tde=KEY)]}},
    "kms_secrets": {"kms": {"secrets": [secret("payments/db-password")]}},
    "nas_file_systems": {"nas": {"file_systems": [file_system("31a8e4app")]}},
    "redis_instances": {"redis": {"instances": [redis_instance("r-sessions")]}},
    "mongodb_instances": {"mongodb": {"instances": [mongodb_instance("dds-orders", tde=KEY)]}},
    "ack_clusters": {"cs": {"clusters": [ack_cluster("c-pro")]}},
    "sls_logstores": {"sls": {"logstores": [logstore("app-logs", "audit")]}},
    "lb_certificates": {},  # CALLS_NOTHING: there is nothing it could find
    "kms_usage": {"actiontrail": {"events": [crypto_event("GenerateDataKey", when=RECENT)]}},
}
# Pieces that cannot be isolated, by nature: scanner -> the other scanners that find a dependent in its
# piece. An ECS image names no key; it is reached through the encrypted snapshot it was built from, and
# that snapshot is itself a dependent ecs_snapshots finds. So denying DescribeImages (ecs_images only)
# leaves s-golden found and the deletion is cancelled for it too; denying DescribeSnapshots, which both
# read, isolates them. No other piece is found by another scanner (the tests below check it).
OVERLAPS: dict[str, set[str]] = {"ecs_images": {"ecs_snapshots"}}


def account_of(*scanners: str, faults=()):
    """The base account plus the pieces of `scanners`, merged (lists of one collection are joined)."""
    merged: dict = {}
    for name in scanners:
        for arg, value in PIECES[name].items():
            if isinstance(value, list):
                merged[arg] = merged.get(arg, []) + value
            else:  # a product's collections
                section = merged.setdefault(arg, {})
                for collection, items in value.items():
                    section[collection] = section.get(collection, []) + items
    return make_account(faults=faults, **merged)


def rich_account(faults=()):
    """A dependent on the audited key for every scanner: all the pieces."""
    return account_of(*PIECES, faults=faults)


def denied(api: str) -> list[dict]:
    return [{"Api": api, "Code": "Forbidden.RAM"}]


SCANNER_NAMES = sorted(scanner.name for scanner in SCANNERS)


@pytest.fixture(scope="module")
def exercised() -> dict[str, tuple[object, list[str]]]:
    """scanner name -> (its result alone against the rich account, the APIs it called but the guard's): every
    scanner run once, in turn, on one local cloud for the whole module."""
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


def callers_of(exercised, api: str) -> set[str]:
    """The scanners that call `api` (a listing shared by two: both)."""
    return {name for name, (_, called) in exercised.items() if api in called}


# ------------------------------------------------------------------ the rule itself, without a cloud


def _result(scanner: str, *, complete: bool = True, dependents: int = 0) -> ScanResult:
    deps = [Dependent(service="ECS", resource_type="ACS::ECS::Disk", resource_id=f"d-{i}", region=REGION, state="live",
                      usage="disk encryption") for i in range(dependents)]
    return ScanResult(scanner=scanner, service="ECS", complete=complete, dependents=deps,
                      reason=None if complete else "access denied (Forbidden.RAM)")


def test_a_report_with_one_incomplete_scanner_and_no_dependents_may_have_dependents():
    report = AuditReport(key_id=KEY, region=REGION, results=[_result("ecs_disks", complete=False), _result("oss_buckets")])
    assert report.dependents == [] and not report.complete
    assert report.may_have_dependents is True


def test_only_a_complete_report_without_dependents_has_none():
    assert AuditReport(key_id=KEY, region=REGION, results=[_result("ecs_disks"), _result("oss_buckets")]).may_have_dependents is False
    assert AuditReport(key_id=KEY, region=REGION, results=[_result("ecs_disks", dependents=1)]).may_have_dependents is True


# ------------------------------------------------------------------ the accounts the tests stand on


def test_every_scanner_has_a_piece():
    assert set(PIECES) == {s.name for s in SCANNERS}


@pytest.mark.parametrize("scanner", SCANNER_NAMES)
def test_every_scanner_finds_its_dependent_in_the_rich_account(exercised, scanner):
    result, called = exercised[scanner]
    assert result.complete, result.reason
    if scanner in CALLS_NOTHING:
        assert called == [] and result.dependents == []
    else:  # it found something, so it made every call it makes for a dependent
        assert called and result.dependents, (called, result.dependents)


# ------------------------------------------------------------------ end to end, through key-guard


@pytest.mark.parametrize("scanner", SCANNER_NAMES)
def test_a_denied_call_alone_cancels_the_deletion_and_the_alert_names_exactly_the_incomplete_parts(start_cloud, exercised, scanner):
    # Each API the scanner calls, denied in turn, on a cloud of its own (the APIs are known only once the
    # scanners have run, so they cannot name the test cases).
    apis = exercised[scanner][1]
    assert apis or scanner in CALLS_NOTHING, f"{scanner} called nothing against the rich account"
    for api in apis:
        try:
            _deny_alone(start_cloud, exercised, scanner, api)
        except AssertionError as failure:
            raise AssertionError(f"denying {api}: {failure}") from failure


def _deny_alone(start_cloud, exercised, scanner: str, api: str) -> None:
    callers = callers_of(exercised, api)
    cloud = start_cloud(account_of(*sorted(callers), faults=denied(api)), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["decision"] == "block"
    parts = {p["part"]: p["reason"] for p in alert["auditIncomplete"]}
    # Exactly the scanners that need this API are incomplete (a listing shared by two fails both); the rest stand.
    assert set(parts) == callers
    assert "access denied" in parts[scanner] and "Forbidden.RAM" in parts[scanner]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["decision"] == "block" and record["action"] == "cancel_deletion"
    assert {p["part"] for p in record["auditIncomplete"]} == callers
    found = {name for name, seen in record["scanners"].items() if seen["found"]}
    overlapping = set().union(*(OVERLAPS.get(name, set()) for name in callers)) - callers
    if not overlapping:
        # Nothing was found anywhere: the deletion was cancelled for the incomplete audit alone.
        assert found == set() and record["dependentCount"] == 0 and alert["dependents"] == {}
    else:
        # Not isolable (see OVERLAPS): only the overlapping scanners found something, and the alert says so.
        assert found == overlapping and record["dependentCount"] > 0


def test_an_incomplete_part_is_named_beside_the_dependents_every_other_scanner_found(start_cloud):
    cloud = start_cloud(rich_account(faults=denied("ecs:DescribeDisks")), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [p["part"] for p in alert["auditIncomplete"]] == ["ecs_disks"]
    assert "d-app1" not in alert["dependents"]["ECS"]["ids"] and "s-app1" in alert["dependents"]["ECS"]["ids"]
    record = only_record(cloud)
    found = {name for name, seen in record["scanners"].items() if seen["found"]}
    assert found == set(PIECES) - CALLS_NOTHING - {"ecs_disks"}
