"""Reading a key as it is now (DescribeKey, aliases, tags), and the two actions the guard may take.

Actions re-read the key first: it may already be cancelled, re-enabled or deleted by the time the
guard acts, and a refused transition is reported as such rather than raised.
"""
from __future__ import annotations

from alibabacloud_kms20160120 import models as kms
from pydantic import BaseModel

from shared.clients import Clients, describe_error, error_code
from shared.policy import KeyView

KEY_NOT_FOUND = "Forbidden.KeyNotFound"


class KeyNotFound(LookupError):
    pass


def read_key(clients: Clients, key_id: str, region: str, *, with_details: bool = True) -> KeyView:
    client = clients.kms(region)
    try:
        meta = clients.call("kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    except Exception as exc:
        if error_code(exc) == KEY_NOT_FOUND:
            raise KeyNotFound(f"key {key_id} not found in {region}") from None
        raise
    view = KeyView(key_id=meta.key_id, arn=meta.arn or "", state=meta.key_state, delete_date=meta.delete_date,
                   deletion_protection=meta.deletion_protection or "Disabled", creator=meta.creator,
                   description=meta.description)
    if with_details:
        tags = clients.call("kms:ListResourceTags", client.list_resource_tags, kms.ListResourceTagsRequest(key_id=key_id)).body
        view.tags = {t.tag_key: t.tag_value or "" for t in (tags.tags.tag if tags.tags else None) or []}
        page = 1
        while True:
            body = clients.call("kms:ListAliasesByKeyId", client.list_aliases_by_key_id,
                                kms.ListAliasesByKeyIdRequest(key_id=key_id, page_number=page, page_size=100)).body
            view.aliases += [a.alias_name for a in (body.aliases.alias if body.aliases else None) or []]
            if page * 100 >= (body.total_count or 0):
                break
            page += 1
    return view


class ActionResult(BaseModel):
    action: str
    done: bool
    detail: str
    state_after: str | None = None


def cancel_deletion(clients: Clients, key_id: str, region: str) -> ActionResult:
    """CancelKeyDeletion if the key is still pending deletion (cancel is reversible: always safe)."""
    return _transition(clients, key_id, region, "cancel_deletion", required="PendingDeletion",
                       api="kms:CancelKeyDeletion", call=lambda c: c.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=key_id)))


def enable_key(clients: Clients, key_id: str, region: str) -> ActionResult:
    return _transition(clients, key_id, region, "enable_key", required="Disabled",
                       api="kms:EnableKey", call=lambda c: c.enable_key(kms.EnableKeyRequest(key_id=key_id)))


def _transition(clients: Clients, key_id: str, region: str, action: str, *, required: str, api: str, call) -> ActionResult:
    try:
        before = read_key(clients, key_id, region, with_details=False)
    except KeyNotFound as exc:
        return ActionResult(action=action, done=False, detail=str(exc))
    if before.state != required:
        return ActionResult(action=action, done=False, detail=f"not needed: key is {before.state}", state_after=before.state)
    client = clients.kms(region)
    try:
        clients.call(api, call, client)
    except Exception as exc:
        if error_code(exc).startswith("Rejected"):
            # Someone changed the key between our read and our write; report what it is now.
            after = read_key(clients, key_id, region, with_details=False)
            return ActionResult(action=action, done=False, detail=f"refused: {describe_error(exc)}", state_after=after.state)
        raise
    try:
        state_after = read_key(clients, key_id, region, with_details=False).state
    except Exception as exc:  # the action is done; a failed confirmation must not undo the decision
        state_after = f"unknown (re-read failed: {describe_error(exc)})"
    return ActionResult(action=action, done=True, detail=f"{before.state} -> {state_after}", state_after=state_after)
