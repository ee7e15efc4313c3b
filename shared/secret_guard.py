"""secret-guard: from a deleted secret to a recorded decision.

    DeleteSecret event -> validate -> claim (idempotency) -> re-read secret -> find its readers -> decide -> restore -> alert -> record

Deleting a secret an application still reads breaks that application at its next read. Like a key, a secret is
deleted with a recovery window (DeleteSecret's RecoveryWindowInDays, 7 to 30 days, 30 by default), during which
RestoreSecret brings it back as it was; with ForceDeleteWithoutRecovery it is gone at once, for good.

secret-guard is key-guard's pipeline (shared/guard.py: claims, owed alerts, FC's retries and failure destination, the
daily safety net over every secret still pending deletion) with a secret as its subject: this module gives the
subject's parts. Its readers are its dependents: the GetSecretValue calls naming it in the usage window
(shared/secret_readers.py), and, for a managed secret, the service that owns it. Fail safe: readers that cannot be
determined count as readers, so the secret is restored and the alert says why.

The DeleteSecret event ("DeleteSecret", KMS API reference,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-deletesecret):
requestParameters SecretName (a name or an ARN), RecoveryWindowInDays, ForceDeleteWithoutRecovery ("true"/"false",
strings as the API takes them). The ActionTrail record of a call carries its request parameters by their API names
(the KMS sample of "ActionTrail event structure", https://www.alibabacloud.com/help/doc-detail/86812.htm);
UNCONFIRMED for DeleteSecret itself, for which no published sample was found.

Records and alerts name the secret (secretName, secretStateBefore/After); never its value, which the guard never
asks for.
"""
from __future__ import annotations

from typing import Any

from alibabacloud_kms20160120 import models as kms

from shared import alerts
from shared.clients import Clients, describe_error, error_code, is_transient, never_sent
from shared.events import CloudEvent, event_dedupe_key
from shared.guard import KeyGuard, Mutation, Outcome, Rejected, Rule
from shared.idempotency import EventClaims
from shared.policy import Decision
from shared.secret_policy import ReaderEvidence, decide_secret_deletion
from shared.secret_readers import SecretTarget, is_managed, read_readers, reader_summary
from shared.secrets import (NORMAL, PENDING_DELETION, SECRET_NOT_FOUND, SecretNotFound, SecretView,
                            list_pending_deletion_secrets, read_secret, restore_secret)

GONE = "Deleted"  # how records name the state of a secret that no longer exists
MAX_READERS_RECORDED = 20
MAX_READERS_ALERTED = 10
# Records name the subject as a secret: the pipeline's key-named fields, renamed as each record is written.
_SECRET_FIELDS = {"keyId": "secretName", "keyRef": "secretRef", "keyStateBefore": "secretStateBefore",
                  "keyStateAfter": "secretStateAfter", "keyArn": "secretArn"}


