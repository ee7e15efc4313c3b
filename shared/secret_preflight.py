"""The pre-flight report for a secret: what an on-call engineer checks before deleting a Secrets Manager secret.

Read-only: it describes the secret (never reading its value) and looks for its readers as secret-guard does
(shared/secret_readers.py), then says whether a deletion would break someone, whether the secret is already pending
deletion, and how to bring it back. Its outcomes and exit codes are the key pre-flight's (shared/preflight.py):
clear, blocked (read in the window, or owned by a service), incomplete (the readers could not be determined).
"""
from __future__ import annotations

import shlex
import time
from datetime import datetime, timezone
from typing import Literal, Optional

from pydantic import BaseModel, Field

from shared.clients import Clients, describe_error
from shared.preflight import _instance_log_from_env
from shared.secret_readers import SecretTarget, is_managed, read_readers, reader_summary
from shared.secrets import read_secret

Outcome = Literal["clear", "blocked", "incomplete"]


class SecretPreflight(BaseModel):
    secret_name: str
    region: str
    arn: str = ""
    secret_type: str = "Generic"
    encryption_key_id: str = ""  # empty: Secrets Manager's own service key
    kms_instance: str = ""
    automatic_rotation: str = ""
    rotation_interval: str = ""
    last_rotation_date: str = ""
    create_time: str = ""
    pending_deletion: bool = False
    planned_delete_time: str = ""
    managed_by: str = ""
    usage_window_days: int = 30
    readers: list[dict] = Field(default_factory=list)
    readers_complete: bool = True
    readers_incomplete: str = ""
    reader_evidence: str = ""
    outcome: Outcome = "clear"
    recommendation: str = ""
    restore_command: str = ""
    api_calls: dict[str, int] = Field(default_factory=dict)
    duration_ms: int = 0
    generated_at: str = ""


def build_secret_preflight(clients: Clients, name: str, region: str, *, usage_window_days: int = 30,
                           trail_project: Optional[str] = None, trail_logstore: Optional[str] = None,
                           as_of: Optional[str] = None, account_id: str = "") -> SecretPreflight:
    """The report for secret `name` in `region`. Raises when the secret cannot be read (SecretNotFound, an API error)."""
    started = time.monotonic()
    secret = read_secret(clients, name, region)
    managed = (secret.owning_service or secret.secret_type) if is_managed(secret.secret_type) else ""
    target = SecretTarget(name=secret.name, region=region, account_id=account_id, arn=secret.arn,
                          usage_window_days=usage_window_days, trail_project=trail_project, trail_logstore=trail_logstore,
                          kms_instance_id=secret.kms_instance, as_of=as_of, **_instance_log_from_env())
    readers: list[dict] = []
    incomplete = evidence = ""
    try:
        found = read_readers(target, clients)
        readers = [reader_summary(c, usage_window_days) for c in found.callers]
        evidence = "; ".join(found.sources)
    except Exception as exc:  # readers not known are never "no readers"
        incomplete = describe_error(exc)
    outcome: Outcome = "blocked" if (readers or managed) else "incomplete" if incomplete else "clear"
    restore = f"aliyun kms RestoreSecret --SecretName {shlex.quote(secret.name)} --region {region}"
    return SecretPreflight(
        secret_name=secret.name, region=region, arn=secret.arn, secret_type=secret.secret_type,
        encryption_key_id=secret.encryption_key_id, kms_instance=secret.kms_instance,
        automatic_rotation=secret.automatic_rotation, rotation_interval=secret.rotation_interval,
        last_rotation_date=secret.last_rotation_date, create_time=secret.create_time,
        pending_deletion=bool(secret.planned_delete_time), planned_delete_time=secret.planned_delete_time, managed_by=managed,
        usage_window_days=usage_window_days, readers=readers, readers_complete=not incomplete, readers_incomplete=incomplete,
        reader_evidence=evidence, outcome=outcome, recommendation=_recommendation(outcome, readers, managed, incomplete,
                                                                                  bool(secret.planned_delete_time)),
        restore_command=restore, api_calls=dict(sorted(clients.calls.counts.items())),
        duration_ms=int((time.monotonic() - started) * 1000),
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _recommendation(outcome: Outcome, readers: list[dict], managed: str, incomplete: str, pending: bool) -> str:
    if outcome == "blocked":
        who = [f"{len(readers)} reader(s) in the window"] if readers else []
        who += [f"owned by {managed}, which uses it"] if managed else []
        advice = "Move every reader off it first; then delete with a recovery window (RecoveryWindowInDays 30), " \
                 "never ForceDeleteWithoutRecovery."
        return f"Do not delete: {' and '.join(who)}. {advice}" + (" It is already pending deletion: restore it now." if pending else "")
    if outcome == "incomplete":
        return (f"Readers could not be determined ({incomplete}): treat it as read. Fix the evidence and run this again "
                "before deleting.")
    return ("No reads in the window: a deletion breaks no reader seen. Delete with a recovery window (RecoveryWindowInDays "
            "30) rather than ForceDeleteWithoutRecovery, so that a reader seen too late can still be saved.")
