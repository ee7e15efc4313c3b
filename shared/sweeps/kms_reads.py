"""The KMS reads the compliance checks share, each fetched once per run (`Clients.once`) and paged by the trusted
helpers (shared/audit/paging.py): a listing the answers do not prove whole raises, and the check is incomplete.

- customer_keys: ListKeys with the CreatorType=User filter (ListKeys API reference, Filters: KeyState, KeySpec,
  KeyUsage, ProtectionLevel, CreatorType, DKMSInstanceId; https://www.alibabacloud.com/help/en/kms/support/api-kms-listkeys),
  so service keys (created and managed by a cloud service, alias/acs/<service>) are not listed; then DescribeKey
  per key for KeySpec, Origin, ProtectionLevel, KeyUsage, AutomaticRotation, RotationInterval, LastRotationDate,
  CreationDate, Creator, DeletionProtection and DKMSInstanceId (DescribeKey API reference,
  https://www.alibabacloud.com/help/doc-detail/28952.htm).
- secret_metadata: ListSecrets (names), then DescribeSecret per secret with FetchTags: SecretType, AutomaticRotation,
  RotationInterval, LastRotationDate, EncryptionKeyId, DKMSInstanceId, PlannedDeleteTime and the tags (DescribeSecret
  API reference, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-describesecret).
- secret_versions: ListSecretVersionIds (the versions holding a stage, with their CreateTime; API reference,
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listsecretversionids).
"""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as kms

from shared.audit.fanout import fan_out
from shared.audit.paging import items_by_number
from shared.clients import Clients, error_code
from shared.keys import NOT_FOUND_CODES
from shared.rotation.secret_store import SecretVersion

PAGE_SIZE = 100  # ListKeys, ListSecrets and ListSecretVersionIds: PageSize 1-100
DESCRIBE_CONCURRENCY = 16  # KMS admits tens of metadata calls a second (shared/quotas.py paces them)
CUSTOMER_KEYS = json.dumps([{"Key": "CreatorType", "Values": ["User"]}])
SECRET_GONE = "Forbidden.ResourceNotFound"  # deleted between the listing and the describe
SYMMETRIC_SPECS = frozenset({"Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"})


def customer_keys(clients: Clients, region: str) -> list[kms.DescribeKeyResponseBodyKeyMetadata]:
    """DescribeKey's metadata of every customer-managed key of the region."""
    client = clients.kms(region)

    def fetch():
        def page(number: int):
            request = kms.ListKeysRequest(filters=CUSTOMER_KEYS, page_number=number, page_size=PAGE_SIZE)
            return clients.call("kms:ListKeys", client.list_keys, request).body

        ids = items_by_number(page, lambda b: b.keys.key if b.keys else None, lambda b: b.total_count, PAGE_SIZE,
                              keep=lambda k: k.key_id, size_of=lambda b: b.page_size, key=lambda i: i, api="ListKeys",
                              noun="keys")

        def describe(key_id: str):
            try:
                return clients.call("kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata
            except Exception as exc:
                if error_code(exc) in NOT_FOUND_CODES:  # deleted since the listing
                    return None
                raise

        return [meta for meta in fan_out(describe, ids, DESCRIBE_CONCURRENCY) if meta is not None]

    return clients.once(("sweep:customer_keys", region), fetch)


def is_service_key(meta) -> bool:
    """Belt and braces beside the CreatorType filter: a customer key's Creator is an account id (digits); any other
    Creator is taken for a cloud service's (UNCONFIRMED: no doc shows a service key's DescribeKey)."""
    creator = str(meta.creator or "")
    return bool(creator) and not creator.isdigit()


def secret_metadata(clients: Clients, region: str) -> list[kms.DescribeSecretResponseBody]:
    """DescribeSecret (with tags) of every secret of the region."""
    client = clients.kms(region)

    def fetch():
        def page(number: int):
            return clients.call("kms:ListSecrets", client.list_secrets,
                                kms.ListSecretsRequest(page_number=number, page_size=PAGE_SIZE)).body

        names = items_by_number(page, lambda b: b.secret_list and b.secret_list.secret, lambda b: b.total_count, PAGE_SIZE,
                                keep=lambda s: s.secret_name, size_of=lambda b: b.page_size, key=lambda n: n,
                                api="ListSecrets", noun="secrets")

        def describe(name: str):
            try:
                return clients.call("kms:DescribeSecret", client.describe_secret,
                                    kms.DescribeSecretRequest(secret_name=name, fetch_tags="true")).body
            except Exception as exc:
                if error_code(exc) == SECRET_GONE:
                    return None
                raise

        return [body for body in fan_out(describe, names, DESCRIBE_CONCURRENCY) if body is not None]

    return clients.once(("sweep:secret_metadata", region), fetch)


def secret_tags(body) -> dict[str, str]:
    items = (body.tags.tag if body.tags else None) or []
    return {t.tag_key: t.tag_value or "" for t in items if t.tag_key}


def secret_versions(clients: Clients, region: str, name: str) -> list[SecretVersion]:
    client = clients.kms(region)

    def page(number: int):
        return clients.call("kms:ListSecretVersionIds", client.list_secret_version_ids,
                            kms.ListSecretVersionIdsRequest(secret_name=name, page_number=number, page_size=PAGE_SIZE)).body

    def keep(item) -> SecretVersion:
        stages = frozenset((item.version_stages.version_stage if item.version_stages else None) or [])
        return SecretVersion(item.version_id, stages, item.create_time)

    return items_by_number(page, lambda b: b.version_ids and b.version_ids.version_id, lambda b: b.total_count, PAGE_SIZE,
                           keep=keep, size_of=lambda b: b.page_size, key=lambda v: v.version_id,
                           api=f"ListSecretVersionIds ({name})", noun="versions", concurrency=1)
