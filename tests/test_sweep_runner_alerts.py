"""compliance-sweep as FC runs it (its timer, on the local cloud): one summary event per sweep, one event per CRITICAL
finding and never twice unless its severity rises, resolved findings recorded, the previous findings kept in the
state bucket (and an unreadable state alerted), bad input rejected while the rest runs."""
from __future__ import annotations

import json
from datetime import timedelta

from alibabacloud_kms20160120 import models as kms

from shared.sweeps.memory import FindingMemory
from shared.sweeps.runner import parse_request, select_checks
from tests.support.accounts import ACCOUNT_ID, REGION
from tests.support.clients import alice_kms
from tests.support.scanners import clients
from tests.support.sweeps import NOW, days_before, events, fire, key, secret, sweep_account, sweep_records

AGING = "44444444-0000-4000-8000-000000000001"  # rotation off, 500 days: WARN now, CRITICAL once past 730
FIXABLE = "44444444-0000-4000-8000-000000000002"  # rotation off, 10 days: WARN until rotation is turned on
RAM_SECRET = "ram/manual"  # a managed secret unrotated for 300 days: CRITICAL from the first run
CRITICAL_EVENT, SUMMARY = "KmsStewardCriticalFinding", "KmsStewardSweepSummary"


def account(**extra):
    return sweep_account(keys=[key(AGING, CreationDate=days_before(NOW, 500)), key(FIXABLE, CreationDate=days_before(NOW, 10))],
                         secrets=[secret(RAM_SECRET, created=days_before(NOW, 300), secret_type="RAMCredentials",
                                         AutomaticRotation="Disabled")], **extra)


def next_day(cloud, days=1):
    cloud.clock.advance(timedelta(days=days))


