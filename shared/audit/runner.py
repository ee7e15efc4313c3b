"""Runs every registered scanner concurrently and turns failures into incomplete results."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from shared.audit.model import AuditReport, ScanResult
from shared.audit.scanner import AuditTarget, Scanner
from shared.audit.scanners import SCANNERS
from shared.clients import Clients, describe_error, is_access_denied, is_throttled

SCANNER_TIMEOUT_S = 120


def incomplete_reason(exc: BaseException) -> str:
    if is_access_denied(exc):
        return f"access denied ({describe_error(exc)})"
    if is_throttled(exc):
        return f"throttled past retries ({describe_error(exc)})"
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        return f"timeout ({describe_error(exc)})"
    return describe_error(exc)


def _run_one(scanner: Scanner, target: AuditTarget, clients: Clients) -> ScanResult:
    started = time.monotonic()
    try:
        found = scanner.scan(target, clients)
        result = ScanResult(scanner=scanner.name, service=scanner.service, complete=True, dependents=found)
    except Exception as exc:  # fail safe: whatever stopped the scanner makes the audit incomplete
        result = ScanResult(scanner=scanner.name, service=scanner.service, complete=False, reason=incomplete_reason(exc))
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def run_audit(target: AuditTarget, clients: Clients, scanners: tuple[Scanner, ...] = SCANNERS) -> AuditReport:
    report = AuditReport(key_id=target.key_id, region=target.region)
    with ThreadPoolExecutor(max_workers=max(1, len(scanners)), thread_name_prefix="scanner") as pool:
        futures = [(s, pool.submit(_run_one, s, target, clients)) for s in scanners]
        for scanner, future in futures:
            try:
                report.results.append(future.result(timeout=SCANNER_TIMEOUT_S))
            except Exception as exc:  # the scanner overran its time: incomplete, never "no dependents"
                report.results.append(ScanResult(scanner=scanner.name, service=scanner.service, complete=False,
                                                 reason=f"timeout after {SCANNER_TIMEOUT_S}s ({type(exc).__name__})"))
    return report
