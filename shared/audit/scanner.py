"""The scanner interface: one file per scanner in shared/audit/scanners/, registered in one table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

from shared.audit.facts import FactsPlace
from shared.audit.model import Dependent
from shared.clients import Clients


@dataclass(frozen=True)
class AuditTarget:
    """The key under audit. A key is regional: its dependents live in its region."""

    key_id: str
    key_arn: str
    region: str
    account_id: str
    # Usage evidence: how far back to look for crypto calls naming the key, and the trail's SLS
    # logstore when one is configured (ActionTrail LookupEvents is always asked).
    usage_window_days: int = 30
    trail_project: Optional[str] = None
    trail_logstore: Optional[str] = None
    # The KMS instances' access log (SLS project, name or ARN, and logstore): crypto calls through an
    # instance's dedicated gateway are logged there, not in ActionTrail. None: a key in a KMS instance
    # cannot have its usage seen whole, and kms_usage is incomplete for it.
    kms_instance_log_project: Optional[str] = None
    kms_instance_log_logstore: Optional[str] = None
    # The key's KMS instance as DescribeKey shows it (KeyMetadata.DKMSInstanceId): the instance id, "" when the
    # key is in none, or None when whoever built the target did not read it: the usage scanner then asks
    # DescribeKey itself (once per run, shared with kms_secrets). key-guard and the pre-flight pass what their
    # own DescribeKey said. Unknown by default: a target that does not say is never taken for "in none".
    kms_instance_id: Optional[str] = None
    aliases: tuple[str, ...] = ()  # the key's aliases (alias/<name>), as ListAliasesByKeyId gives them
    # The instant the usage window ends (ISO 8601): the mutation's event time for key-guard, so the
    # evidence is "used in the N days before the change"; None is now.
    as_of: Optional[str] = None
    # Where facts that cannot change are remembered between audits (shared/audit/facts.py: the state bucket); None:
    # every audit runs cold. The store only spares describes; it never changes what a cold audit would report.
    facts: Optional[FactsPlace] = None

    def names_key(self, value: Optional[str]) -> bool:
        """Whether a field holding a key id, a key ARN (acs:kms:<region>:<uid>:key/<id>) or one of the key's
        aliases (alias/<name>, or its ARN) names this key. Whether every service accepts an alias where it
        stores a key is not published; a resource naming the key by alias still depends on it."""
        if not value:
            return False
        if value == self.key_id or value == self.key_arn or value.rsplit("/", 1)[-1] == self.key_id:
            return True
        alias = value[value.index("alias/"):] if "alias/" in value else None
        return alias is not None and alias in self.aliases


class Scanner(Protocol):
    name: str  # ecs_disks
    service: str  # ECS

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        """Every dependent of the key this scanner can see. Raise on anything that stops it from
        looking everywhere: the runner turns that into an incomplete result with the reason."""
        ...
