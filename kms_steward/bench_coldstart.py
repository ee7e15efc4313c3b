"""`kms-steward bench coldstart`: what a cold FC instance pays before its first answer.

For each function of s.yaml, a fresh interpreter imports the handler, as FC does when it starts an instance, and says
how long that took, its peak RSS, and the heaviest imports (Python's `-X importtime`, cumulative, top-level packages).
Then key-guard's cold start whole: a fresh interpreter imports its handler and decides one ScheduleKeyDeletion event on
the demo's small account, served by a local cloud in this process, with the function's own environment and its role's
temporary credentials; the time from the start of the import to the decision's answer. `kms-steward --help` is timed
the same way, as a whole process. Figures are medians of `--runs` runs, on this machine."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP_TARGET_S = 0.3
OWN_PACKAGES = {"index", "shared", "functions", "kms_steward", "localcloud"}

_CHILD = r"""
import json, resource, sys, time
sys.path[:0] = [{code!r}, {root!r}]
started = time.perf_counter()
import index
imported = time.perf_counter()
decided = None
if {event!r}:
    from types import SimpleNamespace
    import os
    context = SimpleNamespace(request_id="coldstart", account_id=os.environ["FC_ACCOUNT_ID"], region=os.environ["FC_REGION"],
                              credentials=SimpleNamespace(access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                                          access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                                                          security_token=os.environ["ALIBABA_CLOUD_SECURITY_TOKEN"]),
                              function=SimpleNamespace(name=os.environ["FC_FUNCTION_NAME"], timeout=600))
    result = index.handler({event!r}.encode(), context)
    decided = time.perf_counter()
    status = result["results"][0]["status"]
else:
    status = None
print(json.dumps({{"import_s": imported - started, "first_decision_s": (decided - started) if decided else None,
                  "status": status, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _child(code_dir: Path, event: str = "", env: dict[str, str] | None = None, importtime: bool = False) -> tuple[dict, str]:
    args = [sys.executable] + (["-X", "importtime"] if importtime else []) + [
        "-c", _CHILD.format(code=str(code_dir), root=str(ROOT), event=event)]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{code_dir.name}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def heaviest_imports(importtime_stderr: str, top: int = 5) -> list[tuple[str, float]]:
    """The top-level packages with the largest cumulative import time (`-X importtime`: self | cumulative | name)."""
    totals: dict[str, float] = {}
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if not cumulative.isdigit():
            continue
        package = name.split(".")[0]
        if package in OWN_PACKAGES:  # the project's own modules: what they import is what is named
            continue
        # a top-level entry's cumulative time includes everything it imported: keep the largest per package
        totals[package] = max(totals.get(package, 0.0), int(cumulative) / 1e6)
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def _handlers() -> dict[str, Path]:
    from localcloud.serverless import ServerlessProject

    project = ServerlessProject.load(ROOT / "s.yaml", account_id="1234567890123456", env={})
    return {name: spec.code_dir / Path(spec.handler.rpartition(".")[0]).parent for name, spec in project.functions.items()}


def _help_s() -> float:
    script = Path(sys.executable).with_name("kms-steward")  # the console script, as a person runs it
    started = time.perf_counter()
    subprocess.run([str(script), "--help"], capture_output=True, check=True, cwd=ROOT)
    return time.perf_counter() - started


def _key_guard_first_decision(runs: int) -> dict:
    from alibabacloud_kms20160120 import models as kms

    from kms_steward.local import load_account
    from localcloud.cloud import LocalCloud

    samples = []
    for _ in range(runs):
        with LocalCloud(load_account(None), project=ROOT / "s.yaml") as cloud:
            cloud.bus.hold()  # the event is decided by the cold child, not by the cloud's own FC
            spec = cloud.project.function("key-guard")
            alice = next(c for c in cloud.home.credentials if c.IdentityType == "ram-user")
            from alibabacloud_kms20160120.client import Client
            from alibabacloud_tea_openapi.models import Config

            region = spec.region or cloud.default_region
            client = Client(Config(access_key_id=alice.AccessKeyId, access_key_secret=alice.AccessKeySecret,
                                   endpoint=cloud.endpoint(region), protocol="http", region_id=region))
            key_id = cloud.home.kms.keys[0].KeyId
            client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
            event = next(e for e in cloud.bus.published if e["data"].get("eventName") == "ScheduleKeyDeletion")
            creds = cloud.assume_role(spec.role, session=spec.function_name)
            env = {**spec.environment, "FC_FUNCTION_NAME": spec.function_name, "FC_REGION": region,
                   "FC_ACCOUNT_ID": cloud.home.account_id, "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.AccessKeyId,
                   "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.AccessKeySecret,
                   "ALIBABA_CLOUD_SECURITY_TOKEN": creds.SecurityToken,
                   "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(region)}
            figures, _ = _child(_handlers()["key-guard"], json.dumps(event), env)
            cloud.bus.release()
            samples.append(figures)
    return {"import_s": statistics.median(s["import_s"] for s in samples),
            "first_decision_s": statistics.median(s["first_decision_s"] for s in samples),
            "status": samples[-1]["status"], "peak_rss_mb": max(s["peak_rss_mb"] for s in samples)}


def run_coldstart(runs: int = 3, progress=lambda message: None) -> dict:
    functions = {}
    for name, code_dir in _handlers().items():
        progress(f"importing {name}'s handler")
        samples = [_child(code_dir)[0] for _ in range(runs)]
        _, importtime = _child(code_dir, importtime=True)
        functions[name] = {"import_s": round(statistics.median(s["import_s"] for s in samples), 3),
                           "peak_rss_mb": round(max(s["peak_rss_mb"] for s in samples), 1),
                           "heaviest_imports": [[p, round(t, 3)] for p, t in heaviest_imports(importtime)]}
    progress("key-guard's first decision")
    first = _key_guard_first_decision(runs)
    progress("kms-steward --help")
    help_s = statistics.median(_help_s() for _ in range(runs))
    return {"runs": runs, "functions": functions,
            "key_guard_cold_start": {k: round(v, 3) if isinstance(v, float) else v for k, v in first.items()},
            "help_s": round(help_s, 3), "help_target_s": HELP_TARGET_S, "help_ratio_to_target": round(help_s / HELP_TARGET_S, 2)}


def render_coldstart(result: dict) -> str:
    lines = [f"cold start: medians of {result['runs']} run(s), each a fresh interpreter", "",
             f"{'function':<26}{'import s':>9}{'peak MB':>9}  heaviest imports (cumulative s)"]
    for name, f in result["functions"].items():
        heavy = ", ".join(f"{p} {t:.2f}" for p, t in f["heaviest_imports"][:4])
        lines.append(f"{name:<26}{f['import_s']:>9.2f}{f['peak_rss_mb']:>9.0f}  {heavy}")
    kg = result["key_guard_cold_start"]
    lines += ["", f"key-guard, import to its first decision (demo account, ScheduleKeyDeletion): {kg['first_decision_s']:.2f} s "
                  f"(import {kg['import_s']:.2f} s; decision {kg['status']}; peak {kg['peak_rss_mb']:.0f} MB)",
              f"kms-steward --help: {result['help_s']:.2f} s, {result['help_ratio_to_target']:.2f}x the {HELP_TARGET_S} s target"]
    return "\n".join(lines)
