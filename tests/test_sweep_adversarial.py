"""Adversarial probes of the sweeps (compliance-sweep, cert-sweep) on the local cloud, through the real SDK clients:
findings that could vanish, summaries that could double or go missing, alert storms, bad input, leaked credentials and
HTML injection. Each test is a probe that found something (now fixed, so it guards the fix) or asserts a promise no
other test held."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from localcloud.cloud import LocalCloud
from localcloud.clock import Clock
from shared.clients import Credentials
from shared.sweeps.findings import CheckResult
from shared.sweeps.run_state import RunState
from shared.sweeps.service import SweepFunction
from shared.sweeps.settings import SweepSettings
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, REGION, S_YAML
from tests.support.sweeps import NOW, days_before, events, key, secret, sweep_account, sweep_records
from tests import test_sweep_fanout as fan

SUMMARY, CRITICAL_EVENT = "KmsStewardSweepSummary", "KmsStewardCriticalFinding"
OLD_KEY = "55555555-0000-4000-8000-000000000001"  # rotation off, 800 days: CRITICAL (past twice 365)


def _timer(payload) -> bytes:
    """The compliance-daily timer's event at NOW, carrying `payload` (as the trigger's configured payload would)."""
    return json.dumps({"triggerTime": NOW, "triggerName": "compliance-daily", "payload": json.dumps(payload)}).encode()


def _summaries(cloud):
    return events(cloud, SUMMARY)


# ---------------------------------------------------------------- (1)/(4) a request naming no check that exists


def test_a_payload_naming_only_unknown_checks_still_sweeps(start_cloud):
    """Probe: a timer payload with a typo in its only check ({"checks": ["key_rotaton"]}) ran nothing and summarised
    0 findings, 0 incomplete (severity INFO) every day: a clean sweep that never looked. Now the configured checks
    run in its place and the typo is rejected in the summary."""
    cloud = start_cloud(sweep_account(keys=[key(OLD_KEY, CreationDate=days_before(NOW, 800))]), now=NOW)
    payload = _timer({"task": "compliance-sweep", "checks": ["key_rotaton"]})
    inv = cloud.fc.invoke("compliance-sweep", payload, invocation_type="Async")
    assert inv.ok, inv.error
    assert cloud.fc.drain(60)
    [summary] = _summaries(cloud)
    assert {r["check"] for r in summary["results"]} >= {"key_rotation", "secret_rotation"}
    assert summary["totals"]["CRITICAL"] == 1
    assert any(r["input"] == "check 'key_rotaton'" for r in summary["rejected"])
    assert any("configured" in r["reason"] for r in summary["rejected"])


def test_sweep_checks_naming_only_unknown_checks_still_sweeps(start_cloud):
    cloud = start_cloud(sweep_account(keys=[key(OLD_KEY, CreationDate=days_before(NOW, 800))]), now=NOW,
                        env={"SWEEP_CHECKS": "key_rotatoin"})
    inv = cloud.fc.fire_timer("compliance-sweep")
    assert inv.ok, inv.error
    assert cloud.fc.drain(60)
    [summary] = _summaries(cloud)
    assert summary["totals"]["CRITICAL"] == 1 and summary["incomplete"] == 0
    assert any(r["input"] == "check 'key_rotatoin'" for r in summary["rejected"])


# ---------------------------------------------------------------- (1)/(2) what a fan-out run's publisher reads


def _sweep(cloud, **env) -> SweepFunction:
    settings = SweepSettings.from_env({"STATE_BUCKET": "kms-steward-state", "FC_REGION": REGION,
                                       "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(REGION), **env})
    return SweepFunction(settings, account_id=ACCOUNT_ID, credentials=Credentials(ALICE_AK, ALICE_SECRET),
                         function_name="kms-steward-compliance-sweep")


def _planned_run(sweep: SweepFunction, run_id: str, targets, checks=("key_rotation", "secret_rotation")) -> tuple:
    state = RunState(sweep.accounts.home(), "kms-steward-state", REGION, sweep.task, run_id)
    manifest = state.create_manifest({"runId": run_id, "task": sweep.task, "asOf": NOW, "checks": list(checks),
                                      "targets": [{"account": a, "region": r} for a, r in targets], "rejections": [],
                                      "function": sweep.function_name})
    return state, manifest


def _clean(check: str, region: str) -> dict:
    return CheckResult(check=check, account=ACCOUNT_ID, region=region).to_state()


@pytest.mark.parametrize("damage", ["empty", "missing_check", "not_json", "other_shape"])
def test_a_target_whose_result_is_damaged_is_summarised_incomplete_not_dropped(damage):
    """Probe: the publisher took a result object for the target's whole word. `{}` (or a result missing a check)
    made the target's checks vanish from a summary that then said 0 incomplete; a body that is not JSON, or another
    shape, raised after the claim was taken, so every retry raised again and the run had no summary at all."""
    with LocalCloud(fan._accounts(), project=S_YAML, env=fan.ENV, clock=Clock(NOW)) as cloud:
        sweep = _sweep(cloud)
        from shared.sweeps import fanout

        state, manifest = _planned_run(sweep, "run-damaged", [(ACCOUNT_ID, REGION), (ACCOUNT_ID, "cn-shanghai")])
        state.put_result(f"{ACCOUNT_ID}/{REGION}", {"target": {"account": ACCOUNT_ID, "region": REGION},
                                                    "results": [_clean("key_rotation", REGION),
                                                                _clean("secret_rotation", REGION)], "rejections": []})
        bad_key = f"{ACCOUNT_ID}/cn-shanghai"
        body = {"empty": {}, "missing_check": {"results": [_clean("key_rotation", "cn-shanghai")], "rejections": []},
                "other_shape": {"results": [{"check": "key_rotation"}], "rejections": "x"}}.get(damage)
        if damage == "not_json":
            sweep.accounts.home().oss_bucket("kms-steward-state", REGION).put_object(
                f"{state.root}results/{bad_key}.json", b"{cut sho")
        else:
            state.put_result(bad_key, body)
        published = fanout.Worker(sweep).publish_if_complete(state, manifest, by=f"{ACCOUNT_ID}/{REGION}")
        assert published is not None
        [summary] = _summaries(cloud)
        shanghai = [r for r in summary["results"] if r["region"] == "cn-shanghai"]
        assert {r["check"] for r in shanghai} == {"key_rotation", "secret_rotation"} or damage == "missing_check"
        missing = [r for r in shanghai if not r["complete"]]
        assert missing and summary["incomplete"] >= 1
        assert all("result" in r["reason"] for r in missing)
        assert {r["check"] for r in shanghai} == {"key_rotation", "secret_rotation"}


# ---------------------------------------------------------------- (3) no alert storm across fanned-out runs


def _fan_cloud(member_keys=()):
    accounts = fan._accounts()
    from localcloud.products.kms_state import KmsKey

    accounts[1].kms.keys = [KmsKey(**k) for k in member_keys] + list(accounts[1].kms.keys)
    return LocalCloud(accounts, project=S_YAML, env=fan.ENV, clock=Clock(NOW))


def test_fanned_out_runs_alert_a_critical_once_and_record_it_resolved_in_the_member_account():
    """Across days, through the workers: the member account's CRITICAL key alerts on the first run only; once its
    rotation is on, the next run records it resolved (the memory is read and written by whichever worker publishes)."""
    old = fan._key(OLD_KEY, "cn-shanghai", fan.MEMBER)
    old["CreationDate"] = days_before(NOW, 800)
    with _fan_cloud([old]) as cloud:
        for day in range(3):
            if day == 2:
                member_key = next(k for k in cloud.accounts[fan.MEMBER].kms.keys if k.KeyId == OLD_KEY)
                member_key.AutomaticRotation, member_key.RotationInterval = "Enabled", "31536000s"
            assert cloud.fc.fire_timer("compliance-sweep").ok
            assert cloud.fc.drain(60)
            cloud.clock.advance(timedelta(days=1))
        assert len(_summaries(cloud)) == 3
        alerts = [e for e in events(cloud, CRITICAL_EVENT) if e["resourceId"] == OLD_KEY]
        assert len(alerts) == 1 and alerts[0]["account"] == fan.MEMBER
        resolved = [r for r in sweep_records(cloud) if r.get("status") == "resolved" and r.get("resourceId") == OLD_KEY]
        assert len(resolved) == 1 and resolved[0]["account"] == fan.MEMBER
        assert [s["resolved"] for s in _summaries(cloud)] == [0, 0, 1]


# ---------------------------------------------------------------- (5) no credential or secret value anywhere


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_no_credential_or_secret_value_in_anything_a_fanned_out_sweep_leaves(capfd, caplog, level):
    """Everything a fanned-out run leaves (the FC results and errors, events, records, every object of the state
    bucket, stdout, stderr, logs) holds neither the secret values it judged nor any credential: the function's own,
    the AssumeRole credentials of the member account, the operator's. Probe: at DEBUG, oss2 logged the string it
    signs, with each x-oss-security-token (the AssumeRole tokens included); shared/clients.py keeps oss2 at INFO."""
    import logging

    caplog.set_level(getattr(logging, level))
    with _fan_cloud() as cloud:
        member = cloud.accounts[fan.MEMBER]
        sweep_secret = sweep_account(secrets=[secret("app/token", created=days_before(NOW, 400))]).kms.secrets
        member.kms.secrets = list(member.kms.secrets) + [s.model_copy(update={"RegionId": "cn-shanghai"})
                                                         for s in sweep_secret]
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        [summary] = _summaries(cloud)
        assert any(r["account"] == fan.MEMBER and r["check"] == "secret_rotation" and r.get("findings")
                   for r in summary["results"])  # the member's secret was judged
        issued = [c for a in cloud.accounts.values() for c in a.credentials if c.SecurityToken]
        assert any(c.UserName.startswith(fan.ROLE) for c in issued)  # the member's sweep role was entered
        secrets = {ALICE_SECRET, "token-value"} | {c.AccessKeySecret for c in issued} | {c.SecurityToken for c in issued}
        left = [json.dumps([i.result, i.error, i.event.decode()], default=str) for i in cloud.fc.invocations]
        left += [json.dumps(r.payload) for r in cloud.fc.destinations_sent]
        left += [e.Content for a in cloud.accounts.values() for e in a.cms.events]
        left += [json.dumps(log.contents) for a in cloud.accounts.values() for log in a.sls.logs]
        left += [o.Content for a in cloud.accounts.values() for o in a.oss.objects]
        out, err = capfd.readouterr()
        left += [out, err, caplog.text]
        text = "\n".join(left)
        assert any(o.Key.startswith("kms-steward/sweeps/compliance-sweep/") for o in cloud.home.oss.objects)
        leaked = sorted(s for s in secrets if s and s in text)
        assert not leaked, f"{len(leaked)} credential(s) or secret value(s) left in the sweep's output"


# ---------------------------------------------------------------- (1) a check that could not look is never clean


def _keys(n: int) -> list[dict]:
    return [key(f"66666666-0000-4000-8000-{i:012d}", CreationDate=days_before(NOW, 800)) for i in range(n)]


def test_a_clamped_page_size_without_a_total_still_judges_every_key(start_cloud):
    from shared.sweeps.checks.key_rotation import CHECK
    from tests.support.sweeps import run

    cloud = start_cloud(sweep_account(keys=_keys(130)), now=NOW)
    from localcloud.account import Fault

    cloud.account.faults.append(Fault(Api="kms:ListKeys", PageSizeCap=7, OmitTotal=True))
    result = run(cloud, CHECK)
    assert result.complete and len(result.findings) == 130


@pytest.mark.parametrize("fault", [
    {"api": "kms:ListKeys", "kind": "denied"},
    {"api": "kms:ListKeys", "kind": "throttled"},
    {"api": "kms:DescribeKey", "kind": "throttled"},
    {"api": "kms:ListKeys", "kind": "malformed"},
    # a listing that lies about its total: one key on a page that says there are three
    {"api": "kms:ListKeys", "body": {"Keys": {"Key": [{"KeyId": "66666666-0000-4000-8000-000000000000"}]},
                                     "TotalCount": 3, "PageNumber": 1, "PageSize": 100, "RequestId": "r"}},
])
def test_keys_that_could_not_be_read_make_every_key_check_incomplete_never_clean(start_cloud, fault):
    from shared.sweeps.checks import CHECKS
    from tests.support.sweeps import run

    cloud = start_cloud(sweep_account(keys=_keys(3)), now=NOW)
    if "body" in fault:
        cloud.faults.respond(fault["api"], fault["body"])
    else:
        cloud.faults.add(fault["api"], kind=fault["kind"])
    for name in ("key_rotation", "deletion_protection", "policies"):
        result = run(cloud, CHECKS[name])
        assert not result.complete and result.reason, name


# ---------------------------------------------------------------- (1)/(2) a worker that never reports


def test_a_run_whose_worker_never_reported_is_summarised_by_the_next_run_not_lost(monkeypatch):
    """Probe: a worker killed on every attempt (FC stops it at its timeout, or its instance dies) writes no result,
    so no worker saw its run complete: the run had no summary at all, and nothing said so, day after day if the same
    target always runs out of time. Now the next timer's coordinator publishes such a run, once FC can no longer
    run its workers, with the missing target incomplete."""
    from shared.sweeps import fanout

    real = fanout.run_target
    killed = f"{fan.MEMBER}/cn-shanghai"

    def run_target(checks, target, clients):
        if f"{target.account}/{target.region}" == killed:
            raise TimeoutError("Function time out after 3600 seconds")  # as FC ends an invocation at its timeout
        return real(checks, target, clients)

    monkeypatch.setattr(fanout, "run_target", run_target)
    with _fan_cloud() as cloud:
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        assert not _summaries(cloud)  # the day's run cannot be summarised: one target never reported
        failed_attempts = [i for i in cloud.fc.invocations if not i.ok]
        assert len(failed_attempts) == 3  # the attempt and FC's two retries (maxAsyncRetryAttempts: 2), then no more

        monkeypatch.setattr(fanout, "run_target", real)
        cloud.clock.advance(timedelta(days=1))
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        first, second = _summaries(cloud)
        assert first["at"] == NOW and second["at"] > NOW
        lost = [r for r in first["results"] if f'{r["account"]}/{r["region"]}' == killed]
        assert lost and all(not r["complete"] and "never" in r["reason"] for r in lost)
        assert first["incomplete"] == len(lost) + 2 * 4  # and the two targets of the account with no role
        assert any(r["input"] == f"target {killed}" for r in first["rejected"])
        assert all(r["complete"] for r in second["results"] if r["account"] != fan.LOCKED)

        cloud.clock.advance(timedelta(days=1))  # a run is settled once: the third day publishes only its own
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        assert len(_summaries(cloud)) == 3


# ---------------------------------------------------------------- (2) a duplicate of the claim's holder


def test_a_duplicate_of_the_claim_holder_does_not_publish_a_second_summary_and_a_dead_holder_is_settled():
    """Probe: the claim named its holder by target, so a second delivery of the holder's event (FC delivers an
    asynchronous event at least once; a coordinator retried after a partial loop invokes in-flight targets again)
    running while the holder was publishing found "its own" claim with no summary yet and published too: two
    summaries. Now the claim names the attempt; another attempt of the same target publishes nothing, and a holder
    that died before writing the summary has its run settled by the next timer's coordinator."""
    with _fan_cloud() as cloud:
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        [summary] = _summaries(cloud)
        holder = next(i for i in fan._worker_invocations(cloud) if i.result["summary"])
        rid = holder.result["runId"]
        # The holder is mid-publication: its claim is there, the summary not yet.
        home = cloud.home
        summary_key = f"kms-steward/sweeps/compliance-sweep/{rid}/summary.json"
        home.oss.objects = [o for o in home.oss.objects if o.Key != summary_key]
        duplicate = cloud.fc.invoke("compliance-sweep", holder.event, invocation_type="Async")
        assert duplicate.ok and duplicate.result["summary"] is None
        assert len(_summaries(cloud)) == 1
        # The holder never finished: the next day's coordinator publishes the run (once), then its own.
        cloud.clock.advance(timedelta(days=1))
        coordinator = cloud.fc.fire_timer("compliance-sweep")
        assert coordinator.ok and coordinator.result["settled"] == [rid]
        assert cloud.fc.drain(60)
        assert len(_summaries(cloud)) == 3
        again = cloud.fc.invoke("compliance-sweep", coordinator.event, invocation_type="Async")  # FC retries it
        assert again.ok and again.result["settled"] == []
        assert cloud.fc.drain(60)
        assert len(_summaries(cloud)) == 3


