"""Secrets Manager secrets encrypted with the key (DescribeSecret `EncryptionKeyId`).

ListSecrets carries no key and has no filter by encryption key, so every secret of the region is
described once (dependency-apis.md §1). A key of a KMS instance (KMS 3.0) can only protect secrets of
that instance: then ListSecrets is filtered server-side by the instance (`DKMSInstanceId`), which
narrows the describes. KMS admits 40 of these calls a second per account (shared/quotas.py), so this
scanner sets the pace of the audit in a region with thousands of secrets.
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


def key_instance(target: AuditTarget, clients: Clients) -> str | None:
    """The KMS instance the key lives in (None for a key of the shared KMS); DescribeKey once per run."""
    client = clients.kms(target.region)

    def fetch():
        meta = clients.call("kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=target.key_id)).body.key_metadata
        return meta.dkmsinstance_id or None

    return clients.once(("kms:DescribeKey", target.region, target.key_id), fetch)


class KmsSecretsScanner:
    name = "kms_secrets"
    service = "Secrets Manager"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.kms(target.region)
        instance = key_instance(target, clients)
        filters = json.dumps([{"Key": "DKMSInstanceId", "Values": [instance]}]) if instance else None

        def page(number: int):
            return clients.call("kms:ListSecrets", client.list_secrets,
                                kms.ListSecretsRequest(page_number=number, page_size=PAGE_SIZE, filters=filters)).body

        names = items_by_number(page, lambda b: b.secret_list and b.secret_list.secret, lambda b: b.total_count, PAGE_SIZE,
                                keep=lambda secret: secret.secret_name)

        def dependent(name: str) -> Dependent | None:
            """DescribeSecret, reduced at once to the dependent (or nothing): 5,000 bodies are not kept."""
            try:
                body = clients.call("kms:DescribeSecret", client.describe_secret, kms.DescribeSecretRequest(secret_name=name)).body
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                raise
            if not target.names_key(body.encryption_key_id):
                return None
            pending = bool(body.planned_delete_time)
            return Dependent(
                service=self.service, resource_type="ACS::KMS::Secret", resource_id=body.secret_name, region=target.region,
                state="inert" if pending else "live", name=body.secret_name,
                usage=f"{body.secret_type or 'Generic'} secret values encrypted with the key"
                      + (f" (scheduled for deletion {body.planned_delete_time})" if pending else ""),
                detail={k: v for k, v in {"type": body.secret_type, "rotation": body.automatic_rotation,
                                          "arn": body.arn}.items() if v},
            )

        found = [d for d in fan_out(dependent, names, CONCURRENCY) if d is not None]
        return found
