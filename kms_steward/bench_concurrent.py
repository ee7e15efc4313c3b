"""`kms-steward bench audit --concurrent N`: N audits of one key at once, each in a process of its own (as N
Function Compute instances: no memory shared), against one local cloud enforcing Alibaba's per-account quotas.

Every instance paces itself to the whole published quota until the cloud refuses a call; then it lowers its
own rate for that quota and climbs back while it is not refused (shared/ratelimit.py). What is measured: the
share of calls the cloud refused (throttled), and the time from the first audit's start to the last one's
end against the concurrent quota bound -- for each quota, the calls all N audits must make (N x one audit's
minimum) over its QPS; the largest.

`python -m kms_steward.bench_concurrent '<target json>'` is one instance: it prints one JSON object.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"concurrent_ratio_to_quota_bound": 1.3, "concurrent_throttled_share": 0.05}


def _instance(argv: list[str]) -> int:
    """One audit (cold) as one instance runs it; its throttled calls as its own limiter counted them."""
    from kms_steward.bench_rss import peak_rss_mb
    from shared.audit.runner import run_audit
    from shared.audit.scanner import AuditTarget
    from shared.clients import Clients, Credentials

    target = AuditTarget(**json.loads(argv[0]))
    clients = Clients(Credentials.resolve(None), target.region, endpoint_override=os.environ["BENCH_ENDPOINT"])
    started_at, started = time.time(), time.perf_counter()
    report = run_audit(target, clients)
    wall = time.perf_counter() - started
    json.dump({"started_at": started_at, "ended_at": started_at + wall, "wall_s": wall,
               "calls": dict(sorted(clients.calls.counts.items())), "limiter": clients.limiter.stats(),
               "complete": report.complete, "incomplete": {r.scanner: r.reason for r in report.incomplete},
               "found": {r.scanner: len(r.dependents) for r in report.results}, "peak_rss_mb": peak_rss_mb()}, sys.stdout)
    return 0


def _start(region, endpoint: str) -> subprocess.Popen:
    from kms_steward.bench import child_env

    return subprocess.Popen([sys.executable, "-m", "kms_steward.bench_concurrent", json.dumps(region.target())],
                            env=child_env(region, endpoint), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def concurrent_bound(minimum: dict[str, int], instances: int) -> tuple[float, str]:
    """The quota bound of `instances` audits at once: each quota must admit every audit's minimum calls."""
    from kms_steward.bench import quota_bound
    from shared.quotas import Quotas

    return quota_bound({api: n * instances for api, n in minimum.items()}, Quotas())


def run_concurrent(instances: int, scale: float, *, latency_ms: int = 20, progress=lambda msg: None) -> dict:
    from kms_steward.bench import _start_cloud
    from kms_steward.bench_region import BenchRegion, Sizes, minimum_calls
    from shared.quotas import Quotas

    quotas = Quotas()
    region = BenchRegion.build(Sizes.scaled(scale))
    with tempfile.TemporaryDirectory(prefix="kms-steward-bench-concurrent-") as tmp:
        account_file = Path(tmp) / "account.json"
        region.write(account_file)
        cloud, endpoint = _start_cloud(account_file, latency_ms)
        try:
            progress(f"{instances} concurrent audits (x{scale:g} region), one process each")
            started = time.perf_counter()
            procs = [_start(region, endpoint) for _ in range(instances)]
            outputs = [proc.communicate() for proc in procs]
            parent_wall = time.perf_counter() - started
        finally:
            cloud.terminate()
            cloud.wait(timeout=30)
    runs = []
    for proc, (out, err) in zip(procs, outputs):
        if proc.returncode != 0:
            raise RuntimeError(f"a concurrent audit failed: {err[-3000:]}")
        runs.append(json.loads(out))
    minimum = minimum_calls(region)
    bound_s, bound_api = concurrent_bound(minimum, instances)
    single_bound_s, _ = concurrent_bound(minimum, 1)
    wall = max(r["ended_at"] for r in runs) - min(r["started_at"] for r in runs)
    calls = sum(sum(r["calls"].values()) for r in runs)
    throttled = sum(g["throttled"] for r in runs for g in r["limiter"].values())
    # Per quota: what all instances got through (calls made less those refused), a second, over the run.
    admitted: dict[str, int] = {}
    for r in runs:
        for api, n in r["calls"].items():
            admitted[quotas.group(api)] = admitted.get(quotas.group(api), 0) + n
        for group, g in r["limiter"].items():
            admitted[group] = admitted.get(group, 0) - g["throttled"]
    qps = {quotas.group(api): quotas.qps(api) for r in runs for api in r["calls"]}
    rates = {group: {"admitted_qps": round(n / wall, 2), "quota_qps": qps[group],
                     "throttled": sum(r["limiter"].get(group, {}).get("throttled", 0) for r in runs)}
             for group, n in sorted(admitted.items())}
    expected = region.expected_counts()
    result = {
        "instances": instances, "scale": scale, "latency_ms": latency_ms,
        "measures": (f"{instances} cold audits of one key at once, each in its own process (an FC instance), against one "
                     f"local cloud enforcing the published per-account quotas; synthetic region x{scale:g}"),
        "wall_s": round(wall, 3), "wall_with_process_start_s": round(parent_wall, 3),
        "quota_bound_s": round(bound_s, 3), "quota_bound_api": bound_api, "single_quota_bound_s": round(single_bound_s, 3),
        "concurrent_ratio_to_quota_bound": round(wall / bound_s, 3) if bound_s else None,
        "api_calls": calls, "throttled_calls": throttled,
        "concurrent_throttled_share": round(throttled / calls, 4) if calls else 0.0,
        "all_complete": all(r["complete"] for r in runs),
        "incomplete": [r["incomplete"] for r in runs if not r["complete"]],
        "found_everything": all(r["found"] == expected for r in runs),
        "per_instance_wall_s": [round(r["wall_s"], 2) for r in runs],
        "per_instance_peak_rss_mb": [r["peak_rss_mb"] for r in runs],
        "per_quota": rates,
        "targets": TARGETS,
    }
    result["meets_targets"] = {
        "concurrent_ratio_to_quota_bound": result["concurrent_ratio_to_quota_bound"] is not None
        and result["concurrent_ratio_to_quota_bound"] <= TARGETS["concurrent_ratio_to_quota_bound"],
        "concurrent_throttled_share": result["concurrent_throttled_share"] < TARGETS["concurrent_throttled_share"],
        "all_complete": result["all_complete"],
    }
    return result


