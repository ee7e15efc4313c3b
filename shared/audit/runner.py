"""Runs every registered scanner concurrently and turns failures into incomplete results.

One deadline bounds the whole audit, well inside the function's timeout: a scanner still running
then is reported incomplete ("timeout") and called off. Its calls stop (the audit's clients refuse
every call from then on), so it does not spend the account's quota into the next invocation of a
warm instance, nor push the next audit into throttling.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

from shared.audit.fanout import worker_pool
from shared.audit.model import AuditReport, ScanResult
from shared.audit.scanner import AuditTarget, Scanner
from shared.audit.scanners import SCANNERS
from shared.clients import Clients, describe_error, error_code, is_access_denied, is_throttled, timed_out

OnResult = Callable[[ScanResult], None]

# s.yaml gives the function an hour; the rest is for acting, alerting, recording. The audit needs
# minutes, not seconds, in a large region: KMS admits 40 secret-metadata calls a second, so 5,000
# secrets alone take over two minutes and 50,000 over twenty (shared/quotas.py). A deletion waits at
# least 7 days, so a long audit costs nothing; an audit cut short would cancel it (fail safe).
AUDIT_DEADLINE_S = 3000.0

# Threads an audit may use besides one per scanner: the helpers every scanner's fan-outs share
# (shared/audit/fanout.py). The quotas bound what is worth having in flight: 100 QPS at ~100 ms a call is
# 10 calls, and a few scanners fan out at once.
AUDIT_HELPERS = 32


# Codes that say a product is not activated in the account or not offered in the region. The exact
# spellings vary by product and are only partly published; these are the ones seen in the docs.
_NOT_HERE = ("NotOpen", "NotEnabled", "NotActivated", "NotActive", "ServiceNotEnabled", "Unactivated", "RegionId.NotSupport",
             "InvalidRegionId", "UnsupportedRegion", "Region.NotSupport")


def is_service_unavailable_here(exc: BaseException) -> bool:
    code = error_code(exc)
    return any(marker in code for marker in _NOT_HERE)


def incomplete_reason(exc: BaseException) -> str:
    if is_service_unavailable_here(exc):
        return f"service not enabled in the region ({describe_error(exc)})"
    if is_access_denied(exc):
        return f"access denied ({describe_error(exc)})"
    if is_throttled(exc):
        return f"throttled past retries ({describe_error(exc)})"
    if timed_out(exc):
        return f"timeout ({describe_error(exc)})"
    return describe_error(exc)


def _run_one(scanner: Scanner, target: AuditTarget, clients: Clients, on_result: OnResult | None = None,
             pool: ThreadPoolExecutor | None = None) -> ScanResult:
    started = time.monotonic()
    try:
        with worker_pool(pool):
            found = scanner.scan(target, clients)
        result = ScanResult(scanner=scanner.name, service=scanner.service, complete=True, dependents=found,
                            note=getattr(scanner, "note", None))
    except Exception as exc:  # fail safe: whatever stopped the scanner makes the audit incomplete
        result = ScanResult(scanner=scanner.name, service=scanner.service, complete=False, reason=incomplete_reason(exc))
    result.duration_ms = int((time.monotonic() - started) * 1000)
    if on_result is not None:
        on_result(result)
    return result


def run_audit(target: AuditTarget, clients: Clients, scanners: tuple[Scanner, ...] = SCANNERS,
              deadline_s: float = AUDIT_DEADLINE_S, on_result: OnResult | None = None) -> AuditReport:
    """Every scanner, concurrently; `on_result` is told of each result as it lands (progress displays)."""
    report = AuditReport(key_id=target.key_id, region=target.region)
    audit_clients = clients.scoped()
    # One bounded pool per audit: a thread per scanner (submitted first, so each starts at once) and the
    # helpers their fan-outs share, instead of a pool per fan-out.
    pool = ThreadPoolExecutor(max_workers=max(1, len(scanners)) + AUDIT_HELPERS, thread_name_prefix="audit")
    try:
        futures = {pool.submit(_run_one, s, target, audit_clients, on_result, pool): s for s in scanners}
        wait(futures, timeout=deadline_s)
        for future, scanner in futures.items():  # in table order, so records read the same every time
            if future.done():
                report.results.append(future.result())
            else:  # overran the deadline: incomplete, never "no dependents"
                report.results.append(ScanResult(scanner=scanner.name, service=scanner.service, complete=False,
                                                 reason=f"timeout: not finished within the audit deadline of {deadline_s:g} s",
                                                 duration_ms=int(deadline_s * 1000)))
    finally:
        audit_clients.cancel()  # a scanner past the deadline makes no further call
        pool.shutdown(wait=False, cancel_futures=True)
    return report
