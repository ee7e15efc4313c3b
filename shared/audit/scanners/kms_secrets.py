"""Secrets Manager secrets encrypted with the key (DescribeSecret `EncryptionKeyId`).

There is no server-side filter by key: ListSecrets carries no key and its Filters accept none (only
SecretName, Description, TagKey, TagValue, DKMSInstanceId, SecretType, Creator; SDK 3.3.1), so every
secret of the region is listed (100 a page, pages concurrently) and described once, concurrently
(dependency-apis.md §1). The one narrowing the API offers is the KMS instance: a secret and the key
that encrypts it belong to the same KMS instance (CreateSecret doc), so for a key of a KMS instance
(KMS 3.0, `DKMSInstanceId`) the listing is filtered server-side to that instance's secrets. KMS admits
40 secret-metadata calls a second per account (shared/quotas.py), so this scanner sets the pace of the
audit in a region with thousands of secrets.
"""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as kms

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 100  # ListSecrets' maximum
CONCURRENCY = 16  # enough in flight to use the 40 QPS quota at a few tens of ms per call
GONE = "Forbidden.ResourceNotFound"  # deleted between the listing and the describe


def key_metadata(target: AuditTarget, clients: Clients):
    """The key's DescribeKey metadata, fetched once per run whoever asks."""
    client = clients.kms(target.region)
    return clients.once(("kms:DescribeKey", target.key_id), lambda: clients.call(
        "kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=target.key_id)).body.key_metadata)


class KmsSecretsScanner:
    name = "kms_secrets"
    service = "Secrets Manager"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.kms(target.region)
        instance = key_metadata(target, clients).dkmsinstance_id
        filters = json.dumps([{"Key": "DKMSInstanceId", "Values": [instance]}]) if instance else None

        def page(number: int):
            return clients.call("kms:ListSecrets", client.list_secrets,
                                kms.ListSecretsRequest(page_number=number, page_size=PAGE_SIZE, filters=filters)).body

        names = items_by_number(page, lambda b: b.secret_list and b.secret_list.secret, lambda b: b.total_count, PAGE_SIZE,
                                keep=lambda secret: secret.secret_name, size_of=lambda b: b.page_size, key=lambda name: name,
                                api="ListSecrets", noun="secrets")

        def dependent(name: str) -> Dependent | None:
            """DescribeSecret, reduced at once to the dependent (or nothing): thousands of bodies are not kept."""
            try:
                body = clients.call("kms:DescribeSecret", client.describe_secret, kms.DescribeSecretRequest(secret_name=name)).body
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                raise
            if not target.names_key(body.encryption_key_id):
                return None
            pending = bool(body.planned_delete_time)
            kind = body.secret_type or "Generic"
            return Dependent(
                service=self.service, resource_type="ACS::KMS::Secret", resource_id=name, region=target.region,
                # Scheduled for deletion: on its way out, its values are data at rest (whether GetSecretValue
                # still answers meanwhile is UNCONFIRMED).
                state="inert" if pending else "live", name=name,
                usage=f"{kind} secret values encrypted with the key"
                      + (f" (secret scheduled for deletion at {body.planned_delete_time})" if pending else ""),
                detail={k: v for k, v in {"type": kind, "rotation": body.automatic_rotation, "arn": body.arn,
                                          "kms_instance": body.dkmsinstance_id}.items() if v},
            )

        return [d for d in fan_out(dependent, names, CONCURRENCY) if d is not None]
