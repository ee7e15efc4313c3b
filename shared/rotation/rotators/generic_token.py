"""Tokens with no target system to set them on (an API token both sides read from Secrets Manager, a
shared signing secret): the new value is a GetRandomPassword answer, set_secret has nothing to do, and
test_secret checks the pending value is a token at all and not the current one again.

Whoever consumes such a token must read it from Secrets Manager (ACSCurrent, or ACSPrevious while clients
catch up): nothing else is told.
"""
from __future__ import annotations

from shared.rotation.credentials import Token
from shared.rotation.errors import TargetError


class GenericTokenRotator:
    name = "generic"

    def next_value(self, current: Token, new_token: str) -> Token:
        return current.with_value(new_token)

    def check(self, pending: Token, current: Token | None) -> None:
        if not pending.value.strip():
            raise TargetError("the pending token is empty")
        if current is not None and pending.value == current.value:
            raise TargetError("the pending token is the current one: nothing would change")
