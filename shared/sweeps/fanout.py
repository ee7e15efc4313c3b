"""Fan-out: one sweep over many targets (account × region) inside one FC timeout, by Function Compute itself.

The coordinator (the timer's invocation) plans the run, writes the plan to the state bucket (shared/sweeps/run_state.py)
and invokes this same function once per target with asynchronous InvokeFunction (`x-fc-invocation-type: Async`,
"InvokeFunction", https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-invokefunction),
payload `{"task": <task>, "sweep": {"runId", "account", "region"}}` (far below the 128 KB asynchronous payload limit,
whatever the number of targets). Each worker enters its account (shared/sweeps/accounts.py), runs every check of the
plan on its target (runner.run_target) and writes its results under the run.

Exactly one summary per run, however the workers interleave or FC retries them. The summary is published by the
worker that completes the set, not by the coordinator waiting for the others:
- every worker writes its results first, then lists the run's results; the last writer necessarily sees them all
  (OSS lists what was written before), so at least one worker sees the set complete: no run is left unsummarised;
- several may see it complete (two finishing together, or a retried worker): each tries to create the run's claim
  with forbid-overwrite, and OSS lets exactly one create it; the others stop. The claim names its holder (the
  target and the attempt's request id), so a second delivery of the holder's event, or FC's retry of it, publishes
  nothing; if the holder dies between claim and summary, the next timer's coordinator settles the run (below);
- a coordinator collecting results until its deadline was rejected: it would pay for an idle instance the whole
  sweep long, would lose the summary if it timed out first, and a retried coordinator would publish again.
What is published is the same per-run notify.py does in-process: one KmsStewardSweepSummary, one event per CRITICAL
finding not alerted before, resolved findings recorded (the memory is per account/region/check, so the workers'
results compare exactly as an in-process run's do).

A target whose role cannot be entered is written as that target's result all the same (each check incomplete, with
the reason, and a rejection naming the account), so the set completes and the summary says it; the other targets run.
A target whose worker could not even be invoked is written by the coordinator the same way. Retries: a coordinator
retried by FC (same timer event, same run id) finds the plan of its first attempt and invokes only the targets with
no result yet; a worker retried rewrites the same result.

A worker whose every attempt fails (stopped at its timeout each time, its instance lost) writes no result, so no
worker sees its run complete. The next timer's coordinator settles such a run (`settle_earlier_runs`): once FC can no
longer run any of its workers, each target with no result is written as incomplete ("its worker never wrote a
result") and the run's summary is published, late but never lost. Before, that run had no summary and nothing said
so, every day if the same target always ran out of time.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from alibabacloud_fc20230330 import models as fc
from darabonba.runtime import RuntimeOptions

from shared.clients import describe_error
from shared.events import is_region_id
from shared.sweeps.accounts import RoleNotEntered
from shared.sweeps.check_kit import failed
from shared.sweeps.findings import CheckResult
from shared.sweeps.run_state import RunState, target_key
from shared.sweeps.runner import Rejection, SweepRequest, run_target, select_checks

if TYPE_CHECKING:
    from shared.sweeps.service import SweepFunction
    from shared.sweeps.targets import Plan

WORKER_FIELD = "sweep"
_RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_ACCOUNT = re.compile(r"[0-9]{16}")
# When FC can no longer run a worker of a run: an asynchronous event older than maxAsyncEventAgeInSeconds is not
# (re)tried, and an attempt is stopped at the function's timeout (s.yaml: 3600 s each; PutAsyncInvokeConfigInput,
# https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putasyncinvokeconfiginput). Past both
# with a margin, a target with no result will never have one.
SETTLE_AFTER = timedelta(hours=3)
EARLIER_RUNS = 7  # the last runs looked at by each coordinator: a week of daily runs
NEVER_REPORTED = ("its worker never wrote a result (it failed every attempt, or was stopped at the function's timeout): "
                  "nothing was looked at")


def is_worker_payload(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get(WORKER_FIELD), dict)


def run_id(task: str, request: SweepRequest, invocation_id: str) -> str:
    """The run's id: from the timer's triggerTime when there is one, so FC's retry of the coordinator (the same
    event, a new request id) continues the same run instead of starting a second one; else the invocation's id."""
    if request.as_of:
        return f"{task}-" + re.sub(r"[^0-9A-Za-z]", "", request.as_of)
    return re.sub(r"[^A-Za-z0-9._-]", "", invocation_id)[:100] or f"{task}-run"