def extend(result: dict, concurrent: dict | None) -> dict:
    """The bench audit's figures with the concurrent run's (and the 10x run's peak RSS) as top-level keys."""
    for g in result.get("growth") or []:
        if abs(g["scale"] - 10 * result["scale"]) < 1e-9:
            result["peak_rss_mb_x10"] = g["peak_rss_mb"]
    if concurrent is not None:
        result["concurrent"] = concurrent
        result["concurrent_ratio_to_quota_bound"] = concurrent["concurrent_ratio_to_quota_bound"]
        result["concurrent_throttled_share"] = concurrent["concurrent_throttled_share"]
    return result


def render_concurrent(c: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=max(140, Console().width))
    ok = lambda flag: "[green]meets[/green]" if flag else "[bold red]MISSES[/bold red]"  # noqa: E731
    meets = c["meets_targets"]
    table = Table(title=f"{c['instances']} concurrent audits, synthetic region x{c['scale']:g} ({c['latency_ms']} ms per call, "
                        "quotas enforced per account)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_row("what is measured", "", c["measures"])
    table.add_row("total time, first start to last end (s)", f"{c['wall_s']:.2f}",
                  f"(with process start-up: {c['wall_with_process_start_s']:.2f})")
    table.add_row("concurrent quota bound (s)", f"{c['quota_bound_s']:.2f}", c["quota_bound_api"])
    table.add_row("ratio to the concurrent quota bound", f"{c['concurrent_ratio_to_quota_bound']}",
                  f"<= {TARGETS['concurrent_ratio_to_quota_bound']}  {ok(meets['concurrent_ratio_to_quota_bound'])}")
    table.add_row("API calls (all instances)", str(c["api_calls"]), "")
    table.add_row("throttled calls", str(c["throttled_calls"]), "")
    table.add_row("throttled share", f"{c['concurrent_throttled_share'] * 100:.2f}%",
                  f"< {TARGETS['concurrent_throttled_share'] * 100:g}%  {ok(meets['concurrent_throttled_share'])}")
    table.add_row("every audit complete", "yes" if c["all_complete"] else "NO", ok(meets["all_complete"]))
    table.add_row("every audit found what was planted", "yes" if c["found_everything"] else "NO", "")
    table.add_row("per-instance wall (s)", ", ".join(f"{w:g}" for w in c["per_instance_wall_s"]), "")
    console.print(table)
    quotas = Table(title="Per quota: what all instances got through, against the quota")
    for col in ("quota", "admitted (QPS over the run)", "quota (QPS)", "throttled"):
        quotas.add_column(col, justify="right" if col != "quota" else "left")
    for group, q in c["per_quota"].items():
        quotas.add_row(group, f"{q['admitted_qps']:g}", f"{q['quota_qps']:g}", str(q["throttled"]))
    console.print(quotas)


if __name__ == "__main__":
    sys.exit(_instance(sys.argv[1:]))
