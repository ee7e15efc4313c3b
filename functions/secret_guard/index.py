"""secret-guard: FC3 handler for its EventBridge trigger on ActionTrail events and for its daily safety-net timer (see
s.yaml). Thin by design: the guard is built from the invocation (shared.secret_guard) and handed the raw event.
"""
from __future__ import annotations

import os
import sys

# FC puts the code directory (/code) on sys.path; the handler lives two levels below it.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.secret_guard import SecretGuard  # noqa: E402


def handler(event, context):
    return SecretGuard.for_invocation(context).handle(event, invocation_id=getattr(context, "request_id", ""))
