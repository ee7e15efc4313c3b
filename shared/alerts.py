"""CloudMonitor custom events: the alert names the key, the caller and the dependents.

One well-known EventName per situation (reference §5), so an operator binds one custom-event alert
rule (PutCustomEventRule) per name to a contact group. Content is compact JSON, kept small because
the size limit is not published: at most ten ids per service, with the full count beside them.
"""
from __future__ import annotations

import json

from alibabacloud_cms20190101 import models as cms

from shared.audit.model import AuditReport
from shared.clients import Clients

MAX_IDS_PER_SERVICE = 10

EVENT_NAMES = {
    ("ScheduleKeyDeletion", "block"): "KmsKeyDeletionBlocked",
    ("ScheduleKeyDeletion", "alert"): "KmsKeyDeletionAtRisk",
    ("ScheduleKeyDeletion", "allow"): "KmsKeyDeletionIntendedWithDependents",
    ("DisableKey", "block"): "KmsKeyReenabled",
    ("DisableKey", "alert"): "KmsKeyDisabledWithDependents",
    ("DisableKey", "allow"): "KmsKeyDisabledWithDependents",
    ("DeleteKeyMaterial", "alert"): "KmsKeyMaterialDeleted",
    ("SetDeletionProtection", "alert"): "KmsKeyDeletionProtectionRemoved",
}
# The guard could not do what it decided, or could not decide: the content names the key, the step and why.
GUARD_FAILED = "KmsKeyGuardFailed"
# An event the guard could not take as a key mutation it decides (no key named, an unknown key, another
# account, a malformed payload): nothing was done, and the content says why.
EVENT_REJECTED = "KmsKeyGuardEventRejected"
# secret-rotation (shared/rotation/service.py): a rotation step failed or the secret cannot be rotated as it is
# (the content names the secret, the step and why; ACSCurrent is left as it was), and a payload it cannot take.
SECRET_ROTATION_FAILED = "SecretRotationFailed"
SECRET_ROTATION_EVENT_REJECTED = "SecretRotationEventRejected"


class AlertFailed(RuntimeError):
    pass


def alert_content(*, event_name: str, key_id: str, region: str, account_id: str, caller: str, event_id: str,
                  verdict: str, severity: str, action: str, action_detail: str, audit: AuditReport | None,
                  reasons: list[str], step: str | None = None, key_ref: str | None = None) -> dict:
    dependents = {}
    if audit is not None:
        for service, deps in audit.by_service().items():
            dependents[service] = {"count": len(deps), "ids": [d.resource_id for d in deps[:MAX_IDS_PER_SERVICE]]}
    return {
        "severity": severity,
        "keyId": key_id,
        "region": region,
        "account": account_id,
        "mutation": event_name,
        "caller": caller,
        "eventId": event_id,
        "decision": verdict,
        "action": action,
        "actionResult": action_detail,
        "dependents": dependents,
        "auditIncomplete": [{"part": r.scanner, "reason": r.reason} for r in (audit.incomplete if audit else [])],
        "reasons": reasons[:5],
        **({"step": step} if step else {}),
        **({"keyRef": key_ref} if key_ref and key_ref != key_id else {}),
    }


def raise_alert(clients: Clients, region: str, name: str, content: dict, group_id: str) -> None:
    info = cms.PutCustomEventRequestEventInfo(event_name=name, content=json.dumps(content, separators=(",", ":")),
                                              group_id=group_id)
    # A write: retried only while it provably did not run, so a lost answer never sends a second alert.
    body = clients.call("cms:PutCustomEvent", clients.cms(region).put_custom_event,
                        cms.PutCustomEventRequest(event_info=[info]), write=True).body
    if str(body.code) != "200":  # Code is a string; anything else is a refusal the SDK did not raise
        failed = AlertFailed(f"PutCustomEvent answered {body.code}: {body.message}")
        failed.code = str(body.code)  # an answer: the event was refused, not lost
        raise failed
