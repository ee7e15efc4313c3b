"""`kms-steward bench faults`: key-guard's promise under every fault of every API it calls.

For each API on key-guard's path (found by running key-guard once on an account where every scanner
has a dependent, and reading the local cloud's call counts) and each fault kind (throttled past the
retry budget, 5xx, timeout, access denied, a malformed 200, a page size capped below the one asked), a
fresh local cloud is seeded so that the key's ONLY dependents are the ones reached through that API's
scanner (for the guard's own calls and the writes: one dependent disk), alice schedules the deletion
with the official KMS SDK, and EventBridge, FC's retries and the failure destination run to the end.
The cell is then:

- `cancelled`: the key is Enabled;
- `cancelled-failsafe`: Enabled, and KmsKeyGuardFailed was raised;
- `guard-failed`: still PendingDeletion, and KmsKeyGuardFailed names the key;
- `allowed`: still PendingDeletion and no such alert: the promise is broken (every cell's key has a dependent).

An alert is misnamed when its name does not state what happened: KmsKeyDeletionBlocked while the key is
not Enabled, KmsKeyDeletionAtRisk / KmsKeyDeletionIntendedWithDependents (enforce mode here), or any
alert other than Blocked and GuardFailed.

The fault answers are each product's own (localcloud/fault_kinds.py). Clients run with a read timeout of
READ_TIMEOUT_MS (KMS_STEWARD_READ_TIMEOUT_MS) and a timeout fault answers TIMEOUT_LATENCY_MS late.
Cells run in worker processes (FC invocations are serialised per process); within a worker the SLS
SDK's own one-second pause between its ten internal retries is shortened to SLS_SDK_PAUSE_S, which
changes how long a cell takes, not what it does.
"""
from __future__ import annotations

import contextlib
import copy
import fnmatch
import io
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from kms_steward.bench_region import ACCOUNT_ID, KEY, REGION, BenchRegion, Sizes

ROOT = Path(__file__).resolve().parents[1]
S_YAML = ROOT / "s.yaml"
KINDS = ("throttled", "server_error", "timeout", "denied", "malformed", "page_cap")
READ_TIMEOUT_MS = 800
TIMEOUT_LATENCY_MS = 1500
SLS_SDK_PAUSE_S = 0.05
PAGE_CAP = 1
DRAIN_TIMEOUT_S = 1200
ALICE_AK, ALICE_SECRET = "LTAI5tBenchAlice00000001", "bench-alice-local-only"
STATE_BUCKET = "kms-steward-state"
RECORDS = ("kms-steward-logs", "key-guard-decisions")
GUARD = "guard"  # the scope of the guard's own calls and of the writes: one dependent disk

# Which scanner each API on key-guard's path serves; the cell keeps only that scanner's resources.
SCOPES: dict[str, str] = {
    "ecs:DescribeDisks": "ecs_disks",
    "ecs:DescribeSnapshots": "ecs_snapshots",
    "ecs:DescribeImages": "ecs_images",
    "ecs:DescribeDiskDefaultKMSKeyId": "ecs_default_key",
    "ecs:DescribeDiskEncryptionByDefaultStatus": "ecs_default_key",
    "oss:ListBuckets": "oss_buckets",
    "oss:GetBucketInfo": "oss_buckets",
    "oss:GetBucketReplication": "oss_replication",
    "rds:DescribeKmsAssociateResources": "rds_instances",
    "rds:DescribeDBInstanceEncryptionKey": "rds_instances",
    "polardb:DescribeDBClusters": "polardb_clusters",
    "polardb:DescribeDBClusterEncryptionKey": "polardb_clusters",
    "kms:ListSecrets": "kms_secrets",
    "kms:DescribeSecret": "kms_secrets",
    "nas:DescribeFileSystems": "nas_file_systems",
    "redis:DescribeInstances": "redis_instances",
    "redis:DescribeInstanceTDEStatus": "redis_instances",
    "redis:DescribeEncryptionKey": "redis_instances",
    "mongodb:DescribeDBInstances": "mongodb_instances",
    "mongodb:DescribeDBInstanceTDEInfo": "mongodb_instances",
    "mongodb:DescribeDBInstanceAttribute": "mongodb_instances",
    "cs:DescribeClustersV1": "ack_clusters",
    "cs:DescribeClusterDetail": "ack_clusters",
    "sls:ListProject": "sls_logstores",
    "sls:ListLogStores": "sls_logstores",
    "sls:GetLogStore": "sls_logstores",
    "actiontrail:LookupEvents": "kms_usage",
    # the guard's own reads, its claim store, its action, its alert and its record
    "kms:DescribeKey": GUARD, "kms:ListResourceTags": GUARD, "kms:ListAliasesByKeyId": GUARD,
    "kms:CancelKeyDeletion": GUARD, "oss:PutObject": GUARD, "oss:GetObject": GUARD, "oss:DeleteObject": GUARD,
    "cms:PutCustomEvent": GUARD, "sls:PutLogs": GUARD,
}
# The listings paged by a page size the caller asks (the others get "n/a" for page_cap), and those the
# local cloud cannot cap: the cell would prove nothing, so it says why instead of passing.
PAGED = {"ecs:DescribeDisks", "ecs:DescribeSnapshots", "ecs:DescribeImages", "kms:ListSecrets", "kms:ListAliasesByKeyId",
         "polardb:DescribeDBClusters", "nas:DescribeFileSystems", "redis:DescribeInstances", "mongodb:DescribeDBInstances",
         "cs:DescribeClustersV1", "actiontrail:LookupEvents", "oss:ListBuckets", "sls:ListProject", "sls:ListLogStores"}
