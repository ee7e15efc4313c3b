"""What an audit finds: dependents of a key, per scanner, and whether each scanner looked everywhere."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field


class Dependent(BaseModel):
    """A resource that holds data under the key (or uses it), named so an operator can find it."""

    service: str  # ECS, OSS, ...
    resource_type: str  # ACS::ECS::Disk
    resource_id: str
    region: str
    # live: serving now (an attached disk, a bucket); inert: data at rest (a snapshot, a detached disk).
    # Both are lost with the key; the state tells the operator how urgent the breakage is.
    state: Literal["live", "inert"]
    usage: str  # how it uses the key, in words: "disk encryption", "bucket default encryption (SSE-KMS)"
    name: Optional[str] = None
    detail: dict[str, str] = Field(default_factory=dict)


class ScanResult(BaseModel):
    scanner: str
    service: str
    complete: bool
    reason: Optional[str] = None  # why incomplete: "AccessDenied: ...", "throttled past retries", "timeout"
    # What the operator should know about the coverage even when complete ("SLB/ALB certificates
    # cannot be encrypted under a customer key", "objects uploaded with their own key are not listed").
    note: Optional[str] = None
    dependents: list[Dependent] = Field(default_factory=list)
    duration_ms: int = 0


class AuditReport(BaseModel):
    key_id: str
    region: str
    results: list[ScanResult] = Field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(r.complete for r in self.results)

    @property
    def dependents(self) -> list[Dependent]:
        return [d for r in self.results for d in r.dependents]

    @property
    def incomplete(self) -> list[ScanResult]:
        return [r for r in self.results if not r.complete]

    @property
    def may_have_dependents(self) -> bool:
        """Fail safe: an audit that could not look everywhere counts as having dependents."""
        return bool(self.dependents) or not self.complete

    def by_service(self) -> dict[str, list[Dependent]]:
        grouped: dict[str, list[Dependent]] = {}
        for dep in self.dependents:
            grouped.setdefault(dep.service, []).append(dep)
        return grouped

    def summary(self) -> str:
        parts = [f"{svc}: {len(deps)}" for svc, deps in self.by_service().items()]
        text = ", ".join(parts) if parts else "no dependents found"
        if not self.complete:
            text += "; INCOMPLETE: " + ", ".join(f"{r.scanner} ({r.reason})" for r in self.incomplete)
        return text
