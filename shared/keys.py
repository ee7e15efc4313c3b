"""Reading a key as it is now (DescribeKey, aliases, tags), and the two actions the guard may take.

Actions re-read the key first: it may already be cancelled, re-enabled or deleted by the time the
guard acts, and a refused transition is reported as such rather than raised.
"""
from __future__ import annotations

from typing import Callable, Literal

from alibabacloud_kms20160120 import models as kms
from pydantic import BaseModel

from shared.audit.paging import items_by_number
from shared.clients import Clients, TransientError, describe_error, error_code, is_transient, never_sent
from shared.policy import KeyView

KEY_NOT_FOUND = "Forbidden.KeyNotFound"
NOT_FOUND_CODES = (KEY_NOT_FOUND, "Forbidden.AliasNotFound")


class NotFound(LookupError):
    """The thing a read named is gone (or never was): a key, or a secret (shared/secrets.py)."""


class KeyNotFound(NotFound):
    pass


def read_key(clients: Clients, key_id: str, region: str, *, with_details: bool = True) -> KeyView:
    client = clients.kms(region)
    try:
        meta = clients.call("kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    except Exception as exc:
        if error_code(exc) in NOT_FOUND_CODES:
            raise KeyNotFound(f"key {key_id} not found in {region}") from None
        raise
    view = KeyView(key_id=meta.key_id, arn=meta.arn or "", state=meta.key_state, delete_date=meta.delete_date,
                   deletion_protection=meta.deletion_protection or "Disabled", creator=meta.creator,
                   description=meta.description, origin=meta.origin or "Aliyun_KMS",
                   automatic_rotation=meta.automatic_rotation, kms_instance=meta.dkmsinstance_id or "")
    if with_details:
        tags = clients.call("kms:ListResourceTags", client.list_resource_tags, kms.ListResourceTagsRequest(key_id=view.key_id)).body
        view.tags = {t.tag_key: t.tag_value or "" for t in (tags.tags.tag if tags.tags else None) or []}
        view.aliases = list_aliases(clients, view.key_id, region)
    return view


def list_aliases(clients: Clients, key_id: str, region: str) -> list[str]:
    """Every alias of the key (ListAliasesByKeyId)."""
    return _kms_listing(clients, region, "ListAliasesByKeyId", "list_aliases_by_key_id",
                        kms.ListAliasesByKeyIdRequest(key_id=key_id), lambda body: body.aliases.alias if body.aliases else None,
                        lambda alias: alias.alias_name, "aliases")


def _kms_listing(clients: Clients, region: str, api: str, method: str, request, items_of, keep, noun: str) -> list[str]:
    """A KMS PageNumber listing, 100 a page (its maximum), paged until the pages prove it whole: a capped
    or echoed page size, a missing or moving total cannot end it early (IncompleteListing otherwise)."""
    call = getattr(clients.kms(region), method)

    def fetch(page: int):
        request.page_number, request.page_size = page, 100
        return clients.call(f"kms:{api}", call, request).body

    return items_by_number(fetch, items_of, lambda body: body.total_count, 100, keep=keep, key=lambda item: item,
                           size_of=lambda body: body.page_size, api=api, noun=noun, concurrency=1)


class ActionResult(BaseModel):
    action: str
    # done: the key is in the state the action asked for, because of it; already: someone (or the key's own
    # course) changed it first, nothing left to do; failed: refused for good (denied, invalid), the key is as it was.
    outcome: Literal["done", "already", "failed", "none"]
    detail: str
    state_after: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome == "done"


class NotApplied(Exception):
    """A write answered OK while the key stayed as it was."""


class WriteUnconfirmed(TransientError):
    """A write that did not go through in its last attempts, after an earlier one may have run (answered OK before
    the key showed it, or lost its answer): not "nothing done". It may still land, so whoever decides the event
    next must learn that this attempt acted (the guard keeps the claim that notes the action, or tells at once)."""


# A cancelled key returns to Enabled ("CancelKeyDeletion", KMS API reference), or, with its imported material
# deleted, to PendingImport, as it has nothing to be enabled with (UNCONFIRMED which state KMS shows then: the
# local cloud's). Either is a cancel done.
CANCELLED_STATES = ("Enabled", "PendingImport")

WRITE_ATTEMPTS = 3  # rounds of write, then re-read; each write is itself retried while it provably did not run


def cancel_deletion(clients: Clients, key_id: str, region: str) -> ActionResult:
    """CancelKeyDeletion if the key is still pending deletion (cancel is reversible: always safe)."""
    return transition(clients, key_id, region, "cancel_deletion", required="PendingDeletion", target=CANCELLED_STATES,
                       api="kms:CancelKeyDeletion", call=lambda c: c.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=key_id)))


def enable_key(clients: Clients, key_id: str, region: str) -> ActionResult:
    return transition(clients, key_id, region, "enable_key", required="Disabled", target=("Enabled",),
                       api="kms:EnableKey", call=lambda c: c.enable_key(kms.EnableKeyRequest(key_id=key_id)))


