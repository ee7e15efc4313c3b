"""What every check does alike: turn a failure into an incomplete result with the reason (denied, throttled past
retries, a listing that is not whole...), read the sweep's instant and settings, and count days."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shared.audit.runner import incomplete_reason
from shared.rotation.secret_store import parse_time
from shared.sweeps.findings import CheckResult, SweepTarget

DAY_SECONDS = 86400


def failed(check: str, target: SweepTarget, exc: BaseException, what: str = "") -> CheckResult:
    """The check could not look: incomplete, never "nothing out of policy"."""
    reason = incomplete_reason(exc)
    return CheckResult(check=check, account=target.account, region=target.region, complete=False,
                       reason=f"{what}: {reason}" if what else reason)


def add_gap(result: CheckResult, what: str, exc: BaseException) -> None:
    """Part of a check could not be judged (one secret, one key): the rest stands, the result says what is missing."""
    gap = f"{what}: {incomplete_reason(exc)}"
    result.complete = False
    result.reason = gap if not result.reason else f"{result.reason}; {gap}"


def sweep_now(target: SweepTarget) -> datetime:
    return parse_time(target.now) or datetime.now(timezone.utc)


def days_since(text: str | None, now: datetime) -> int | None:
    moment = parse_time(text)
    return None if moment is None else int((now - moment).total_seconds() // DAY_SECONDS)


def setting(target: SweepTarget, name: str, default: Any) -> Any:
    value = target.settings.get(name)
    return default if value is None else value


def severity_for_age(age_days: int | None, policy_days: int) -> str:
    """Out of policy: WARN; past twice the policy: CRITICAL. The same finding rises from WARN to
    CRITICAL as time passes, which alerts it once more (shared/sweeps/notify.py). Of unknown age: WARN."""
    return "CRITICAL" if age_days is not None and age_days > 2 * policy_days else "WARN"