CAP_UNSUPPORTED = {
    "cs:DescribeClustersV1": "the local ROA gateway does not hand faults to the handler: no page cap to serve",
    "actiontrail:LookupEvents": "the local LookupEvents pages on its own and ignores PageSizeCap",
}
# The calls made only when something else happens first: the cell sets that up, or its fault is never met.
PRECONDITIONS = {"oss:DeleteObject": "retry", "oss:GetObject": "duplicate"}
NOT_GUARD = {"kms:ScheduleKeyDeletion"}  # alice's own call

OUTCOMES = ("cancelled", "cancelled-failsafe", "guard-failed", "allowed", "n/a")
PROMISED_ALERTS = {"KmsKeyDeletionBlocked", "KmsKeyGuardFailed"}
INTENT_ALERTS = {"KmsKeyDeletionAtRisk", "KmsKeyDeletionIntendedWithDependents"}


# ---------------------------------------------------------------- accounts


SIZES = Sizes(disks=140, snapshots=200, secrets=4, buckets=4, rds=3, polardb=3, nas=3, logstores=4, redis=3, mongodb=5, ack=3,
              trail_events=6)


def _region() -> BenchRegion:
    return BenchRegion.build(SIZES)


def _replication_buckets() -> list[dict]:
    """oss_replication's dependent: a bucket replicating KMS-encrypted objects re-encrypted with the key
    (the synthetic region has no replication rule). Neither bucket's own default encryption names it."""
    rule = {"ID": "to-backup", "Destination": {"Bucket": "bench-replica-0001", "Location": f"oss-{REGION}"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "EncryptionConfiguration": {"ReplicaKmsKeyID": KEY}}
    return [{"Name": "bench-source-0001", "Location": f"oss-{REGION}", "ReplicationConfiguration": {"Rule": [rule]}},
            {"Name": "bench-replica-0001", "Location": f"oss-{REGION}", "ServerSideEncryptionRule": {"SSEAlgorithm": "AES256"}}]


def _key_last(items: list[dict], name_field: str | None = None) -> list[dict]:
    """The listing with the key's resources last, past a capped first page (the generator puts them first).
    With `name_field`, the names are kept in their order too, for listings sorted by name."""
    out = list(reversed(copy.deepcopy(items)))
    if name_field:
        for item, name in zip(out, [i[name_field] for i in items]):
            item[name_field] = name
    return out


def _scope_sections(scope: str, full: dict) -> dict:
    ecs, sls = full["ecs"], full["sls"]["logstores"]
    return {
        "ecs_disks": lambda: {"ecs": {"disks": ecs["disks"]}},
        "ecs_snapshots": lambda: {"ecs": {"snapshots": ecs["snapshots"], "images": ecs["images"]}},
        "ecs_images": lambda: {"ecs": {"snapshots": ecs["snapshots"], "images": ecs["images"]}},
        "ecs_default_key": lambda: {"ecs": {"encryption_defaults": ecs["encryption_defaults"]}},
        "oss_buckets": lambda: {"oss": {"buckets": _key_last(full["oss"]["buckets"], "Name")}},
        "oss_replication": lambda: {"oss": {"buckets": _replication_buckets()}},
        "rds_instances": lambda: {"rds": {"instances": _key_last(full["rds"]["instances"])}},
        "polardb_clusters": lambda: {"polardb": {"clusters": _key_last(full["polardb"]["clusters"])}},
        "kms_secrets": lambda: {"kms": {"secrets": _key_last(full["kms"]["secrets"])}},
        "nas_file_systems": lambda: {"nas": {"file_systems": _key_last(full["nas"]["file_systems"])}},
        "redis_instances": lambda: {"redis": {"instances": _key_last(full["redis"]["instances"])}},
        "mongodb_instances": lambda: {"mongodb": {"instances": _key_last(full["mongodb"]["instances"])}},
        "ack_clusters": lambda: {"cs": {"clusters": _key_last(full["cs"]["clusters"])}},
        # Projects named to sort after the guard's own project, the key's logstore last in its project.
        "sls_logstores": lambda: {"sls": {"logstores": _key_last(
            [{**s, "projectName": s["projectName"].replace("bench-project-", "tenant-project-")} for s in sls], "logstoreName")}},
        "kms_usage": lambda: {"actiontrail": {"events": full["actiontrail"]["events"]}},
        GUARD: lambda: {"ecs": {"disks": [d for d in ecs["disks"] if d.get("KMSKeyId") == KEY][:1]}},
    }[scope]()


def planted(scope: str, region: BenchRegion) -> tuple[str, int]:
    """(scanner, dependents it must find) in a cell of `scope`."""
    if scope == GUARD:
        return "ecs_disks", 1
    if scope == "oss_replication":
        return scope, 1
    return scope, region.expected_counts()[scope]


def build_account(scope: str | None, region: BenchRegion | None = None) -> dict:
    """The account of a cell: the key (Enabled, two aliases), alice, the guard's state bucket and records
    logstore, and only `scope`'s resources (None: every scanner's, for discovering the APIs)."""
    region = region or _region()
    full = copy.deepcopy(region.account)
    account = {
        "account_id": ACCOUNT_ID,
        "credentials": full["credentials"] + [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}],
        "regions": [{"RegionId": REGION}],
        "kms": {"keys": full["kms"]["keys"],
                "aliases": [{"AliasName": f"alias/bench-{n}", "KeyId": KEY, "RegionId": REGION} for n in (1, 2)]},
        "oss": {"buckets": [{"Name": STATE_BUCKET, "Location": f"oss-{REGION}", "ServerSideEncryptionRule": {"SSEAlgorithm": "AES256"}}]},
        "sls": {"logstores": [{"projectName": RECORDS[0], "logstoreName": name, "RegionId": REGION}
                              for name in (RECORDS[1], "fc-logs")]},
    }
    scopes = [scope] if scope else sorted({s for s in SCOPES.values()} - {GUARD, "ecs_images"})
    for s in scopes:
        for product, collections in _scope_sections(s, full).items():
            section = account.setdefault(product, {})
            for name, items in collections.items():
                existing = section.get(name, [])
                section[name] = existing + [i for i in items if i not in existing]
    return account


