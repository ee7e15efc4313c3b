"""One measured audit, in its own process so its peak RSS is its own: `python -m kms_steward.bench_child
audit|sequential '<target json>'`. Credentials and the endpoint come from the environment; the
result is one JSON object on stdout. The target's `facts` ({"bucket", "region"}) is where the warm audit
remembers what cannot change (shared/audit/facts.py); without it the audit runs cold."""
from __future__ import annotations

import json
import os
import sys
import time

from kms_steward.bench_rss import current_rss_mb, peak_rss_mb

from shared.audit.facts import FactsPlace
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, Credentials


_rss_mb = peak_rss_mb  # VmHWM, the process's own peak: ru_maxrss would report the parent's from before the exec


def main(argv: list[str]) -> int:
    fields = json.loads(argv[1])
    facts = fields.pop("facts", None)
    mode, target = argv[0], AuditTarget(**fields, facts=FactsPlace(**facts) if facts else None)
    clients = Clients(Credentials.resolve(None), target.region, endpoint_override=os.environ["BENCH_ENDPOINT"])
    baseline = current_rss_mb()  # the interpreter and the SDKs, before any call
    started = time.perf_counter()
    if mode == "audit":
        from shared.audit.runner import run_audit

        report = run_audit(target, clients)
        found = {r.scanner: len(r.dependents) for r in report.results}
        complete = report.complete
        incomplete = {r.scanner: r.reason for r in report.incomplete}
        # Every dependent as reported (a few hundred): a warm audit is compared with a cold one item by item.
        dependents = sorted([r.scanner, d.resource_id, d.state, d.usage] for r in report.results for d in r.dependents)
        scanner_ms = {r.scanner: r.duration_ms for r in report.results}  # what the slowest part of the audit was
    else:
        from kms_steward.bench_sequential import sequential_scan

        found = {k: len(v) for k, v in sequential_scan(target, clients).items()}
        complete, incomplete, dependents, scanner_ms = True, {}, None, None
    wall = time.perf_counter() - started
    json.dump({"wall_s": wall, "calls": dict(sorted(clients.calls.counts.items())), "peak_rss_mb": _rss_mb(),
               "baseline_rss_mb": baseline, "found": found, "complete": complete, "incomplete": incomplete,
               "dependents": dependents, "scanner_ms": scanner_ms}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
