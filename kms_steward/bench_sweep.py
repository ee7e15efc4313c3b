"""`kms-steward bench sweep`: the compliance and certificate sweeps over a synthetic estate of 3 accounts x 20 regions
(10k keys, 10k secrets, 5k certificates at --scale 1), fanned out as deployed (each function's timer, its coordinator,
one asynchronous InvokeFunction per target), next to the minimum calls the chosen APIs need and to the same sweep run
sequentially in one process, in the same run.

The fan-out runs twice: into an empty state (the first run after deployment: every finding is new, so recorded and,
when CRITICAL, alerted), then the next day (the clock moved on a day, the state of the first run kept), which is what
the timers run every day; the headline figures are that daily run's, the first run's are given beside them.

The local cloud runs in its own process (kms_steward/bench_sweep_cloud.py) with a latency on every call and the
per-API quotas per account and region; the estate is written as account data (kms_steward/bench_sweep_fleet.py), not
created through the API. Each worker is a process of its own, as each FC instance is, so its peak RSS is its own.
The calls are counted by the local cloud (every call it answered, throttled ones included); the minimum is derived
from the seeded records and the APIs' documented page sizes (bench_sweep_fleet.minimum_calls), never from the sweep's
code.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from kms_steward.bench_sweep_fleet import (AS_OF, HOME_REGION, LOG_PROJECT, REGIONS, STATE_BUCKET, Fleet, Sizes, build,
                                           minimum_calls)

LATENCY_MS = 20
S_YAML = Path(__file__).resolve().parents[1] / "s.yaml"
SWEEP_FUNCTION = "compliance-sweep"
SWEEP_FUNCTIONS = ("compliance-sweep", "cert-sweep")  # the fanned-out sweep: compliance checks, then certificates
CHECK_NAMES = ("key_rotation", "secret_rotation", "deletion_protection", "policies", "cert_expiry")
TARGETS = {"slowest_worker_share_of_timeout": 1 / 3, "calls_ratio_to_minimum": 1.1}


def function_env(regions: tuple[str, ...] = REGIONS) -> dict[str, str]:
    """The functions' environment (what s.yaml's ${env(...)} reads): every member of the Resource Directory, the
    estate's regions, the state bucket and the records' project, the functions in HOME_REGION."""
    return {"SWEEP_ACCOUNTS": "resource-directory", "SWEEP_REGIONS": ",".join(regions), "SWEEP_FANOUT": "auto",
            "STATE_BUCKET": STATE_BUCKET, "SLS_PROJECT": LOG_PROJECT, "REGION": HOME_REGION}


def function_limits(function: str = SWEEP_FUNCTION) -> tuple[int, int]:
    """The function's timeout (s) and memorySize (MB) as s.yaml deploys it."""
    from localcloud.serverless import ServerlessProject

    spec = ServerlessProject.load(S_YAML, account_id="1000000000000000", env=function_env()).function(function)
    return int(spec.timeout), int(spec.props.get("memorySize", 512))


def check_settings(regions: tuple[str, ...] = REGIONS) -> dict:
    """What every check reads from SweepTarget.settings, as the deployed functions build it from their environment."""
    from shared.sweeps.settings import SweepSettings

    # As SweepFunction.target builds them: the run's swept regions are where a CAS certificate's listeners are looked for.
    return SweepSettings.from_env(function_env(regions)).check_settings(tuple(regions))


class Cloud:
    """The local cloud process: endpoints, and its commands (counts, reset, fire) answered as JSON lines."""

    def __init__(self, accounts_file: Path, latency_ms: int, env: dict[str, str], instances_for: str = ""):
        args = [sys.executable, "-m", "kms_steward.bench_sweep_cloud", str(accounts_file), "--latency-ms", str(latency_ms),
                "--project", str(S_YAML), "--env-json", json.dumps(env)]
        if instances_for:
            args += ["--instances-for", instances_for]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr: list[str] = []
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()
        first = self.proc.stdout.readline()
        if not first:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the local cloud did not start: {''.join(self._stderr)[-3000:]}")
        info = json.loads(first)
        self.endpoints: dict[str, str] = info["endpoints"]
        self.endpoint_override: str = info["endpoint_override"]

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the local cloud stopped: {''.join(self._stderr)[-3000:]}")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 - it is going away either way
            self.proc.terminate()
            self.proc.wait(timeout=30)


