"""A sweep invocation Function Compute gave up on: every retry failed, or the event aged out. FC hands its context to the
sweep's failure destination (s.yaml: compliance-sweep-failures, cert-sweep-failures), which records it and alerts
KmsStewardSweepFailed at once. Without it, a coordinator that failed would leave the day unswept and silent, and a
worker's target would only show as incomplete in the next day's run ("late, never lost": shared/sweeps/fanout.py).

Nothing is swept here: the next timer run sweeps again. A payload it cannot read is still alerted, never dropped.
An alert that cannot be sent raises, so that FC retries this invocation (its own failures go nowhere further).
"""
from __future__ import annotations

import json
from typing import Any

from shared.alerts import raise_alert
from shared.clients import TransientError, describe_error
from shared.events import EventParseError, decode_payload
from shared.failed_invocations import parse_destination_payload
from shared.records import write_records
from shared.sweeps.fanout import WORKER_FIELD, is_worker_payload
from shared.sweeps.notify import RECORD_TOPIC

SWEEP_FAILED_EVENT = "KmsStewardSweepFailed"


def what_failed(original: Any) -> dict[str, Any]:
    """The run or target the failed invocation was for, from the event it was given."""
    doc = original
    if isinstance(doc, (bytes, str)):
        try:
            doc = json.loads(doc)
        except ValueError:
            return {"what": "an invocation whose event is not JSON"}
    if is_worker_payload(doc):
        target = doc[WORKER_FIELD]
        return {"what": "a worker of a fanned-out run", "runId": str(target.get("runId", ""))[:100],
                "targetAccount": str(target.get("account", ""))[:32], "targetRegion": str(target.get("region", ""))[:32]}
    if isinstance(doc, dict) and "triggerTime" in doc:
        return {"what": "the scheduled run", "triggerTime": str(doc.get("triggerTime"))[:40]}
    return {"what": "a run asked for directly"}


def failed_function(payload: Any) -> str:
    """The function FC names in the destination record (requestContext.functionArn), or "" when it names none."""
    try:
        doc = decode_payload(payload, what="failure destination payload")
    except EventParseError:
        return ""
    context = doc.get("requestContext") if isinstance(doc, dict) else None
    arn = str(context.get("functionArn", "")) if isinstance(context, dict) else ""
    return arn.rsplit("/", 1)[-1][:128] if "/functions/" in f"/{arn}" or ":functions/" in arn else ""


def handle_failed_invocation(sweep, payload: Any, invocation_id: str, now: str) -> dict[str, Any]:
    """Record and alert one failed sweep invocation (`sweep`: a SweepFunction with the failed sweep's settings)."""
    settings = sweep.settings
    record: dict[str, Any] = {"kind": "sweep_failed", "function": failed_function(payload), "account": sweep.account_id,
                              "region": sweep.home_region, "at": now, "invocation": invocation_id}
    try:
        original, failure = parse_destination_payload(payload)
        record.update(what_failed(original), failure=failure)
    except EventParseError as exc:
        record.update(what="an invocation the destination payload does not describe", failure=str(exc)[:300])
    clients = sweep.accounts.home()
    try:
        raise_alert(clients, sweep.home_region, SWEEP_FAILED_EVENT, record, settings.alert_group_id)
        record["alerted"] = True
    except Exception as exc:  # said in the record, then raised: FC retries this invocation
        record["alerted"] = False
        record["alertError"] = describe_error(exc)
    write_records([record], clients=clients, project=settings.records_project, logstore=settings.records_logstore,
                  region=sweep.home_region, topic=RECORD_TOPIC)
    if not record["alerted"]:
        raise TransientError(f"retry later (alert {SWEEP_FAILED_EVENT}): {record['alertError']}")
    return {"results": [record]}
