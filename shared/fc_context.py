"""What a handler reads off FC's context object (the FC 3.0 Python runtime's "Context" page: account_id,
function.timeout): the account and the invocation's time limit. Shared by every function's handler."""
from __future__ import annotations

import os
from typing import Any


def account_id_from(context: Any) -> str:
    """The account the function runs in (context.account_id, else FC_ACCOUNT_ID)."""
    return str(getattr(context, "account_id", "") or os.environ.get("FC_ACCOUNT_ID", ""))


def timeout_of(context: Any) -> float | None:
    """The function's timeout (context.function.timeout, seconds): the invocation ends there."""
    try:
        return float(context.function.timeout) or None
    except (AttributeError, TypeError, ValueError):
        return None


def function_name_from(context: Any) -> str:
    """The function's own name (context.function.name, else FC_FUNCTION_NAME): what a function invokes to fan out."""
    return str(getattr(getattr(context, "function", None), "name", "") or os.environ.get("FC_FUNCTION_NAME", ""))
