"""secret-rotation's failure destination (s.yaml asyncInvokeConfig.destinationConfig.onFailure): FC sends
here every secret-rotation invocation that failed all its retries or aged out. It is alerted as
SecretRotationFailed and recorded; nothing is rotated here (the next timer run resumes the pending version).
A payload it cannot read is recorded as rejected, never raised.
"""
from __future__ import annotations

import os
import sys

_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from functions.secret_rotation.index import build  # noqa: E402
from shared.events import EventParseError  # noqa: E402
from shared.failed_invocations import parse_destination_payload  # noqa: E402


def handler(event, context):
    service = build(context)
    invocation_id = getattr(context, "request_id", "")
    try:
        original, failure = parse_destination_payload(event)
    except EventParseError as exc:
        return {"results": [service.reject(f"unreadable failure destination payload: {exc}", invocation_id)]}
    return service.handle_failed_invocation(original, failure, invocation_id=invocation_id)