# ---------------------------------------------------------------- one run


@dataclass
class Run:
    key_state: str
    alerts: list[dict]
    records: list[dict]
    calls: dict[str, int]
    attempts: list[tuple[str, bool, str]]  # (function, ok, error message)


def _variant_faults(variant: str | None) -> list[dict]:
    if variant == "retry":  # the first invocation fails transiently once: it releases its claim (DeleteObject)
        return [{"Api": "kms:CancelKeyDeletion", "Kind": "throttled", "Remaining": 4}]
    return []


def run_once(account_data: dict, faults: list[dict], *, duplicate: bool = False, settle_s: float = 0.0) -> Run:
    """Start a local cloud from s.yaml, let alice schedule the deletion through the KMS SDK, run
    everything that follows to the end, and read what happened. `settle_s`: how long the calls still
    being served may take to land (a timed-out call is done late, after its caller gave up)."""
    from alibabacloud_kms20160120 import models as kms
    from alibabacloud_kms20160120.client import Client as KmsClient
    from alibabacloud_tea_openapi.utils_models import Config

    from localcloud.account import Account
    from localcloud.cloud import LocalCloud

    data = {**account_data, "faults": faults}
    out = io.StringIO()  # the guard prints a record it could not write to SLS: not ours to show
    with contextlib.redirect_stdout(out):
        cloud = LocalCloud(Account.from_data(data), project=S_YAML, duplicate_delivery=duplicate)
        cloud.start()
        try:
            alice = KmsClient(Config(access_key_id=ALICE_AK, access_key_secret=ALICE_SECRET, endpoint=cloud.endpoint(REGION),
                                     protocol="http", region_id=REGION))
            alice.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
            if not cloud.bus.drain(timeout=DRAIN_TIMEOUT_S):
                raise RuntimeError(f"key-guard had not finished after {DRAIN_TIMEOUT_S} s")
            time.sleep(settle_s)
            key = next(k for k in cloud.account.kms.keys if k.KeyId == KEY)
            alerts = [{"Name": e.Name, **_json(e.Content)} for e in cloud.account.cms.events]
            records = [{k: _maybe_json(v) for k, v in log.contents.items()} for log in cloud.account.sls.logs
                       if (log.projectName, log.logstoreName) == RECORDS]
            attempts = [(inv.function, inv.ok, (inv.error or {}).get("errorMessage", "")) for inv in cloud.fc.invocations]
            return Run(key.KeyState, alerts, records, cloud.calls.snapshot(), attempts)
        finally:
            cloud.stop()


