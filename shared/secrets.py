"""Reading a Secrets Manager secret as it is now (DescribeSecret, with its tags), restoring one pending deletion, and
listing a region's secrets pending deletion: what secret-guard reads and does, as shared/keys.py is for key-guard.

A secret has no state field: it is pending deletion while DescribeSecret shows a PlannedDeleteTime ("DeleteSecret"
and "DescribeSecret", KMS API reference,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-deletesecret and
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-describesecret).
The guard names the two states PendingDeletion and Normal. A secret that does not exist (never did, deleted for good
with ForceDeleteWithoutRecovery, or its recovery window over) answers 404 Forbidden.ResourceNotFound.

RestoreSecret ("RestoreSecret", https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-restoresecret)
works only inside the recovery window; a secret not pending deletion answers 409 Rejected.ResourceInUse ("restore normal
secret"): already restored, or never deleted. Either way the secret's state, re-read, says what the restore did
(shared/keys.py, transition), so that refusal is "already", never "failed".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from alibabacloud_kms20160120 import models as kms

from shared.audit.paging import items_by_number
from shared.clients import Clients, error_code
from shared.keys import ActionResult, NotFound, transition

SECRET_NOT_FOUND = "Forbidden.ResourceNotFound"
PENDING_DELETION = "PendingDeletion"
NORMAL = "Normal"
PAGE_SIZE = 100  # ListSecrets' largest PageSize ("ListSecrets": 1 to 100, default 10)


class SecretNotFound(NotFound):
    pass


@dataclass
class SecretView:
    name: str
    arn: str = ""
    secret_type: str = "Generic"
    encryption_key_id: str = ""  # empty: Secrets Manager's own service key
    kms_instance: str = ""  # DKMSInstanceId: "" for a secret in no KMS instance
    planned_delete_time: str = ""
    automatic_rotation: str = ""
    rotation_interval: str = ""
    last_rotation_date: str = ""
    create_time: str = ""
    owning_service: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> str:
        return PENDING_DELETION if self.planned_delete_time else NORMAL


def read_secret(clients: Clients, name: str, region: str, *, with_tags: bool = True) -> SecretView:
    """The secret's metadata (never its value: DescribeSecret has none)."""
    request = kms.DescribeSecretRequest(secret_name=name, fetch_tags="true" if with_tags else None)
    try:
        body = clients.call("kms:DescribeSecret", clients.kms(region).describe_secret, request).body
    except Exception as exc:
        if error_code(exc) == SECRET_NOT_FOUND:
            raise SecretNotFound(f"secret {name} not found in {region}") from None
        raise
    tags = {t.tag_key: t.tag_value or "" for t in ((body.tags.tag if body.tags else None) or []) if t.tag_key}
    return SecretView(name=body.secret_name or name, arn=body.arn or "", secret_type=body.secret_type or "Generic",
                      encryption_key_id=body.encryption_key_id or "", kms_instance=body.dkmsinstance_id or "",
                      planned_delete_time=body.planned_delete_time or "", automatic_rotation=body.automatic_rotation or "",
                      rotation_interval=body.rotation_interval or "", last_rotation_date=body.last_rotation_date or "",
                      create_time=body.create_time or "", owning_service=getattr(body, "owing_service", None) or "", tags=tags)


def secret_state(clients: Clients, name: str, region: str) -> str:
    return read_secret(clients, name, region, with_tags=False).state


def restore_secret(clients: Clients, name: str, region: str) -> ActionResult:
    """RestoreSecret if the secret is still pending deletion (restoring is reversible: always safe)."""
    return transition(clients, name, region, "restore_secret", required=PENDING_DELETION, target=(NORMAL,),
                      api="kms:RestoreSecret", call=lambda c: c.restore_secret(kms.RestoreSecretRequest(secret_name=name)),
                      read=lambda: secret_state(clients, name, region), noun="secret")


def list_pending_deletion_secrets(clients: Clients, region: str) -> list[str]:
    """Names of the region's secrets pending deletion. ListSecrets has no filter on PlannedDeleteTime (its filter
    keys: SecretName, Description, TagKey, TagValue, DKMSInstanceId, SecretType, Creator), so every secret is listed,
    100 a page, and the listing is paged until the pages prove it whole (shared/audit/paging.py)."""
    call = clients.kms(region).list_secrets

    def fetch(page: int):
        request = kms.ListSecretsRequest(page_number=page, page_size=PAGE_SIZE)
        return clients.call("kms:ListSecrets", call, request).body

    # Every secret is kept (its name, and whether it is pending), so the count proves the listing whole.
    listed = items_by_number(fetch, lambda body: body.secret_list.secret if body.secret_list else None,
                             lambda body: body.total_count, PAGE_SIZE,
                             keep=lambda item: (item.secret_name, bool(item.planned_delete_time)),
                             key=lambda kept: kept[0], size_of=lambda body: body.page_size, api="ListSecrets",
                             noun="secrets", concurrency=1)
    return [name for name, pending in listed if pending]
