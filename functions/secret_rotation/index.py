"""secret-rotation: FC3 handler for on-demand rotations ({"SecretName": ...}, or one step of one) and for
the timer that rotates the secrets due (see s.yaml, README "Secret rotation").

Thin by design: build the configuration and the service, hand it the raw event (shared/rotation/service.py).
"""
from __future__ import annotations

import os
import sys

# FC puts the code directory (/code) on sys.path; the handler lives two levels below it.
_CODE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _CODE_ROOT not in sys.path:
    sys.path.insert(0, _CODE_ROOT)

from shared.fc_context import account_id_from, timeout_of  # noqa: E402
from shared.rotation.config import RotationConfig  # noqa: E402
from shared.rotation.service import SecretRotationService, build_service  # noqa: E402


def build(context) -> SecretRotationService:
    return build_service(RotationConfig.from_env(), context, account_id=account_id_from(context),
                         time_limit_s=timeout_of(context))


def handler(event, context):
    return build(context).handle(event, invocation_id=getattr(context, "request_id", ""))
