"""The scanner interface: one file per scanner in shared/audit/scanners/, registered in one table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.audit.model import Dependent
from shared.clients import Clients


@dataclass(frozen=True)
class AuditTarget:
    """The key under audit. A key is regional: its dependents live in its region."""

    key_id: str
    key_arn: str
    region: str
    account_id: str


class Scanner(Protocol):
    name: str  # ecs_disks
    service: str  # ECS

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        """Every dependent of the key this scanner can see. Raise on anything that stops it from
        looking everywhere: the runner turns that into an incomplete result with the reason."""
        ...
