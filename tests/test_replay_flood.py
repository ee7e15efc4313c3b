"""Replays, races and floods: key-guard as FC runs it at scale, on the local cloud.

1. The same event delivered to several FC instances at the same moment (separate processes: no
   shared memory, only the OSS claim between them) is acted on once and alerted once; the instances
   that lost the race raise (FC retries them) and their retries are duplicates.
2. A person disabling and re-enabling a key before key-guard runs: the guard finds the key Enabled
   and does nothing (no EnableKey, no KmsKeyReenabled), with a reason in its record.
3. A flood: 1,000 ScheduleKeyDeletion events for 1,000 keys published in a burst through the local
   EventBridge, every one decided and recorded; the slowest decision and the throughput are reported
   (print, visible under `pytest -s`, and the test report's properties).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from alibabacloud_kms20160120 import models as kms

from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.clients import alice_kms, key_state
from tests.support.guard import alerts, decision_records
from tests.support.resources import disk

ROOT = Path(__file__).resolve().parents[1]
INSTANCE_SCRIPT = ROOT / "tests" / "support_handler_process.py"
INSTANCES = 6
MAX_ROUNDS = 5  # FC's first attempt plus retries (s.yaml: maxAsyncRetryAttempts 3); the loop must end
RUN_TIMEOUT_S = 300
FLOOD_KEYS = 1000
# The local EventBridge delivers one event at a time and the local FC runs the handler in the test
# process: ~30 HTTP round trips to the local cloud per decision, client and server sharing one GIL,
# about 0.3 s of CPU per decision here, so 1,000 decisions take 5 to 8 minutes on two shared cores.
FLOOD_DRAIN_TIMEOUT_S = 1800


# ---------------------------------------------------------------- helpers


def schedule_event(cloud, key_id: str) -> dict:
    """The CloudEvent ActionTrail published for alice's ScheduleKeyDeletion of `key_id` (bus held)."""
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    [event] = [e for e in cloud.bus.published
               if e["data"]["eventName"] == "ScheduleKeyDeletion" and e["data"]["requestParameters"].get("KeyId") == key_id]
    return event


def instance_environment(cloud, spec, region: str, home: Path) -> dict[str, str]:
    """What FC gives one instance of the function (localcloud/fc.py `_run`), with credentials of its
    own, and nothing of the test process but PATH (HOME is an empty directory: no user configuration)."""
    creds = cloud.assume_role(spec.role, session=spec.function_name)
    return {
        **base_environment(cloud, spec, region, home),
        "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.AccessKeyId,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.AccessKeySecret,
        "ALIBABA_CLOUD_SECURITY_TOKEN": creds.SecurityToken,
    }


def base_environment(cloud, spec, region: str, home: Path) -> dict[str, str]:
    return {
        **spec.environment,
        "FC_FUNCTION_NAME": spec.function_name,
        "FC_FUNCTION_HANDLER": spec.handler,
        "FC_REGION": region,
        "FC_ACCOUNT_ID": cloud.account.account_id,
        "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(region),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
    }


def run_instances_at_once(cloud, spec, event: dict, workdir: Path, names: list[str]) -> dict[str, dict]:
    """One process per name (tests/support_handler_process.py), all calling the handler at the same
    moment; returns name -> {"requestId", "ok", "result" | "errorType", ...} once all have finished."""
    workdir.mkdir(parents=True)
    (workdir / "event.json").write_bytes(json.dumps(event).encode())
    home = workdir / "home"
    home.mkdir()
    instances = [{"name": name, "requestId": str(uuid.uuid4()), "env": instance_environment(cloud, spec, REGION, home)}
                 for name in names]
    output = workdir / "output.txt"
    with open(output, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(INSTANCE_SCRIPT), str(workdir)], stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, env=base_environment(cloud, spec, REGION, home), cwd=workdir)
        try:
            proc.communicate(json.dumps({"instances": instances}).encode(), timeout=RUN_TIMEOUT_S)
        finally:
            if proc.poll() is None:  # only the process started here (its instances end with their handler)
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, f"instances failed (exit {proc.returncode}): {output.read_text(errors='replace')[-2000:]}"
    results = {}
    for instance in instances:
        outcome = json.loads((workdir / f"result-{instance['name']}.json").read_text())
        results[instance["name"]] = {"requestId": instance["requestId"], **outcome}
    return results


def records_of(cloud, event_id: str) -> list[dict]:
    return [r for r in decision_records(cloud) if r.get("eventId") == event_id]


