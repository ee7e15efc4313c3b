"""`rotate(secret_name)`: every step in order, resuming a rotation left half done.

A version already holding the pending stage is the rotation under way (a crash, a timeout, a failed step
of an earlier run): it is finished, never recreated. Otherwise a new version id is drawn and the steps run
from create_secret. Each step re-reads the stages, so resuming from any point, even inside a step, ends
with one promoted version that the target takes.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

from shared.rotation.errors import Redactor, RotationRefused
from shared.rotation.protocol import PENDING_STAGE, STEPS, RotationRequest, Step
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
    pending = next((v for v in store.versions(secret_name, "plan") if PENDING_STAGE in v.stages), None)
    version_id = pending.version_id if pending else new_version_id()
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