def transition(clients: Clients, key_id: str, region: str, action: str, *, required: str, target: tuple[str, ...],
               api: str, call, read: Callable[[], str] | None = None, noun: str = "key") -> ActionResult:
    """Move the key (or, given its `read` and `noun`, a secret: shared/secrets.py) from `required` to one of the
    `target` states; `read()` answers its state, raising NotFound when it is gone. Only the key's state says
    what a write did: an answer
    that says OK while the key stays as it was (a gateway answering for a service it never asked) is not
    done; an answer lost after the write ran (a read timeout, a 5xx) is done when the key shows it; a
    refusal because someone changed the key first is already done; a refusal of the request itself
    (denied, invalid) is failed, and so is a write whose outcome the key cannot be re-read to confirm.
    A write that provably did not go through after every attempt raises TransientError: nothing was
    done, so the invocation may be retried."""
    if read is None:
        def read() -> str:
            return read_key(clients, key_id, region, with_details=False).state
    try:
        before = read()
    except NotFound as exc:
        return ActionResult(action=action, outcome="already", detail=f"not needed: {exc}")
    if before != required:
        return ActionResult(action=action, outcome="already", detail=f"not needed: {noun} is {before} now",
                            state_after=before)
    client = clients.kms(region)
    failure: Exception | None = None
    # An earlier round's write may have run: its answer was lost, or an OK the key did not show yet. If it lands
    # after that round's re-read, the next write is refused for the very state it made. The key cannot say whether
    # that state is this write's or another hand's made meanwhile; it is told as done (a person hears of it, as
    # of any deletion the guard stopped), and the detail says it may be either.
    maybe_ran: str | None = None
    for _ in range(WRITE_ATTEMPTS):
        try:
            clients.call(api, call, client, write=True)
            failure = None
        except Exception as exc:
            failure = exc
        try:
            now = read()
        except NotFound as exc:
            return ActionResult(action=action, outcome="already", detail=f"not done: {exc}")
        except Exception as exc:
            if failure is not None and never_sent(failure):
                raise TransientError(f"{api} refused ({describe_error(failure)}) and the {noun} could not be re-read") from None
            # The write may have run: whether it did, only the key can tell, and it cannot be read now.
            return ActionResult(action=action, outcome="failed", detail=f"{api} sent but not confirmed: "
                                f"{describe_error(failure) if failure else 'answered OK'}; re-reading the {noun} failed "
                                f"({describe_error(exc)}): its state is unconfirmed")
        if now in target and (failure is None or (is_transient(failure) and not never_sent(failure))):
            lost = f" (the answer to {api} was lost; the {noun}'s state confirms it)" if failure is not None else ""
            return ActionResult(action=action, outcome="done", state_after=now, detail=f"{before} -> {now}{lost}")
        if now in target and maybe_ran:
            return ActionResult(action=action, outcome="done", state_after=now,
                                detail=f"{before} -> {now} (an earlier {api} {maybe_ran}; the repeat was refused: "
                                       f"{describe_error(failure)}; the {noun} shows the earlier one landing late, or another "
                                       f"hand's made meanwhile)")
        if now != required:
            why = f" ({describe_error(failure)})" if failure is not None else ""
            return ActionResult(action=action, outcome="already", state_after=now,
                                detail=f"not done: the {noun} became {now} meanwhile{why}")
        if failure is None or (is_transient(failure) and not never_sent(failure)):
            maybe_ran = "answered OK" if failure is None else f"lost its answer ({describe_error(failure)})"
        if failure is None:  # answered OK, yet the key is as it was: not done, whatever the answer said
            failure = NotApplied(f"{api} answered OK but the {noun} is still {now}")
            continue
        if not is_transient(failure):
            if maybe_ran:  # refused, perhaps for the very state the earlier attempt made, not yet shown
                raise WriteUnconfirmed(f"{api} not confirmed: an earlier attempt {maybe_ran}, and the {noun} still showed "
                                       f"{required}; the repeat was refused: {describe_error(failure)}")
            return ActionResult(action=action, outcome="failed", state_after=now,
                                detail=f"{api} failed: {describe_error(failure)}")
        if never_sent(failure):  # throttled or unreachable through every retry: the invocation's retry may fare better
            break
    if isinstance(failure, NotApplied):
        return ActionResult(action=action, outcome="failed", state_after=required, detail=str(failure))
    if maybe_ran:
        raise WriteUnconfirmed(f"{api} not confirmed: an earlier attempt {maybe_ran}, and the {noun} still showed {required}; "
                               f"the last of {WRITE_ATTEMPTS} attempts: {describe_error(failure)}")
    raise TransientError(f"{api} did not go through in {WRITE_ATTEMPTS} attempts: {describe_error(failure)}")


PENDING_DELETION_FILTER = '[{"Key":"KeyState","Values":["PendingDeletion"]}]'


def list_pending_deletion(clients: Clients, region: str) -> list[str]:
    """Ids of the region's keys in PendingDeletion (ListKeys with a KeyState filter)."""
    return _kms_listing(clients, region, "ListKeys", "list_keys", kms.ListKeysRequest(filters=PENDING_DELETION_FILTER),
                        lambda body: body.keys.key if body.keys else None, lambda key: key.key_id, "keys pending deletion")
