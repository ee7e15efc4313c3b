"""Driving key-guard as a person would (a KMS call, then EventBridge delivers its ActionTrail event to the
function), and reading what it decided and did from the account state: its records in SLS, its alerts in
CloudMonitor."""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as kms

from localcloud.cloud import LocalCloud
from localcloud.products.base import api
from localcloud.products.kms import Kms
from tests.support.accounts import KEY
from tests.support.clients import alice_kms


def schedule_deletion(cloud, key_id=KEY, days=7, **client_kwargs):
    alice_kms(cloud, **client_kwargs).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=days))
    assert cloud.bus.drain(timeout=60), "key-guard did not finish"


def decision_records(cloud: LocalCloud, logstore: str = "key-guard-decisions") -> list[dict]:
    """key-guard's (or, given its logstore, secret-guard's) decision records as SLS holds them (contents decoded back
    from their JSON strings)."""
    out = []
    for log in cloud.account.sls.logs:
        if log.logstoreName != logstore:
            continue
        out.append({k: _maybe_json(v) for k, v in log.contents.items()})
    return out


def _maybe_json(value: str):
    """Records keep nested values as JSON text (objects, lists, booleans, numbers); ids stay text."""
    if value[:1] in ("[", "{") or value in ("true", "false") or value.lstrip("-").isdigit() and len(value) < 16:
        return json.loads(value)
    return value


def only_record(cloud, event_name="ScheduleKeyDeletion"):
    records = [r for r in decision_records(cloud) if r.get("eventName") == event_name]
    assert len(records) == 1, records
    return records[0]


def alerts(cloud: LocalCloud) -> list[dict]:
    return [{"Name": e.Name, **json.loads(e.Content)} for e in cloud.account.cms.events]


def a_person_cancels_just_before_the_guard(monkeypatch, key_id: str = KEY) -> None:
    """KMS as it is when a person cancels a deletion in the moment before the guard's own cancel: the first
    CancelKeyDeletion finds the key Enabled already, and KMS refuses it (Rejected.StateModifiedFailed)."""
    cancel = Kms.cancel_key_deletion

    def a_person_first(self, call):
        if not getattr(a_person_first, "done", False):
            a_person_first.done = True
            key = next(k for k in self.account.kms.keys if k.KeyId == key_id)
            key.KeyState, key.DeleteDate = "Enabled", None
        return cancel(self, call)

    monkeypatch.setattr(Kms, "cancel_key_deletion", api("CancelKeyDeletion", write=True)(a_person_first))
