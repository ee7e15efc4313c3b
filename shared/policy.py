"""The decision: what key-guard does about a key mutation, given the key as it is now and the audit.

Rules:
- fail safe: an incomplete audit counts as "may have dependents";
- cancel is safe, re-enable is not: ScheduleKeyDeletion defaults to enforce (cancel), DisableKey to
  alert (blast radius only; re-enabling is an explicit opt-in);
- never trust the event alone: if the key is no longer in the state the event left it in, nothing
  is done;
- intended deletions pass: an allow-listed key proceeds, still recorded, still alerted when it has
  dependents.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from shared.audit.model import AuditReport
from shared.config import GuardConfig

Action = Literal["cancel_deletion", "enable_key", "restore_secret", "none"]
Severity = Literal["CRITICAL", "WARN", "INFO"]


class KeyView(BaseModel):
    """The key as DescribeKey (and ListResourceTags) show it when the guard decides."""

    key_id: str
    arn: str = ""
    state: str
    delete_date: Optional[str] = None
    deletion_protection: str = "Disabled"
    creator: Optional[str] = None
    description: Optional[str] = None
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    origin: str = "Aliyun_KMS"  # EXTERNAL: imported key material, which DeleteKeyMaterial removes at once
    automatic_rotation: Optional[str] = None  # Enabled | Disabled | Suspending
    kms_instance: str = ""  # the KMS instance the key lives in (DKMSInstanceId), "" for none


class Decision(BaseModel):
    verdict: Literal["block", "allow", "alert", "record", "no_action"]
    action: Action = "none"
    alert: bool = False
    severity: Severity = "INFO"
    mode: str
    reasons: list[str] = Field(default_factory=list)
    allow_listed: bool = False


def allow_listed(key: KeyView, config: GuardConfig) -> str | None:
    """Why the key's deletion is intended, or None."""
    if key.key_id in config.allow_key_ids:
        return "key id is in GUARD_ALLOW_KEY_IDS"
    if config.allow_tag:
        tag_key, tag_value = config.allow_tag
        if tag_key in key.tags and (tag_value == "*" or key.tags[tag_key] == tag_value):
            return f"key carries the tag {tag_key}={key.tags[tag_key]}"
    return None


def _risk(audit: AuditReport) -> list[str]:
    reasons = []
    if audit.dependents:
        reasons.append(f"{len(audit.dependents)} dependent(s): {audit.summary()}")
    if not audit.complete:
        reasons.append("audit incomplete, counted as dependents: " + ", ".join(f"{r.scanner} ({r.reason})" for r in audit.incomplete))
    return reasons


def decide_deletion(key: KeyView, audit: AuditReport | None, config: GuardConfig) -> Decision:
    mode = config.deletion_mode
    if key.state != "PendingDeletion":
        return Decision(verdict="no_action", mode=mode, reasons=[f"key is {key.state} now, not PendingDeletion: nothing to cancel"])
    assert audit is not None
    intended = allow_listed(key, config)
    risky = audit.may_have_dependents
    reasons = _risk(audit)
    if intended:
        return Decision(verdict="allow", mode=mode, allow_listed=True, alert=risky, severity="WARN" if risky else "INFO",
                        reasons=[f"intended deletion: {intended}"] + reasons)
    if not risky:
        return Decision(verdict="allow", mode=mode, reasons=["audit complete: no dependents found"])
    if mode == "enforce":
        return Decision(verdict="block", action="cancel_deletion", alert=True, severity="CRITICAL", mode=mode, reasons=reasons)
    return Decision(verdict="alert", alert=True, severity="CRITICAL", mode=mode, reasons=reasons + ["mode alert: deletion left scheduled"])


# The states in which a key has its material: only these say that a deleted material was imported again. A key
# scheduled for deletion after its material was deleted shows PendingDeletion (and PendingImport once cancelled),
# which hides whether the material is there, so anything else is taken as the event says: deleted.
MATERIAL_IN_PLACE_STATES = frozenset({"Enabled", "Disabled"})


def decide_material_deleted(key: KeyView, audit: AuditReport | None, config: GuardConfig) -> Decision:
    """DeleteKeyMaterial takes effect at once (no pending window): nothing can be cancelled, so the
    guard tells whoever can re-import the same material how much depends on it."""
    mode = config.deletion_mode
    if key.state in MATERIAL_IN_PLACE_STATES:
        return Decision(verdict="no_action", mode=mode, reasons=[f"key is {key.state} now: its material is in place"])
    assert audit is not None
    if not audit.may_have_dependents:
        return Decision(verdict="allow", mode=mode, reasons=["audit complete: no dependents found"])
    hidden = ([f"the key is {key.state} now, which does not show whether its material is there: taken as deleted, "
               "as the event says"] if key.state != "PendingImport" else [])
    return Decision(verdict="alert", alert=True, severity="CRITICAL", mode=mode, reasons=_risk(audit) + hidden + [
        "the key material is deleted: every dependent is unreadable until the SAME material is imported again "
        "(GetParametersForImport, then ImportKeyMaterial with the backed-up material)"])


def decide_protection_removed(key: KeyView, audit: AuditReport | None, config: GuardConfig) -> Decision:
    """Turning deletion protection off is often the step before a deletion: alert when data depends on the key."""
    mode = config.deletion_mode
    if key.deletion_protection == "Enabled":
        return Decision(verdict="no_action", mode=mode, reasons=["deletion protection is on again"])
    if key.state == "PendingDeletion":
        return Decision(verdict="no_action", mode=mode, reasons=["key is PendingDeletion: its ScheduleKeyDeletion event decides it"])
    assert audit is not None
    if not audit.may_have_dependents:
        return Decision(verdict="allow", mode=mode, reasons=["audit complete: no dependents found"])
    return Decision(verdict="alert", alert=True, severity="WARN", mode=mode,
                    reasons=_risk(audit) + ["deletion protection removed from a key that data depends on"])


def decide_rotation_off(key: KeyView, audit: AuditReport | None, config: GuardConfig) -> Decision:
    """Automatic rotation turned off: recorded for the compliance sweep, no alert of its own."""
    if key.automatic_rotation == "Enabled":
        return Decision(verdict="no_action", mode="record", reasons=["automatic rotation is on again"])
    return Decision(verdict="record", mode="record",
                    reasons=[f"automatic rotation turned off (now {key.automatic_rotation or 'unknown'}): recorded for the rotation sweep"])


def decide_disable(key: KeyView, audit: AuditReport | None, config: GuardConfig) -> Decision:
    mode = config.disable_mode
    if key.state != "Disabled":
        return Decision(verdict="no_action", mode=mode, reasons=[f"key is {key.state} now, not Disabled"])
    assert audit is not None
    risky = audit.may_have_dependents
    reasons = _risk(audit)
    if not risky:
        return Decision(verdict="allow", mode=mode, reasons=["audit complete: no dependents found"])
    intended = allow_listed(key, config)
    if mode == "enforce" and not intended:
        return Decision(verdict="block", action="enable_key", alert=True, severity="CRITICAL", mode=mode,
                        reasons=reasons + ["mode enforce: re-enabling the key"])
    extra = [f"intended: {intended}"] if intended else ["mode alert: key left disabled (it may be incident response)"]
    return Decision(verdict="alert", alert=True, severity="CRITICAL", mode=mode, allow_listed=bool(intended),
                    reasons=reasons + extra)
