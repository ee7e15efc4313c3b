"""`rotate(secret_name)`: every step in order, resuming a rotation left half done.

A version already holding the pending stage is the rotation under way (a crash, a timeout, a failed step
of an earlier run): it is finished, never recreated. Otherwise the new version's id is derived from the
ACSCurrent version's (protocol.next_version_id), so two runs that start together (the timer and an
on-demand call, or two overlapping timer runs) store under the same id: PutSecretValue refuses the second
value and that run stops before touching the database, while a run that comes a moment later finds the
version pending and resumes it. Each step re-reads the stages, so resuming from any point, even inside a
step, ends with one promoted version that the target takes.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from shared.rotation.errors import Redactor, RotationRefused
from shared.rotation.protocol import ACS_CURRENT, PENDING_STAGE, STEPS, RotationRequest, Step, next_version_id
from shared.rotation.secret_store import SecretInfo, SecretStore
from shared.rotation.steps import RotationContext, run_step

# Secret types whose value PutSecretValue may set: "This operation is supported only for generic secrets"
# (API reference, PutSecretValue). Managed secrets (Rds, RAMCredentials, ECS, ...) rotate themselves.
GENERIC_TYPE = "Generic"


def new_version_id() -> str:
    return f"kms-steward-{uuid.uuid4()}"


@dataclass
class RotationHooks:
    """Test seams: `after_step(step, version_id)` after each step, `checkpoint(point)` inside a step right
    after one of its writes. Raising there stops the rotation exactly as a crash would."""

    after_step: Callable[[Step, str], None] | None = None
    checkpoint: Callable[[str], None] | None = None


@dataclass
class RotationOutcome:
    secret_name: str
    version_id: str
    resumed: bool
    strategy: str
    steps: list[dict[str, str]] = field(default_factory=list)
    duration_ms: int = 0

    def as_dict(self) -> dict:
        return {"secretName": self.secret_name, "versionId": self.version_id, "resumed": self.resumed,
                "strategy": self.strategy, "steps": self.steps, "durationMs": self.duration_ms}


def check_rotatable(info: SecretInfo) -> None:
    if info.secret_type and info.secret_type.lower() != GENERIC_TYPE.lower():
        raise RotationRefused("plan", f"secret {info.name!r} is a {info.secret_type} secret: only Generic secrets are "
                                      "rotated here (managed secrets rotate themselves)")


def _context(store: SecretStore, info: SecretInfo, version_id: str, redactor: Redactor, timeout_s: float,
             hooks: RotationHooks) -> RotationContext:
    return RotationContext(store, info.name, version_id, info.tags, redactor, timeout_s=timeout_s,
                           checkpoint=hooks.checkpoint or (lambda point: None))


def rotate(store: SecretStore, secret_name: str, *, timeout_s: float = 10.0, hooks: RotationHooks | None = None,
           current_step: list | None = None) -> RotationOutcome:
    """Rotate `secret_name` (or finish its rotation under way). Raises RotationError naming the step.
    `current_step`, when given, holds the step running (for the caller's record when something else stops it)."""
    hooks = hooks or RotationHooks()
    started = time.monotonic()
    info = store.describe(secret_name)
    check_rotatable(info)
    versions = store.versions(secret_name, "plan", include_deprecated=True)
    pending = next((v for v in versions if PENDING_STAGE in v.stages), None)
    current = next((v for v in versions if ACS_CURRENT in v.stages), None)
    if pending is not None:
        version_id = pending.version_id
    elif current is not None:
        # The first id derived from this ACSCurrent that no version holds yet: one taken by a version no longer
        # pending (an abandoned try, or ACSCurrent moved back to an older version) is never reused for a new value.
        taken = {v.version_id for v in versions}
        version_id = next(vid for vid in (next_version_id(current.version_id, n) for n in range(1, len(taken) + 2))
                          if vid not in taken)
    else:
        version_id = new_version_id()  # create_secret refuses: nothing to rotate from
    ctx = _context(store, info, version_id, store.redactor, timeout_s, hooks)
    outcome = RotationOutcome(info.name, version_id, resumed=pending is not None, strategy="")
    for step in STEPS:
        if current_step is not None:
            current_step[:] = [step.value, version_id]
        note = run_step(step, ctx)
        outcome.steps.append({"step": step.value, "result": note})
        outcome.strategy = ctx.plan.kind if ctx.plan else outcome.strategy
        if hooks.after_step:
            hooks.after_step(step, version_id)
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def run_one_step(store: SecretStore, request: RotationRequest, *, timeout_s: float = 10.0,
                 hooks: RotationHooks | None = None) -> RotationOutcome:
    """The single step an event names (a flow calling the function once per step)."""
    assert request.step is not None and request.version_id
    started = time.monotonic()
    info = store.describe(request.secret_name, request.step.value)
    check_rotatable(info)
    ctx = _context(store, info, request.version_id, store.redactor, timeout_s, hooks or RotationHooks())
    note = run_step(request.step, ctx)
    outcome = RotationOutcome(info.name, request.version_id, resumed=False, strategy=ctx.plan.kind if ctx.plan else "",
                              steps=[{"step": request.step.value, "result": note}])
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome
