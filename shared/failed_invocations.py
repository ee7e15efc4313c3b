"""What Function Compute sends a failure destination: the context of an asynchronous invocation that
failed every retry, or aged out (FC 3.0 "Destinations for asynchronous invocations" / result
callback). Its `requestPayload` holds the original event as it was delivered; the rest says why it
failed. Field names beyond those are read leniently: a destination payload key-guard cannot read
is still alerted on, never dropped.
"""
from __future__ import annotations

import json
from typing import Any

from shared.events import EventParseError, decode_payload

_MAX_FAILURE_CHARS = 300


def parse_destination_payload(raw: Any) -> tuple[Any, str]:
    """(the original event payload, a one-line description of the failure). Raises EventParseError
    when no original event can be found in it."""
    raw = decode_payload(raw, what="failure destination payload")
    if not isinstance(raw, dict):
        raise EventParseError("failure destination payload is not a JSON object")
    original = raw.get("requestPayload")
    if original in (None, ""):
        raise EventParseError("failure destination payload has no requestPayload (the original event)")
    return original, describe_failure(raw)


def describe_failure(payload: dict) -> str:
    context = payload.get("requestContext") if isinstance(payload.get("requestContext"), dict) else {}
    response = payload.get("responseContext") if isinstance(payload.get("responseContext"), dict) else {}
    parts = []
    if context.get("condition"):
        parts.append(str(context["condition"]))
    if context.get("approximateInvokeCount") is not None:
        parts.append(f"after {context['approximateInvokeCount']} attempt(s)")
    if response.get("functionError"):
        parts.append(str(response["functionError"]))
    error = payload.get("responsePayload")
    if isinstance(error, str):
        try:
            error = json.loads(error)
        except ValueError:
            pass
    if isinstance(error, dict) and (error.get("errorType") or error.get("errorMessage")):
        parts.append(f"{error.get('errorType', '')}: {str(error.get('errorMessage', ''))[:200]}".strip(": "))
    text = "; ".join(p for p in parts if p) or "asynchronous invocation failed (no detail in the destination payload)"
    return text[:_MAX_FAILURE_CHARS]