class Coordinator:
    def __init__(self, sweep: "SweepFunction"):
        self.sweep = sweep

    def run(self, plan: "Plan", checks, rejections: list[Rejection], now: str, *, run_id: str,
            attempt: str = "") -> dict[str, Any]:
        sweep = self.sweep
        home = sweep.accounts.home()
        state = RunState(home, sweep.settings.state_bucket, sweep.home_region, sweep.task, run_id)
        try:
            manifest = state.create_manifest({
                "runId": run_id, "task": sweep.task, "asOf": now, "checks": [c.name for c in checks],
                "targets": [{"account": a, "region": r} for a, r in plan.targets],
                "rejections": [r.as_dict() for r in rejections], "function": sweep.function_name,
            })
            if manifest is None or state.manifest() is None:
                raise RuntimeError("the plan just written cannot be read back")
        except Exception as exc:  # noqa: BLE001 - see below
            # Workers find their run by reading this plan, and publish by reading the others' results: with a state
            # bucket that cannot be written and read back (GetObject denied, say), every worker raised, FC retried each,
            # and the run ended with no summary and no alert (tests/test_sweep_adversarial.py). Such a run is swept
            # here, in this one invocation, and says why; its unreadable memory is alerted as in-process runs alert it.
            reason = (f"the run's plan could not be kept in STATE_BUCKET ({describe_error(exc)}): every target was swept "
                      "in the coordinator's invocation")
            return sweep.in_process(plan.targets, checks, rejections + [Rejection("fan-out", reason)], now, run_id)
        settled = self.settle_earlier_runs(state, now)
        done = state.result_keys()
        invoked, not_invoked = 0, []
        client = home.fc(sweep.home_region, sweep.account_id)
        for target in manifest["targets"]:
            key = target_key(target["account"], target["region"])
            if key in done:
                continue
            payload = json.dumps({"task": sweep.task, WORKER_FIELD: {"runId": run_id, **target}}).encode()
            try:
                home.call("fc:InvokeFunction", client.invoke_function_with_options, sweep.function_name,
                          fc.InvokeFunctionRequest(body=payload), fc.InvokeFunctionHeaders(x_fc_invocation_type="Async"),
                          RuntimeOptions(), write=True)
                invoked += 1
            except Exception as exc:  # its result says so, and the set still completes
                reason = f"the worker could not be invoked: {describe_error(exc)}"
                not_invoked.append(key)
                Worker(sweep).write_failed(state, manifest, target["account"], target["region"], reason)
        published = Worker(sweep).publish_if_complete(state, manifest, by="coordinator", attempt=attempt) \
            if not_invoked else None
        return {"task": sweep.task, "role": "coordinator", "runId": run_id, "targets": len(manifest["targets"]),
                "invoked": invoked, "alreadyDone": len(done), "notInvoked": not_invoked,
                "rejected": manifest["rejections"][:10], "summary": published, "settled": settled}

    def settle_earlier_runs(self, state: RunState, now: str) -> list[str]:
        """Publish the summary of each earlier run FC can no longer complete, its unreported targets incomplete; the
        run ids published. Done before this run's workers start, so the finding memory moves in the runs' order.
        Never raises: a run not settled today is looked at again tomorrow."""
        from shared.rotation.secret_store import parse_time

        settled: list[str] = []
        instant = parse_time(now)
        try:
            earlier = state.earlier_runs(EARLIER_RUNS)
        except Exception:  # noqa: BLE001 - settling is a safety net; this run goes on
            return settled
        pending: list[RunState] = []
        for rid in earlier:
            try:
                other = state.other_run(rid)
                if other.summary() is not None:
                    # A run published after an unsummarised one: settling the older one now would compare its
                    # results with newer memory (findings it lacks recorded resolved). Only those after it are settled.
                    pending = []
                else:
                    pending.append(other)
            except Exception:  # noqa: BLE001 - unknown: not settled today
                continue
        for other in pending:
            rid = other.root.rsplit("/", 2)[1]
            try:
                manifest = other.manifest()
                began = parse_time(manifest.get("asOf")) if isinstance(manifest, dict) else None
                if began is None or instant is None or instant - began < SETTLE_AFTER:
                    continue
                worker = Worker(self.sweep)
                done = other.result_keys()
                for target in manifest["targets"]:
                    if target_key(target["account"], target["region"]) not in done:
                        worker.write_failed(other, manifest, target["account"], target["region"], NEVER_REPORTED)
                if worker.publish_if_complete(other, manifest, by=f"settled by {state.root.rsplit('/', 2)[1]}", late=True):
                    settled.append(rid)
            except Exception:  # noqa: BLE001 - one run that cannot be settled does not stop this one
                continue
        return settled