def _json(text: str):
    try:
        value = json.loads(text)
        return value if isinstance(value, dict) else {"content": value}
    except ValueError:
        return {"content": text}


def _maybe_json(value: str):
    if value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


# ---------------------------------------------------------------- discovery


def discover_apis() -> dict[str, str | None]:
    """Every API key-guard calls for a deletion, each with the precondition that makes it called (None:
    always): one run on an account where every scanner has a dependent, one where the first attempt
    fails transiently (the claim is released), one where the event is delivered twice (the claim is read)."""
    account = build_account(None)
    found: dict[str, str | None] = {}
    for variant in (None, "retry", "duplicate"):
        run = run_once(account, _variant_faults(variant), duplicate=variant == "duplicate")
        if run.key_state != "Enabled":
            raise RuntimeError(f"discovery run ({variant or 'plain'}): key-guard did not cancel the deletion ({run.key_state})")
        for api in run.calls:
            if api not in NOT_GUARD:
                found.setdefault(api, variant)
    unknown = sorted(set(found) - set(SCOPES))
    if unknown:
        raise RuntimeError(f"key-guard calls APIs the benchmark does not know: {', '.join(unknown)} (add them to SCOPES)")
    return dict(sorted(found.items()))


# ---------------------------------------------------------------- one cell


def _fault_of(api: str, kind: str) -> dict:
    if kind == "page_cap":
        return {"Api": api, "PageSizeCap": PAGE_CAP}
    if kind == "timeout":
        return {"Api": api, "Kind": "timeout", "LatencyMs": TIMEOUT_LATENCY_MS}
    return {"Api": api, "Kind": kind}


def not_applicable(api: str, kind: str) -> str | None:
    if kind == "page_cap" and api not in PAGED:
        return "not a paged listing"
    if kind == "page_cap" and api in CAP_UNSUPPORTED:
        return CAP_UNSUPPORTED[api]
    return None


def classify(run: Run) -> tuple[str, list[str]]:
    """(outcome, misnamed alerts) of a cell whose key has a dependent, in enforce mode."""
    failed = any(a["Name"] == "KmsKeyGuardFailed" and a.get("keyId") == KEY for a in run.alerts)
    if run.key_state == "Enabled":
        outcome = "cancelled-failsafe" if failed else "cancelled"
    else:
        outcome = "guard-failed" if failed else "allowed"
    misnamed = []
    for a in run.alerts:
        if a["Name"] == "KmsKeyDeletionBlocked" and run.key_state != "Enabled":
            misnamed.append(f"{a['Name']} while the key is {run.key_state}")
        elif a["Name"] in INTENT_ALERTS:
            misnamed.append(f"{a['Name']} in enforce mode")
        elif a["Name"] not in PROMISED_ALERTS:
            misnamed.append(f"{a['Name']}: not an alert a deletion with dependents ends in")
    return outcome, misnamed


