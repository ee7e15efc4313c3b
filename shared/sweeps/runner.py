"""Running checks over targets (account x region), each check fail-safe: whatever one check raises becomes its own
incomplete result, and every other check and target still runs.

What to run comes from the invocation's payload (`parse_request`): the timer's `{"task": "compliance-sweep"}`, or a
direct invocation naming `checks` and/or `regions`. Anything not understood is rejected with the reason (a
Rejection, recorded and summarised by the caller), never silently dropped: an unknown check name or a bad region is
left out and the rest runs; a payload that cannot be read at all is rejected and the configured sweep runs in its
place (a timer run exists to sweep; skipping it would hide what it should find).

One target is one unit of work (`run_target`), so a later fan-out can hand each FC worker a single target.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from shared.events import is_region_id
from shared.rotation.secret_store import parse_time
from shared.sweeps.check_kit import failed
from shared.sweeps.checks import CHECKS, COMPLIANCE_CHECKS, UNAVAILABLE
from shared.sweeps.findings import Check, CheckResult, SweepTarget

TASK = "compliance-sweep"
MAX_NAMES = 50  # checks or regions a payload may name: more is not a request a person wrote


@dataclass(frozen=True)
class Rejection:
    what: str  # the input refused: "check 'nope'", "payload", "region 'x'"
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"input": self.what, "reason": self.reason}


@dataclass
class SweepRequest:
    checks: tuple[str, ...] = ()  # empty: the configured ones
    regions: tuple[str, ...] = ()  # empty: the configured ones
    # The instant the sweep judges against: the timer's triggerTime (when FC fired it), else None (the wall clock).
    as_of: str | None = None
    rejections: list[Rejection] = field(default_factory=list)


def parse_request(event: Any, task: str = TASK) -> SweepRequest:
    """The request an invocation carries: a timer event (its `payload` string holds the request), a request object, or
    nothing (bytes of an empty event). Never raises: what is not understood is a Rejection. `task` is the function's
    own (compliance-sweep, cert-sweep): a request for another task is rejected."""
    request = SweepRequest()
    try:
        doc = json.loads(event) if isinstance(event, (bytes, bytearray, str)) else event
    except (ValueError, UnicodeDecodeError):
        request.rejections.append(Rejection("payload", "the event is not JSON; the configured sweep runs"))
        return request
    if doc in (None, "", {}):
        return request
    if isinstance(doc, dict) and "triggerName" in doc:  # FC timer event: {"triggerTime", "triggerName", "payload"}
        if parse_time(doc.get("triggerTime") if isinstance(doc.get("triggerTime"), str) else None):
            request.as_of = doc["triggerTime"]
        raw = doc.get("payload")
        try:
            doc = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
        except ValueError:
            request.rejections.append(Rejection("payload", f"the timer {str(doc.get('triggerName'))[:60]!r} payload is not "
                                                           "JSON; the configured sweep runs"))
            return request
    if not isinstance(doc, dict):
        request.rejections.append(Rejection("payload", f"expected a JSON object, got {type(doc).__name__}; the configured "
                                                       "sweep runs"))
        return request
    asked = doc.get("task", task)
    if asked != task:
        request.rejections.append(Rejection("task", f"task {str(asked)[:60]!r} is not {task!r}; the configured sweep runs"))
        return request
    request.checks = _names(doc, "checks", lambda n: True, request)
    request.regions = _names(doc, "regions", is_region_id, request)
    unknown = set(doc) - {"task", "checks", "regions"}
    if unknown:
        request.rejections.append(Rejection("payload", f"unknown field(s) {', '.join(sorted(unknown))[:120]}: ignored"))
    return request


def _names(doc: dict, field_name: str, valid: Callable[[str], bool], request: SweepRequest) -> tuple[str, ...]:
    raw = doc.get(field_name)
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_NAMES or not all(isinstance(n, str) for n in raw):
        request.rejections.append(Rejection(field_name, f"{field_name} must be a list of at most {MAX_NAMES} names; "
                                                         "the configured ones run"))
        return ()
    names = []
    for name in raw:
        if not valid(name):
            request.rejections.append(Rejection(f"{field_name[:-1]} {name[:60]!r}", "not a region id; left out"))
        elif name not in names:
            names.append(name)
    return tuple(names)


def select_checks(names: Iterable[str], registry: dict[str, Check] = CHECKS) -> tuple[list[Check], list[Rejection]]:
    """The checks named (the compliance checks when none is), and a rejection for each name that is not a check."""
    names = list(names) or [name for name in COMPLIANCE_CHECKS if name in registry]
    checks, rejections = [], []
    for name in names:
        if name in registry:
            checks.append(registry[name])
        elif name in UNAVAILABLE:
            rejections.append(Rejection(f"check {name!r}", f"could not be loaded ({UNAVAILABLE[name]})"))
        else:
            rejections.append(Rejection(f"check {name[:60]!r}", f"unknown check; the checks are {', '.join(sorted(registry))}"))
    return checks, rejections


def run_check(check: Check, target: SweepTarget, clients) -> CheckResult:
    """One check over one target; anything it raises is its incomplete result, with the reason."""
    started = time.monotonic()
    try:
        result = check.run(target, clients)
    except Exception as exc:  # fail safe: a check that breaks reports itself incomplete, the others run
        result = failed(check.name, target, exc)
    result.metrics.append({"name": "KmsStewardCheckDurationMs", "value": int((time.monotonic() - started) * 1000)})
    return result


def run_target(checks: list[Check], target: SweepTarget, clients) -> list[CheckResult]:
    """Every check over one target, sharing its clients (so a listing several checks read is fetched once)."""
    return [run_check(check, target, clients) for check in checks]


def run_checks(checks: list[Check], targets: list[SweepTarget], clients_for: Callable[[SweepTarget], Any]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for target in targets:
        try:
            clients = clients_for(target)
        except Exception as exc:  # this target's clients cannot be built: each check is incomplete, the rest run
            results.extend(failed(check.name, target, exc, "building the clients") for check in checks)
            continue
        results.extend(run_target(checks, target, clients))
    return results
