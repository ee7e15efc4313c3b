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

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Finding":
        """The finding `as_dict` wrote (a fan-out worker's result, read back by the run's publisher)."""
        return cls(check=doc["check"], kind=doc["kind"], severity=doc["severity"], account=doc["account"],
                   region=doc["region"], resource_type=doc["resourceType"], resource_id=doc["resourceId"],
                   message=doc["message"], detail=doc.get("detail") or {})


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

    def to_state(self) -> dict[str, Any]:
        """Everything the result holds, metrics too: what a fan-out worker writes for the run's publisher."""
        return {**self.as_dict(), "metrics": self.metrics}

    @classmethod
    def from_state(cls, doc: dict[str, Any]) -> "CheckResult":
        return cls(check=doc["check"], account=doc["account"], region=doc["region"],
                   findings=[Finding.from_dict(f) for f in doc.get("findings", [])], complete=bool(doc.get("complete")),
                   reason=doc.get("reason"), metrics=list(doc.get("metrics") or []), note=doc.get("note"))


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
