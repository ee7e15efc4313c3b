"""key-guard: from an ActionTrail event about a KMS key to a recorded decision.

    event -> validate -> claim (idempotency) -> re-read key -> audit -> decide -> act -> alert -> record

Only genuinely transient failures raise (FC then retries the invocation); everything else —
malformed input, another account's event, an unknown key — is answered with a clear rejection in
the result and the record, so a bad event never turns into a retry storm.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from alibabacloud_kms20160120 import models as kms

from shared import alerts
from shared.audit.model import AuditReport
from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner

USAGE_SCANNER = KmsUsageScanner.name
from shared.clients import Clients, TransientError, describe_error, is_transient
from shared.config import GuardConfig
from shared.events import ActionTrailRecord, CloudEvent, EventParseError, event_dedupe_key, parse_fc_event
from shared.idempotency import EventClaims
from shared.keys import ActionResult, KeyNotFound, cancel_deletion, enable_key, read_key
from shared.policy import Decision, decide_deletion, decide_disable

DECIDERS = {"ScheduleKeyDeletion": decide_deletion, "DisableKey": decide_disable}
ACTIONS = {"cancel_deletion": cancel_deletion, "enable_key": enable_key}
KEY_STATE_AFTER_EVENT = {"ScheduleKeyDeletion": "PendingDeletion", "DisableKey": "Disabled"}


class Rejected(Exception):
    """The event cannot be acted on; the message says why (and is safe to record)."""


@dataclass
class Outcome:
    status: str  # acted | decided | no_action | ignored | rejected | duplicate | error
    record: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        keep = ("status", "eventId", "eventName", "keyId", "region", "caller", "decision", "mode", "action", "actionResult",
                "alert", "dependentCount", "dependents", "auditComplete", "auditIncomplete", "reason", "keyStateBefore",
                "keyStateAfter")
        return {k: self.record[k] for k in keep if self.record.get(k) is not None}


def usage_evidence(audit: AuditReport) -> dict | str:
    """Recent crypto callers of the key (usage counts as a dependency); never "none" when not looked at."""
    usage = next((r for r in audit.results if r.scanner == USAGE_SCANNER), None)
    if usage is None:
        return "not collected"
    if not usage.complete:
        return {"complete": False, "reason": usage.reason}
    return {"complete": True, "callers": [f"{d.resource_id}: {d.usage}" for d in usage.dependents]}


class KeyGuard:
    def __init__(self, config: GuardConfig, *, account_id: str, clients_for: Callable[[str], Clients]):
        self.config = config
        self.account_id = account_id
        self.clients_for = clients_for  # region -> Clients (one per event, so API calls are counted per event)

    # ------------------------------------------------------------ entry point

    def handle(self, raw_event: Any, invocation_id: str = "") -> dict[str, Any]:
        invocation_id = invocation_id or str(uuid.uuid4())
        try:
            events = parse_fc_event(raw_event)
        except EventParseError as exc:
            outcome = Outcome("rejected", {"status": "rejected", "reason": f"malformed event: {exc}"})
            self._record(outcome.record, None, self.config.region)
            return {"results": [outcome.result()]}
        if not events:
            outcome = Outcome("rejected", {"status": "rejected", "reason": "malformed event: the payload holds no event"})
            self._record(outcome.record, None, self.config.region)
            return {"results": [outcome.result()]}
        return {"results": [self.handle_one(ev, invocation_id).result() for ev in events]}

    def handle_one(self, ev: CloudEvent, invocation_id: str) -> Outcome:
        started = time.monotonic()
        data: ActionTrailRecord = ev.data
        region = data.acsRegion or ev.aliyunregionid or self.config.region
        record: dict[str, Any] = {
            "status": "", "eventId": ev.id, "eventSource": ev.source, "eventType": ev.type, "eventName": data.eventName,
            "eventTime": data.eventTime, "keyId": data.key_id, "region": region, "account": ev.aliyunaccountid,
            "caller": data.caller, "sourceIp": data.sourceIpAddress, "userAgent": data.userAgent,
            "invocation": invocation_id, "configProblems": list(self.config.problems) or None,
        }
        try:
            self._validate(ev, data, region)
            if data.failed:
                return self._finish(Outcome("ignored", {**record, "status": "ignored",
                                    "reason": f"the call failed ({data.errorCode}): nothing changed"}), None, started, region)
            if data.eventName not in DECIDERS:
                return self._finish(Outcome("ignored", {**record, "status": "ignored",
                                    "reason": f"{data.eventName} is not a mutation key-guard acts on"}), None, started, region)
            if not data.key_id:
                raise Rejected(f"{data.eventName} event has no KeyId in requestParameters")
        except Rejected as exc:
            return self._finish(Outcome("rejected", {**record, "status": "rejected", "reason": str(exc)}), None, started, region)

        clients = self.clients_for(region)
        dedupe = event_dedupe_key(ev)
        claims = self._claim(dedupe, invocation_id, clients, region, record)
        if isinstance(claims, Outcome):  # a duplicate: already handled
            return self._finish(claims, clients, started, region)
        try:
            outcome = self._decide_and_act(data, record, clients, region)
        except Rejected as exc:
            outcome = Outcome("rejected", {**record, "status": "rejected", "reason": str(exc)})
        except Exception as exc:
            if is_transient(exc):
                # Nothing was done yet (actions and alerts do not raise): let FC retry the invocation.
                self._settle(claims, lambda c: c.release(dedupe), record)
                raise TransientError(f"retry later: {describe_error(exc)}") from None
            outcome = self._fail_safe(data, record, clients, region, exc)
        self._settle(claims, lambda c: c.complete(dedupe, {"decision": outcome.record.get("decision"),
                                                            "action": outcome.record.get("action")}), outcome.record)
        return self._finish(outcome, clients, started, region)

    def _claim(self, dedupe: str, invocation_id: str, clients: Clients, region: str, record: dict):
        """The event's claim store, an Outcome for a duplicate, or None when there is no usable store."""
        if not self.config.state_bucket:
            return None
        claims = EventClaims(clients, self.config.state_bucket, region)
        try:
            outcome, existing = claims.claim(dedupe, invocation_id)
        except Exception as exc:
            if is_transient(exc):  # includes ClaimBusy: another invocation is on it right now
                raise TransientError(f"retry later: {describe_error(exc)}") from None
            # A claim store we cannot use must not stop the guard: act, and say duplicates are unguarded.
            record["idempotencyProblem"] = f"claim store unusable ({describe_error(exc)}): acting without duplicate protection"
            return None
        if outcome == "duplicate":
            return Outcome("duplicate", {**record, "status": "duplicate",
                                         "reason": f"event already handled by invocation {existing.get('invocation')}"})
        return claims

    @staticmethod
    def _settle(claims: EventClaims | None, step, record: dict) -> None:
        if claims is None:
            return
        try:
            step(claims)
        except Exception as exc:  # the decision stands; a duplicate may later be handled again
            record["idempotencyProblem"] = f"claim not settled: {describe_error(exc)}"

    # ------------------------------------------------------------ steps

    def _validate(self, ev: CloudEvent, data: ActionTrailRecord, region: str) -> None:
        if not (ev.source or "").startswith("acs."):
            raise Rejected(f"event source {ev.source!r} is not an Alibaba Cloud service (acs.*)")
        account = ev.aliyunaccountid or (data.userIdentity.accountId if data.userIdentity else None)
        if self.account_id and account and account != self.account_id:
            raise Rejected(f"event is for account {account}, this guard serves {self.account_id}")
        if data.serviceName and data.serviceName != "Kms":
            raise Rejected(f"event is from service {data.serviceName}, not Kms")
        # The default event bus is regional: a function only receives its own region's events, so
        # another region's event would be read against the wrong key and dependents.
        if self.config.region and region != self.config.region:
            raise Rejected(f"event is for region {region}, this guard serves {self.config.region}")

    def _decide_and_act(self, data: ActionTrailRecord, record: dict, clients: Clients, region: str) -> Outcome:
        try:
            key = read_key(clients, data.key_id, region)
        except KeyNotFound as exc:
            raise Rejected(f"unknown key: {exc}") from None
        record.update(keyStateBefore=key.state, keyArn=key.arn, aliases=key.aliases or None,
                      deletionProtection=key.deletion_protection)
        audit: AuditReport | None = None
        if key.state == KEY_STATE_AFTER_EVENT[data.eventName]:
            target = AuditTarget(key_id=key.key_id, key_arn=key.arn, region=region, account_id=self.account_id,
                                 usage_window_days=self.config.usage_window_days,
                                 trail_project=self.config.trail_project or None,
                                 trail_logstore=self.config.trail_logstore or None, as_of=data.eventTime)
            audit = run_audit(target, clients)
            record.update(self._audit_fields(audit))
        decision: Decision = DECIDERS[data.eventName](key, audit, self.config)
        record.update(decision=decision.verdict, mode=decision.mode, reasons=decision.reasons, allowListed=decision.allow_listed,
                      action=decision.action)

        result = ActionResult(action="none", done=False, detail="no action", state_after=key.state)
        if decision.action != "none":
            result = ACTIONS[decision.action](clients, key.key_id, region)
        record.update(actionResult=result.detail, actionDone=result.done, keyStateAfter=result.state_after)

        if decision.alert:
            self._alert(data, record, decision, audit, clients, region, result)
        status = "acted" if result.done else ("no_action" if decision.verdict == "no_action" else "decided")
        return Outcome(status, {**record, "status": status})

    @staticmethod
    def _audit_fields(audit: AuditReport) -> dict:
        return {
            "auditComplete": audit.complete,
            "dependentCount": len(audit.dependents),
            "dependents": {svc: [f"{d.resource_id} ({d.state}, {d.usage})" for d in deps] for svc, deps in audit.by_service().items()},
            "auditIncomplete": [{"part": r.scanner, "reason": r.reason} for r in audit.incomplete] or None,
            "scanners": {r.scanner: {"complete": r.complete, "found": len(r.dependents), "ms": r.duration_ms} for r in audit.results},
            "usageEvidence": usage_evidence(audit),
        }

    def _alert(self, data, record, decision: Decision, audit, clients: Clients, region: str, result: ActionResult) -> None:
        name = alerts.EVENT_NAMES.get((data.eventName, decision.verdict), "KmsKeyGuardAlert")
        content = alerts.alert_content(
            event_name=data.eventName, key_id=data.key_id, region=region, account_id=self.account_id, caller=data.caller,
            event_id=record["eventId"], verdict=decision.verdict, severity=decision.severity, action=decision.action,
            action_detail=result.detail, audit=audit, reasons=decision.reasons,
        )
        self._send_alert(clients, region, name, content, decision.severity, record)

    def _send_alert(self, clients: Clients, region: str, name: str, content: dict, severity: str, record: dict) -> None:
        """Raise the alert; a failure (already retried) is recorded, never raised: the action it
        reports has happened, and a retry of the invocation would find nothing left to report."""
        try:
            alerts.raise_alert(clients, region, name, content, self.config.alert_group_id)
            record.update(alert=name, alertSeverity=severity)
        except Exception as exc:
            record.update(alert=None, alertError=describe_error(exc))

    def _fail_safe(self, data: ActionTrailRecord, record: dict, clients: Clients, region: str, exc: Exception) -> Outcome:
        """An unexpected, non-transient failure: a scheduled deletion is still cancelled (cancel is
        safe, and a Rejected answer is harmless), without re-reading the key, since the read may be
        what failed; and someone is always told."""
        record = {**record, "status": "error", "reason": f"guard failed: {describe_error(exc)}"}
        result = "none"
        if data.eventName == "ScheduleKeyDeletion" and self.config.deletion_mode == "enforce":
            try:
                clients.call("kms:CancelKeyDeletion", clients.kms(region).cancel_key_deletion,
                             kms.CancelKeyDeletionRequest(key_id=data.key_id))
                result = "fail-safe: deletion cancelled"
            except Exception as cancel_exc:
                result = f"fail-safe cancel not done: {describe_error(cancel_exc)}"
            record.update(decision="block", action="cancel_deletion")
        record["actionResult"] = result
        content = alerts.alert_content(
            event_name=data.eventName, key_id=data.key_id, region=region, account_id=self.account_id, caller=data.caller,
            event_id=record["eventId"], verdict="error", severity="CRITICAL", action=record.get("action", "none"),
            action_detail=result, audit=None, reasons=[record["reason"]],
        )
        self._send_alert(clients, region, alerts.GUARD_FAILED, content, "CRITICAL", record)
        return Outcome("error", record)

    # ------------------------------------------------------------ recording

    def _finish(self, outcome: Outcome, clients: Clients | None, started: float, region: str) -> Outcome:
        outcome.record["durationMs"] = int((time.monotonic() - started) * 1000)
        if clients is not None:
            outcome.record["apiCalls"] = dict(sorted(clients.calls.counts.items()))
        self._record(outcome.record, clients, region)
        return outcome

    def _record(self, record: dict, clients: Clients | None, region: str) -> None:
        from shared.records import write_record

        record["recordedTo"] = write_record(
            {k: v for k, v in record.items() if v is not None}, clients=clients or self._record_clients(region),
            project=self.config.records_project, logstore=self.config.records_logstore, region=region)

    def _record_clients(self, region: str) -> Clients | None:
        try:
            return self.clients_for(region) if region else None
        except Exception:
            return None


def account_id_from(context: Any) -> str:
    return str(getattr(context, "account_id", "") or os.environ.get("FC_ACCOUNT_ID", ""))
