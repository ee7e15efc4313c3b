"""key-guard: FC3 handler for the EventBridge trigger on KMS ActionTrail events and for the daily
safety-net timer (see s.yaml).

Thin by design: build the configuration and clients, hand the raw event to shared.guard.
"""
from __future__ import annotations

import os
import sys

# FC puts the code directory (/code) on sys.path; the handler lives two levels below it.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.clients import Clients, Credentials  # noqa: E402
from shared.config import GuardConfig  # noqa: E402
from shared.fc_context import account_id_from, timeout_of  # noqa: E402
from shared.guard import KeyGuard  # noqa: E402


def build_guard(context) -> KeyGuard:
    config = GuardConfig.from_env()
    credentials = Credentials.resolve(context)
    return KeyGuard(
        config,
        account_id=account_id_from(context),
        clients_for=lambda region: Clients(credentials, region, endpoint_override=config.endpoint_override),
        time_limit_s=timeout_of(context),
    )


def handler(event, context):
    return build_guard(context).handle(event, invocation_id=getattr(context, "request_id", ""))
