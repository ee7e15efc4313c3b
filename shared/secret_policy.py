"""The decision: what secret-guard does about a deleted secret, given the secret as it is now and its readers.

The rules are key-guard's (shared/policy.py), with reads as the dependency:
- fail safe: readers that cannot be determined count as readers;
- restoring is safe (the secret comes back as it was, and can be deleted again): DeleteSecret defaults to enforce;
- never trust the event alone: a secret no longer pending deletion (restored meanwhile) needs nothing;
- intended deletions pass: an allow-listed secret (GUARD_ALLOW_SECRET_NAMES, or the allow tag) proceeds, still
  recorded, still alerted when it is read;
- a managed secret (RDS, Redis, PolarDB, RAM, ECS) is used by the service that owns it, read here or not;
- a deletion with ForceDeleteWithoutRecovery cannot be undone: a CRITICAL alert at once, naming who will break.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from shared.config import GuardConfig
from shared.policy import Decision
from shared.secrets import PENDING_DELETION, SecretView


@dataclass
class ReaderEvidence:
    """Who read the secret in the usage window: `readers` (caller: "N reads, last ..."), whether the evidence is
    whole, and, for a managed secret, the service that uses it."""

    readers: list[str] = field(default_factory=list)
    complete: bool = True
    reason: str = ""  # why it is not whole
    managed_by: str = ""

    @property
    def in_use(self) -> bool:
        return bool(self.readers or self.managed_by)

    @property
    def may_be_read(self) -> bool:
        """Fail safe: readers not known count as readers."""
        return self.in_use or not self.complete

    def why(self) -> list[str]:
        reasons = []
        if self.managed_by:
            reasons.append(f"a managed secret: used by {self.managed_by}")
        if self.readers:
            shown = "; ".join(self.readers[:3]) + (f" (+{len(self.readers) - 3} more)" if len(self.readers) > 3 else "")
            reasons.append(f"{len(self.readers)} reader(s): {shown}")
        if not self.complete:
            reasons.append(f"readers could not be determined: {self.reason}")
        return reasons


def allow_listed(name: str, tags: dict[str, str], config: GuardConfig) -> Optional[str]:
    """Why the secret's deletion is intended, or None."""
    if name in config.allow_secret_names:
        return "secret name is in GUARD_ALLOW_SECRET_NAMES"
    if config.allow_tag:
        tag_key, tag_value = config.allow_tag
        if tag_key in tags and (tag_value == "*" or tags[tag_key] == tag_value):
            return f"secret carries the tag {tag_key}={tags[tag_key]}"
    return None


def decide_secret_deletion(secret: Optional[SecretView], evidence: ReaderEvidence, config: GuardConfig, *,
                           forced: bool) -> Decision:
    mode = config.deletion_mode
    if forced:
        # Nothing can bring it back: whoever reads it is told now, before they break.
        if evidence.may_be_read and secret is not None:  # a secret of that name exists again: readers by name read it
            return Decision(verdict="alert", alert=True, severity="WARN", mode=mode, reasons=evidence.why() + [
                f"deleted for good (ForceDeleteWithoutRecovery), but a secret of that name exists again (created "
                f"{secret.create_time or 'at an unknown time'}): its readers read the new one, which may not hold what they expect"])
        if evidence.may_be_read:
            return Decision(verdict="alert", alert=True, severity="CRITICAL", mode=mode, reasons=evidence.why() + [
                "deleted for good (ForceDeleteWithoutRecovery): it cannot be restored; every reader fails at its next read"])
        return Decision(verdict="allow", mode=mode, reasons=["no reads in the usage window: deleted as asked (for good)"])
    if secret is None or secret.state != PENDING_DELETION:
        state = "gone" if secret is None else f"{secret.state}, not pending deletion"
        return Decision(verdict="no_action", mode=mode, reasons=[f"secret is {state} now: nothing to restore"])
    intended = allow_listed(secret.name, secret.tags, config)
    if intended:
        risky = evidence.may_be_read
        return Decision(verdict="allow", mode=mode, allow_listed=True, alert=risky, severity="WARN" if risky else "INFO",
                        reasons=[f"intended deletion: {intended}"] + evidence.why())
    if not evidence.may_be_read:
        return Decision(verdict="allow", mode=mode, reasons=["no reads in the usage window: deleted as asked"])
    if mode == "enforce":
        return Decision(verdict="block", action="restore_secret", alert=True, severity="CRITICAL", mode=mode,
                        reasons=evidence.why())
    return Decision(verdict="alert", alert=True, severity="CRITICAL", mode=mode,
                    reasons=evidence.why() + ["mode alert: deletion left scheduled"])
