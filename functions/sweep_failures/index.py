"""The sweeps' failure destination (s.yaml: compliance-sweep-failures and cert-sweep-failures, each with its sweep's
settings): FC sends here every sweep invocation that failed all its retries or aged out. It is recorded in the sweep's
records and alerted as KmsStewardSweepFailed (shared/sweeps/failed.py); nothing is swept here, the next timer run
sweeps again.
"""
from __future__ import annotations

import os
import sys

_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.clients import Credentials  # noqa: E402
from shared.fc_context import account_id_from, function_name_from  # noqa: E402
from shared.sweeps.failed import handle_failed_invocation  # noqa: E402
from shared.sweeps.service import SweepFunction, utc_now  # noqa: E402
from shared.sweeps.settings import SweepSettings  # noqa: E402


def handler(event, context):
    sweep = SweepFunction(SweepSettings.from_env(), task="sweep-failures", account_id=account_id_from(context),
                          credentials=Credentials.resolve(context), function_name=function_name_from(context))
    return handle_failed_invocation(sweep, event, getattr(context, "request_id", ""), utc_now())
