"""payments-api: a small application that keeps its records under envelope encryption with a KMS key,
as applications on Alibaba Cloud do (KMS "envelope encryption" guide; GenerateDataKey reference):

- seal: GenerateDataKey (with an EncryptionContext naming the record), encrypt the record locally with
  the plaintext data key (AES-256-GCM), keep only the encrypted data key, nonce and ciphertext, and
  drop the plaintext data key at once;
- open_ / unseal: Decrypt the stored data key (the blob names the KMS key), decrypt locally, drop it.

The application calls KMS through the official SDK with its own RAM identity (RAM user payments-api's
AccessKey) and a User-Agent of its own, so ActionTrail, and the usage evidence key-guard reads from
it, show it as a distinct caller of the key: nothing else shows that its store depends on the key.

    summary = run_payments_app(cloud, KEY)   # a LocalCloud, an SDK Config, or an endpoint
"""
from __future__ import annotations

import base64
import copy
import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.utils_models import Config
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.events import mask_access_key_id

if TYPE_CHECKING:
    from localcloud.account import Credential
    from localcloud.cloud import LocalCloud

APP_NAME = "payments-api"
APP_USER_AGENT = "payments-api/1.4 (envelope-encryption; python)"
APP_ACCESS_KEY_ID = "LTAI5tPaymentsApi0000001"
# For an endpoint given as text, the application's AccessKey comes from its environment, as in production.
ENV_ACCESS_KEY_ID = "PAYMENTS_API_ACCESS_KEY_ID"
ENV_ACCESS_KEY_SECRET = "PAYMENTS_API_ACCESS_KEY_SECRET"
ALGORITHM = "AES_256_GCM"
NONCE_BYTES = 12


# ---------------------------------------------------------------- envelope encryption


def _aad(context: dict[str, str]) -> bytes:
    """The context also authenticates the local ciphertext, so a record cannot be swapped for another."""
    return json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _wipe(buffer: bytearray) -> None:
    # Python cannot promise no other copy exists; zeroing the one buffer the application holds is what it can do.
    buffer[:] = bytes(len(buffer))


