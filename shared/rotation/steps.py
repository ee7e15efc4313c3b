"""The four steps (shared/rotation/protocol.py), each idempotent: it reads the version stages first and
does only what is left, so a step run twice, or after a crash anywhere inside it, ends in the same place.

Only finish_secret touches ACSCurrent, and only for a value that has just logged in: whatever fails
before, ACSCurrent is what it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from shared.rotation.credentials import SecretValue, changed_apart_from_login, parse_secret_value
from shared.rotation.errors import Redactor, RotationError, RotationRefused, StepFailed, TargetError
from shared.rotation.protocol import ACS_CURRENT, ACS_PREVIOUS, PENDING_STAGE, PENDING_TAG, Step
from shared.rotation.secret_store import SecretStore, SecretVersion
from shared.rotation.strategies import Plan, build_plan


@dataclass
class RotationContext:
    store: SecretStore
    secret_name: str
    version_id: str
    tags: dict[str, str]
    redactor: Redactor
    timeout_s: float = 10.0
    # Called at the points inside a step where a crash leaves a half-done write behind (tests crash there).
    checkpoint: Callable[[str], None] = lambda point: None
    plan: Plan | None = field(default=None, repr=False)
    # The version create_secret stored in this run: set_secret, right after it, knows it is not set yet.
    created_version: str | None = None
    # The version test_secret passed in this run: finish_secret, right after it in the same run, need not log in again.
    tested_version: str | None = None

    def plan_for(self, value: SecretValue) -> Plan:
        if self.plan is None:
            self.plan = build_plan(value, self.tags, redactor=self.redactor, timeout_s=self.timeout_s,
                                   read_admin=lambda name: self.store.value(name, "plan", stage=ACS_CURRENT))
        return self.plan


def _holding(versions: list[SecretVersion], stage: str) -> SecretVersion | None:
    return next((v for v in versions if stage in v.stages), None)


def _this_version(ctx: RotationContext, step: Step) -> tuple[SecretVersion, list[SecretVersion]]:
    versions = ctx.store.versions(ctx.secret_name, step.value)
    mine = next((v for v in versions if v.version_id == ctx.version_id), None)
    if mine is None:
        raise RotationRefused(step.value, f"version {ctx.version_id} of {ctx.secret_name!r} does not exist (or holds no "
                                          "stage): create_secret makes it")
    return mine, versions


def _value(ctx: RotationContext, step: Step, version_id: str, *, what: str) -> SecretValue:
    return parse_secret_value(ctx.store.value(ctx.secret_name, step.value, version_id=version_id), step=step.value, what=what)


def _stage_value(ctx: RotationContext, step: Step, versions: list[SecretVersion], stage: str) -> SecretValue | None:
    """The value of the version holding `stage` in the listing just read (None when none holds it)."""
    version = _holding(versions, stage)
    return _value(ctx, step, version.version_id, what=f"the {stage} value") if version else None


def _previous(ctx: RotationContext, step: Step, versions: list[SecretVersion]) -> SecretValue | None:
    try:
        return _stage_value(ctx, step, versions, ACS_PREVIOUS)
    except RotationRefused:
        return None  # an old value of another shape (or binary) is no login to fall back on
    # A read that failed (StepFailed: throttled, 5xx) is raised: skipping ACSPrevious would end set_secret with "no
    # stored password logs in ... changed outside the rotation", sending an operator to reset passwords by hand.


def _refuse_if_current_changed(ctx: RotationContext, step: Step, pending: SecretValue, current: SecretValue | None) -> None:
    """A pending value is ACSCurrent with a new login (create_secret), nothing else changed. If ACSCurrent now
    differs in anything but the login (a person's PutSecretValue during the rotation, moving the application to
    another host, database or setting, or to another user), promoting the pending value would silently put the old
    settings back: PutSecretValue makes the new value ACSCurrent and the old one ACSPrevious ("Secret object model",
    https://www.alibabacloud.com/help/doc-detail/152002.htm), and finish_secret would demote the person's value the
    same way. Refused before anything is set or promoted; only field names are said, never values."""
    if current is None:
        return
    changed = changed_apart_from_login(pending, current)
    if not changed and not ctx.plan_for(pending).pairs_with(pending, current):
        changed = ["username"]
    if changed:
        raise RotationRefused(step.value, f"ACSCurrent changed during the rotation ({', '.join(changed)} now differ from the "
                                          f"pending version {ctx.version_id}): promoting it would undo that change. If the "
                                          f"new ACSCurrent is meant, abandon this rotation (UpdateSecretVersionStage: remove "
                                          f"{PENDING_STAGE} from version {ctx.version_id}); the next run rotates from it")


def create_secret(ctx: RotationContext) -> str:
    step = Step.CREATE
    versions = ctx.store.versions(ctx.secret_name, step.value)
    mine = next((v for v in versions if v.version_id == ctx.version_id), None)
    if mine is not None:
        if PENDING_STAGE in mine.stages:
            _mark_in_flight(ctx, step)  # a rotation stored before the tag existed, or stopped in between
            return "already created"
        if ACS_CURRENT in mine.stages:
            return "already ACSCurrent: nothing to create"
        raise RotationRefused(step.value, f"version {ctx.version_id} already exists and is neither pending nor current")
    pending = _holding(versions, PENDING_STAGE)
    if pending is not None:
        # Never replaced: in a single-user rotation its password may already be the only one the database takes.
        raise RotationRefused(step.value, f"another rotation is under way: version {pending.version_id} holds {PENDING_STAGE}; "
                                          "finish it first (an event with only SecretName resumes it)")
    current = _stage_value(ctx, step, versions, ACS_CURRENT)
    if current is None:
        raise RotationRefused(step.value, f"no version of {ctx.secret_name!r} holds ACSCurrent: nothing to rotate from")
    pending_value = ctx.plan_for(current).next_value(current, ctx.store.random_password(step.value))
    # Marked before the value is stored: a run that stops anywhere after this is found by the timer's sweep.
    _mark_in_flight(ctx, step)
    ctx.store.put_pending(ctx.secret_name, ctx.version_id, pending_value.to_secret_data(), step.value)
    ctx.created_version = ctx.version_id
    ctx.checkpoint("create_secret:stored")
    # Read back before anything touches the database: a run that raced this one and put its own value under
    # another id took the pending stage (PutSecretValue moves it), and then this version is not the rotation.
    mine = next((v for v in ctx.store.versions(ctx.secret_name, step.value) if v.version_id == ctx.version_id), None)
    if mine is None or PENDING_STAGE not in mine.stages:
        ctx.created_version = None
        raise RotationRefused(step.value, f"version {ctx.version_id} lost {PENDING_STAGE} right after it was stored: another "
                                          "rotation run took it; that run finishes (the next run resumes it if it stops)")
    return f"new value stored as version {ctx.version_id} ({PENDING_STAGE})"


def _mark_in_flight(ctx: RotationContext, step: Step) -> None:
    if ctx.tags.get(PENDING_TAG) != ctx.version_id:
        ctx.store.tag(ctx.secret_name, PENDING_TAG, ctx.version_id, step.value)
        ctx.tags[PENDING_TAG] = ctx.version_id


def _clear_in_flight(ctx: RotationContext, step: Step) -> str:
    """The in-flight tag off, once no version is pending. Its failure does not undo the promotion: the sweep
    resumes only a secret that still holds a pending version, so a tag left behind costs a listing, no rotation."""
    if PENDING_TAG not in ctx.tags:
        return ""
    try:
        ctx.store.untag(ctx.secret_name, PENDING_TAG, step.value)
    except RotationError as exc:
        return f" (tag {PENDING_TAG} left on the secret: {exc.reason})"
    ctx.tags.pop(PENDING_TAG, None)
    return ""


def _other_versions(ctx: RotationContext, step: Step, versions: list[SecretVersion]) -> Callable[[], list]:
    """The values of the versions holding no stage (ListSecretVersionIds with IncludeDeprecated), newest first:
    the last logins set_secret tries (shared/rotation/strategies.py, SingleUserPlan.set)."""

    def load() -> list:
        staged = {v.version_id for v in versions} | {ctx.version_id}
        every = ctx.store.versions(ctx.secret_name, step.value, include_deprecated=True)
        out = []
        for version in sorted((v for v in every if v.version_id not in staged and not v.stages),
                              key=lambda v: v.create_time or "", reverse=True):
            try:
                out.append((f"version {version.version_id} (no stage)",
                            _value(ctx, step, version.version_id, what=f"version {version.version_id}")))
            except RotationError:
                continue  # a value of another shape, or gone since the listing: no login to try
        return out

    return load


def set_secret(ctx: RotationContext) -> str:
    step = Step.SET
    mine, versions = _this_version(ctx, step)
    if ACS_CURRENT in mine.stages:
        return "already promoted: nothing to set"
    if PENDING_STAGE not in mine.stages:
        raise RotationRefused(step.value, f"version {ctx.version_id} is not pending")
    pending = _value(ctx, step, ctx.version_id, what="the pending value")
    current = _stage_value(ctx, step, versions, ACS_CURRENT)
    _refuse_if_current_changed(ctx, step, pending, current)
    return ctx.plan_for(pending).set(pending, current, _previous(ctx, step, versions),
                                     pending_is_new=ctx.created_version == ctx.version_id,
                                     others=_other_versions(ctx, step, versions))


def test_secret(ctx: RotationContext) -> str:
    step = Step.TEST
    mine, versions = _this_version(ctx, step)
    if PENDING_STAGE not in mine.stages and ACS_CURRENT not in mine.stages:
        raise RotationRefused(step.value, f"version {ctx.version_id} is neither pending nor current")
    pending = _value(ctx, step, ctx.version_id, what="the pending value")
    current = None if ACS_CURRENT in mine.stages else _stage_value(ctx, step, versions, ACS_CURRENT)
    ctx.plan_for(pending).test(pending, current)
    ctx.tested_version = ctx.version_id
    return "the new value logs in" if ctx.plan and ctx.plan.kind != "generic" else "the new token is well formed"


def finish_secret(ctx: RotationContext) -> str:
    step = Step.FINISH
    mine, versions = _this_version(ctx, step)
    if ACS_CURRENT in mine.stages:
        if PENDING_STAGE in mine.stages:
            ctx.store.remove_stage(ctx.secret_name, PENDING_STAGE, ctx.version_id, step.value)
            _promoted_or_fail(ctx, step)
            return f"already ACSCurrent; {PENDING_STAGE} removed" + _clear_in_flight(ctx, step)
        return "already ACSCurrent" + _clear_in_flight(ctx, step)
    if PENDING_STAGE not in mine.stages:
        raise RotationRefused(step.value, f"version {ctx.version_id} is not pending")
    # Tested again when test_secret did not just pass in this run: a step run on its own, or out of order, never
    # promotes a value the target does not take.
    current = _holding(versions, ACS_CURRENT)
    pending = _value(ctx, step, ctx.version_id, what="the pending value")
    current_value = _stage_value(ctx, step, versions, ACS_CURRENT)
    # ACSCurrent is read again here, not only in set_secret: a person's PutSecretValue may land between the two.
    _refuse_if_current_changed(ctx, step, pending, current_value)
    if ctx.tested_version != ctx.version_id:
        ctx.plan_for(pending).test(pending, current_value)
    if current is not None and ACS_PREVIOUS not in current.stages:
        # The old value stays reachable as ACSPrevious. Moved explicitly, before ACSCurrent: whether moving
        # ACSCurrent demotes the old version by itself is not documented for UpdateSecretVersionStage (PutSecretValue's
        # doc says it does).
        previous = _holding(versions, ACS_PREVIOUS)
        ctx.store.move_stage(ctx.secret_name, ACS_PREVIOUS, current.version_id, step.value,
                             from_version=previous.version_id if previous else None)
        ctx.checkpoint("finish_secret:previous-moved")
    ctx.store.move_stage(ctx.secret_name, ACS_CURRENT, ctx.version_id, step.value,
                         from_version=current.version_id if current else None)
    ctx.checkpoint("finish_secret:current-moved")
    ctx.store.remove_stage(ctx.secret_name, PENDING_STAGE, ctx.version_id, step.value)
    _promoted_or_fail(ctx, step)
    return f"version {ctx.version_id} is ACSCurrent" + _clear_in_flight(ctx, step)


def _promoted_or_fail(ctx: RotationContext, step: Step) -> None:
    """The stages read back after finish_secret's moves. An UpdateSecretVersionStage answered OK but not done (a
    front end that lost the write) would otherwise be reported as a rotation: in a single-user rotation the
    database already takes only the new password, so ACSCurrent would hold a login that fails and nothing would
    say so. Failed instead (alerted; the in-flight tag stays, so the timer's next run finishes it)."""
    mine = next((v for v in ctx.store.versions(ctx.secret_name, step.value) if v.version_id == ctx.version_id), None)
    if mine is None or ACS_CURRENT not in mine.stages:
        raise StepFailed(step.value, f"UpdateSecretVersionStage answered OK but version {ctx.version_id} does not hold "
                                     f"ACSCurrent when read back: not promoted (the next run finishes it)")
    if PENDING_STAGE in mine.stages:
        raise StepFailed(step.value, f"UpdateSecretVersionStage answered OK but version {ctx.version_id} (ACSCurrent) still "
                                     f"holds {PENDING_STAGE} when read back (the next run removes it)")


STEP_FUNCTIONS: dict[Step, Callable[[RotationContext], str]] = {
    Step.CREATE: create_secret, Step.SET: set_secret, Step.TEST: test_secret, Step.FINISH: finish_secret,
}


def run_step(step: Step, ctx: RotationContext) -> str:
    """Run one step; every failure comes out as a RotationError naming the step, its message redacted."""
    try:
        return STEP_FUNCTIONS[step](ctx)
    except RotationError as exc:
        if exc.step == "plan":
            exc.step = step.value
        raise
    except TargetError as exc:
        raise StepFailed(step.value, ctx.redactor.reason(exc)) from None
    except Exception as exc:  # anything else (a bug, a called-off client): still named, still redacted
        raise StepFailed(step.value, ctx.redactor.reason(f"{type(exc).__name__}: {exc}")) from None
