"""`kms-steward bench audit`: how fast the audit runs against a region of realistic size, next to the
quota lower bound and to a sequential runbook scan, in the same run.

The local cloud runs in its own process (`kms-steward local up --latency-ms 20 --enforce-quotas`),
seeded with a synthetic region, so the audit's CPU and memory are its own. Each audit runs in a
fresh child process, which reports its wall time, calls per API and peak RSS.

The audit runs as key-guard runs it, with its facts store in the state bucket (shared/audit/facts.py): the first,
cold, run fills it; then the region grows by 1% (kms_steward/bench_warm.py) and the warm run describes only what
is new, next to a cold audit of the grown region that its dependents must equal.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from kms_steward.bench_region import BenchRegion, Sizes, minimum_by_product, minimum_calls
from kms_steward.bench_warm import GROWTH, as_deployed, facts_place, grown, read_facts
from shared.quotas import Quotas, quota_of

LATENCY_MS = 20


def _start_cloud(account_file: Path, latency_ms: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "kms_steward.cli", "local", "up", "--account", str(account_file),
                             "--latency-ms", str(latency_ms), "--enforce-quotas"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError(f"the local cloud did not start: {proc.stderr.read()[-2000:]}")


def child_env(region: BenchRegion, endpoint: str) -> dict:
    """The environment of an audit run in a process of its own (one FC instance): the region's credentials and
    endpoint, and the published quotas (no AUDIT_QPS override), as the cloud enforces them."""
    env = {**os.environ, "ALIBABA_CLOUD_ACCESS_KEY_ID": region.access_key_id,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": region.access_key_secret, "BENCH_ENDPOINT": endpoint}
    env.pop("AUDIT_QPS", None)
    return env


def _run_child(mode: str, region: BenchRegion, endpoint: str, *, facts: bool = False) -> dict:
    """One audit in a child process; `facts`: with the warm audit's store (the state bucket), as key-guard runs it."""
    env = child_env(region, endpoint)
    target = {**region.target(), **({"facts": facts_place()} if facts else {})}
    out = subprocess.run([sys.executable, "-m", "kms_steward.bench_child", mode, json.dumps(target)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the {mode} audit failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout)


def _per_product(calls: dict[str, int]) -> dict[str, int]:
    products: dict[str, int] = {}
    for api, n in calls.items():
        products[api.split(":")[0]] = products.get(api.split(":")[0], 0) + n
    return dict(sorted(products.items()))


def quota_bound(minimum: dict[str, int], quotas: Quotas) -> tuple[float, str]:
    """The lower bound on wall time the quotas set: for each quota (an API, or a group of APIs that
    share one, as KMS's do), the calls it must admit / its QPS; the largest."""
    needed: dict[str, int] = {}
    qps: dict[str, float] = {}
    members: dict[str, list[str]] = {}
    for api, n in minimum.items():
        group = quotas.group(api)
        needed[group] = needed.get(group, 0) + n
        qps[group] = quotas.qps(api)
        members.setdefault(group, []).append(api)
    worst = max(needed, key=lambda g: needed[g] / qps[g])
    label = f"{worst} ({' + '.join(members[worst])}: {needed[worst]} calls at {qps[worst]:g} QPS)"
    return needed[worst] / qps[worst], label


def _warm_runs(region: BenchRegion, facts: str | None, tmp: str, latency_ms: int) -> tuple[dict, dict, dict[str, int]]:
    """(the warm audit, a cold audit of the same grown region, what the growth added), on a local cloud started
    afresh on the region grown by GROWTH, holding the facts the cold run wrote (kms_steward/bench_warm.py)."""
    account, added = grown(region, facts)
    account_file = Path(tmp) / "grown-account.json"
    account_file.write_text(json.dumps(account), encoding="utf-8")
    del account
    proc, endpoint = _start_cloud(account_file, latency_ms)
    try:
        warm = _run_child("audit", region, endpoint, facts=True)
        cold = _run_child("audit", region, endpoint)  # what the grown region really holds, nothing remembered
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return warm, cold, added


def bench_size(scale: float, *, sequential: bool, latency_ms: int = LATENCY_MS, warm: bool = False) -> dict:
    """The audit of a synthetic region; with `warm`, again once the region has grown (`warm_*` figures)."""
    sizes = Sizes.scaled(scale)
    quotas = Quotas()
    warm_run = None
    with tempfile.TemporaryDirectory(prefix="kms-steward-bench-") as tmp:
        region = BenchRegion.build(sizes)
        as_deployed(region)  # the state bucket, and each secret's CreateTime
        account_file = Path(tmp) / "account.json"
        region.write(account_file)
        proc, endpoint = _start_cloud(account_file, latency_ms)
        try:
            # The first audit after deployment: nothing remembered yet, so cold; it fills the facts store.
            project = _run_child("audit", region, endpoint, facts=True)
            baseline = _run_child("sequential", region, endpoint) if sequential else None
            facts = read_facts(region, endpoint) if warm else None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        if warm:
            warm_run = _warm_runs(region, facts, tmp, latency_ms)
    # The fewest calls any documented strategy needs (bench_region, "minimums"): the ratio and the quota bound
    # are both taken against it, never against the audit's own strategy.
    minimum = minimum_calls(region)
    bound_s, bound_api = quota_bound(minimum, quotas)
    made = sum(project["calls"].values())
    needed = sum(minimum.values())
    result = {
        "scale": scale,
        "sizes": sizes.as_dict(),
        "on_key": region.on_key_counts(),
        "latency_ms": latency_ms,
        "wall_s": round(project["wall_s"], 3),
        "complete": project["complete"],
        "found": project["found"],
        "expected": region.expected_counts(),
        "api_calls": made,
        "api_calls_per_product": _per_product(project["calls"]),
        "api_calls_per_api": project["calls"],
        "minimum_calls": needed,
        "minimum_calls_per_api": minimum,
        "minimum_per_product": minimum_by_product(region),  # audit's strategy vs fewest documented, and why
        "calls_ratio_to_minimum": round(made / needed, 3),
        "quota_lower_bound_s": round(bound_s, 3),
        "quota_bound_api": bound_api,
        "ratio_to_quota_bound": round(project["wall_s"] / bound_s, 3) if bound_s else None,
        "peak_rss_mb": project["peak_rss_mb"],
        "baseline_rss_mb": project["baseline_rss_mb"],
    }
    if baseline is not None:
        result["sequential"] = {
            "wall_s": round(baseline["wall_s"], 3), "api_calls": sum(baseline["calls"].values()),
            "api_calls_per_product": _per_product(baseline["calls"]), "peak_rss_mb": baseline["peak_rss_mb"],
            "found": baseline["found"],
        }
        result["speedup_vs_sequential"] = round(baseline["wall_s"] / project["wall_s"], 2)
    if warm_run is not None:
        result.update(_warm_figures(*warm_run, cold_wall_s=project["wall_s"], bound_s=bound_s, quotas=quotas))
    return result


def _warm_figures(warm: dict, cold_grown: dict, added: dict[str, int], *, cold_wall_s: float, bound_s: float,
                  quotas: Quotas) -> dict:
    """The warm run next to the cold one. Its ratio is taken against the COLD quota bound (what any audit that
    knows nothing must wait); the bound its own calls set shows what the facts cannot spare: fresh reads of what can
    change (bucket encryption, TDE, state), paced by their quotas."""
    own_bound_s, own_bound_api = quota_bound(warm["calls"], quotas)
    return {
        "warm_wall_s": round(warm["wall_s"], 3),
        "warm_ratio_to_quota_bound": round(warm["wall_s"] / bound_s, 3) if bound_s else None,
        "warm_same_dependents": warm["complete"] and cold_grown["complete"] and warm["dependents"] == cold_grown["dependents"],
        "warm": {
            "growth": GROWTH, "added": added, "complete": warm["complete"], "incomplete": warm["incomplete"],
            "found": warm["found"], "cold_found": cold_grown["found"],
            "wall_to_cold_wall": round(warm["wall_s"] / cold_wall_s, 3) if cold_wall_s else None,
            "cold_wall_s_grown_region": round(cold_grown["wall_s"], 3),
            "api_calls": sum(warm["calls"].values()), "api_calls_per_api": warm["calls"],
            "cold_api_calls_grown_region": sum(cold_grown["calls"].values()),
            "own_calls_quota_bound_s": round(own_bound_s, 3), "own_calls_bound_api": own_bound_api,
            "scanner_ms": warm["scanner_ms"],
            "peak_rss_mb": warm["peak_rss_mb"],
        },
    }


def quota_table(apis) -> list[dict]:
    return [{"api": api, "qps": quota_of(api).qps, "shared_as": quota_of(api).group, "source": quota_of(api).source}
            for api in sorted(apis)]


def run_bench(scale: float = 1.0, *, growth: bool = True, sequential: bool = True, latency_ms: int = LATENCY_MS,
              progress=lambda msg: None) -> dict:
    progress(f"default size (x{scale:g})" + (", with the sequential runbook scan" if sequential else "")
             + f", then warm: the region grown by {GROWTH:.0%}")
    main = bench_size(scale, sequential=sequential, latency_ms=latency_ms, warm=True)
    out = {**main, "quotas": quota_table(set(main["minimum_calls_per_api"]) | set(main["api_calls_per_api"])),
           "targets": {"ratio_to_quota_bound": 1.3, "calls_ratio_to_minimum": 1.1, "peak_rss_mb": 256,
                       "warm_ratio_to_quota_bound": 0.1}}
    if growth:
        out["growth"] = []
        for factor, seq in ((0.1, sequential), (10.0, False)):
            progress(f"x{scale * factor:g} size" + (", with the sequential runbook scan" if seq else ""))
            run = bench_size(scale * factor, sequential=seq, latency_ms=latency_ms)
            out["growth"].append({k: run[k] for k in ("scale", "wall_s", "api_calls", "minimum_calls", "calls_ratio_to_minimum",
                                                       "quota_lower_bound_s", "ratio_to_quota_bound", "peak_rss_mb", "complete")
                                  } | {"found_everything": run["found"] == run["expected"]}
                                  | ({"sequential_wall_s": run["sequential"]["wall_s"],
                                        "speedup_vs_sequential": run["speedup_vs_sequential"]} if seq else {}))
    out["meets_targets"] = {
        "ratio_to_quota_bound": out["ratio_to_quota_bound"] is not None and out["ratio_to_quota_bound"] <= 1.3,
        "calls_ratio_to_minimum": out["calls_ratio_to_minimum"] <= 1.1,
        "peak_rss_mb": out["peak_rss_mb"] <= 256,
        "found_everything": out["found"] == out["expected"],
        "warm_ratio_to_quota_bound": out["warm_ratio_to_quota_bound"] is not None and out["warm_ratio_to_quota_bound"] <= 0.1,
        "warm_same_dependents": out["warm_same_dependents"],
    }
    return out
