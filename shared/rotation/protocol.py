"""The rotation protocol: its steps, its version stages, and the event payload that asks for one.

Secrets Manager does not call a function to rotate a generic secret ("You cannot enable automatic rotation
on a custom schedule for generic secrets in KMS. However, you can use Function Compute to fulfill this
purpose.", KMS docs "Manage and use generic secrets",
https://www.alibabacloud.com/help/en/kms/user-guide/manage-and-use-generic-secrets), and the official
Function Compute template ("Rotate generic secrets by using Function Compute",
https://www.alibabacloud.com/help/en/key-management-service/latest/use-function-compute-to-rotate-generic-secrets)
publishes no step names. This protocol is ours; it follows the "multi-API" manual rotation the KMS docs
describe ("Rotation of secrets", https://www.alibabacloud.com/help/doc-detail/152004.htm): store the new
value under a stage of its own with PutSecretValue (ACSCurrent and ACSPrevious untouched), register it with
the target system, then move ACSCurrent to it with UpdateSecretVersionStage.

Steps, in order (each one idempotent: it reads the stages first and does only what is left):

  create_secret  a new value (new password from GetRandomPassword) is stored as version VersionId under
                 PENDING_STAGE. A version already holding PENDING_STAGE is the rotation under way: it is
                 reused, never replaced (its password may already be the database's). The secret is tagged
                 PENDING_TAG first, so the timer resumes it even without the interval tag. A full rotation
                 derives VersionId from the ACSCurrent version (`next_version_id`): two runs racing to
                 rotate the same value pick the same id, and PutSecretValue refuses the second one's value.
  set_secret     the pending credential is set on the target system (ALTER USER ...; the alternate user
                 is created first when missing).
  test_secret    the pending credential logs in.
  finish_secret  tested once more, then promoted: ACSPrevious moves to the version now ACSCurrent,
                 ACSCurrent moves to VersionId, PENDING_STAGE is removed from it.

Event payload (FC event, or the CLI's `kms-steward rotate`), a JSON object:

  {"SecretName": "<name>"}                          rotate: run every step left (resumes a half-done one)
  {"SecretName": "<name>", "Step": "<step>",        run one step for that version (a CloudFlow flow
   "VersionId": "<version id>"}                     calling the function once per step, as Alibaba's template does)

The timer trigger's event (`{"triggerTime", "triggerName", "payload"}`) runs the scheduled sweep instead.
Any other payload is rejected, with the reason, and never retried.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from shared.events import EventParseError, decode_payload

ACS_CURRENT = "ACSCurrent"
ACS_PREVIOUS = "ACSPrevious"
# Alibaba has no built-in pending stage for generic secrets: ACSCurrent and ACSPrevious are the only built-in
# ones, any other name is a custom label (the "Rotation of secrets" doc uses MyPendingLabel). This one is
# kms-steward's, and it marks the version a rotation is working on. UpdateSecretVersionStage allows at most
# 8 stages per generic secret (API reference, UpdateSecretVersionStage): this uses one.
PENDING_STAGE = "ACSPending"
# The tag a secret carries while a rotation of it is in flight (its value: the version id). Set by create_secret
# before the pending version is stored, removed by finish_secret: the timer lists the secrets carrying it and
# resumes them, whether or not they carry the interval tag (ListSecrets filters by tag, not by stage).
PENDING_TAG = "kms-steward:rotation-pending"


class Step(str, Enum):
    CREATE = "create_secret"
    SET = "set_secret"
    TEST = "test_secret"
    FINISH = "finish_secret"


STEPS: tuple[Step, ...] = (Step.CREATE, Step.SET, Step.TEST, Step.FINISH)

# Secret names: "The name can contain letters, digits, underscores (_), forward slashes (/), plus signs (+),
# equal signs (=), periods (.), hyphens (-), and at signs (@)", at most 192 characters (KMS API reference,
# CreateSecret, SecretName). Version ids: at most 64 characters (PutSecretValue, VersionId); the characters
# allowed are not published, so ids are held to the same safe set.
_SECRET_NAME = re.compile(r"[A-Za-z0-9_/+=.@-]{1,192}")
_VERSION_ID = re.compile(r"[A-Za-z0-9_/+=.@-]{1,64}")
_FIELDS = ("SecretName", "Step", "VersionId")


NEXT_VERSION_PREFIX = "kms-steward-after-"


def next_version_id(current_version_id: str, attempt: int = 1) -> str:
    """The version id a rotation from `current_version_id` stores its new value under: the same for every run
    that starts from that version, so concurrent runs collide on PutSecretValue (which refuses another value
    under an existing VersionId) instead of each storing one. `attempt` > 1 when that id is already taken by
    a version that is no longer pending (an abandoned try, or ACSCurrent moved back). Held to VersionId's 64
    characters (and its character set) by hashing the current id when it does not fit."""
    suffix = "" if attempt <= 1 else f"-{attempt}"
    candidate = f"{NEXT_VERSION_PREFIX}{current_version_id}{suffix}"
    if _VERSION_ID.fullmatch(candidate):
        return candidate
    digest = hashlib.sha256(current_version_id.encode("utf-8")).hexdigest()
    return f"{NEXT_VERSION_PREFIX}{digest[:64 - len(NEXT_VERSION_PREFIX) - len(suffix)]}{suffix}"


class RotationEventRejected(ValueError):
    """A payload that names no rotation this function runs. Its message is the reason, safe to record."""


@dataclass(frozen=True)
class RotationRequest:
    secret_name: str
    step: Step | None = None
    version_id: str | None = None

    def as_payload(self) -> dict[str, str]:
        payload = {"SecretName": self.secret_name}
        if self.step is not None:
            payload.update(Step=self.step.value, VersionId=self.version_id or "")
        return payload


def parse_request(raw: Any) -> RotationRequest:
    """The rotation asked for by an FC event (bytes, text or decoded JSON). Raises RotationEventRejected."""
    try:
        # No snippet of a text that is not JSON: a rotation event may be a value pasted by mistake.
        doc = decode_payload(raw, what="rotation event", snippet=False)
    except EventParseError as exc:
        raise RotationEventRejected(str(exc)) from None
    if not isinstance(doc, dict):
        raise RotationEventRejected('the rotation event must be a JSON object such as {"SecretName": "..."}')
    unknown = sorted(str(k)[:40] for k in doc if k not in _FIELDS)
    if unknown:
        raise RotationEventRejected(f"unknown field(s) {', '.join(unknown)}: a rotation event holds only "
                                    f"{', '.join(_FIELDS)}")
    name = doc.get("SecretName")
    if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
        raise RotationEventRejected("SecretName must be a secret name (1-192 letters, digits and _/+=.@-)")
    step, version_id = doc.get("Step"), doc.get("VersionId")
    if step is None and version_id is None:
        return RotationRequest(name)
    if step is None:
        raise RotationEventRejected("VersionId given without Step: name the step to run, or send only SecretName")
    names = [s.value for s in STEPS]
    if step not in names:
        raise RotationEventRejected(f"Step must be one of {', '.join(names)}")
    if not isinstance(version_id, str) or not _VERSION_ID.fullmatch(version_id):
        raise RotationEventRejected("a Step needs the VersionId it works on (1-64 letters, digits and _/+=.@-)")
    return RotationRequest(name, Step(step), version_id)
