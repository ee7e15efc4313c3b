"""compliance-sweep tells people in batches, not one call per item: its CRITICAL events in PutCustomEvent calls of up
to 50 (the API reference's EventInfo.N), its records in PutLogs calls within the LogGroup limits; a refused batch of
events leaves every finding of it un-alerted, so the next run sends them again. Fired by its timer on the local cloud,
which enforces both APIs' limits (localcloud/products/cms.py, localcloud/products/sls.py)."""
from __future__ import annotations

import json
import math
from datetime import timedelta

from shared.sweeps.memory import FindingMemory
from tests.support.accounts import ACCOUNT_ID, REGION
from tests.support.scanners import clients
from tests.support.sweeps import NOW, days_before, events, fire, secret, sweep_account, sweep_records

CRITICAL_EVENT, SUMMARY = "KmsStewardCriticalFinding", "KmsStewardSweepSummary"
MANY = 120  # managed RAM secrets unrotated for 300 days: each a CRITICAL finding from the first run
CRIT = MANY + 1  # and app/token, a Generic secret as old, CRITICAL too
SECRET_VALUE = "token-value"  # what tests.support.sweeps.secret stores as a Generic secret's value


def account():
    secrets = [secret(f"ram/manual-{i:03d}", created=days_before(NOW, 300), secret_type="RAMCredentials",
                      AutomaticRotation="Disabled") for i in range(MANY)]
    secrets.append(secret("app/token", created=days_before(NOW, 300)))  # a Generic secret with a value
    return sweep_account(secrets=secrets)


def _calls(cloud, api):
    return cloud.calls.get(api) or 0


def _alerted(cloud) -> dict[str, bool]:
    state = FindingMemory(clients(cloud), "kms-steward-state", REGION).load(ACCOUNT_ID, REGION, "secret_rotation")
    return {entry["resourceId"]: entry["alerted"] for entry in state.values() if entry["severity"] == "CRITICAL"}


def test_critical_events_and_records_go_in_batches(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    result = fire(cloud)
    critical = events(cloud, CRITICAL_EVENT)
    assert sorted(e["resourceId"] for e in critical) == sorted([f"ram/manual-{i:03d}" for i in range(MANY)] + ["app/token"])
    assert len(events(cloud, SUMMARY)) == 1 and result["newCritical"] == CRIT
    # Calls of at most 50 events (fewer when the query would grow too long), and 1 for the summary (before: one call
    # per event, 122).
    batches = _calls(cloud, "cms:PutCustomEvent") - 1
    assert math.ceil(CRIT / 50) <= batches <= math.ceil(CRIT / 25)
    records = sweep_records(cloud)
    new = [r for r in records if r.get("status") == "new"]
    assert len(new) >= CRIT and sum(1 for r in records if r.get("kind") == "sweep_summary") == 1
    assert _calls(cloud, "sls:PutLogs") == 2  # the findings' records in one LogGroup, then the summary
    assert all(SECRET_VALUE not in str(r) for r in records)  # ids, states and reasons: never a secret value
    assert all(_alerted(cloud).values())


def test_a_refused_batch_leaves_all_its_findings_unalerted_and_the_next_run_sends_them(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    cloud.faults.add("cms:PutCustomEvent", "InvalidParameter", status=400, remaining=1)  # the first batch refused
    result = fire(cloud)
    sent = {e["resourceId"] for e in events(cloud, CRITICAL_EVENT)}
    refused = CRIT - len(sent)
    assert 25 <= refused <= 50 and result["newCritical"] == CRIT - refused  # the whole first batch, nothing else
    alerted = _alerted(cloud)
    unsent = {rid for rid, ok in alerted.items() if not ok}
    assert len(unsent) == refused and unsent.isdisjoint(sent) and {rid for rid, ok in alerted.items() if ok} == sent
    assert len(events(cloud, SUMMARY)) == 1
    [summary] = events(cloud, SUMMARY)
    assert any("KmsStewardCriticalFinding" in p for p in summary["sendProblems"])

    cloud.clock.advance(timedelta(days=1))
    fire(cloud)
    again = [e["resourceId"] for e in events(cloud, CRITICAL_EVENT)][CRIT - refused:]
    assert sorted(again) == sorted(unsent)  # exactly the refused batch, once
    assert all(_alerted(cloud).values())


def test_events_are_split_under_what_one_call_can_carry(start_cloud):
    """Under 50 events, 500 KB, and a query (the SDK sends EventInfo in the URL) the local cloud's server takes."""
    from shared.alerts import raise_alerts

    cloud = start_cloud(account(), now=NOW)
    events_in = [(CRITICAL_EVENT, {"n": i, "pad": "z" * 6_000}) for i in range(40)]  # 40 x 6 KB
    outcome = raise_alerts(clients(cloud), REGION, events_in, "0")
    assert outcome == [None] * 40 and len(events(cloud, CRITICAL_EVENT)) == 40
    assert 2 <= _calls(cloud, "cms:PutCustomEvent") <= 10
    alone = raise_alerts(clients(cloud), REGION, [(CRITICAL_EVENT, {"pad": "z" * 40_000})], "0")  # over the budget
    assert alone == [None]  # sent by itself, as before batching


def test_the_summary_event_fits_one_call_however_long_the_reasons(start_cloud):
    """A check's reason grows by one gap per resource it could not judge (shared/sweeps/check_kit.py add_gap): 500
    Generic secrets whose versions cannot be listed give one result a reason of ~80 KB. The summary event carried it
    whole, its query over what one call can carry, so it was refused on every run while the gap lasted: no summary,
    the one alert that says the sweep is blind. Now clipped to fit; the summary record keeps the reason whole."""
    from shared.alerts import QUERY_BYTES_PER_CALL, _query_bytes

    secrets = [secret(f"app/generic-{i:04d}", created=days_before(NOW, 10)) for i in range(500)]
    cloud = start_cloud(sweep_account(secrets=secrets), now=NOW)
    cloud.faults.add("kms:ListSecretVersionIds", kind="denied")
    fire(cloud)
    [summary] = events(cloud, SUMMARY)  # sent, not refused
    [row] = [r for r in summary["results"] if r["check"] == "secret_rotation"]
    assert row["complete"] is False and row["reason"]
    assert _query_bytes(SUMMARY, json.dumps(summary, separators=(",", ":")), "0") <= QUERY_BYTES_PER_CALL
    [record] = [r for r in sweep_records(cloud) if r.get("kind") == "sweep_summary"]
    [full] = [r for r in record["results"] if r["check"] == "secret_rotation"]
    assert full["reason"].count("app/generic-") == 500  # the record keeps every gap