class SecretGuard(KeyGuard):
    FUNCTION = "secret-guard"
    NOUN = "secret"
    DELETION_EVENT = "DeleteSecret"
    SAFETY_NET_SOURCE = "kms-steward.secret-safety-net"
    FAILED_ALERT = alerts.SECRET_GUARD_FAILED
    REJECTED_ALERT = alerts.SECRET_EVENT_REJECTED
    REJECTION_FOLLOW_UP = "nothing done; the daily safety net re-decides every secret pending deletion"
    # Readers are looked for whenever something may be lost: a secret pending deletion, or one gone for good.
    RULES = {"DeleteSecret": Rule(decide_secret_deletion, lambda secret: secret is None or secret.state == PENDING_DELETION)}
    ACTIONS = {"restore_secret": restore_secret}
    ALERT_NAMES = alerts.SECRET_EVENT_NAMES
    NO_SUBJECT = "has no SecretName"
    _ID_FIELD = "secretName"

    # ------------------------------------------------------------ the subject

    def _from_event(self, ev: CloudEvent) -> Mutation:
        data = ev.data
        return Mutation(event_id=ev.id, dedupe_key=event_dedupe_key(ev), event_name=data.eventName or "",
                        key_ref=data.secret_name(), region=ev.region or self.config.region, data=data,
                        account=ev.aliyunaccountid or (data.userIdentity.accountId if data.userIdentity else None),
                        source=ev.source, event_type=ev.type, caller=data.caller, as_of=data.eventTime,
                        problems=ev.secret_problems())

    def _would_act(self, m: Mutation) -> bool:
        return m.event_name == "DeleteSecret" and self.config.deletion_mode == "enforce"

    @staticmethod
    def _list_pending(clients: Clients, region: str) -> list[str]:
        return list_pending_deletion_secrets(clients, region)

    @staticmethod
    def _state_or_none(clients: Clients, name: str, region: str) -> str | None:
        try:
            return read_secret(clients, name, region, with_tags=False).state
        except SecretNotFound:
            return GONE
        except Exception:
            return None

    def _alert_name(self, m: Mutation, decision: Decision) -> str:
        if _forced(m) and decision.alert:
            return alerts.SECRET_EVENT_NAMES[("DeleteSecret", "forced")]
        return super()._alert_name(m, decision)

    # ------------------------------------------------------------ deciding

    def _decide_and_act(self, m: Mutation, rule: Rule, record: dict, clients: Clients, claims: EventClaims | None) -> Outcome:
        forced = _forced(m)
        record["step"] = "read secret"
        secret: SecretView | None
        try:
            secret = read_secret(clients, m.key_ref, m.region)
        except SecretNotFound as exc:
            if not forced:  # a recovery window keeps the secret: one not found was never there (or is not this one)
                raise Rejected(f"unknown secret: {exc}") from None
            secret = None  # deleted for good, as the event says
        name = secret.name if secret else m.key_ref
        record.update(keyId=name, keyRef=m.key_ref if m.key_ref != name else None, keyStateBefore=secret.state if secret else GONE,
                      keyArn=secret.arn if secret else None, secretType=secret.secret_type if secret else None,
                      encryptionKeyId=(secret.encryption_key_id or None) if secret else None,
                      kmsInstance=(secret.kms_instance or None) if secret else None,
                      plannedDeleteTime=(secret.planned_delete_time or None) if secret else None,
                      forceDeleted=True if forced else None,
                      recoveryWindowDays=_short(m.data.requestParameters.get("RecoveryWindowInDays")) if not forced else None)
        evidence = ReaderEvidence()
        if forced or rule.audit_when(secret):
            record["step"] = "find readers"
            evidence = self._readers(m, name, secret, clients, record)
        record["step"] = "decide"
        decision = rule.decide(secret, evidence, self.config, forced=forced)
        return self._act_and_tell(m, record, clients, claims, decision, name, secret.state if secret else GONE, None)

    def _readers(self, m: Mutation, name: str, secret: SecretView | None, clients: Clients, record: dict) -> ReaderEvidence:
        """The secret's readers in the usage window before the deletion. Never raises: evidence that cannot be read
        whole is incomplete, and counts as readers (fail safe)."""
        managed = (secret.owning_service or secret.secret_type) if secret and is_managed(secret.secret_type) else ""
        instance = secret.kms_instance if secret else ""
        incomplete = ""
        if secret is None and not (self.config.kms_instance_log_project and self.config.kms_instance_log_logstore):
            # Gone, it no longer says whether it was in a KMS instance, whose endpoint's reads only its log shows.
            incomplete = ("the secret is gone, so whether it was in a KMS instance (whose reads only the instance's log "
                          "shows) cannot be read; set KMS_INSTANCE_LOG_PROJECT/LOGSTORE")
        elif secret is None:
            instance = "unknown (the secret is gone)"
        target = SecretTarget(name=name, region=m.region, account_id=self.account_id, arn=secret.arn if secret else "",
                              usage_window_days=self.config.usage_window_days, trail_project=self.config.trail_project or None,
                              trail_logstore=self.config.trail_logstore or None,
                              kms_instance_log_project=self.config.kms_instance_log_project or None,
                              kms_instance_log_logstore=self.config.kms_instance_log_logstore or None,
                              kms_instance_id=instance, as_of=m.as_of)
        try:
            found = read_readers(target, clients)
        except Exception as exc:
            evidence = ReaderEvidence(complete=False, reason=describe_error(exc), managed_by=managed)
            record.update(readersComplete=False, readersIncomplete=evidence.reason, managedBy=managed or None)
            return evidence
        window = self.config.usage_window_days
        summaries = [reader_summary(c, window) for c in found.callers]
        evidence = ReaderEvidence(readers=[_reader_line(s) for s in summaries], complete=not incomplete, reason=incomplete,
                                  managed_by=managed)
        record.update(readerCount=len(summaries), readers=summaries[:MAX_READERS_RECORDED] or None,
                      readersComplete=evidence.complete, readersIncomplete=incomplete or None,
                      readerEvidence="; ".join(found.sources), managedBy=managed or None)
        return evidence

    # ------------------------------------------------------------ when the guard cannot decide

    def _fail_safe(self, m: Mutation, record: dict, clients: Clients, reason: str, acted: dict | None) -> Outcome | str | None:
        """Restore the secret the guard could not decide on (restoring is safe; the deletion can be made again).
        Nothing to restore after a forced deletion, or in alert mode."""
        if not self._would_act(m) or _forced(m):
            return None
        name = record.get("keyId") or m.key_ref
        try:
            clients.call("kms:RestoreSecret", clients.kms(m.region).restore_secret, kms.RestoreSecretRequest(secret_name=name),
                         write=True)
            state = self._state_or_none(clients, name, m.region)
            record["keyStateAfter"] = state
            detail = ("fail-safe: secret restored" if state == NORMAL else
                      f"fail-safe restore sent; the secret is {state or 'unreadable'} now")
        except Exception as exc:
            code = error_code(exc)
            if code == "Rejected.ResourceInUse":  # "restore normal secret": not pending deletion (restored, or never deleted)
                if not acted and not record.get("actionDone") and not record.get("actionUnconfirmed"):
                    return Outcome({**record, "status": "already_done", "step": None, "keyStateAfter": NORMAL,
                                    "reason": f"{reason}; the secret is not pending deletion: nothing at risk"})
                record["keyStateAfter"] = NORMAL
                detail = "fail-safe restore refused: the secret is not pending deletion"
            elif code == SECRET_NOT_FOUND:
                record["keyStateAfter"] = GONE
                detail = "fail-safe restore not possible: the secret is gone (deleted for good, or its recovery window is over)"
            elif is_transient(exc) and not never_sent(exc):  # the restore may have run: only the secret can tell
                state = self._state_or_none(clients, name, m.region)
                record["keyStateAfter"] = state
                detail = f"fail-safe restore's answer was lost ({describe_error(exc)}); the secret is {state or 'unreadable'} now"
            else:
                detail = f"fail-safe restore not done: {describe_error(exc)}"
        record.update(decision="block", action="restore_secret")
        return detail + self._left_untold(record, acted)

    # ------------------------------------------------------------ telling

    def _content(self, m: Mutation, record: dict, name: str, verdict: str, severity: str, action: str, detail: str,
                 audit: Any, reasons: list[str]) -> dict:
        readers = record.get("readers") or []
        content = {
            "severity": severity, "secretName": name, "region": m.region, "account": self.account_id,
            "mutation": m.event_name, "caller": m.caller, "eventId": m.event_id, "decision": verdict, "action": action,
            "actionResult": detail, "forceDeleted": True if _forced(m) else None,
            "readers": [_reader_line(r) for r in readers[:MAX_READERS_ALERTED]] or None,
            "readerCount": record.get("readerCount"), "managedBy": record.get("managedBy"),
            "readersIncomplete": record.get("readersIncomplete"), "reasons": reasons[:5],
            "step": record.get("step") if verdict == "error" else None,
            "secretRef": m.key_ref if m.key_ref and m.key_ref != name else None,
        }
        return {k: v for k, v in content.items() if v is not None}

    def _finish(self, outcome: Outcome, clients: Clients | None, started: float) -> Outcome:
        outcome.record = {_SECRET_FIELDS.get(k, k): v for k, v in outcome.record.items()}
        return super()._finish(outcome, clients, started)


def _short(value: Any) -> str | None:
    """A request parameter as recorded: as sent, cut to 10 characters (a forged event never fills a record)."""
    return None if value is None else str(value)[:10]


def _forced(m: Mutation) -> bool:
    return m.event_name == "DeleteSecret" and m.data.param_bool("ForceDeleteWithoutRecovery") is True


def _reader_line(summary: dict) -> str:
    """ram-user:payments-api: 12 reads (1 failed), last 2026-12-02T09:00:00Z."""
    failed = f" ({summary['failedReads']} failed)" if summary.get("failedReads") else ""
    last = f", last {summary['lastRead']}" if summary.get("lastRead") else ""
    return f"{summary['caller']}: {summary['reads']} read(s){failed}{last}"
