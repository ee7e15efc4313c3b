"""One measured process of `kms-steward bench sweep`: `python -m kms_steward.bench_sweep_child <spec.json> <out.json>`.

The spec names the targets (account x region, with the account's credentials), the local cloud's endpoints, the
sweep's instant and settings, and the checks. Every target runs in turn through shared.sweeps.runner.run_target (all
checks over one SweepTarget with one Clients, as one FC worker runs it): with every target this is the sequential
baseline (the whole sweep in one process); with one target it is one worker of the subprocess fan-out stage. The
result (wall time, time per target, findings and completeness per check, peak RSS) is written to out.json.
"""
from __future__ import annotations

import json
import sys
import time

from kms_steward.bench_rss import cpu_s, current_rss_mb, peak_rss_mb  # VmHWM: the process's own peak


def run(spec: dict) -> dict:
    from shared.clients import Clients, Credentials
    from shared.sweeps.checks import CHECKS
    from shared.sweeps.findings import SweepTarget
    from shared.sweeps.runner import run_target

    baseline = current_rss_mb()  # the interpreter, the SDKs and the checks, before any call
    checks = [CHECKS[name] for name in spec["checks"]]
    started, cpu0 = time.perf_counter(), cpu_s()
    per_target, findings, incomplete = [], {c.name: 0 for c in checks}, []
    for t in spec["targets"]:
        t0 = time.perf_counter()
        clients = Clients(Credentials(t["access_key_id"], t["access_key_secret"]), t["region"],
                          endpoint_override=spec["endpoint_override"])
        target = SweepTarget(account=t["account"], region=t["region"], now=spec["now"], settings=spec["settings"])
        for result in run_target(checks, target, clients):
            findings[result.check] += len(result.findings)
            if not result.complete:
                incomplete.append(f"{result.account}/{result.region} {result.check}: {result.reason}"[:300])
        per_target.append({"account": t["account"], "region": t["region"], "wall_s": round(time.perf_counter() - t0, 3),
                           "calls": clients.calls.total})
    return {"wall_s": round(time.perf_counter() - started, 3), "cpu_s": round(cpu_s() - cpu0, 3), "targets": per_target, "findings": findings,
            "incomplete": incomplete, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}


def main(argv: list[str]) -> int:
    spec = json.loads(open(argv[0], encoding="utf-8").read())
    out = run(spec)
    with open(argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
