"""The local cloud of `kms-steward bench sweep`, in a process of its own:
`python -m kms_steward.bench_sweep_cloud <accounts.json> --latency-ms 20 [--instances DIR]`.

It serves every account of the (multi-account) file with a latency on every call and the per-API quotas, counts the
calls it answers per API (throttled ones included, and those it refused counted apart), and runs the function
instances FC would run as processes of their own. It reads commands on stdin and answers each with one JSON line on
stdout: `counts`, `reset`, `fire <function>` (fire the function's timer and wait for every asynchronous invocation
it queued, returning the instances' figures), `advance <days>` (move the clock on), `quit`.

Quota scope is the local cloud's: Network.published() counts each quota per account and, for a regional API, per
region (localcloud/quota_gate.py), so 3 accounts x 20 regions of workers each get their own account-region quota.

One thing here is the bench's, not the emulator's: FC instances. FC runs each asynchronous invocation of a function with instanceConcurrency 1 on an instance of its
  own, at once (it scales out). The local runtime runs invocations in its own process, one at a time; here every
  invocation of the functions named by --instances-for runs in a child process (an instance), concurrently, with the
  context and environment the local runtime gives a function, and its handler time and peak RSS are recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from localcloud.account import Account
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from localcloud.gateway import Network

def scope_quotas(cloud: LocalCloud, latency_ms: int):
    """The published quotas (shared/quotas.py), which the local cloud counts per account and, for a regional API, per
    region (localcloud/quota_gate.py); returns the gate, whose `refused` counts the calls it refused per API."""
    cloud.network = Network.published(latency_ms)
    return cloud.network.gate


class Instances:
    """Every invocation of the named functions on an FC instance of its own: a child process, started at once."""

    def __init__(self, cloud: LocalCloud, functions: set[str], workdir: Path):
        self.cloud, self.functions, self.workdir = cloud, functions, workdir
        self.records: list[dict] = []
        self._lock = threading.Lock()
        fc = cloud.fc
        for name in ("_run", "_invoke", "_pending", "_idle"):
            if not hasattr(fc, name):
                raise RuntimeError(f"the local FC runtime has no {name}: the bench's instance runner needs updating")
        self._local_run = fc._run
        fc._run = self._run
        fc.submit = self._submit

    def _submit(self, resource: str, event: bytes, *, region: str | None = None, source: str = "") -> str:
        """InvokeFunction Async: accepted at once; run now on a new instance (FC scales out), retried as FC retries."""
        fc = self.cloud.fc
        request_id = str(uuid.uuid4())
        queued_at = self.cloud.clock.now()
        with fc._idle:
            fc._pending += 1

        def go():
            try:
                fc._invoke(resource, event, region=region, invocation_type="Async", source=source, queued_at=queued_at,
                           depth=0, first_request_id=request_id)
            finally:
                with fc._idle:
                    fc._pending -= 1
                    fc._idle.notify_all()

        threading.Thread(target=go, name=f"fc-instance-{request_id[:8]}", daemon=True).start()
        return request_id

    def _run(self, spec, event: bytes, region: str, request_id: str, attempt: int, invocation_type: str, source: str,
             first_request_id: str = "", queued_at=None):
        if spec.resource not in self.functions:
            return self._local_run(spec, event, region, request_id, attempt, invocation_type, source, first_request_id, queued_at)
        from localcloud.fc import Invocation

        inv = Invocation(spec.resource, request_id, attempt, invocation_type, event, source=source,
                         first_request_id=first_request_id or request_id, queued_at=queued_at)
        home = self.cloud.home
        with self.cloud.acting_for(None):
            creds = self.cloud.assume_role(spec.role, session=spec.function_name)
        env = {**spec.environment, "FC_FUNCTION_NAME": spec.function_name, "FC_FUNCTION_HANDLER": spec.handler, "FC_REGION": region,
               "FC_ACCOUNT_ID": home.account_id, "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.AccessKeyId,
               "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.AccessKeySecret, "ALIBABA_CLOUD_SECURITY_TOKEN": creds.SecurityToken,
               "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": self.cloud.endpoint_override(region)}
        job = {"code_dir": str(spec.code_dir), "handler": spec.handler, "event": event.decode("utf-8", "replace"),
               "context": {"request_id": request_id, "region": region, "account_id": home.account_id,
                           "credentials": {"access_key_id": creds.AccessKeyId, "access_key_secret": creds.AccessKeySecret,
                                           "security_token": creds.SecurityToken},
                           "function": {"name": spec.function_name, "handler": spec.handler,
                                        "memory": spec.props.get("memorySize", 512), "timeout": spec.timeout}}}
        job_file = self.workdir / f"{request_id}.job.json"
        out_file = self.workdir / f"{request_id}.out.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "kms_steward.bench_sweep_instance", str(job_file), str(out_file)],
                              env={**os.environ, **{k: v for k, v in env.items() if v is not None}}, capture_output=True, text=True)
        process_s = time.perf_counter() - started
        try:
            out = json.loads(out_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out = {"ok": False, "error": {"errorMessage": f"the instance died (exit {proc.returncode}): {proc.stderr[-1500:]}",
                                          "errorType": "InstanceCrashed", "stackTrace": []}}
        if out.get("ok"):
            inv.result = out.get("result")
        else:
            inv.error = out.get("error")
        with self._lock:
            self.records.append({"function": spec.resource, "request_id": request_id, "attempt": attempt, "type": invocation_type,
                                 "event": job["event"][:500], "ok": bool(out.get("ok")), "handler_s": out.get("wall_s"), "cpu_s": out.get("cpu_s"),
                                 "process_s": round(process_s, 3), "peak_rss_mb": out.get("peak_rss_mb"),
                                 "baseline_rss_mb": out.get("baseline_rss_mb"),
                                 "result": out.get("result") if invocation_type != "Async" or not out.get("ok") else
                                 _summary(out.get("result")), "error": (out.get("error") or {}).get("errorMessage", "")[:1500]})
        self.cloud.fc.invocations.append(inv)
        return inv


def _summary(result):
    """A worker's result, kept small (the bench reads its counts, not its findings)."""
    if not isinstance(result, dict):
        return result
    return {k: v for k, v in result.items() if not isinstance(v, list) or len(v) <= 50}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("accounts")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--project", default=str(Path(__file__).resolve().parents[1] / "s.yaml"))
    parser.add_argument("--instances-for", default="", help="comma-separated s.yaml resource names run on instances")
    parser.add_argument("--env-json", default="{}", help="the environment s.yaml's ${env(...)} reads, as a JSON object")
    args = parser.parse_args(argv)
    accounts = Account.load_all(args.accounts) if hasattr(Account, "load_all") else [Account.load(args.accounts)]
    # The clock frozen at the instant the estate describes (the account file's as_of), as `local up` starts it.
    cloud = LocalCloud(accounts if len(accounts) > 1 else accounts[0], project=args.project, clock=Clock(accounts[0].as_of),
                       env=json.loads(args.env_json))
    gate = scope_quotas(cloud, args.latency_ms)
    workdir = Path(tempfile.mkdtemp(prefix="kms-steward-fc-instances-"))
    instances = Instances(cloud, set(filter(None, args.instances_for.split(","))), workdir) if args.instances_for else None
    cloud.start()
    out = sys.stdout
    print(json.dumps({"endpoints": {r: cloud.endpoint_url(r) for r in cloud.region_ids},
                      "endpoint_override": cloud.endpoint_override()}), file=out, flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "counts":
            print(json.dumps({"calls": cloud.calls.snapshot(), "refused": dict(sorted(gate.refused.items()))}), file=out, flush=True)
        elif command[0] == "reset":
            cloud.calls.reset()
            gate.refused.clear()
            if instances:
                instances.records.clear()
            print(json.dumps({"ok": True}), file=out, flush=True)
        elif command[0] == "fire":
            started = time.perf_counter()
            inv = cloud.fc.fire_timer(command[1])
            drained = cloud.fc.drain(timeout=float(command[2]) if len(command) > 2 else 3600)
            wall = time.perf_counter() - started
            print(json.dumps({"wall_s": round(wall, 3), "drained": drained, "ok": inv.ok,
                              "error": (inv.error or {}).get("errorMessage") if not inv.ok else None,
                              "instances": instances.records if instances else []}), file=out, flush=True)
        elif command[0] == "advance":  # the next day's run: the clock moves on, the state of the last run is kept
            moved = cloud.clock.advance(timedelta(days=float(command[1])))
            print(json.dumps({"now": moved.strftime("%Y-%m-%dT%H:%M:%SZ")}), file=out, flush=True)
        elif command[0] == "quit":
            break
    cloud.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