# ---------------------------------------------------------------- (6) the HTML report and cloud text


def test_cloud_text_in_reasons_secret_names_and_tags_cannot_act_in_the_html_report(start_cloud):
    """What the cloud answers reaches the page: an error message (a check's reason, in "NOT looked at"), a secret's
    name and its rotation tag (a finding's id and message). None of it may become markup."""
    from kms_steward.sweep_report import render_html
    from shared.sweeps.checks import CHECKS
    from tests.support.sweeps import run

    hostile_name = 'db/"><svg onload=alert(1)>'
    hostile_tag = "<img src=x onerror=alert(2)>"
    cloud = start_cloud(sweep_account(keys=_keys(1), secrets=[
        secret(hostile_name, created=days_before(NOW, 400)),
        secret("db/tagged", created=days_before(NOW, 400), tags={"kms-steward:rotation-interval": hostile_tag})]), now=NOW)
    cloud.faults.add("kms:ListKeys", "InternalError", message="<script>alert(3)</script>", status=500)
    results = [run(cloud, CHECKS[name]) for name in ("key_rotation", "secret_rotation")]
    assert not results[0].complete and "alert(3)" in results[0].reason
    assert {f.resource_id for f in results[1].findings} == {hostile_name, "db/tagged"}
    page = render_html(results, NOW)
    for raw in ("<svg onload", "<img src", "<script>alert", "db/\">"):
        assert raw not in page, raw
    assert "&lt;svg onload=alert(1)&gt;" in page and "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "default-src 'none'" in page  # and were anything to slip through, the page's policy runs no script


