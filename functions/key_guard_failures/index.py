"""key-guard's failure destination (s.yaml asyncInvokeConfig.destinationConfig.onFailure): FC sends
here every key-guard invocation that failed all its retries or aged out. Each event in it is decided
one last time; what still cannot be decided is cancelled fail-safe and alerted as KmsKeyGuardFailed.
This function never raises for a payload it cannot read: it records the rejection instead (an
unreadable destination payload names no key to act on; the daily safety net still covers the keys).
"""
from __future__ import annotations

import os
import sys

_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from functions.key_guard.index import build_guard  # noqa: E402
from shared.events import EventParseError  # noqa: E402
from shared.failed_invocations import parse_destination_payload  # noqa: E402


def handler(event, context):
    guard = build_guard(context)
    try:
        original, failure = parse_destination_payload(event)
    except EventParseError as exc:
        return {"results": [guard.reject_payload(f"unreadable failure destination payload: {exc}")]}
    return guard.handle_failed_invocation(original, failure, invocation_id=getattr(context, "request_id", ""))
