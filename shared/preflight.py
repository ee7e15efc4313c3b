"""The pre-flight report: everything an on-call engineer checks before disabling or deleting a key.

Read-only: it describes the key and runs the same audit key-guard runs, then lays the result out as
the checklist of a key change: identity, state, protection, rotation; dependents per category;
usage evidence; disable-versus-delete; the deletion window; the rollback of each action; what the
operator must confirm before acting; what to check afterwards.
"""
from __future__ import annotations

import dataclasses

import time
from datetime import datetime, timezone
from typing import Literal, Optional

from alibabacloud_kms20160120 import models as kms
from pydantic import BaseModel, Field

from shared.alerts import EVENT_NAMES
from shared.audit.facts import FactsPlace
from shared.audit.model import AuditReport, Dependent, ScanResult
from shared.audit.runner import OnResult, run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners import SCANNERS
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.clients import Clients
from shared.keys import list_aliases

USAGE_SCANNER = KmsUsageScanner.name
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 7, 366  # ScheduleKeyDeletion PendingWindowInDays (dependency-apis.md §1)
RECOMMENDED_WINDOW_DAYS = 30

Action = Literal["delete", "disable"]
# What the pre-flight says of the planned action, for a person and for a script (`kms-steward preflight` exits
# with a code per outcome): nothing found (clear); disabling would break something live (risky); deleting
# would destroy data or break a caller (blocked); nothing found, but part of the audit could not run (incomplete).
Outcome = Literal["clear", "risky", "blocked", "incomplete"]


class KeyIdentity(BaseModel):
    key_id: str
    arn: str
    aliases: list[str] = Field(default_factory=list)
    region: str
    account_id: str
    state: str
    delete_date: Optional[str] = None
    deletion_protection: str = "Disabled"
    deletion_protection_description: Optional[str] = None
    automatic_rotation: Optional[str] = None
    rotation_interval: Optional[str] = None
    last_rotation_date: Optional[str] = None
    next_rotation_date: Optional[str] = None
    origin: Optional[str] = None
    protection_level: Optional[str] = None
    key_spec: Optional[str] = None
    key_usage: Optional[str] = None
    creation_date: Optional[str] = None
    creator: Optional[str] = None
    description: Optional[str] = None
    kms_instance: Optional[str] = None


class Category(BaseModel):
    """One scanner's part of the audit, as the report shows it."""

    scanner: str
    service: str
    complete: bool
    reason: Optional[str] = None
    note: Optional[str] = None
    dependents: list[Dependent] = Field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.dependents)


class Assessment(BaseModel):
    action: Action
    verdict: Literal["blocked", "risky", "clear"]
    summary: str
    reversible: str


class Preflight(BaseModel):
    generated_at: str
    action: Action
    key: KeyIdentity
    audit_complete: bool
    categories: list[Category]
    usage: Category
    usage_window_days: int
    assessments: dict[str, Assessment]
    # The verdict on the planned action, as one word (see Outcome).
    outcome: Outcome
    recommendation: str
    # Section 5 of the report: what a deletion's pending window means (action delete), or what a disabled
    # key means for its users (action disable); the other one is None.
    deletion_window: Optional[str] = None
    while_disabled: Optional[str] = None
    rollback: dict[str, str]
    confirmations: list[str]
    post_checks: list[str]
    api_calls: dict[str, int]
    duration_ms: int

    @property
    def dependents(self) -> list[Dependent]:
        return [d for c in self.categories for d in c.dependents] + list(self.usage.dependents)

    @property
    def usage_evidence_read(self) -> Optional[str]:
        """Which sources the usage evidence read, and whether a busy key's evidence was cut to its newest events."""
        sources = sorted({d.detail["evidence"] for d in self.usage.dependents if d.detail.get("evidence")})
        if not sources:
            return None
        text = "Evidence read: " + "; ".join(sources) + "."
        if any("newest" in s for s in sources):
            text += (" The key is busy: a caller seen only before those events is not listed (the key counts as used "
                     "either way); the trail's logstore, queried in SLS, lists every caller.")
        return text

    @property
    def incomplete(self) -> list[Category]:
        return [c for c in [*self.categories, self.usage] if not c.complete]