class Worker:
    def __init__(self, sweep: "SweepFunction"):
        self.sweep = sweep

    def run(self, doc: dict, invocation_id: str) -> dict[str, Any]:
        sweep = self.sweep
        spec = doc[WORKER_FIELD]
        rid, account, region = spec.get("runId"), spec.get("account"), spec.get("region")
        if doc.get("task") != sweep.task or not all(isinstance(v, str) for v in (rid, account, region)) or \
                not _RUN_ID.fullmatch(rid) or not _ACCOUNT.fullmatch(account) or not is_region_id(region):
            # Not a payload this function's coordinator wrote: refused, and nothing is swept on its word.
            return self.rejected("the sweep payload is not a target of a planned run")
        if not sweep.settings.state_bucket:
            return self.rejected("STATE_BUCKET is not set: no run to report to")
        state = RunState(sweep.accounts.home(), sweep.settings.state_bucket, sweep.home_region, sweep.task, rid)
        manifest = state.manifest()
        # The coordinator writes the plan before it invokes any worker (and OSS reads what was written): a run with no
        # plan was never planned here.
        if manifest is None or {"account": account, "region": region} not in manifest["targets"]:
            return self.rejected(f"{account}/{region} is not a target of run {rid}", rid)
        checks, _ = select_checks(manifest["checks"])
        from shared.sweeps.service import swept_regions

        target = sweep.target(account, region, manifest["asOf"], swept_regions(manifest["targets"], account))
        rejections: list[dict] = []
        try:
            clients = sweep.accounts.clients(account, region)
        except RoleNotEntered as exc:
            from shared.sweeps.service import role_rejection

            results = [failed(check.name, target, exc, "entering the account") for check in checks]
            rejections.append(role_rejection(exc).as_dict())
        else:
            results = run_target(checks, target, clients)
        key = target_key(account, region)
        state.put_result(key, {"target": {"account": account, "region": region}, "by": invocation_id,
                               "results": [r.to_state() for r in results], "rejections": rejections})
        summary = self.publish_if_complete(state, manifest, by=key, attempt=invocation_id)
        return {"task": sweep.task, "role": "worker", "runId": rid, "target": key,
                "findings": sum(len(r.findings) for r in results), "incomplete": sum(1 for r in results if not r.complete),
                "summary": summary}

    def rejected(self, reason: str, rid: str | None = None) -> dict[str, Any]:
        """A worker payload refused: recorded (an asynchronous invocation's answer is read by no one), never raised
        (FC would retry it). Before, the refusal was only in the invocation's answer (tests/test_sweep_adversarial.py).
        The payload itself is not quoted: only what was checked to be an id."""
        from shared.records import write_record
        from shared.sweeps.notify import RECORD_TOPIC

        sweep = self.sweep
        answer = {"task": sweep.task, "role": "worker", **({"runId": rid} if rid else {}), "rejected": reason}
        try:
            write_record({"kind": "worker_payload_rejected", **answer}, clients=sweep.accounts.home(),
                         project=sweep.settings.records_project, logstore=sweep.settings.records_logstore,
                         region=sweep.home_region, topic=RECORD_TOPIC)
        except Exception:  # noqa: BLE001 - the answer still says it
            pass
        return answer

    def write_failed(self, state: RunState, manifest: dict, account: str, region: str, reason: str) -> None:
        target = self.sweep.target(account, region, manifest["asOf"])
        checks, _ = select_checks(manifest["checks"])
        results = [failed(check.name, target, RuntimeError(reason)) for check in checks]
        state.put_result(target_key(account, region), {
            "target": {"account": account, "region": region}, "by": "coordinator",
            "results": [r.to_state() for r in results],
            "rejections": [Rejection(f"target {account}/{region}", reason).as_dict()]})

    def read_result(self, state: RunState, manifest: dict, key: str) -> tuple[list[CheckResult], list[dict]]:
        """One target's results and rejections as its worker wrote them, never fewer checks than the plan's: a result
        that cannot be read (not JSON, another shape, another target's) makes each check of the target incomplete, and
        a check it lacks is incomplete too. Before, `{}` or a result missing a check made those checks vanish from a
        summary that said 0 incomplete, and a body that did not parse raised after the claim was taken, so every
        retry raised again and the run had no summary (tests/test_sweep_adversarial.py)."""
        account, _, region = key.partition("/")
        target = self.sweep.target(account, region, manifest["asOf"])
        try:
            doc = state.result(key)
            results = [CheckResult.from_state(r) for r in doc["results"]]
            rejections = doc.get("rejections") or []
            if not isinstance(rejections, list) or not all(isinstance(r, dict) for r in rejections) or \
                    any((r.account, r.region) != (account, region) for r in results):
                raise ValueError("not the result a worker of this target writes")
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, the target is not looked at
            reason = f"its result could not be read ({describe_error(exc)})"
            return ([failed(name, target, RuntimeError(reason)) for name in manifest["checks"]],
                    [Rejection(f"target {key}", reason).as_dict()])
        seen = {r.check for r in results}
        results += [failed(name, target, RuntimeError("no result was written for this check"))
                    for name in manifest["checks"] if name not in seen]
        return results, rejections

    def publish_if_complete(self, state: RunState, manifest: dict, *, by: str, attempt: str = "",
                            late: bool = False) -> dict | None:
        """Publish the run's summary if every target has its result and `by` (this attempt) wins the claim, or, for a
        run settled late, the settlement; the summary, or None."""
        expected = {target_key(t["account"], t["region"]) for t in manifest["targets"]}
        if not expected <= state.result_keys():
            return None
        if not (state.claim_late(by) if late else state.claim(by, attempt)):
            return None
        results: list[CheckResult] = []
        rejections = list(manifest.get("rejections") or [])
        for key in sorted(expected):
            target_results, target_rejections = self.read_result(state, manifest, key)
            results += target_results
            rejections += target_rejections
        summary = self.sweep.publish(results, rejections, manifest["asOf"], manifest["runId"])
        state.put_summary({**summary, "publishedBy": by, "targets": len(expected)})
        return {k: summary[k] for k in ("runId", "totals", "incomplete", "newCritical", "resolved")}