def test_a_critical_finding_alerts_once_and_each_sweep_sends_one_summary(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    first = fire(cloud)
    assert [e["resourceId"] for e in events(cloud, CRITICAL_EVENT)] == [RAM_SECRET]
    assert len(events(cloud, SUMMARY)) == 1 and first["totals"]["CRITICAL"] == 1
    assert {r["resourceId"] for r in sweep_records(cloud) if r.get("status") == "new"} == {RAM_SECRET, AGING, FIXABLE}
    next_day(cloud)
    second = fire(cloud)
    assert len(events(cloud, CRITICAL_EVENT)) == 1  # already alerted: not again
    assert len(events(cloud, SUMMARY)) == 2 and second["newCritical"] == 0
    state = FindingMemory(clients(cloud), "kms-steward-state", REGION).load(ACCOUNT_ID, REGION, "secret_rotation")
    [entry] = state.values()
    assert entry["alerted"] is True and entry["firstSeen"] == NOW


def test_a_rising_severity_alerts_again(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    fire(cloud)
    next_day(cloud, 240)  # AGING's material passes 730 days: WARN -> CRITICAL
    result = fire(cloud)
    aging = [e for e in events(cloud, CRITICAL_EVENT) if e["resourceId"] == AGING]
    assert len(aging) == 1 and aging[0]["previousSeverity"] == "WARN"
    assert any(r.get("status") == "severity_rose" and r["resourceId"] == AGING for r in sweep_records(cloud))
    assert result["alerted"] == [f"key_rotation/rotation_off/{ACCOUNT_ID}/{REGION}/ACS::KMS::Key/{AGING}"]
    next_day(cloud)
    fire(cloud)
    assert len([e for e in events(cloud, CRITICAL_EVENT) if e["resourceId"] == AGING]) == 1


def test_a_finding_that_clears_is_recorded_resolved(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    fire(cloud)
    alice_kms(cloud).update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=FIXABLE, enable_automatic_rotation=True,
                                                                            rotation_interval="365d"))
    next_day(cloud)
    result = fire(cloud)
    resolved = [r for r in sweep_records(cloud) if r.get("status") == "resolved"]
    assert [r["resourceId"] for r in resolved] == [FIXABLE] and resolved[0]["lastSeverity"] == "WARN"
    assert result["resolvedFindings"] == [f"key_rotation/rotation_off/{ACCOUNT_ID}/{REGION}/ACS::KMS::Key/{FIXABLE}"]


def test_an_incomplete_check_resolves_nothing(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    fire(cloud)
    cloud.faults.add("kms:ListKeys", "Forbidden.RAM", status=403)
    next_day(cloud)
    result = fire(cloud)
    assert not [r for r in sweep_records(cloud) if r.get("status") == "resolved"]
    row = next(r for r in result["results"] if r["check"] == "key_rotation")
    assert row["complete"] is False and row["carried"] == 2 and "access denied" in row["reason"]


def test_an_unreadable_state_is_alerted_not_taken_for_a_first_run(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    fire(cloud)
    bucket = clients(cloud).oss_bucket("kms-steward-state", REGION)
    bucket.put_object(FindingMemory.object_key(ACCOUNT_ID, REGION, "secret_rotation"), "not json")
    next_day(cloud)
    result = fire(cloud)
    [problem] = events(cloud, "KmsStewardSweepStateUnreadable")
    assert "secret_rotation.json" in problem["problems"][0]
    assert len(events(cloud, CRITICAL_EVENT)) == 2  # loud: alerted again, as nothing is known
    assert result["stateProblems"]


def test_an_unknown_check_is_rejected_and_the_others_run(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    payload = json.dumps({"task": "compliance-sweep", "checks": ["key_rotation", "no_such_check"]}).encode()
    invocation = cloud.fc.invoke("compliance-sweep", payload)
    assert invocation.ok, invocation.error
    result = invocation.result
    assert [r["check"] for r in result["results"]] == ["key_rotation"]
    assert result["rejected"] == [{"input": "check 'no_such_check'", "reason": result["rejected"][0]["reason"]}]
    assert "unknown check" in result["rejected"][0]["reason"]
    summary = [r for r in sweep_records(cloud) if r.get("kind") == "sweep_summary"]
    assert summary and summary[0]["rejected"][0]["input"] == "check 'no_such_check'"


def test_malformed_input_is_rejected_with_the_reason():
    assert parse_request(b"{not json").rejections[0].what == "payload"
    timer = {"triggerTime": NOW, "triggerName": "compliance-daily", "payload": "{oops"}
    assert "not JSON" in parse_request(json.dumps(timer)).rejections[0].reason
    assert parse_request(json.dumps({"task": "other"})).rejections[0].what == "task"
    bad_region = parse_request(json.dumps({"regions": ["cn-hangzhou", "Not A Region"]}))
    assert bad_region.regions == ("cn-hangzhou",) and "not a region id" in bad_region.rejections[0].reason
    assert parse_request(json.dumps({"checks": "key_rotation"})).rejections[0].what == "checks"
    ok = parse_request(json.dumps({"triggerTime": NOW, "triggerName": "compliance-daily",
                                   "payload": '{"task":"compliance-sweep"}'}))
    assert not ok.rejections and ok.as_of == NOW
    checks, rejected = select_checks(["key_rotation", "nope"])
    assert [c.name for c in checks] == ["key_rotation"] and rejected[0].what == "check 'nope'"


def test_a_broken_check_is_incomplete_and_the_others_run():
    from shared.sweeps.findings import SweepTarget
    from shared.sweeps.runner import run_checks

    class Broken:
        name = "broken"

        def run(self, target, clients):
            raise RuntimeError("boom")

    class Fine:
        name = "fine"

        def run(self, target, clients):
            from shared.sweeps.findings import CheckResult
            return CheckResult(check="fine", account=target.account, region=target.region)

    targets = [SweepTarget(ACCOUNT_ID, region, NOW) for region in (REGION, "cn-shanghai")]
    results = run_checks([Broken(), Fine()], targets, lambda target: None)
    assert [(r.check, r.region, r.complete) for r in results] == [
        ("broken", REGION, False), ("fine", REGION, True), ("broken", "cn-shanghai", False), ("fine", "cn-shanghai", True)]
    assert "boom" in results[0].reason


def test_metrics_are_put_within_the_documented_batch(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    result = fire(cloud)
    metrics = cloud.account.cms.metrics
    assert result["metricsSent"] == len(metrics) > 0
    critical = [m for m in metrics if m.MetricName == "KmsStewardFindings" and json.loads(m.Dimensions)["severity"] == "CRITICAL"
                and json.loads(m.Dimensions)["check"] == "secret_rotation"]
    assert json.loads(critical[0].Values) == {"value": 1}