def keys_in_state(cloud, state: str) -> set[str]:
    """Key ids in `state`, as ListKeys with a KeyState filter pages them (100 a page)."""
    client, found, page = alice_kms(cloud), set(), 1
    while True:
        body = client.list_keys(kms.ListKeysRequest(filters=json.dumps([{"Key": "KeyState", "Values": [state]}]),
                                                    page_number=page, page_size=100)).body
        items = (body.keys.key if body.keys else None) or []
        found.update(k.key_id for k in items)
        if len(items) < 100:
            return found
        page += 1


# ---------------------------------------------------------------- 1. one event, many instances at once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the instances are forked (tests/support_handler_process.py)")
def test_one_event_delivered_to_concurrent_instances_acts_once_and_alerts_once(start_cloud, tmp_path, record_property):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    spec = cloud.project.function("key-guard")
    cloud.bus.hold()
    event = schedule_event(cloud, KEY)

    names = [f"instance-{n}" for n in range(1, INSTANCES + 1)]
    attempts: dict[str, list[dict]] = {name: [] for name in names}
    pending = list(names)
    for round_no in range(1, MAX_ROUNDS + 1):
        # A raised invocation is what FC retries; a retry is a new execution with a new request id.
        results = run_instances_at_once(cloud, spec, event, tmp_path / f"round-{round_no}", pending)
        for name, result in results.items():
            attempts[name].append(result)
        pending = [name for name, result in results.items() if not result["ok"]]
        if not pending:
            break
    assert not pending, f"still failing after {MAX_ROUNDS} rounds: {[attempts[n][-1] for n in pending]}"
    failures = [a for tries in attempts.values() for a in tries if not a["ok"]]
    # Only a transient failure may raise (the losers of the claim: ClaimBusy), never anything else.
    assert all("TransientError" in f["errorClasses"] for f in failures), failures
    record_property("concurrent_instances", INSTANCES)
    record_property("first_round_raised_for_retry", sum(1 for tries in attempts.values() if not tries[0]["ok"]))
    record_property("rounds", max(len(tries) for tries in attempts.values()))

    # Each instance ended in exactly one result: one acted, the others duplicates of it.
    final = {name: tries[-1]["result"]["results"] for name, tries in attempts.items()}
    assert all(len(results) == 1 for results in final.values()), final
    statuses = Counter(results[0]["status"] for results in final.values())
    assert statuses == {"acted": 1, "duplicate": INSTANCES - 1}, statuses
    [winner] = [tries[-1]["requestId"] for tries in attempts.values() if tries[-1]["result"]["results"][0]["status"] == "acted"]

    # EventBridge's own delivery, held until now, is one more duplicate of the same event.
    cloud.bus.release()
    assert cloud.bus.drain(timeout=120), "the held delivery did not finish"
    [bus_invocation] = [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]
    assert bus_invocation.ok, bus_invocation.error
    assert [r["status"] for r in bus_invocation.result["results"]] == ["duplicate"]

    assert cloud.calls.get("kms:CancelKeyDeletion") == 1
    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["keyId"] == KEY
    records = records_of(cloud, event["id"])
    assert Counter(r["status"] for r in records) == {"acted": 1, "duplicate": INSTANCES}, [r["status"] for r in records]
    [acted] = [r for r in records if r["status"] == "acted"]
    assert acted["invocation"] == winner and acted["keyStateAfter"] == "Enabled"
    # Every execution that returned left exactly one record, under its own request id.
    returned = {tries[-1]["requestId"] for tries in attempts.values()} | {bus_invocation.request_id}
    assert {r["invocation"] for r in records} == returned
    assert all(r.get("reason") for r in records if r["status"] == "duplicate")


# ---------------------------------------------------------------- 2. undone by a person before the guard runs


def test_a_person_re_enabling_between_disable_and_action_is_left_alone(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]), env={"GUARD_DISABLE_MODE": "enforce"})
    cloud.bus.hold()
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    alice_kms(cloud).enable_key(kms.EnableKeyRequest(key_id=KEY))
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:EnableKey") == 1  # alice's only
    assert "KmsKeyReenabled" not in [a["Name"] for a in alerts(cloud)]
    assert alerts(cloud) == []
    [invocation] = [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]  # EnableKey is not guarded
    assert invocation.ok, invocation.error
    [record] = [r for r in decision_records(cloud) if r.get("eventName") == "DisableKey"]
    assert record["status"] in ("no_action", "already_done"), record
    assert record["mode"] == "enforce"
    assert record["keyStateBefore"] == "Enabled"
    assert "Enabled" in record["reason"]
    assert "kms:EnableKey" not in record["apiCalls"]
    guard_writes = [e for e in cloud.bus.published if e["data"]["eventName"] == "EnableKey"
                    and e["data"]["userIdentity"]["type"] == "assumed-role"]
    assert guard_writes == []