def seal(kms_client: KmsClient, key_id: str, plaintext: bytes, context: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Encrypt `plaintext` under a fresh data key; return what may be stored (no plaintext, no data key)."""
    context = dict(context or {})
    body = kms_client.generate_data_key(kms.GenerateDataKeyRequest(key_id=key_id, key_spec="AES_256",
                                                                   encryption_context=context or None)).body
    data_key = bytearray(base64.b64decode(body.plaintext))
    body.plaintext = None
    try:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, _aad(context))
    finally:
        _wipe(data_key)
    return {
        "Algorithm": ALGORITHM,
        "KeyId": body.key_id,
        "KeyVersionId": body.key_version_id,
        "EncryptedDataKey": body.ciphertext_blob,
        "EncryptionContext": context,
        "Nonce": base64.b64encode(nonce).decode(),
        "Ciphertext": base64.b64encode(ciphertext).decode(),
    }


def open_(kms_client: KmsClient, envelope: dict[str, Any], context: Optional[dict[str, str]] = None) -> bytes:
    """Decrypt what `seal` returned. `context` defaults to the one stored with the envelope."""
    if envelope.get("Algorithm") != ALGORITHM:
        raise ValueError(f"unsupported envelope algorithm {envelope.get('Algorithm')!r}")
    if context is None:
        context = envelope.get("EncryptionContext") or {}
    body = kms_client.decrypt(kms.DecryptRequest(ciphertext_blob=envelope["EncryptedDataKey"],
                                                 encryption_context=context or None)).body
    data_key = bytearray(base64.b64decode(body.plaintext))
    body.plaintext = None
    try:
        return AESGCM(data_key).decrypt(base64.b64decode(envelope["Nonce"]), base64.b64decode(envelope["Ciphertext"]),
                                        _aad(context))
    finally:
        _wipe(data_key)


unseal = open_


# ---------------------------------------------------------------- the application


class RecordStore:
    """The application's own store: envelopes by record id, in memory or in a JSON file."""

    def __init__(self, path: Union[str, Path, None] = None):
        self.path = Path(path) if path else None
        self.envelopes: dict[str, dict[str, Any]] = {}
        if self.path and self.path.exists():
            self.envelopes = json.loads(self.path.read_text(encoding="utf-8"))

    def put(self, record_id: str, envelope: dict[str, Any]) -> None:
        self.envelopes[record_id] = envelope
        if self.path:
            self.path.write_text(json.dumps(self.envelopes, indent=2) + "\n", encoding="utf-8")

    def get(self, record_id: str) -> dict[str, Any]:
        return self.envelopes[record_id]

    def describe(self) -> str:
        return str(self.path) if self.path else "memory"


class PaymentsApp:
    """payments-api's persistence: each payment record sealed under its own data key."""

    def __init__(self, kms_client: KmsClient, key_id: str, store: Optional[RecordStore] = None):
        self.kms = kms_client
        self.key_id = key_id
        self.store = store or RecordStore()

    @staticmethod
    def context(record_id: str) -> dict[str, str]:
        return {"app": APP_NAME, "record": record_id}

    def save(self, record_id: str, record: dict[str, Any]) -> dict[str, Any]:
        envelope = seal(self.kms, self.key_id, json.dumps(record, sort_keys=True).encode(), self.context(record_id))
        self.store.put(record_id, envelope)
        return envelope

    def load(self, record_id: str) -> dict[str, Any]:
        return json.loads(open_(self.kms, self.store.get(record_id), self.context(record_id)))


def app_credential(cloud: "LocalCloud") -> "Credential":
    """RAM user payments-api's AccessKey in a local cloud's account (created once, as an operator would)."""
    from localcloud.account import Credential

    with cloud.account.lock:
        existing = next((c for c in cloud.account.credentials if c.UserName == APP_NAME and c.Status == "Active"), None)
        if existing is not None:
            return existing
        credential = Credential(AccessKeyId=APP_ACCESS_KEY_ID, AccessKeySecret=secrets.token_urlsafe(24),
                                UserName=APP_NAME, IdentityType="ram-user")
        cloud.account.credentials.append(credential)
        return credential


def app_client(target: Union["LocalCloud", Config, str], region: Optional[str] = None) -> tuple[KmsClient, str]:
    """(the application's KMS client, its AccessKey id) for a local cloud, an SDK Config or an endpoint."""
    if isinstance(target, Config):
        config = copy.copy(target)
        if not config.user_agent:
            config.user_agent = APP_USER_AGENT
    elif isinstance(target, str):
        scheme, _, host = target.rpartition("://")
        access_key_id, secret = os.environ.get(ENV_ACCESS_KEY_ID), os.environ.get(ENV_ACCESS_KEY_SECRET)
        if not access_key_id or not secret:
            raise ValueError(f"set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} to RAM user {APP_NAME}'s AccessKey")
        config = Config(access_key_id=access_key_id, access_key_secret=secret, endpoint=host, protocol=scheme or "https",
                        region_id=region, user_agent=APP_USER_AGENT)
    else:
        credential = app_credential(target)
        region = region or target.default_region
        config = Config(access_key_id=credential.AccessKeyId, access_key_secret=credential.AccessKeySecret,
                        endpoint=target.endpoint(region), protocol="http", region_id=region, user_agent=APP_USER_AGENT)
    return KmsClient(config), config.access_key_id


def run_payments_app(target: Union["LocalCloud", Config, str], key_id: str, n_records: int = 3, *,
                     store_path: Union[str, Path, None] = None, region: Optional[str] = None) -> dict[str, Any]:
    """Store `n_records` payment records under `key_id` and read them back; a summary without secrets.

    A KMS refusal (a disabled or deleted key, ...) does not stop the run: it is counted per error
    code, as an application's error metrics would show it.
    """
    client, access_key_id = app_client(target, region)
    app = PaymentsApp(client, key_id, RecordStore(store_path))
    calls = {"GenerateDataKey": 0, "Decrypt": 0}
    failures: dict[str, int] = {}
    versions: set[str] = set()
    written = read_back = 0

    def failed(exc: AlibabaCloudException) -> None:
        failures[exc.code or type(exc).__name__] = failures.get(exc.code or type(exc).__name__, 0) + 1

    records = {f"pay-{i + 1:04d}": {"id": f"pay-{i + 1:04d}", "amount_cents": 1250 * (i + 1), "currency": "CNY",
                                    "card_last4": f"{4242 + i:04d}"} for i in range(n_records)}
    for record_id, record in records.items():
        calls["GenerateDataKey"] += 1
        try:
            versions.add(app.save(record_id, record)["KeyVersionId"])
            written += 1
        except AlibabaCloudException as exc:
            failed(exc)
    for record_id in [r for r in records if r in app.store.envelopes]:
        calls["Decrypt"] += 1
        try:
            if app.load(record_id) == records[record_id]:
                read_back += 1
        except AlibabaCloudException as exc:
            failed(exc)
    return {
        "app": APP_NAME,
        "caller": {"user_name": APP_NAME, "access_key_id": mask_access_key_id(access_key_id), "user_agent": APP_USER_AGENT},
        "key_id": key_id,
        "key_version_ids": sorted(versions),
        "records_written": written,
        "records_read_back": read_back,
        "round_trip_ok": n_records > 0 and read_back == n_records,
        "kms_calls": calls,
        "errors": failures,
        "store": app.store.describe(),
    }
