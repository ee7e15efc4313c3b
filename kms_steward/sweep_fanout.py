"""One whole fanned-out sweep against a local cloud, as FC runs it: the function's timer fires (the coordinator),
the workers it invoked with asynchronous InvokeFunction run from the local FC queue, and the run's summary is read
back from the state bucket. For the sweep benchmark and the operator's local runs; the function's environment
(SWEEP_ACCOUNTS, SWEEP_REGIONS, SWEEP_FANOUT, STATE_BUCKET, ...) is the cloud's project environment."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from localcloud.cloud import LocalCloud


@dataclass
class FanOutRun:
    coordinator: dict[str, Any]  # the timer invocation's result (runId, targets, invoked, ...)
    workers: list[dict[str, Any]] = field(default_factory=list)  # each worker invocation's result
    worker_errors: list[dict] = field(default_factory=list)  # FC's error body of each failed worker attempt
    summary: dict[str, Any] | None = None  # the summary event of the run (KmsStewardSweepSummary), if published
    seconds: float = 0.0
    api_calls: dict[str, int] = field(default_factory=dict)  # calls made during the run, per product:Action


def run_fanned_out_sweep(cloud: LocalCloud, function: str = "compliance-sweep", *, timeout: float = 600) -> FanOutRun:
    """Fire `function`'s timer on `cloud` (started, with its s.yaml project) and wait for every worker; the run."""
    before = cloud.calls.snapshot()
    first = len(cloud.fc.invocations)
    started = time.monotonic()
    coordinator = cloud.fc.fire_timer(function)
    if not coordinator.ok:
        raise RuntimeError(f"{function} coordinator failed: {coordinator.error['errorMessage']}")
    if not cloud.fc.drain(timeout):
        raise TimeoutError(f"{function}: workers still queued after {timeout} s")
    run = FanOutRun(coordinator=coordinator.result, seconds=time.monotonic() - started)
    for inv in cloud.fc.invocations[first:]:
        if inv.request_id == coordinator.request_id:
            continue
        (run.workers.append(inv.result) if inv.ok else run.worker_errors.append(inv.error))
    run_id = coordinator.result.get("runId")
    for event in cloud.home.cms.events:
        if event.Name == "KmsStewardSweepSummary":
            content = json.loads(event.Content)
            if content.get("runId") == run_id:
                run.summary = content
    after = cloud.calls.snapshot()
    run.api_calls = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    return run