# ---------------------------------------------------------------- 3. a flood of events


def flood_key(n: int) -> str:
    return str(uuid.UUID(f"{n:08x}-f100-4d00-8a00-{n:012x}"))


def test_a_flood_of_deletions_is_all_decided_and_recorded(start_cloud, record_property):
    keys = [flood_key(n) for n in range(FLOOD_KEYS)]
    guarded = keys[0::2]  # an encrypted disk depends on each: cancelled
    free = keys[1::2]  # nothing depends on them: allowed
    cloud = start_cloud(make_account(
        kms={"keys": [{"KeyId": k, "RegionId": REGION, "KeyState": "Enabled", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID}
                      for k in keys]},
        disks=[disk(f"d-flood-{n:04d}", key=k) for n, k in enumerate(guarded)]))

    cloud.bus.hold()
    client = alice_kms(cloud)
    scheduled = time.monotonic()
    for key_id in keys:
        client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    schedule_s = time.monotonic() - scheduled
    events = [e for e in cloud.bus.published if e["data"]["eventName"] == "ScheduleKeyDeletion"]
    assert len(events) == FLOOD_KEYS

    released = time.monotonic()
    cloud.bus.release()
    drained = cloud.bus.drain(timeout=FLOOD_DRAIN_TIMEOUT_S)
    drain_s = time.monotonic() - released
    records = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    report_flood_figures(records, schedule_s, drain_s, record_property)
    assert drained, f"the flood was not drained within {FLOOD_DRAIN_TIMEOUT_S}s ({len(records)} decisions recorded)"

    invocations = [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]
    errors = [inv.error for inv in invocations if not inv.ok]
    assert errors == [], errors[:3]
    assert len(invocations) == FLOOD_KEYS
    assert len(records) == FLOOD_KEYS and len({r["eventId"] for r in records}) == FLOOD_KEYS
    by_key = {r["keyId"]: r for r in records}
    assert Counter(by_key[k]["status"] for k in guarded) == {"acted": len(guarded)}
    assert Counter(by_key[k]["status"] for k in free) == {"decided": len(free)}
    assert all(by_key[k]["decision"] == "block" and by_key[k]["keyStateAfter"] == "Enabled" for k in guarded)
    assert all(by_key[k]["decision"] == "allow" and by_key[k]["auditComplete"] is True for k in free)
    assert cloud.calls.get("kms:CancelKeyDeletion") == len(guarded)
    assert Counter(a["Name"] for a in alerts(cloud)) == {"KmsKeyDeletionBlocked": len(guarded)}
    enabled = keys_in_state(cloud, "Enabled")
    assert set(guarded) <= enabled and not enabled & set(free)
    assert keys_in_state(cloud, "PendingDeletion") == set(free)


def report_flood_figures(records: list[dict], schedule_s: float, drain_s: float, record_property) -> None:
    """The slowest decision (its record's durationMs) and the throughput over the drain, printed
    (pytest -s) and attached to the test report; reported before any assertion, so a failing flood
    still says how far it got."""
    durations = sorted(r["durationMs"] for r in records) or [0]
    slowest = max(records, key=lambda r: r["durationMs"], default={})
    throughput = len(records) / drain_s if drain_s > 0 else 0.0
    figures = {
        "flood_events": FLOOD_KEYS,
        "flood_decisions_recorded": len(records),
        "flood_schedule_s": round(schedule_s, 2),
        "flood_drain_s": round(drain_s, 2),
        "flood_decisions_per_s": round(throughput, 2),
        "flood_slowest_decision_ms": slowest.get("durationMs"),
        "flood_slowest_decision_key": slowest.get("keyId"),
        "flood_median_decision_ms": durations[len(durations) // 2],
        "flood_p99_decision_ms": durations[max(0, int(len(durations) * 0.99) - 1)],
    }
    for name, value in figures.items():
        record_property(name, value)
    print(f"\nflood: {FLOOD_KEYS} ScheduleKeyDeletion events scheduled in {schedule_s:.1f}s; {len(records)} decided in "
          f"{drain_s:.1f}s ({throughput:.2f} decisions/s); slowest decision {figures['flood_slowest_decision_ms']} ms "
          f"({slowest.get('status')}, key {slowest.get('keyId')}), median {figures['flood_median_decision_ms']} ms, "
          f"p99 {figures['flood_p99_decision_ms']} ms")