# ---------------------------------------------------------------- (4) bad input: rejected, recorded, never retried


@pytest.mark.parametrize("payload", [
    "{not json", "[1, 2]", '"checks"', json.dumps({"checks": "key_rotation"}),
    json.dumps({"regions": [f"cn-x{i}" for i in range(5000)]}), json.dumps({"checks": [{"$ne": 1}]}),
    json.dumps({"task": "cert-sweep"}), json.dumps({"sweep": "x", "surprise": True}), "\udcff" * 3,
])
def test_a_malformed_timer_payload_is_rejected_in_the_summary_and_the_configured_sweep_runs(start_cloud, payload):
    cloud = start_cloud(sweep_account(keys=[key(OLD_KEY, CreationDate=days_before(NOW, 800))]), now=NOW)
    event = json.dumps({"triggerTime": NOW, "triggerName": "compliance-daily", "payload": payload}).encode()
    inv = cloud.fc.invoke("compliance-sweep", event, invocation_type="Async")
    assert inv.ok and inv.attempt == 1, inv.error  # no retry: bad input is not a failure
    assert cloud.fc.drain(60)
    [summary] = _summaries(cloud)
    assert summary["rejected"] and summary["totals"]["CRITICAL"] == 1
    assert len(json.dumps(summary["rejected"])) < 2000  # what was refused is said, not replayed