def _spec(fleet: Fleet, targets: list, endpoint_override: str, now: str = AS_OF) -> dict:
    return {"targets": [{"account": t.account, "region": t.region,
                         **dict(zip(("access_key_id", "access_key_secret"), fleet.credentials(t.account)))} for t in targets],
            "endpoint_override": endpoint_override, "now": now, "settings": check_settings(fleet.regions),
            "checks": list(CHECK_NAMES)}


def _child(spec: dict, workdir: Path, name: str) -> subprocess.Popen:
    spec_file, out_file = workdir / f"{name}.spec.json", workdir / f"{name}.out.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_QPS"}  # paced to the published quotas, as enforced
    proc = subprocess.Popen([sys.executable, "-m", "kms_steward.bench_sweep_child", str(spec_file), str(out_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.out_file = out_file  # type: ignore[attr-defined]
    return proc


def _collect(proc: subprocess.Popen) -> dict:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"a sweep process failed (exit {proc.returncode}): {err[-3000:]}")
    return json.loads(Path(proc.out_file).read_text(encoding="utf-8"))  # type: ignore[attr-defined]


def run_fanout(cloud: Cloud, progress: Callable[[str], None]) -> dict:
    """The fanned-out sweep as deployed: each sweep function's timer fires (as its daily schedule fires it), its
    coordinator lists the targets (Resource Directory members x SWEEP_REGIONS) and invokes itself asynchronously once
    per target; every invocation runs on an FC instance of its own (a process). The functions fire one after the
    other, as their schedules do; the wall time is their sum."""
    stages, workers, coordinators = [], [], []
    for function in SWEEP_FUNCTIONS:
        progress(f"{function}: timer fired; coordinator and one worker per target, each on its own FC instance")
        fired = cloud.ask(f"fire {function}")
        if not fired["ok"] or not fired["drained"]:
            raise RuntimeError(f"{function}: the coordinator failed or its workers did not finish: {fired.get('error')}")
        mine = [i for i in fired["instances"] if i["function"] == function]
        coordinator = [i for i in mine if i["type"] != "Async" or '"sweep"' not in i["event"]]
        run_workers = [i for i in mine if i not in coordinator]
        for w in run_workers:
            target = json.loads(w["event"])["sweep"]
            w.update(account=target["account"], region=target["region"])
            result = w.get("result") or {}
            w["incomplete"] = [f"{target['account']}/{target['region']}: {result.get('incomplete')} check(s) incomplete"] \
                if result.get("incomplete") else []
            if not w["ok"]:
                w["incomplete"].append(f"{target['account']}/{target['region']}: {w['error'][:300]}")
        summaries = [w["result"]["summary"] for w in run_workers if (w.get("result") or {}).get("summary")]
        stages.append({"function": function, "wall_s": fired["wall_s"], "workers": len(run_workers),
                       "summaries": len(summaries), "summary": summaries[0] if summaries else None,
                       "coordinator_s": coordinator[0]["handler_s"] if coordinator else None})
        coordinators += coordinator
        workers += run_workers
    return {"mode": "FC fan-out: " + " then ".join(SWEEP_FUNCTIONS) + " (timer, coordinator, async InvokeFunction per target)",
            "wall_s": round(sum(st["wall_s"] for st in stages), 3), "workers": workers, "stages": stages,
            "coordinator": [{k: c.get(k) for k in ("function", "handler_s", "process_s", "peak_rss_mb", "ok", "result")}
                            for c in coordinators]}


def run_sequential(fleet: Fleet, cloud: Cloud, workdir: Path, now: str) -> dict:
    """Every target in turn in one process (shared.sweeps.runner.run_target, every check), judged at `now` (the local
    clock's, as the timer's triggerTime is)."""
    return _collect(_child(_spec(fleet, fleet.targets, cloud.endpoint_override, now), workdir, "sequential"))


def _findings(workers: list[dict]) -> int:
    return sum(int((w.get("result") or {}).get("findings") or 0) for w in workers)


def run_sweep_bench(scale: float = 1.0, *, latency_ms: int = LATENCY_MS, sequential: bool = True, accounts: int = 3,
                    regions: int = 20, progress: Callable[[str], None] = lambda msg: None) -> dict:
    sizes = Sizes.scaled(scale)
    progress(f"seeding {accounts} accounts x {regions} regions (x{scale:g}: {sizes.keys} keys, {sizes.secrets} secrets, "
             f"{sizes.certificates} certificates) as account data")
    t0 = time.perf_counter()
    fleet = build(sizes, accounts=accounts, regions=regions)
    minimum = minimum_calls(fleet, cert_regions=tuple(fleet.regions))
    timeout_s, memory_mb = function_limits()
    with tempfile.TemporaryDirectory(prefix="kms-steward-bench-sweep-") as tmp:
        workdir = Path(tmp)
        accounts_file = workdir / "accounts.json"
        accounts_file.write_text(json.dumps({"accounts": fleet.accounts}), encoding="utf-8")
        seed_s = time.perf_counter() - t0
        progress(f"starting the local cloud ({latency_ms} ms per call, per-API quotas per account and region)")
        cloud = Cloud(accounts_file, latency_ms, function_env(fleet.regions), instances_for=",".join(SWEEP_FUNCTIONS))
        try:
            # The first run meets an empty state: every finding is new (recorded, and alerted when CRITICAL). The timers'
            # daily run is the next day's: the same estate, the last run's state remembered. Both are measured; the
            # headline figures are the daily run's.
            progress("first run (empty state: every finding is new)")
            cloud.ask("reset")
            first = run_fanout(cloud, progress)
            first_counts = cloud.ask("counts")
            now = cloud.ask("advance 1")["now"]
            progress("the next day's run (the daily steady state)")
            cloud.ask("reset")
            fanout = run_fanout(cloud, progress)
            counts = cloud.ask("counts")
            seq = seq_counts = None
            if sequential:
                progress("the same sweep sequentially, in one process")
                cloud.ask("reset")
                seq = run_sequential(fleet, cloud, workdir, now)
                seq_counts = cloud.ask("counts")
        finally:
            cloud.close()
    result = compose(fleet, minimum, timeout_s, fanout, counts, seq, seq_counts, scale=scale, latency_ms=latency_ms, seed_s=seed_s,
                     memory_mb=memory_mb)
    cold = compose(fleet, minimum, timeout_s, first, first_counts, None, None, scale=scale, latency_ms=latency_ms, seed_s=seed_s,
                   memory_mb=memory_mb)
    result["first_run"] = {k: cold[k] for k in ("wall_s", "slowest_worker_s", "slowest_worker", "slowest_worker_cpu_s",
                                                "slowest_worker_process_s", "calls_ratio_to_minimum", "api_calls", "peak_rss_mb",
                                                "findings", "meets_targets", "api_calls_per_api", "throttled_per_api", "stages",
                                                "per_worker", "incomplete", "failed_workers")}
    result["run_measured"] = "the next day's run (the last run's state kept); first_run: the same sweep into an empty state"
    return result


def compose(fleet: Fleet, minimum: dict, timeout_s: int, fanout: dict, counts: dict, seq: dict | None, seq_counts: dict | None,
            *, scale: float, latency_ms: int, seed_s: float, memory_mb: int = 512) -> dict:
    workers = fanout["workers"]
    calls = counts["calls"]
    made = sum(calls.values())
    needed = sum(minimum.values())
    slowest = max(workers, key=lambda w: w["handler_s"] or 0)
    biggest = max(workers, key=lambda w: w["peak_rss_mb"] or 0)
    result = {
        "scale": scale, "latency_ms": latency_ms, "seeded": fleet.seeded(), "sizes": fleet.sizes.as_dict(), "seed_s": round(seed_s, 2),
        "fanout_mode": fanout["mode"],
        "wall_s": fanout["wall_s"],
        "slowest_worker_s": slowest["handler_s"],
        "slowest_worker": f"{slowest.get('account', '')}/{slowest.get('region', '')}",
        "slowest_worker_process_s": slowest.get("process_s"),
        "slowest_worker_cpu_s": slowest.get("cpu_s"),
        "function_timeout_s": timeout_s,
        "memory_mb": memory_mb,
        "slowest_worker_share_of_timeout": round(slowest["handler_s"] / timeout_s, 4),
        "api_calls": made,
        "minimum_calls": needed,
        "calls_ratio_to_minimum": round(made / needed, 3),
        "api_calls_per_api": dict(sorted(calls.items())),
        "minimum_calls_per_api": minimum,
        "throttled_per_api": counts.get("refused", {}),
        "peak_rss_mb": biggest["peak_rss_mb"],
        "peak_rss_worker": f"{biggest.get('account', '')}/{biggest.get('region', '')}",
        "workers": len(workers),
        "worker_rss_mb": {"max": biggest["peak_rss_mb"], "min": min(w["peak_rss_mb"] for w in workers),
                          "baseline": min(w.get("baseline_rss_mb") or 0 for w in workers)},
        "failed_workers": [w for w in workers if not w.get("ok")][:5],
        "findings": _findings(workers),
        "planted": dict(fleet.expected),
        "planted_total": sum(fleet.expected.values()),
        "stages": fanout.get("stages"),
        "incomplete": [i for w in workers for i in w.get("incomplete", [])][:20],
        "coordinator": fanout.get("coordinator"),
        "per_worker": sorted(({k: w.get(k) for k in ("function", "account", "region", "handler_s", "cpu_s", "process_s", "peak_rss_mb")} for w in workers),
                             key=lambda w: -(w["handler_s"] or 0)),
    }
    if seq is not None:
        seq_calls = seq_counts["calls"]
        reads_per_api = minimum_calls(fleet, cert_regions=tuple(fleet.regions), functions=0)  # in one process: no fan-out, no hand-over
        reads = sum(reads_per_api.values())
        result.update({
            "sequential_wall_s": seq["wall_s"],
            "sequential": {"wall_s": seq["wall_s"], "api_calls": sum(seq_calls.values()), "peak_rss_mb": seq["peak_rss_mb"],
                           "findings": seq["findings"], "incomplete": seq["incomplete"][:20],
                           "minimum_calls": reads, "minimum_calls_per_api": reads_per_api,
                           "calls_ratio_to_minimum": round(sum(seq_calls.values()) / reads, 3),
                           "api_calls_per_api": dict(sorted(seq_calls.items())), "throttled_per_api": seq_counts.get("refused", {})},
            "speedup_vs_sequential": round(seq["wall_s"] / fanout["wall_s"], 2) if fanout["wall_s"] else None,
        })
    else:
        result["sequential_wall_s"] = None
    result["targets"] = {"slowest_worker_s_below": round(timeout_s * TARGETS["slowest_worker_share_of_timeout"], 1),
                         "calls_ratio_to_minimum_at_most": TARGETS["calls_ratio_to_minimum"]}
    result["meets_targets"] = {
        "slowest_worker_s": slowest["handler_s"] < timeout_s * TARGETS["slowest_worker_share_of_timeout"],
        "calls_ratio_to_minimum": result["calls_ratio_to_minimum"] <= TARGETS["calls_ratio_to_minimum"],
    }
    return result
