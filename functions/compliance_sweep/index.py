"""compliance-sweep: FC3 handler for the daily timer (and direct invocations naming checks or regions) that sweeps
KMS keys and secrets for rotation, deletion protection and policies (see s.yaml, README "Sweeps").

Thin by design: build the settings and the clients, hand the raw event to shared/sweeps/service.py.
"""
from __future__ import annotations

import os
import sys

# FC puts the code directory (/code) on sys.path; the handler lives two levels below it.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.clients import Clients, Credentials  # noqa: E402
from shared.fc_context import account_id_from  # noqa: E402
from shared.sweeps.service import ComplianceSweep  # noqa: E402
from shared.sweeps.settings import SweepSettings  # noqa: E402


def build(context) -> ComplianceSweep:
    settings = SweepSettings.from_env()
    credentials = Credentials.resolve(context)
    return ComplianceSweep(settings, account_id=account_id_from(context),
                           clients_for=lambda region: Clients(credentials, region, endpoint_override=settings.endpoint_override))


def handler(event, context):
    return build(context).handle(event, invocation_id=getattr(context, "request_id", ""))
