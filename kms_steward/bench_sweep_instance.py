"""One FC instance of `kms-steward bench sweep`: `python -m kms_steward.bench_sweep_instance <job.json> <out.json>`.

Loads the function's handler from its code directory (as FC loads `file.method` from /code), calls it once with the
event and a context shaped as FC 3.0's (request_id, credentials, function, region, account_id, logger) in the
environment the bench's local cloud set (the function's variables, FC's system variables, the endpoint override),
and writes {ok, result | error, wall_s (the handler's time), peak_rss_mb, baseline_rss_mb} to out.json.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import resource
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

from kms_steward.bench_rss import current_rss_mb, peak_rss_mb as rss_mb  # VmHWM: this process's own peak, not its parent's


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime




def load_handler(code_dir: str, handler: str):
    file_part, _, method = handler.rpartition(".")
    path = Path(code_dir) / f"{file_part}.py"
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(f"fc_instance_{file_part.replace('/', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, method)


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    c = job["context"]
    context = SimpleNamespace(request_id=c["request_id"], region=c["region"], account_id=c["account_id"],
                              credentials=SimpleNamespace(**c["credentials"]), function=SimpleNamespace(**c["function"]),
                              logger=logging.getLogger(f"fc.{c['function']['name']}"))
    out: dict = {}
    try:
        handler = load_handler(job["code_dir"], job["handler"])
        out["baseline_rss_mb"] = current_rss_mb()  # the interpreter and the function's imports (FC's cold start)
        started, cpu0 = time.perf_counter(), cpu_s()
        try:
            result = handler(job["event"].encode("utf-8"), context)
            json.dumps(result)
            out.update(ok=True, result=result)
        finally:
            out["wall_s"] = round(time.perf_counter() - started, 3)
            out["cpu_s"] = round(cpu_s() - cpu0, 3)
    except Exception as exc:  # FC reports any unhandled exception as UnhandledInvocationError
        out.update(ok=False, error={"errorMessage": str(exc)[:2000], "errorType": type(exc).__name__,
                                    "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]})
    out["peak_rss_mb"] = rss_mb()
    Path(argv[1]).write_text(json.dumps(out, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