def describe_key(clients: Clients, key_ref: str, region: str) -> KeyIdentity:
    """DescribeKey (an id, alias or ARN) and the key's aliases."""
    client = clients.kms(region)
    meta = clients.call("kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=key_ref)).body.key_metadata
    aliases = list_aliases(clients, meta.key_id, region)
    arn = meta.arn or f"acs:kms:{region}:{meta.creator or ''}:key/{meta.key_id}"
    return KeyIdentity(
        key_id=meta.key_id, arn=arn, aliases=aliases, region=region, account_id=arn.split(":")[3] or (meta.creator or ""),
        state=meta.key_state, delete_date=meta.delete_date if meta.key_state == "PendingDeletion" else None,
        deletion_protection=meta.deletion_protection or "Disabled",
        deletion_protection_description=meta.deletion_protection_description or None,
        automatic_rotation=meta.automatic_rotation, rotation_interval=meta.rotation_interval,
        last_rotation_date=meta.last_rotation_date, next_rotation_date=meta.next_rotation_date, origin=meta.origin,
        protection_level=meta.protection_level, key_spec=meta.key_spec, key_usage=meta.key_usage,
        creation_date=meta.creation_date, creator=meta.creator, description=meta.description or None,
        kms_instance=meta.dkmsinstance_id or None,
    )


class KeyInAnotherAccount(ValueError):
    """The key named by an ARN belongs to another account than the ARN says: reporting it would report another key."""


def _instance_log_from_env() -> dict:
    """The KMS instances' log (KMS_INSTANCE_LOG_PROJECT/LOGSTORE, as key-guard reads them), for the audit target."""
    from shared.config import kms_instance_log

    project, logstore = kms_instance_log()
    return {"kms_instance_log_project": project or None, "kms_instance_log_logstore": logstore or None}


def build_preflight(clients: Clients, key_ref: str, region: str, *, action: Action = "delete", usage_window_days: int = 30,
                    trail_project: str | None = None, trail_logstore: str | None = None, as_of: str | None = None,
                    on_result: OnResult | None = None, scanners=SCANNERS, expected_account: str | None = None) -> Preflight:
    """The report for `key_ref` in `region`. With `expected_account` (the account an ARN names), a key of another
    account raises KeyInAnotherAccount before any audit call."""
    started = time.monotonic()
    key = describe_key(clients, key_ref, region)
    if expected_account and key.account_id != expected_account:
        raise KeyInAnotherAccount(f"{key_ref} names account {expected_account}, but the key these credentials read is "
                                  f"{key.arn} (account {key.account_id})")
    target = AuditTarget(key_id=key.key_id, key_arn=key.arn, region=region, account_id=key.account_id,
                         usage_window_days=usage_window_days, trail_project=trail_project, trail_logstore=trail_logstore,
                         as_of=as_of, kms_instance_id=key.kms_instance or "", aliases=tuple(key.aliases),
                         facts=_read_only(FactsPlace.from_env(default_region=region)), **_instance_log_from_env())
    audit = run_audit(target, clients, scanners=scanners, on_result=on_result)
    return assemble(key, audit, action=action, usage_window_days=usage_window_days, api_calls=clients.calls.counts,
                    duration_ms=int((time.monotonic() - started) * 1000))


def _category(result: ScanResult) -> Category:
    return Category(scanner=result.scanner, service=result.service, complete=result.complete, reason=result.reason,
                    note=result.note, dependents=result.dependents)


def assemble(key: KeyIdentity, audit: AuditReport, *, action: Action, usage_window_days: int, api_calls: dict[str, int],
             duration_ms: int) -> Preflight:
    categories = [_category(r) for r in audit.results if r.scanner != USAGE_SCANNER]
    usage_result = next((r for r in audit.results if r.scanner == USAGE_SCANNER), None)
    usage = _category(usage_result) if usage_result else Category(
        scanner=USAGE_SCANNER, service="KMS usage", complete=False, reason="usage evidence was not collected")
    resources = [d for c in categories for d in c.dependents]
    live = [d for d in resources if d.state == "live"]
    incomplete = [c for c in [*categories, usage] if not c.complete]
    callers = usage.dependents
    window = f"{usage_window_days} days"

    gaps = f"; the audit is INCOMPLETE ({', '.join(c.scanner for c in incomplete)}), which counts as dependents" if incomplete else ""
    used = f"{len(callers)} caller(s) used the key in the last {window}" if callers else f"no crypto call named the key in the last {window}"
    if resources or callers or incomplete:
        delete = Assessment(action="delete", verdict="blocked", reversible="only until the deletion window ends",
                            summary=f"{len(resources)} resource(s) hold data under the key and {used}{gaps}. Deleting it "
                                    "destroys that data when the window ends; key-guard cancels such a deletion.")
    else:
        delete = Assessment(action="delete", verdict="clear", reversible="only until the deletion window ends",
                            summary=f"No resource names the key and {used}. Disable it first and watch for a full window "
                                    "before scheduling the deletion.")
    if live or callers or incomplete:
        disable = Assessment(action="disable", verdict="risky", reversible="yes: EnableKey restores it at once",
                             summary=f"{len(live)} live resource(s) and {len(callers)} application caller(s) fail their next "
                                     f"encrypt/decrypt while the key is disabled{gaps}.")
    else:
        disable = Assessment(action="disable", verdict="clear", reversible="yes: EnableKey restores it at once",
                             summary="Nothing live depends on the key; disabling it is the safe way to find a user the audit "
                                     "cannot see (their next Decrypt fails with Rejected.Disabled).")
    found_verdict = {"delete": "blocked" if resources or callers else "clear",
                     "disable": "risky" if live or callers else "clear"}[action]
    outcome = found_verdict if found_verdict != "clear" else ("incomplete" if incomplete else "clear")
    recommendation = _recommendation(key, action, delete if action == "delete" else disable, live, callers, gaps)

    deletion_window = while_disabled = None
    if action == "delete" and key.state == "PendingDeletion":
        deletion_window = f"the key is already pending deletion: it is destroyed at {key.delete_date}; CancelKeyDeletion before then"
    elif action == "delete":
        deletion_window = (f"ScheduleKeyDeletion takes a window of {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS} days "
                           f"(PendingWindowInDays); use at least {RECOMMENDED_WINDOW_DAYS}. During it every crypto call "
                           "fails (Rejected.PendingDeletion) and the deletion can be cancelled.")
    elif key.state == "PendingDeletion":
        while_disabled = (f"the key is pending deletion (destroyed at {key.delete_date}): DisableKey is refused in that state "
                          "and would not stop the deletion; CancelKeyDeletion first.")
    else:
        while_disabled = ("DisableKey takes effect at once and has no end date: every Encrypt, Decrypt and GenerateDataKey "
                          "naming the key fails with Rejected.Disabled until EnableKey. No key material and no data is "
                          "destroyed; EnableKey restores the key at any time.")
    rollback = {
        "delete": (f"aliyun kms CancelKeyDeletion --KeyId {key.key_id} --region {key.region} (before the window ends; the key "
                   "returns to Enabled). After the window there is no rollback: the key material is gone."),
        "disable": f"aliyun kms EnableKey --KeyId {key.key_id} --region {key.region} (immediate).",
    }
    confirmations = _confirmations(key, categories, usage, action, window)
    post_checks = _post_checks(key, action, window)
    return Preflight(
        generated_at=datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"), action=action,
        key=key, audit_complete=not incomplete, categories=categories, usage=usage, usage_window_days=usage_window_days,
        assessments={"delete": delete, "disable": disable}, outcome=outcome, recommendation=recommendation,
        deletion_window=deletion_window, while_disabled=while_disabled, rollback=rollback, confirmations=confirmations, post_checks=post_checks, api_calls=dict(sorted(api_calls.items())),
        duration_ms=duration_ms,
    )


def _recommendation(key: KeyIdentity, action: Action, verdict: Assessment, live: list, callers: list, gaps: str) -> str:
    """What to do about the planned action (only that one: a disable is not advised against as a deletion)."""
    if action == "delete" and verdict.verdict == "blocked":
        text = ("Do not delete. Move every dependent to another key (re-encrypt disks via snapshot copy, rotate "
                "TDE/storage keys, re-encrypt secrets and data keys), re-run this pre-flight until it is clear, "
                "then disable the key for a usage window before deleting.")
    elif action == "delete":
        text = (f"Disable the key first and keep it disabled for at least {RECOMMENDED_WINDOW_DAYS} days; if nothing "
                f"breaks, schedule the deletion with a {RECOMMENDED_WINDOW_DAYS}-day window.")
    elif verdict.verdict == "risky":
        text = (f"Do not disable yet: {len(live)} live resource(s) and {len(callers)} caller(s) would fail their next "
                f"encrypt/decrypt{gaps}. Move them to another key first, or disable in a maintenance window with the "
                "rollback (EnableKey) ready.")
    else:
        text = (f"Disabling is the safe way to retire the key: nothing live depends on it. Keep it disabled for at least "
                f"{RECOMMENDED_WINDOW_DAYS} days and watch for a failed Decrypt (Rejected.Disabled) before any deletion.")
    if action == "delete" and key.deletion_protection == "Enabled":
        text += " Deletion protection is on: ScheduleKeyDeletion is refused until it is turned off."
    return text


def _confirmations(key: KeyIdentity, categories: list[Category], usage: Category, action: Action, window: str) -> list[str]:
    out = []
    for c in categories:
        if c.dependents:
            ids = ", ".join(d.resource_id for d in c.dependents[:5]) + (" ..." if c.count > 5 else "")
            out.append(f"Each of the {c.count} {_kind(c)} ({ids}) is decommissioned or re-encrypted under another key.")
        if not c.complete:
            out.append(f"{c.service} ({c.scanner}) could not be audited ({c.reason}): I have checked it by other means.")
    if usage.dependents:
        out.append(f"Each of the {len(usage.dependents)} caller(s) that used the key in the last {window} no longer needs it "
                   "(their stored data keys are re-wrapped under another key).")
    out.append("Users of the key in other accounts (they appear only in the usage evidence) have been asked.")
    if action == "delete":
        out.append("The change is approved and announced; the rollback (CancelKeyDeletion) has an owner for the whole window.")
    else:
        out.append("The change is approved and announced; the rollback (EnableKey) has an owner for as long as the key stays "
                   "disabled.")
    if action == "delete":
        out.append(f"The key has been disabled for at least {window} with no failed Decrypt naming it.")
        if key.deletion_protection == "Enabled":
            out.append("Deletion protection is being turned off on purpose (SetDeletionProtection), and turned back on if the "
                       "deletion is cancelled.")
    return out


def _kind(category: Category) -> str:
    """What a category's dependents are, for a checklist line: "ECS Disk(s)", "ECS Snapshot(s)", ..."""
    types = {d.resource_type.rsplit("::", 1)[-1] for d in category.dependents}
    return f"{category.service} {types.pop()}(s)" if len(types) == 1 else f"{category.service} dependent(s)"


def _post_checks(key: KeyIdentity, action: Action, window: str) -> list[str]:
    mutation = "ScheduleKeyDeletion" if action == "delete" else "DisableKey"
    alert_names = "/".join(dict.fromkeys(name for (event, _), name in EVENT_NAMES.items() if event == mutation))
    if action == "delete":
        return [
            "DescribeKey shows KeyState PendingDeletion with the DeleteDate you expect.",
            f"key-guard's decision record for the change (SLS) says what it decided; no {alert_names} alert.",
            f"ActionTrail: no crypto call naming {key.key_id} fails with Rejected.PendingDeletion in the days after.",
            "Application error rates and database/disk health for every dependent listed above.",
            "Re-run this pre-flight daily until the window ends.",
            "Before the DeleteDate, one last pre-flight: if anything appears, CancelKeyDeletion.",
        ]
    return [
        "DescribeKey shows KeyState Disabled.",
        f"key-guard's decision record for the change (SLS) says what it decided; no {alert_names} alert.",
        f"ActionTrail: no crypto call naming {key.key_id} fails with Rejected.Disabled in the days after.",
        "Application error rates and database/disk health for every dependent listed above.",
        f"Keep the key disabled for at least {window} with no failed Decrypt naming it before planning its deletion "
        "(run this pre-flight with --action delete then).",
    ]


def _read_only(place: FactsPlace | None) -> FactsPlace | None:
    """The pre-flight uses what the guard and the sweeps remembered, and writes nothing (its calls are read-only)."""
    return dataclasses.replace(place, writable=False) if place is not None else None