def run_cell(api: str, kind: str, precondition: str | None) -> dict:
    started = time.monotonic()
    cell = {"api": api, "fault": kind}
    why_not = not_applicable(api, kind)
    if why_not:
        return {**cell, "outcome": "n/a", "alerts": [], "detail": why_not, "wall_s": 0.0}
    region = _region()
    scope = SCOPES[api]
    account = build_account(scope, region)
    faults = _variant_faults(precondition) + [_fault_of(api, kind)]
    settle = TIMEOUT_LATENCY_MS / 1000 + 0.5 if kind == "timeout" else 0.0
    run = run_once(account, faults, duplicate=precondition == "duplicate", settle_s=settle)
    outcome, misnamed = classify(run)
    scanner, planted_n = planted(scope, region)
    final = next((r for r in reversed(run.records) if r.get("eventName") == "ScheduleKeyDeletion"), {})
    seen = (final.get("scanners") or {}).get(scanner) or {}
    guard_runs = [a for a in run.attempts if a[0] == "key-guard"]
    last_chance = [a for a in run.attempts if a[0] == "key-guard-failures"]
    detail = [f"fault met {run.calls.get(api, 0)}x",
              f"key-guard {sum(ok for _, ok, _ in guard_runs)}/{len(guard_runs)} attempt(s) ok"
              + (f", failure destination ran {len(last_chance)}x" if last_chance else ""),
              f"record: {final.get('status', 'none')}" + (f" at {final['step']}" if final.get("step") else "")
              + (f", decision {final['decision']}" if final.get("decision") else "")]
    if seen:
        detail.append(f"{scanner} found {seen.get('found')}/{planted_n}" + ("" if seen.get("complete") else " (incomplete)"))
    if final.get("reason"):
        detail.append(f"reason: {str(final['reason'])[:160]}")
    if precondition:
        detail.append(f"precondition: {precondition}")
    return {**cell, "outcome": outcome, "alerts": [a["Name"] for a in run.alerts], "detail": "; ".join(detail),
            "misnamed": misnamed, "key_state": run.key_state, "scope": scope,
            "missed": bool(seen) and bool(seen.get("complete")) and (seen.get("found") or 0) < planted_n,
            "wall_s": round(time.monotonic() - started, 1)}


# ---------------------------------------------------------------- the matrix


def _worker_setup() -> Callable[[], None]:
    """What every cell runs under: the short read timeout, quiet logs (an FC attempt that fails is the
    point of a cell, not news), the SLS SDK's pauses shortened. Returns what undoes it."""
    import aliyun.log.logclient as logclient

    saved_env = os.environ.get("KMS_STEWARD_READ_TIMEOUT_MS")
    names = ("localcloud", "localcloud.fc", "localcloud.eventbridge", "fc")
    saved_levels = {n: logging.getLogger(n).level for n in names}
    saved_time = logclient.time
    os.environ["KMS_STEWARD_READ_TIMEOUT_MS"] = str(READ_TIMEOUT_MS)
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)

    class _ShortPauses:  # the SDK's `time`, with its fixed one-second pause between internal retries shortened
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds: float) -> None:
            time.sleep(min(seconds, SLS_SDK_PAUSE_S))

    logclient.time = _ShortPauses()

    def undo() -> None:
        logclient.time = saved_time
        for n, level in saved_levels.items():
            logging.getLogger(n).setLevel(level)
        if saved_env is None:
            os.environ.pop("KMS_STEWARD_READ_TIMEOUT_MS", None)
        else:
            os.environ["KMS_STEWARD_READ_TIMEOUT_MS"] = saved_env

    return undo


def _matches(api: str, patterns: Iterable[str]) -> bool:
    patterns = list(patterns)
    return not patterns or any(fnmatch.fnmatchcase(api, p) or p == api for p in patterns)


def plan(apis: dict[str, str | None], api_patterns: Iterable[str] = (), kinds: Iterable[str] = ()) -> list[tuple[str, str, str | None]]:
    kinds = list(kinds) or list(KINDS)
    cells = [(api, kind, pre) for api, pre in apis.items() if _matches(api, api_patterns) for kind in KINDS if kind in kinds]
    # The slow cells first (timeouts, SLS with its own retries), so the pool ends together.
    return sorted(cells, key=lambda c: (c[1] != "timeout", not c[0].startswith("sls:"), c[1] != "server_error"))


