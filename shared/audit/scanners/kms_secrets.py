"""Secrets Manager secrets encrypted with the key (DescribeSecret `EncryptionKeyId`).

There is no server-side filter by key: ListSecrets carries no key and its Filters accept none (only
SecretName, Description, TagKey, TagValue, DKMSInstanceId, SecretType, Creator; SDK 3.3.1), so every
secret of the region is listed (100 a page, pages concurrently) and described once, concurrently
(dependency-apis.md §1). The one narrowing the API offers is the KMS instance: a secret and the key
that encrypts it belong to the same KMS instance (CreateSecret doc), so for a key of a KMS instance
(KMS 3.0, `DKMSInstanceId`) the listing is filtered server-side to that instance's secrets. KMS admits
40 secret-metadata calls a second per account (shared/quotas.py), so this scanner sets the pace of the
audit in a region with thousands of secrets.

The warm audit (shared/audit/facts.py): a secret's encryption key cannot change after CreateSecret, so what
DescribeSecret said of it is remembered, keyed by the secret's name and the CreateTime ListSecrets gives (a secret
deleted and re-created under the same name has another CreateTime, and is described afresh). Sources:
- UpdateSecret, the one API that changes a secret's metadata, takes SecretName, Description and
  ExtendedConfig.CustomData only ("Key Management Service: UpdateSecret",
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-updatesecret);
- Alibaba's Terraform provider documents `encryption_key_id` of alicloud_kms_secret as ForceNew: changing it
  replaces the secret (https://help.aliyun.com/zh/terraform/alicloud-kms-secret);
- "Secrets management FAQs": the key used in envelope encryption is the one specified when the secret is created
  (https://www.alibabacloud.com/help/en/kms/key-management-service/user-guide/secrets-faq).
So a listed secret the store knows, whose remembered key is not the audited key, is not described. Everything else
is described as a cold audit does: a secret the store does not know, and a known secret whose key IS the audited one
(its state can change: pending deletion, rotation; the dependent is reported from the fresh answer). A secret the
store remembers but the listing no longer shows is not considered at all: only what is listed is audited. As in a cold
audit, a secret deleted and re-created between the listing and its describe is judged by what the listing saw.
"""
from __future__ import annotations

import json
import time
from typing import Iterable, Optional

from alibabacloud_kms20160120 import models as kms

from shared.audit.facts import Fact, FactStore, FactsPlace, settled
from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 100  # ListSecrets' maximum
CONCURRENCY = 16  # enough in flight to use the 40 QPS quota at a few tens of ms per call
GONE = "Forbidden.ResourceNotFound"  # deleted between the listing and the describe
FACTS_PRODUCT = "kms_secrets"  # the facts object: each secret's EncryptionKeyId ("" for the service's own key)


def key_metadata(target: AuditTarget, clients: Clients):
    """The key's DescribeKey metadata, fetched once per run whoever asks."""
    client = clients.kms(target.region)
    return clients.once(("kms:DescribeKey", target.key_id), lambda: clients.call(
        "kms:DescribeKey", client.describe_key, kms.DescribeKeyRequest(key_id=target.key_id)).body.key_metadata)


def secret_key_store(clients: Clients, place: FactsPlace, account_id: str, region: str) -> FactStore:
    return FactStore(clients, place, account_id, region, FACTS_PRODUCT)


def remember_secret_keys(clients: Clients, place: Optional[FactsPlace], account_id: str, region: str,
                         bodies: Iterable, learned_at: float) -> None:
    """What DescribeSecret answers taught, written to the store (the sweeps' inventory describes every secret anyway):
    `bodies` are the DescribeSecret answers of every secret of the region (facts about secrets not among them are
    dropped), `learned_at` an instant before the first of them was asked. Never raises."""
    if place is None or not account_id:
        return
    bodies = [b for b in bodies if b.secret_name]
    learned = {b.secret_name: Fact(b.create_time, b.encryption_key_id or "", int(learned_at))
               for b in bodies if settled(b.create_time, learned_at)}
    secret_key_store(clients, place, account_id, region).save(
        learned, listed={b.secret_name: b.create_time for b in bodies}, listed_whole=True)


class KmsSecretsScanner:
    name = "kms_secrets"
    service = "Secrets Manager"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.kms(target.region)
        instance = key_metadata(target, clients).dkmsinstance_id
        filters = json.dumps([{"Key": "DKMSInstanceId", "Values": [instance]}]) if instance else None
        store = secret_key_store(clients, target.facts, target.account_id, target.region) \
            if target.facts and target.account_id else None
        known = clients.once(("audit:facts", store.key), store.load) if store else {}

        def page(number: int):
            return clients.call("kms:ListSecrets", client.list_secrets,
                                kms.ListSecretsRequest(page_number=number, page_size=PAGE_SIZE, filters=filters)).body

        listed = items_by_number(page, lambda b: b.secret_list and b.secret_list.secret, lambda b: b.total_count, PAGE_SIZE,
                                 keep=lambda secret: (secret.secret_name, secret.create_time), size_of=lambda b: b.page_size,
                                 key=lambda item: item[0], api="ListSecrets", noun="secrets")

        def ruled_out(name: str, created: Optional[str]) -> bool:
            """The store knows this very secret (same name, same CreateTime), encrypted with another key."""
            fact = known.get(name)
            return fact is not None and bool(created) and fact.created == created and not target.names_key(fact.value)

        to_describe = [(name, created) for name, created in listed if not ruled_out(name, created)]
        learned: dict[str, Fact] = {}
        started = time.time()  # before any describe: a fact is never dated later than it was learned

        def dependent(item: tuple[str, Optional[str]]) -> Dependent | None:
            """DescribeSecret, reduced at once to the dependent (or nothing): thousands of bodies are not kept."""
            name, created = item
            try:
                body = clients.call("kms:DescribeSecret", client.describe_secret, kms.DescribeSecretRequest(secret_name=name)).body
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                raise
            # Remembered only when the answer is about the secret the listing saw (same CreateTime) and old enough;
            # a fact already held as it is (a secret on the key, described for its state) is not rewritten.
            value, held = body.encryption_key_id or "", known.get(name)
            if store is not None and created and body.create_time in (None, created) and settled(created, started) \
                    and not (held is not None and held.created == created and held.value == value):
                learned[name] = Fact(created, value, int(started))
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

        try:
            found = [d for d in fan_out(dependent, to_describe, CONCURRENCY) if d is not None]
        finally:
            if store is not None and (learned or _superseded(known, listed, whole=filters is None)):
                # What was learned is true even when the scan failed part-way: kept, so the retry describes less.
                store.save(dict(learned), listed=dict(listed), listed_whole=filters is None)
        return found


def _superseded(known: dict[str, Fact], listed: list[tuple[str, Optional[str]]], *, whole: bool) -> bool:
    """Whether the store holds facts this listing shows to be about deleted (or re-created) secrets."""
    current = dict(listed)
    return any((name in current and current[name] != fact.created) or (whole and name not in current)
               for name, fact in known.items())
