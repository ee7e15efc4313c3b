"""key-guard's failure destination (s.yaml asyncInvokeConfig.destinationConfig.onFailure): FC sends here every
key-guard invocation that failed all its retries or aged out. Each event in it is decided one last time; what still
cannot be decided is undone fail-safe and alerted. A payload it cannot read is recorded as a rejection, never raised.
"""
from __future__ import annotations

import os
import sys

_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.guard import KeyGuard  # noqa: E402


def handler(event, context):
    return KeyGuard.for_invocation(context).handle_destination(event, invocation_id=getattr(context, "request_id", ""))
