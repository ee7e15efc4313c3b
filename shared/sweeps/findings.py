"""What a sweep check reports: one Finding per thing out of policy, named so that the same finding on the
next run is recognised (its `finding_id`), ranked by severity so that alerts go to what matters first.

A check never prints a secret: findings hold ids, names, dates, day counts and reasons.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

SEVERITIES = ("INFO", "WARN", "CRITICAL")  # lowest first: a finding alerts again only when its severity rises


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True)
class Finding:
    check: str            # the check's name, e.g. "cert_expiry", "key_rotation"
    kind: str             # what is wrong, one word per situation: "expired", "expiring", "rotation_off", ...
    severity: str         # one of SEVERITIES
    account: str
    region: str
    resource_type: str    # e.g. "ACS::CAS::Certificate", "ACS::KMS::Key", "ACS::KMS::Secret"
    resource_id: str
    message: str          # one line a person reads: the real numbers (days), names and places
    detail: dict[str, Any] = field(default_factory=dict)  # machine-readable facts (days_left, domains, served_by...)

    @property
    def finding_id(self) -> str:
        """Stable across runs: the same resource out of policy in the same way is the same finding."""
        return f"{self.check}/{self.kind}/{self.account}/{self.region}/{self.resource_type}/{self.resource_id}"

    def as_dict(self) -> dict[str, Any]:
        return {"findingId": self.finding_id, "check": self.check, "kind": self.kind, "severity": self.severity,
                "account": self.account, "region": self.region, "resourceType": self.resource_type,
                "resourceId": self.resource_id, "message": self.message, "detail": self.detail}


@dataclass
class CheckResult:
    """One check over one target (account × region): its findings, or why it could not look (incomplete)."""
    check: str
    account: str
    region: str
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True
    reason: str | None = None  # why incomplete: a denied call, throttling past retries, a timeout...
    metrics: list[dict[str, Any]] = field(default_factory=list)  # custom metrics to publish (PutCustomMetric items)
    note: str | None = None  # what the check cannot see even when complete (coverage), for the report

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "account": self.account, "region": self.region, "complete": self.complete,
                "reason": self.reason, "note": self.note, "findings": [f.as_dict() for f in self.findings]}


class Check(Protocol):
    name: str

    def run(self, target: "SweepTarget", clients) -> CheckResult:
        ...


@dataclass(frozen=True)
class SweepTarget:
    account: str
    region: str
    now: str  # ISO-8601 UTC instant the sweep judges against (the run's clock, so tests can move it)
    settings: dict[str, Any] = field(default_factory=dict)  # thresholds and policies, from the function's config
