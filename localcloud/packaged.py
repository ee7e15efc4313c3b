"""A function run from its deployable package, as FC runs it: a process of its own whose only code is the package
(`kms-steward package`'s dist/<resource>/) and the standard library, its environment only what FC gives a function,
the handler loaded from its file and called with the event's bytes and a context.

The local cloud's own FC runs handlers in-process from the project (fast, and what most tests need). A test sets
`cloud.fc.packages` to a folder of packages to have every invocation run this way instead, so the same triggers, timers
and destinations drive the code that deploys (tests/test_package.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

# A fresh interpreter with nothing but the standard library importable until the code it runs adds the package: no
# PYTHONPATH, user site or current directory (-I), no site-packages (-S), and nothing written into the package (-B).
CLEAN_INTERPRETER = (sys.executable, "-I", "-S", "-B")
RESULT_MARK = "@@kms-steward-result@@ "  # the child's last stdout line: what the handler returned, or raised

_CHILD = r"""
import importlib.util, json, logging, sys, traceback
from types import SimpleNamespace
sys.path.insert(0, {folder!r})  # FC puts the code directory (/code) on the path
logging.basicConfig(level=logging.INFO)
request = json.loads(sys.stdin.read())
c = request["context"]
context = SimpleNamespace(
    request_id=c["request_id"], region=c["region"], account_id=c["account_id"],
    credentials=SimpleNamespace(**c["credentials"]), function=SimpleNamespace(**c["function"]),
    logger=logging.getLogger("fc." + c["function"]["name"]))
try:
    spec = importlib.util.spec_from_file_location("index", {handler_file!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = {{"result": getattr(module, {method!r})(request["event"].encode("utf-8", "surrogateescape"), context)}}
except Exception as exc:
    result = {{"error": {{"errorMessage": str(exc), "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]}}}}
print({mark!r} + json.dumps(result, default=str))
"""


class PackagedError(Exception):
    """The handler raised in its package: FC's UnhandledInvocationError, with the child's errorType and message."""

    def __init__(self, error: dict):
        super().__init__(error.get("errorMessage", ""))
        self.error = error


def _plain(context: SimpleNamespace) -> dict:
    return {"request_id": context.request_id, "region": context.region, "account_id": context.account_id,
            "credentials": vars(context.credentials),
            "function": {k: v for k, v in vars(context.function).items() if isinstance(v, (str, int, float))}}


def run_packaged(folder: Path, handler: str, event: bytes, context: SimpleNamespace, env: dict[str, str],
                 timeout_s: float = 600) -> object:
    """What the handler of the package in `folder` returns for `event` (PackagedError when it raises)."""
    file_part, _, method = handler.rpartition(".")
    handler_file = folder / f"{file_part}.py"
    if not handler_file.is_file():
        raise FileNotFoundError(f"no package of this function at {folder} (kms-steward package builds it)")
    code = _CHILD.format(folder=str(folder), handler_file=str(handler_file), method=method, mark=RESULT_MARK)
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **env}
    done = subprocess.run([*CLEAN_INTERPRETER, "-c", code], input=json.dumps(
        {"event": event.decode("utf-8", "surrogateescape"), "context": _plain(context)}),
        capture_output=True, text=True, env=child_env, cwd=folder, timeout=timeout_s)
    lines = [line for line in done.stdout.split("\n") if line.startswith(RESULT_MARK)]
    if not lines:
        raise PackagedError({"errorMessage": f"the function's process ended ({done.returncode}) without an answer: "
                                             f"{done.stderr.strip()[-800:]}", "errorType": "ProcessExited"})
    answer = json.loads(lines[-1][len(RESULT_MARK):])
    if "error" in answer:
        raise PackagedError(answer["error"])
    return answer["result"]