@pytest.mark.parametrize("sweep", [
    {"runId": "compliance-sweep-20300101T000000Z", "account": "9999999999999999", "region": "cn-hangzhou"},
    {"runId": "../../etc", "account": ACCOUNT_ID, "region": "cn-hangzhou"},
    {"runId": "compliance-sweep-20290101T000000Z", "account": ACCOUNT_ID, "region": "cn-hangzhou", "x": "y" * 100000},
    {},
])
def test_a_forged_worker_payload_is_refused_recorded_and_sweeps_nothing(sweep):
    """Probe: a refused worker payload was said only in the invocation's answer, which no one reads for an
    asynchronous invocation; now it is recorded too, without quoting the payload."""
    with _fan_cloud() as cloud:
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
        calls = {k: cloud.calls.get(k) for k in ("kms:ListKeys", "kms:ListSecrets", "sts:AssumeRole")}
        inv = cloud.fc.invoke("compliance-sweep", json.dumps({"task": "compliance-sweep", "sweep": sweep}).encode(),
                              invocation_type="Async")
        assert inv.ok and inv.attempt == 1 and "rejected" in inv.result
        assert len(_summaries(cloud)) == 1
        refused = [r for r in sweep_records(cloud) if r.get("kind") == "worker_payload_rejected"]
        assert len(refused) == 1 and "y" * 100 not in json.dumps(refused)
        assert {k: cloud.calls.get(k) for k in calls} == calls  # nothing swept on its word