def run_matrix(*, api_patterns: Iterable[str] = (), kinds: Iterable[str] = (), workers: int = 6,
               progress: Callable[[str], None] = lambda msg: None) -> dict:
    started = time.monotonic()
    api_patterns, kinds = list(api_patterns), list(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of: {', '.join(KINDS)})")
    undo = _worker_setup()  # discovery (and a one-worker run) happen in this process
    try:
        progress("discovering the APIs key-guard calls (3 runs)")
        apis = discover_apis()
        cells = plan(apis, api_patterns, kinds)
        if not cells:
            raise ValueError(f"no API matches {', '.join(api_patterns)} (key-guard calls: {', '.join(apis)})")
        progress(f"{len(cells)} cells over {len({c[0] for c in cells})} APIs, {max(1, workers)} worker process(es)")
        results = []
        if workers <= 1:
            for n, cell in enumerate(cells, 1):
                results.append(run_cell(*cell))
                progress(f"[{n}/{len(cells)}] {cell[0]} x {cell[1]}: {results[-1]['outcome']}")
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_setup) as pool:
                futures = {pool.submit(run_cell, *cell): cell for cell in cells}
                for n, future in enumerate(as_completed(futures), 1):
                    cell = futures[future]
                    try:
                        results.append(future.result())
                    except Exception as exc:  # a cell that could not run is reported, not hidden
                        results.append({"api": cell[0], "fault": cell[1], "outcome": "error", "alerts": [],
                                        "detail": f"{type(exc).__name__}: {str(exc)[:300]}", "misnamed": []})
                    progress(f"[{n}/{len(cells)}] {cell[0]} x {cell[1]}: {results[-1]['outcome']}")
    finally:
        undo()
    api_order = list(apis)
    results.sort(key=lambda r: (api_order.index(r["api"]), KINDS.index(r["fault"])))
    counts = {o: sum(1 for r in results if r["outcome"] == o) for o in (*OUTCOMES, "error")}
    return {
        "cells": [{k: r.get(k) for k in ("api", "fault", "outcome", "alerts", "detail")} for r in results],
        "wrongly_allowed": counts["allowed"],
        "misnamed_alerts": sum(len(r.get("misnamed") or []) for r in results),
        "misnamed": [f"{r['api']} x {r['fault']}: {m}" for r in results for m in r.get("misnamed") or []],
        "silently_missed": [f"{r['api']} x {r['fault']}: {r['detail']}" for r in results if r.get("missed")],
        "counts": {k: v for k, v in counts.items() if v or k != "error"},
        "apis": apis,
        "read_timeout_ms": READ_TIMEOUT_MS, "timeout_latency_ms": TIMEOUT_LATENCY_MS, "page_cap": PAGE_CAP,
        "wall_s": round(time.monotonic() - started, 1),
    }


# ---------------------------------------------------------------- the view


STYLE = {"cancelled": "green", "cancelled-failsafe": "green", "guard-failed": "yellow", "allowed": "bold red", "n/a": "dim",
         "error": "bold magenta"}
SHORT = {"cancelled": "cancelled", "cancelled-failsafe": "failsafe", "guard-failed": "guard-failed", "allowed": "ALLOWED",
         "n/a": "n/a", "error": "ERROR"}


def render_faults(result: dict, command: str, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=max(140, Console().width))
    kinds = [k for k in KINDS if any(c["fault"] == k for c in result["cells"])]
    by = {(c["api"], c["fault"]): c for c in result["cells"]}
    table = Table(title=f"key-guard under faults: outcome of a scheduled deletion of a key with a dependent "
                        f"(read timeout {result['read_timeout_ms']} ms, timeout faults answer after {result['timeout_latency_ms']} ms, "
                        f"page cap {result['page_cap']})")
    table.add_column("API")
    for kind in kinds:
        table.add_column(kind, justify="center")
    for api in dict.fromkeys(c["api"] for c in result["cells"]):
        row = []
        for kind in kinds:
            cell = by.get((api, kind))
            if cell is None:
                row.append("")
                continue
            style = STYLE.get(cell["outcome"], "")
            row.append(f"[{style}]{SHORT.get(cell['outcome'], cell['outcome'])}[/{style}]")
        table.add_row(api, *row)
    console.print(table)
    console.print("cancelled: the key is Enabled; failsafe: Enabled, and KmsKeyGuardFailed raised; guard-failed: still "
                  "PendingDeletion, KmsKeyGuardFailed names the key; ALLOWED: still PendingDeletion, no such alert")
    console.print("counts: " + ", ".join(f"{k} {v}" for k, v in result["counts"].items()))
    for key in ("wrongly_allowed", "misnamed_alerts"):
        value = result[key]
        console.print(f"{key}: [{'green' if value == 0 else 'bold red'}]{value}[/]")
    for line in result["misnamed"]:
        console.print(f"  misnamed: {line}")
    for line in (c for c in result["cells"] if c["outcome"] in ("allowed", "error")):
        console.print(f"  [bold red]{line['api']} x {line['fault']}[/]: {line['outcome']}: {line['detail']}")
    if result["silently_missed"]:
        console.print(f"dependents missed by a scanner that reported itself complete: {len(result['silently_missed'])}")
        for line in result["silently_missed"]:
            console.print(f"  {line}")
    console.print(f"wall time: {result['wall_s']} s   ({command})")
