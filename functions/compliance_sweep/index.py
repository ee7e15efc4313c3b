"""compliance-sweep: FC3 handler for the daily timer (and direct invocations naming checks or regions) that sweeps
KMS keys and secrets for rotation, deletion protection and policies over regions × accounts, fanning out one
asynchronous invocation of itself per target when there are several (see s.yaml, README "Sweeps").

Thin by design: build the settings and the credentials, hand the raw event to shared/sweeps/service.py.
"""
from __future__ import annotations

import os
import sys

# FC puts the code directory (/code) on sys.path; the handler lives two levels below it.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.clients import Credentials  # noqa: E402
from shared.fc_context import account_id_from, function_name_from  # noqa: E402
from shared.sweeps.service import SweepFunction  # noqa: E402
from shared.sweeps.settings import SweepSettings  # noqa: E402

TASK = "compliance-sweep"


def build(context) -> SweepFunction:
    return SweepFunction(SweepSettings.from_env(), task=TASK, account_id=account_id_from(context),
                         credentials=Credentials.resolve(context), function_name=function_name_from(context))


def handler(event, context):
    return build(context).handle(event, invocation_id=getattr(context, "request_id", ""))