# ---------------------------------------------------------------- (3) a state bucket the sweep cannot read


def test_a_state_bucket_that_cannot_be_read_is_alerted_and_the_sweep_still_summarised():
    """Probe: with GetObject denied on the state bucket, every worker raised reading the plan, FC retried each twice,
    and the run had no summary and no alert: silence. Now the coordinator reads its plan back before fanning out;
    when it cannot, it sweeps every target itself, says why, and the unreadable memory is alerted as in-process."""
    with _fan_cloud() as cloud:
        cloud.faults.add("oss:GetObject", kind="denied")
        coordinator = cloud.fc.fire_timer("compliance-sweep")
        assert coordinator.ok, coordinator.error
        assert cloud.fc.drain(60)
        assert not [i for i in cloud.fc.invocations if not i.ok]  # no crash loop
        [summary] = _summaries(cloud)
        assert len({(r["account"], r["region"]) for r in summary["results"]}) == 6
        assert any(r["input"] == "fan-out" and "AccessDenied" in r["reason"] for r in summary["rejected"])
        assert summary["stateProblems"] and events(cloud, "KmsStewardSweepStateUnreadable")


# ---------------------------------------------------------------- (2) the coordinator's invocations fail or lie


@pytest.mark.parametrize("fault", [
    {"Code": "ResourceThrottled", "Status": 429, "Remaining": 4},  # one target could not be invoked, past retries
    {"Code": "AccessDenied", "Status": 403},  # the role may not invoke itself: no worker at all
])
def test_invocations_that_fail_still_give_one_summary_with_every_target(fault):
    from localcloud.account import Fault

    with _fan_cloud() as cloud:
        cloud.home.faults.append(Fault(Api="fc:InvokeFunction", **fault))
        coordinator = cloud.fc.fire_timer("compliance-sweep")
        assert coordinator.ok, coordinator.error
        assert cloud.fc.drain(60)
        assert not [i for i in cloud.fc.invocations if not i.ok]
        [summary] = _summaries(cloud)
        assert len({(r["account"], r["region"]) for r in summary["results"]}) == 6
        not_invoked = coordinator.result["notInvoked"]
        assert len(not_invoked) == {"AccessDenied": 6, "ResourceThrottled": 1}[fault["Code"]]
        rows = [r for r in summary["results"] if f'{r["account"]}/{r["region"]}' in not_invoked]
        assert rows and all(not r["complete"] and "could not be invoked" in r["reason"] for r in rows)


