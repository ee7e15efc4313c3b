"""What a rotation can fail with, and the redaction every message passes through.

A secret value never leaves the rotation: not in a record, an alert, a log line or an exception message.
Messages are built from ids, step names and error codes; a message that has to quote something the
database or the SDK said (a MySQL syntax error quotes the statement, which holds the password) goes
through a `Redactor` holding every secret value of the run first, and exceptions are raised `from None`
so no chained driver exception (and its text) rides along in a traceback.
"""
from __future__ import annotations

import json
import threading

MAX_REASON_CHARS = 300
MASK = "[redacted]"


class Redactor:
    """Every secret value seen in one rotation; `scrub` masks them in a text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if not value or len(value) < 4:  # too short to mask without masking ordinary words
                    continue
                self._values.add(value)
                self._values.add(json.dumps(value)[1:-1])  # as it appears inside JSON text

    def scrub(self, text: object) -> str:
        out = str(text)
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in out:
                out = out.replace(value, MASK)
        return out

    def reason(self, text: object) -> str:
        """A one-line reason fit for a record: scrubbed, first line, clipped."""
        line = self.scrub(text).strip().splitlines()[0] if str(text).strip() else ""
        return line[:MAX_REASON_CHARS]


class RotationError(Exception):
    """A rotation that cannot go on. `step` names where (create_secret ... finish_secret, or `plan` before
    any step: the secret cannot be rotated as it is); the message is the reason, already redacted."""

    def __init__(self, step: str, reason: str):
        super().__init__(reason)
        self.step = step
        self.reason = reason


class RotationRefused(RotationError):
    """The secret or the request cannot be rotated as it stands (wrong type, a value that is not a
    credential, another rotation under way): retrying will not help until someone changes it."""


class StepFailed(RotationError):
    """A step tried and failed (the database refused a login, KMS answered an error, a timeout): the stages
    are as the step left them and the next run resumes there."""


class TargetError(RuntimeError):
    """What a rotator raises for a failure of the target system; its message is already redacted.
    `auth_refused`: the server refused the login itself (wrong password, unknown user), as opposed to not
    answering or failing a statement."""

    auth_refused: bool = False
