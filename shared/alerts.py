"""CloudMonitor custom events: the alert names the key, the caller and the dependents.

One well-known EventName per situation (reference §5), so an operator binds one custom-event alert
rule (PutCustomEventRule) per name to a contact group. Content is compact JSON, kept small because
the size limit is not published: at most ten ids per service, with the full count beside them.
"""
from __future__ import annotations

import json
from urllib.parse import quote

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
# secret-guard (shared/secret_guard.py): a secret deleted while it is read. Restored (enforce), left pending (alert
# mode), let go as intended, or deleted for good (ForceDeleteWithoutRecovery) with readers about to break.
SECRET_EVENT_NAMES = {
    ("DeleteSecret", "block"): "KmsSecretDeletionBlocked",
    ("DeleteSecret", "alert"): "KmsSecretDeletionAtRisk",
    ("DeleteSecret", "allow"): "KmsSecretDeletionIntendedWithReaders",
    ("DeleteSecret", "forced"): "KmsSecretForceDeletedWithReaders",
}
SECRET_GUARD_FAILED = "KmsSecretGuardFailed"
SECRET_EVENT_REJECTED = "KmsSecretGuardEventRejected"
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


# PutCustomEvent's limits (API reference, https://www.alibabacloud.com/help/doc-detail/115012.html: EventInfo.N,
# "Valid values of N: 1 to 50"; "Report custom events", https://www.alibabacloud.com/help/doc-detail/60196.htm:
# at most 500 KB a report). A batch is kept under both, its size counted as the local cloud counts it (the UTF-8
# bytes of each event's name, content and group id), with room to spare since the service's own count is not
# published. And the SDK (alibabacloud_cms20190101 put_custom_event_with_options) sends EventInfo in the URL's query,
# percent-encoded: a batch's encoded query is kept under QUERY_BYTES_PER_CALL, well inside the 64 KB request line
# the local cloud's HTTP server takes (UNCONFIRMED what URL length Alibaba's gateway takes: none is published).
# One event over a budget still goes, alone, as it did before batching.
EVENTS_PER_CALL = 50
EVENT_BYTES_PER_CALL = 450 * 1024
QUERY_BYTES_PER_CALL = 32 * 1024


def _event_bytes(name: str, body: str, group_id: str) -> int:
    return len(name.encode("utf-8")) + len(body.encode("utf-8")) + len(str(group_id).encode("utf-8"))


def _query_bytes(name: str, body: str, group_id: str) -> int:
    # "&EventInfo.N.EventName=..&EventInfo.N.Content=..&EventInfo.N.GroupId=..": ~70 bytes of keys, values encoded.
    return 70 + sum(len(quote(v, safe="-_.~")) for v in (name, body, str(group_id)))


def event_batches(events: list[tuple[str, dict]], group_id: str) -> list[list[int]]:
    """Indexes of `events` ((name, content) pairs) split into the calls PutCustomEvent takes, in order."""
    batches: list[list[int]] = []
    size = query = 0
    for i, (name, content) in enumerate(events):
        body = json.dumps(content, separators=(",", ":"))
        n, q = _event_bytes(name, body, group_id), _query_bytes(name, body, group_id)
        if not batches or len(batches[-1]) >= EVENTS_PER_CALL or size + n > EVENT_BYTES_PER_CALL \
                or query + q > QUERY_BYTES_PER_CALL:
            batches.append([])
            size = query = 0
        batches[-1].append(i)
        size += n
        query += q
    return batches


def raise_alerts(clients: Clients, region: str, events: list[tuple[str, dict]], group_id: str) -> list[Exception | None]:
    """Send many events in as few PutCustomEvent calls as its limits allow. Returns, per event, None when its call
    was accepted, else the error: a call refused or lost fails every event of it (none is taken as sent)."""
    outcome: list[Exception | None] = [None] * len(events)
    for batch in event_batches(events, group_id):
        infos = [cms.PutCustomEventRequestEventInfo(event_name=events[i][0], group_id=group_id,
                                                    content=json.dumps(events[i][1], separators=(",", ":")))
                 for i in batch]
        try:
            # A write: retried only while it provably did not run (raise_alert), so a lost answer sends no duplicate.
            body = clients.call("cms:PutCustomEvent", clients.cms(region).put_custom_event,
                                cms.PutCustomEventRequest(event_info=infos), write=True).body
            if str(body.code) != "200":
                failed = AlertFailed(f"PutCustomEvent answered {body.code}: {body.message}")
                failed.code = str(body.code)
                raise failed
        except Exception as exc:
            for i in batch:
                outcome[i] = exc
    return outcome