def test_an_account_whose_role_entry_is_throttled_past_retries_is_incomplete_and_the_others_run():
    with _fan_cloud() as cloud:
        cloud.faults.add("sts:AssumeRole", kind="throttled")
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(120)
        [summary] = _summaries(cloud)
        others = [r for r in summary["results"] if r["account"] != ACCOUNT_ID]
        assert others and all(not r["complete"] and "Throttl" in r["reason"] for r in others)
        assert all(r["complete"] for r in summary["results"] if r["account"] == ACCOUNT_ID)
        assert {r["input"] for r in summary["rejected"]} >= {f"account {fan.MEMBER}", f"account {fan.LOCKED}"}


def test_only_unsummarised_runs_after_the_last_published_one_are_settled_and_manual_runs_do_not_crowd_them_out():
    """A run left unsummarised before a run that was published is not settled: its results would be compared with
    newer memory, and findings it lacks recorded resolved. Direct invocations (run ids of request ids) sort anywhere
    and must not push the timer's runs out of those looked at."""
    with _fan_cloud() as cloud:
        sweep = _sweep(cloud)
        old, published, lost = ("compliance-sweep-20291229T000000Z", "compliance-sweep-20291230T000000Z",
                                "compliance-sweep-20291231T000000Z")
        for rid, as_of in ((old, "2029-12-29T00:00:00Z"), (published, "2029-12-30T00:00:00Z"), (lost, "2029-12-31T00:00:00Z")):
            state = RunState(sweep.accounts.home(), "kms-steward-state", REGION, sweep.task, rid)
            state.create_manifest({"runId": rid, "task": sweep.task, "asOf": as_of, "checks": ["key_rotation"],
                                   "targets": [{"account": ACCOUNT_ID, "region": REGION}], "rejections": []})
        RunState(sweep.accounts.home(), "kms-steward-state", REGION, sweep.task, published).put_summary({"runId": published})
        for i in range(10):  # manual runs, named by their request ids
            RunState(sweep.accounts.home(), "kms-steward-state", REGION, sweep.task, f"f{i}aaaaaa-0000").create_manifest(
                {"runId": f"f{i}", "asOf": "2029-01-01T00:00:00Z", "targets": [], "checks": [], "rejections": []})
        coordinator = cloud.fc.fire_timer("compliance-sweep")
        assert coordinator.ok and coordinator.result["settled"] == [lost]
        assert cloud.fc.drain(60)
        assert [s["runId"] for s in _summaries(cloud)] == [lost, coordinator.result["runId"]]


