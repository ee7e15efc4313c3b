"""Several FC instances of key-guard, each a process of its own (tests/test_replay_flood.py).

    python tests/support_handler_process.py <workdir>   < instances.json

stdin holds {"instances": [{"name", "requestId", "env": {...}}, ...]}: per instance the environment
FC gives the function (the s.yaml environment, FC_* and ALIBABA_CLOUD_* variables, see
localcloud/fc.py `_run`) and its request id. The credentials come this way, never by argv or file,
and are never written anywhere. `<workdir>/event.json` holds the event, as FC delivers it (bytes).

This process loads the handler named in s.yaml (functions/key_guard/index.py) by its file, as FC
does, then forks one process per instance: an FC instance has its own memory, and forking after the
imports spares each of them the five seconds the SDK imports take (six cold starts on two cores
would make the test wait a minute for nothing it tests). Nothing but imported modules is shared at
the fork: no client, connection, thread or configuration exists yet. Each instance sets its own
environment, builds its FC context, then waits at a start line (a pipe closed once every instance
is forked) so that all of them call `handler(event_bytes, context)` at the same moment.

Each instance writes `<workdir>/result-<name>.json`: {"ok": true, "result": ...} or, when the
handler raised (what FC would retry), {"ok": false, "errorType", "errorClasses", "errorMessage"}.
This process exits 0 once every instance has exited 0.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import traceback
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
HANDLER_FILE = ROOT / "functions" / "key_guard" / "index.py"


def load_handler():
    spec = importlib.util.spec_from_file_location("fc_key_guard_instance", HANDLER_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def fc_context(request_id: str) -> SimpleNamespace:
    env = os.environ
    return SimpleNamespace(
        request_id=request_id,
        credentials=SimpleNamespace(access_key_id=env["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                    access_key_secret=env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                                    security_token=env.get("ALIBABA_CLOUD_SECURITY_TOKEN")),
        function=SimpleNamespace(name=env.get("FC_FUNCTION_NAME", ""), handler=env.get("FC_FUNCTION_HANDLER", ""),
                                 memory=512, timeout=3600, version_id="", qualifier="LATEST"),
        region=env.get("FC_REGION", ""),
        account_id=env.get("FC_ACCOUNT_ID", ""),
        logger=logging.getLogger(f"fc.{env.get('FC_FUNCTION_NAME', 'key-guard')}"),
    )


def run_instance(handler, event: bytes, instance: dict, start_line: int, workdir: Path) -> None:
    os.environ.clear()
    os.environ.update(instance["env"])
    context = fc_context(instance["requestId"])
    os.read(start_line, 1)  # blocks until the start line opens (EOF) for every instance at once
    try:
        result = handler(event, context)
        json.dumps(result)  # FC serialises the return value
        outcome = {"ok": True, "result": result}
    except Exception as exc:  # FC: UnhandledInvocationError, retried
        outcome = {"ok": False, "errorType": type(exc).__name__,
                   "errorClasses": [cls.__name__ for cls in type(exc).__mro__], "errorMessage": str(exc)[:500]}
    name = instance["name"]
    tmp = workdir / f"result-{name}.json.tmp"
    tmp.write_text(json.dumps(outcome, default=str))
    tmp.replace(workdir / f"result-{name}.json")


def main(workdir: str) -> int:
    workdir_path = Path(workdir)
    instances = json.load(sys.stdin)["instances"]
    event = (workdir_path / "event.json").read_bytes()
    handler = load_handler()
    if threading.active_count() != 1:  # a thread at the fork would be half-copied into every instance
        print(f"refusing to fork with {threading.active_count()} threads running", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    start_read, start_write = os.pipe()
    children = {}
    for instance in instances:
        pid = os.fork()
        if pid == 0:  # the instance
            code = 1
            try:
                os.close(start_write)
                run_instance(handler, event, instance, start_read, workdir_path)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = instance["name"]
    os.close(start_read)
    os.close(start_write)  # the start line: every instance's read returns now
    failed = []
    for pid, name in children.items():
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed.append(f"{name}: exit {os.waitstatus_to_exitcode(status)}")
    if failed:
        print("instances crashed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