# ---------------------------------------------------------------- (2)/(3) a timer event delivered twice, in-process


def test_a_timer_event_delivered_twice_sweeps_in_process_once_and_alerts_once(start_cloud):
    """Probe: a single-target sweep (the default: this account, this region) runs in-process, with no claim: the
    same timer event delivered twice ("Function Compute ensures that the request is executed at least once") gave
    two summaries, and two deliveries running together would each alert the same new CRITICAL finding. Now the
    in-process run claims its run (named by the timer's triggerTime) before publishing."""
    import threading

    cloud = start_cloud(sweep_account(keys=[key(OLD_KEY, CreationDate=days_before(NOW, 800))]), now=NOW)
    event = _timer({"task": "compliance-sweep"})
    runs = [threading.Thread(target=cloud.fc.invoke, args=("compliance-sweep", event), kwargs={"invocation_type": "Async"})
            for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join(120)
    cloud.fc.invoke("compliance-sweep", event, invocation_type="Async")  # and once more, later
    assert cloud.fc.drain(60)
    assert all(i.ok for i in cloud.fc.invocations)
    assert len(_summaries(cloud)) == 1
    assert len([e for e in events(cloud, CRITICAL_EVENT) if e["resourceId"] == OLD_KEY]) == 1
    duplicates = [i.result for i in cloud.fc.invocations if i.result.get("duplicate")]
    assert len(duplicates) == 2 and all(d["runId"] == "compliance-sweep-20300101T000000Z" for d in duplicates)


# ---------------------------------------------------------------- (1)/(4) the Resource Directory listing


@pytest.mark.parametrize("fault", [{"Kind": "denied"}, {"Kind": "throttled"}, {"PageSizeCap": 1},
                                   {"PageSizeCap": 1, "OmitTotal": True}])
def test_the_directory_listing_denied_or_clamped_never_drops_a_member_silently(fault):
    """Probe: a ListAccounts page shorter than the 100 asked with no TotalCount (a server clamping PageSize without
    saying so) ended the listing after its first page: the other members were not swept, and nothing said so. Now
    the listing is paged by the trusted helper (shared/audit/paging.py)."""
    from localcloud.account import Fault

    with _fan_cloud() as cloud:
        cloud.home.faults.append(Fault(Api="resourcemanager:ListAccounts", **fault))
        coordinator = cloud.fc.fire_timer("compliance-sweep")
        assert coordinator.ok, coordinator.error
        assert cloud.fc.drain(120)
        [summary] = _summaries(cloud)
        accounts = {r["account"] for r in summary["results"]}
        if "Kind" in fault:  # only this account could be swept, and the summary says why
            assert accounts == {ACCOUNT_ID}
            assert any(r["input"] == "SWEEP_ACCOUNTS=resource-directory" and "only this account" in r["reason"]
                       for r in summary["rejected"])
        else:
            assert accounts == {ACCOUNT_ID, fan.MEMBER, fan.LOCKED}


# ---------------------------------------------------------------- (3) a corrupt memory: loud once, then repaired


def test_a_corrupt_memory_alerts_once_more_and_is_repaired_so_the_next_run_is_quiet(start_cloud):
    from shared.sweeps.memory import FindingMemory

    cloud = start_cloud(sweep_account(keys=[key(OLD_KEY, CreationDate=days_before(NOW, 800))]), now=NOW)
    assert cloud.fc.fire_timer("compliance-sweep").ok
    memory_key = FindingMemory.object_key(ACCOUNT_ID, REGION, "key_rotation")
    [stored] = [o for o in cloud.home.oss.objects if o.Key == memory_key]
    stored.Content = '{"version": 1, "findings": ["not'
    for _ in range(2):
        cloud.clock.advance(timedelta(days=1))
        assert cloud.fc.fire_timer("compliance-sweep").ok
        assert cloud.fc.drain(60)
    alerts = [e for e in events(cloud, CRITICAL_EVENT) if e["resourceId"] == OLD_KEY]
    assert len(alerts) == 2  # the first run, and once more when the memory could not be read (loud, not quiet)
    assert len(events(cloud, "KmsStewardSweepStateUnreadable")) == 1  # the next run read the repaired memory
    assert [s["stateProblems"] != [] for s in _summaries(cloud)] == [False, True, False]
