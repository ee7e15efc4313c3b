"""KMS 2016-01-20 cryptography: Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext and
ReEncrypt with real AES-256-GCM under per-key-version material, plus key versions and automatic
rotation (UpdateRotationPolicy, ListKeyVersions, DescribeKeyVersion).

Facts (sources: the Decrypt reference,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-decrypt;
AlibabaCloudDocs/kms `cn.zh-CN/API参考/API列表/Encrypt.md` and `cn.zh-CN/API参考/密钥/{GenerateDataKey,
CreateKeyVersion}.md`; EncryptionContext, https://alibabacloud.com/help/doc-detail/42975.htm; the KMS
common errors, https://www.alibabacloud.com/help/doc-detail/69008.html; the KMS key state x API matrix
(doc 44211) and the UpdateRotationPolicy reference; the SDK's request and response models for every
wire name):

- Encrypt takes KeyId (id, alias or ARN) and Plaintext (base64, at most 6 KB) and answers CiphertextBlob,
  KeyId and KeyVersionId (the key's primary version). Decrypt takes only CiphertextBlob: the key is
  found from the blob, which is why a deleted key's data is lost.
- GenerateDataKey: KeySpec AES_256 / AES_128, or NumberOfBytes 1..1024 (NumberOfBytes wins when both
  are given; neither means 32 bytes). It answers the data key in base64 (Plaintext) and encrypted
  under the primary version (CiphertextBlob); KMS does not keep the data key.
- EncryptionContext: a JSON object of string to string, at most 8,192 characters. Decrypt needs an
  equivalent one (the same pairs, in any order); it is not stored in the blob.
- Key state x API (doc 44211, dependency-apis.md §1): crypto and UpdateRotationPolicy need an Enabled
  key; Disabled, PendingDeletion and PendingImport answer Rejected.<state> with HTTP 409.
- Symmetric keys get new versions only by automatic rotation (CreateKeyVersion is for asymmetric
  keys only); RotationInterval is "7d" or "604800s", 7 to 730 days. Old versions stay usable for
  Decrypt; Encrypt and GenerateDataKey use the primary (newest) version.

Key material: derived per (account, region, key id, key version id) with HKDF-SHA256 from a per-cloud
random seed, kept in the account's `kms.Seed` (so a state dump decrypts what it holds) or taken from
LOCALCLOUD_KMS_SEED, which wins, to keep ciphertexts decryptable across clouds built from one account file.

The blob is base64 of: key id, NUL, key version id, NUL, 12-byte nonce, AES-GCM ciphertext and tag.
Like the real blob it starts with an id in text; the header and the canonical EncryptionContext are
the authenticated data, so a changed blob or another context fails the tag check.

Imported key material (Origin EXTERNAL; sources: GetParametersForImport, doc 68621,
https://www.alibabacloud.com/help/doc-detail/68621.htm; ImportKeyMaterial, doc 68622,
https://www.alibabacloud.com/help/doc-detail/68622.htm; DeleteKeyMaterial, doc 68623,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-deletekeymaterial;
the external-key rows of the key-state matrix, AlibabaCloudDocs/kms `cn.zh-CN/API参考/用户主密钥的状态对API调用的影响.md`;
"Import key material", https://www.alibabacloud.com/help/en/kms/key-management-service/support/import-key-material):

- CreateKey with Origin EXTERNAL makes a key without material, in PendingImport.
- GetParametersForImport (KeyId, WrappingAlgorithm, WrappingKeySpec) answers KeyId, PublicKey (base64),
  ImportToken and TokenExpireTime; RSA_2048 with RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256.
  Each call answers a new key pair and token, usable only for that key, for 24 hours. Any key state.
- ImportKeyMaterial (KeyId, EncryptedKeyMaterial, ImportToken, KeyMaterialExpireUnix): the material wrapped
  under that public key with that algorithm; 256 bits for Aliyun_AES_256, 128 for Aliyun_SM4. A key is
  bound to the first material imported into it: later imports must bring the same material (and may
  reset the expiry). PendingDeletion answers Rejected.StateModifiedFailed (409); a PendingImport key
  becomes Enabled. Material that expires (MaterialExpireTime) is deleted as DeleteKeyMaterial deletes it.
- DeleteKeyMaterial (KeyId), in any state: the material is gone at once; the key becomes PendingImport
  unless it is PendingDeletion (state and DeleteDate unchanged). Re-importing the same material makes the
  key usable again, and what it encrypted before decrypts again.
- The same material imported into two keys gives two keys: data one encrypts, the other cannot decrypt.
  Here an EXTERNAL key's AES-256-GCM key is derived with HKDF from the imported material and the key's
  identity, so both facts hold with real cryptography. The material itself is kept in memory only (like
  derived material, never in the account file); a check value (SHA-256 over the key id and the
  material) binds the key to its material for the cloud's lifetime.
- UpdateRotationPolicy, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-updaterotationpolicy:
  no automatic rotation for asymmetric keys, service-managed keys, imported (BYOK) keys, or keys that are
  not Enabled. RotationInterval is integer[unit] with unit d, h, m or s; 7 to 730 days.

UNCONFIRMED for imported material: the code and HTTP status refusing DeleteKeyMaterial,
GetParametersForImport and ImportKeyMaterial on an Aliyun_KMS key, and UpdateRotationPolicy on an
EXTERNAL or asymmetric key (no API doc lists one; Rejected.UnsupportedOperation, 400, from the KMS common
error codes, is used); the codes for a bad, expired or foreign ImportToken, for material that does not
unwrap, has the wrong length or differs from the bound material (InvalidParameter, 400, naming the
parameter; AWS answers InvalidImportTokenException / ExpiredImportTokenException /
IncorrectKeyMaterialException); the TokenExpireTime format (ISO 8601 UTC here); the PublicKey encoding
(base64 of the DER SubjectPublicKeyInfo here, which `openssl ... -pubin -keyform DER` in the import
guide reads); KeyMaterialExpireUnix 0 or absent meaning "never expires"; which state CancelKeyDeletion
leaves an EXTERNAL key without material in (PendingImport here, as AWS does); whether
UpdateRotationPolicy with EnableAutomaticRotation=false is refused for keys that cannot rotate (it is
accepted here: it changes nothing). A key read from an account file in Enabled, Disabled or
PendingDeletion with Origin EXTERNAL has material from before the cloud started: it is derived like an
Aliyun_KMS key's, and its first import in this cloud binds it.

UNCONFIRMED: the code for a blob that fails to decrypt or a context that does not match (the common
error table has no ciphertext-specific code: InvalidParameter on CiphertextBlob, HTTP 400, is used;
AWS answers InvalidCiphertextException for both); the code for a key whose usage is not ENCRYPT/DECRYPT
(Rejected.UnsupportedOperation, 400); DryRun's answer (DryRunOperationError, 400); ReEncrypt's KeyId
and KeyVersionId (the destination's, which the new blob needs, are returned); whether enabling
rotation on a key whose last rotation is older than the interval rotates at once (it does here: the
next rotation is due one interval after the last rotation or the creation).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Optional

from alibabacloud_kms20160120 import models as m
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from localcloud import errors
from localcloud.clock import iso, parse_time
from localcloud.products.base import Call, api, paginate_numbers
from localcloud.products.kms_state import KmsKey, KmsKeyVersion

SEED_ENV = "LOCALCLOUD_KMS_SEED"
MAX_PLAINTEXT = 6 * 1024
MAX_CONTEXT = 8192
DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}
NONCE_BYTES = 12
TAG_BYTES = 16
ROTATION_DAYS = (7, 730)
# Namespace of the id a key's first version gets when the account file names none (stable across runs).
_FIRST_VERSION = uuid.UUID("5f0e7c1a-3b52-4c8e-9a61-2d4b8f1e6c07")
# integer[unit], unit d, h, m or s (UpdateRotationPolicy doc).
_INTERVAL = re.compile(r"(\d+)([dhms])")
_INTERVAL_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
# Symmetric key specs (CreateKey doc); any other spec (RSA_*, EC_*) is asymmetric and cannot rotate.
SYMMETRIC_SPECS = frozenset({"Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"})
EXTERNAL = "EXTERNAL"
# Bytes of imported material per key spec (ImportKeyMaterial doc: 256 bits for Aliyun_AES_256, 128 for
# Aliyun_SM4; the 128- and 192-bit AES specs from the dedicated-KMS import guide). SM4 is emulated with AES.
MATERIAL_BYTES = {"Aliyun_AES_256": 32, "Aliyun_SM4": 16, "Aliyun_AES_128": 16, "Aliyun_AES_192": 24}
# GetParametersForImport: RSA_2048 with these algorithms (doc 68621). EC_SM2/SM2PKE needs an HSM key.
WRAPPING_KEY_SPECS = ("RSA_2048",)
WRAPPING_ALGORITHMS = ("RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
# The names of a key a KeyId takes (the same sets as localcloud.products.kms, which imports this module).
_KEY_ID = frozenset({"id"})
_ID_OR_ALIAS = frozenset({"id", "alias"})
_ID_ALIAS_OR_ARN = frozenset({"id", "alias", "arn"})
IMPORT_TOKEN_TTL = timedelta(hours=24)  # "The import token is valid for 24 hours" (doc 68621)

# Doc 69008's messages for the state refusals (every one is HTTP 409).
_STATE_REFUSALS = {
    "Disabled": ("Rejected.Disabled", "The request was rejected because the key state is Disabled."),
    "PendingDeletion": ("Rejected.PendingDeletion", "The request was rejected because the key state is PendingDeletion."),
    "PendingImport": ("Rejected.PendingImport", "The request was rejected because the key state is PendingImport."),
}


def invalid_ciphertext() -> errors.ApiError:
    return errors.invalid_parameter("CiphertextBlob")


def key_version_not_found(version_id: str) -> errors.ApiError:
    return errors.ApiError("Forbidden.KeyVersionNotFound", f"The specified Key version is not found. ({version_id})", 404)


def unsupported(action: str, why: str) -> errors.ApiError:
    """UNCONFIRMED code and status (see the module docstring): no API doc names the refusal."""
    return errors.ApiError("Rejected.UnsupportedOperation", f"{action} is not supported for this key: {why}", 400)


@dataclass
class _ImportParameters:
    """What one GetParametersForImport answer binds together (kept in memory, never in the account file)."""

    key_id: str
    region: str
    algorithm: str
    private_key: rsa.RSAPrivateKey
    expires: datetime


class KmsCrypto:
    """The cryptographic and key-version APIs (mixed into localcloud.products.kms.Kms)."""

    # ------------------------------------------------------------ key material

    @cached_property
    def _seed(self) -> bytes:
        """LOCALCLOUD_KMS_SEED if set; else the seed the account file (a state dump) carries; else a new
        random one, kept in the account so that a dump of this cloud can decrypt its own ciphertexts."""
        configured = os.environ.get(SEED_ENV)
        if configured:
            return configured.encode()
        section = self.account.kms
        if not section.Seed:
            section.Seed = os.urandom(32).hex()
        try:
            return bytes.fromhex(section.Seed)
        except ValueError:  # a seed written by hand: any text will do
            return section.Seed.encode()

    @cached_property
    def _ciphers(self) -> dict[tuple[str, str], AESGCM]:
        return {}

    @cached_property
    def _materials(self) -> dict[str, Optional[bytes]]:
        """Imported material by key id: bytes while the key has it, None once deleted or expired.
        A key with no entry was read from the account file (see `has_material`)."""
        return {}

    @cached_property
    def _material_checks(self) -> dict[str, str]:
        """The check value of the material each EXTERNAL key is bound to (first import)."""
        return {}

    @cached_property
    def _import_parameters(self) -> dict[str, _ImportParameters]:
        return {}

    def _cipher(self, key: "KmsKey", version_id: str) -> AESGCM:
        """The AES-256-GCM cipher of one key version; its material is derived, never stored. An EXTERNAL
        key's is derived from its imported material, so re-importing the same material restores it."""
        imported = self._materials.get(key.KeyId) if getattr(key, "Origin", None) == EXTERNAL else None
        if imported is not None:
            info = f"{self.account.account_id}/{key.RegionId}/{key.KeyId}/{version_id}/imported".encode()
            return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(imported))
        cached = self._ciphers.get((key.KeyId, version_id))
        if cached is None:
            info = f"{self.account.account_id}/{key.RegionId}/{key.KeyId}/{version_id}".encode()
            material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._seed)
            cached = self._ciphers[(key.KeyId, version_id)] = AESGCM(material)
        return cached

    # ------------------------------------------------------------ versions and rotation

    def key_versions(self, key: "KmsKey") -> list[KmsKeyVersion]:
        """The key's versions, oldest first. A key the account file gives no versions has one."""
        if key.KeyVersions:
            return key.KeyVersions
        first = getattr(key, "PrimaryKeyVersion", None) or str(uuid.uuid5(_FIRST_VERSION, f"{key.RegionId}/{key.KeyId}"))
        return [KmsKeyVersion(KeyVersionId=first, CreationDate=key.CreationDate)]

    def primary_version(self, key: "KmsKey") -> str:
        return getattr(key, "PrimaryKeyVersion", None) or self.key_versions(key)[-1].KeyVersionId

    def rotate_due(self, key: "KmsKey") -> None:
        """Rotate an Enabled key with automatic rotation once per interval the clock has passed."""
        if getattr(key, "AutomaticRotation", None) != "Enabled" or key.KeyState != "Enabled":
            return
        due_text, interval = getattr(key, "NextRotationDate", None), _interval_of(getattr(key, "RotationInterval", None))
        if not due_text or interval is None:
            return
        now, due = self.cloud.clock.now(), parse_time(due_text)
        if due > now:
            return
        versions = list(self.key_versions(key))
        while due <= now:
            versions.append(KmsKeyVersion(KeyVersionId=str(uuid.uuid4()), CreationDate=iso(due)))
            key.LastRotationDate = iso(due)
            due += interval
        key.KeyVersions = versions
        key.PrimaryKeyVersion = versions[-1].KeyVersionId
        key.NextRotationDate = iso(due)

    # ------------------------------------------------------------ imported material

    def has_material(self, key: "KmsKey") -> bool:
        """Whether the key has key material now. Aliyun_KMS keys always do; an EXTERNAL key read from the
        account file has it unless it is PendingImport (its material predates the cloud: UNCONFIRMED)."""
        if getattr(key, "Origin", None) != EXTERNAL:
            return True
        if key.KeyId in self._materials:
            return self._materials[key.KeyId] is not None
        return key.KeyState != "PendingImport"

    def drop_material(self, key: "KmsKey") -> None:
        """Delete an EXTERNAL key's material at once: PendingImport, unless PendingDeletion (doc 68623)."""
        self._materials[key.KeyId] = None
        key.MaterialExpireTime = None
        if key.KeyState != "PendingDeletion":
            key.KeyState = "PendingImport"

    def expire_material(self, key: "KmsKey") -> None:
        """Material whose MaterialExpireTime the clock has passed is deleted, as DeleteKeyMaterial deletes it
        ("After the imported key material expires or is deleted, the CMK is unavailable", doc 68622)."""
        expires = getattr(key, "MaterialExpireTime", None)
        if getattr(key, "Origin", None) == EXTERNAL and expires and parse_time(expires) <= self.cloud.clock.now():
            self.drop_material(key)

    def _external_key(self, call: Call, action: str) -> "KmsKey":
        # GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial: KeyId is the key id only (docs 68621-68623).
        key = self.find(call, call.require("KeyId"), _KEY_ID)
        if getattr(key, "Origin", None) != EXTERNAL:
            raise unsupported(action, f"its Origin is {getattr(key, 'Origin', None) or 'Aliyun_KMS'}; only keys created with "
                                      "Origin EXTERNAL have imported key material.")
        return key

    # ------------------------------------------------------------ helpers

    def usable_key(self, call: Call, ref: str, accepts: frozenset = _KEY_ID) -> "KmsKey":
        """A key that may be used for cryptography now (doc 44211's state matrix), named as `accepts` allows
        (see Kms.find)."""
        key = self.find(call, ref, accepts)
        refusal = _STATE_REFUSALS.get(key.KeyState)
        if refusal:
            raise errors.ApiError(*refusal, 409)
        if getattr(key, "KeyUsage", None) not in (None, "ENCRYPT/DECRYPT"):
            raise errors.ApiError("Rejected.UnsupportedOperation", f"The key usage {key.KeyUsage} does not support {call.action}.", 400)
        return key

    def seal(self, key: "KmsKey", plaintext: bytes, context: bytes) -> tuple[str, str]:
        """(primary version id, ciphertext blob) of `plaintext` under the key's primary version."""
        version = self.primary_version(key)
        header = _header(key.KeyId, version)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._cipher(key, version).encrypt(nonce, plaintext, header + context)
        return version, base64.b64encode(header + nonce + sealed).decode()

    def unseal(self, call: Call, blob: str, context: bytes) -> tuple["KmsKey", str, bytes]:
        """(key, version id, plaintext) of a blob; the key is the one the blob names."""
        key_id, version, nonce, sealed = _parse_blob(blob)
        key = self.usable_key(call, key_id)
        if version not in {v.KeyVersionId for v in self.key_versions(key)}:
            raise key_version_not_found(version)
        try:
            plaintext = self._cipher(key, version).decrypt(nonce, sealed, _header(key_id, version) + context)
        except InvalidTag:
            raise invalid_ciphertext() from None
        return key, version, plaintext

    # ------------------------------------------------------------ crypto APIs

    @api("Encrypt")
    def encrypt(self, call: Call) -> dict:
        # "The ID of the key. You can also specify the alias or ARN of the key" (Encrypt).
        key = self.usable_key(call, call.require("KeyId"), _ID_ALIAS_OR_ARN)
        plaintext = _base64_param(call, "Plaintext")
        if len(plaintext) > MAX_PLAINTEXT:
            raise errors.invalid_parameter("Plaintext", f"It must be at most {MAX_PLAINTEXT} bytes; use envelope encryption for more.")
        context = _context(call, "EncryptionContext")
        _dry_run(call)
        version, blob = self.seal(key, plaintext, context)
        return m.EncryptResponseBody(ciphertext_blob=blob, key_id=key.KeyId, key_version_id=version).to_map()

    @api("Decrypt")
    def decrypt(self, call: Call) -> dict:
        blob = call.require("CiphertextBlob")
        context = _context(call, "EncryptionContext")
        _no_recipient(call)
        key, version, plaintext = self.unseal(call, blob, context)
        _dry_run(call)
        return m.DecryptResponseBody(key_id=key.KeyId, key_version_id=version,
                                     plaintext=base64.b64encode(plaintext).decode()).to_map()

    @api("GenerateDataKey")
    def generate_data_key(self, call: Call) -> dict:
        # "You can also specify a key alias or a key Amazon Resource Name (ARN)" (GenerateDataKey).
        key, data_key, version, blob = self._new_data_key(call, _ID_ALIAS_OR_ARN)
        return m.GenerateDataKeyResponseBody(ciphertext_blob=blob, key_id=key.KeyId, key_version_id=version,
                                             plaintext=base64.b64encode(data_key).decode()).to_map()

    @api("GenerateDataKeyWithoutPlaintext")
    def generate_data_key_without_plaintext(self, call: Call) -> dict:
        # "The globally unique identifier of the CMK. You can also specify an alias" (no ARN named).
        key, _, version, blob = self._new_data_key(call, _ID_OR_ALIAS)
        return m.GenerateDataKeyWithoutPlaintextResponseBody(ciphertext_blob=blob, key_id=key.KeyId, key_version_id=version).to_map()

    def _new_data_key(self, call: Call, accepts: frozenset) -> tuple["KmsKey", bytes, str, str]:
        key = self.usable_key(call, call.require("KeyId"), accepts)
        length = call.int("NumberOfBytes", lo=1, hi=1024)
        if length is None:
            spec = call.get("KeySpec", "AES_256")
            if spec not in DATA_KEY_SPECS:
                raise errors.invalid_parameter("KeySpec", "It must be AES_256 or AES_128.")
            length = DATA_KEY_SPECS[spec]
        context = _context(call, "EncryptionContext")
        _no_recipient(call)
        _dry_run(call)
        data_key = os.urandom(length)
        version, blob = self.seal(key, data_key, context)
        return key, data_key, version, blob

    @api("ReEncrypt")
    def re_encrypt(self, call: Call) -> dict:
        if call.get("SourceEncryptionAlgorithm") is not None:
            raise errors.invalid_parameter("SourceEncryptionAlgorithm", "Asymmetric ciphertexts are not supported by the local cloud.")
        blob = call.require("CiphertextBlob")
        # DestinationKeyId: "The ID of the symmetric master key" (an alias or ARN: UNCONFIRMED, refused here).
        destination = self.usable_key(call, call.require("DestinationKeyId"))
        _, _, plaintext = self.unseal(call, blob, _context(call, "SourceEncryptionContext"))
        new_context = _context(call, "DestinationEncryptionContext")
        _dry_run(call)
        version, new_blob = self.seal(destination, plaintext, new_context)
        return m.ReEncryptResponseBody(ciphertext_blob=new_blob, key_id=destination.KeyId, key_version_id=version).to_map()

    # ------------------------------------------------------------ versions and rotation APIs

    @api("ListKeyVersions")
    def list_key_versions(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), _ID_OR_ALIAS)  # "You can also set this parameter to an alias"
        page, total, number, size = paginate_numbers(self.key_versions(key), call, default_size=10, max_size=100)
        items = [m.ListKeyVersionsResponseBodyKeyVersionsKeyVersion(key_id=key.KeyId, key_version_id=v.KeyVersionId,
                                                                    creation_date=v.CreationDate) for v in page]
        return m.ListKeyVersionsResponseBody(key_versions=m.ListKeyVersionsResponseBodyKeyVersions(key_version=items),
                                             page_number=number, page_size=size, total_count=total).to_map()

    @api("DescribeKeyVersion")
    def describe_key_version(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), _ID_OR_ALIAS)  # "You can also set this parameter to an alias"
        wanted = call.require("KeyVersionId")
        version = next((v for v in self.key_versions(key) if v.KeyVersionId == wanted), None)
        if version is None:
            raise key_version_not_found(wanted)
        item = m.DescribeKeyVersionResponseBodyKeyVersion(key_id=key.KeyId, key_version_id=version.KeyVersionId,
                                                          creation_date=version.CreationDate)
        return m.DescribeKeyVersionResponseBody(key_version=item).to_map()

    @api("UpdateRotationPolicy", write=True)
    def update_rotation_policy(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), _KEY_ID)  # "The ID of the customer master key (CMK)"
        enable = call.bool("EnableAutomaticRotation")
        if enable is None:
            raise errors.missing_parameter("EnableAutomaticRotation")
        refusal = _STATE_REFUSALS.get(key.KeyState)
        if refusal:
            raise errors.ApiError(*refusal, 409)
        if enable and getattr(key, "Origin", None) == EXTERNAL:
            raise unsupported("UpdateRotationPolicy", "automatic rotation cannot be configured for a key with imported key material (BYOK).")
        if enable and (getattr(key, "KeySpec", None) or "Aliyun_AES_256") not in SYMMETRIC_SPECS:
            raise unsupported("UpdateRotationPolicy", f"automatic rotation cannot be configured for an asymmetric key ({key.KeySpec}).")
        if not enable:
            key.AutomaticRotation = "Disabled"
            key.NextRotationDate = None
            return m.UpdateRotationPolicyResponseBody().to_map()
        interval = _interval_of(call.require("RotationInterval"))
        if interval is None or not timedelta(days=ROTATION_DAYS[0]) <= interval <= timedelta(days=ROTATION_DAYS[1]):
            raise errors.invalid_parameter("RotationInterval", f"It must be {ROTATION_DAYS[0]} to {ROTATION_DAYS[1]} days, as integer[unit] "
                                                               "with unit d, h, m or s, such as \"7d\" or \"604800s\".")
        last = getattr(key, "LastRotationDate", None) or key.CreationDate
        key.AutomaticRotation = "Enabled"
        key.RotationInterval = f"{int(interval.total_seconds())}s"
        key.NextRotationDate = iso((parse_time(last) if last else call.now) + interval)
        self.rotate_due(key)
        return m.UpdateRotationPolicyResponseBody().to_map()

    # ------------------------------------------------------------ imported key material APIs (BYOK)

    @api("GetParametersForImport")
    def get_parameters_for_import(self, call: Call) -> dict:
        key = self._external_key(call, "GetParametersForImport")  # any key state (state matrix, external-key APIs)
        spec = call.require("WrappingKeySpec")
        algorithm = call.require("WrappingAlgorithm")
        if spec not in WRAPPING_KEY_SPECS:
            raise errors.invalid_parameter("WrappingKeySpec", "The local cloud supports RSA_2048 (EC_SM2 needs an HSM-protected key).")
        if algorithm not in WRAPPING_ALGORITHMS:
            raise errors.invalid_parameter("WrappingAlgorithm", f"With RSA_2048 it must be one of {', '.join(WRAPPING_ALGORITHMS)}.")
        now = call.now
        for token in [t for t, p in self._import_parameters.items() if p.expires <= now]:
            del self._import_parameters[token]
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        token = base64.b64encode(secrets.token_bytes(48)).decode()
        expires = now + IMPORT_TOKEN_TTL
        self._import_parameters[token] = _ImportParameters(key.KeyId, key.RegionId, algorithm, private_key, expires)
        return m.GetParametersForImportResponseBody(key_id=key.KeyId, public_key=base64.b64encode(public_der).decode(),
                                                    import_token=token, token_expire_time=iso(expires)).to_map()

    @api("ImportKeyMaterial", write=True)
    def import_key_material(self, call: Call) -> dict:
        key = self._external_key(call, "ImportKeyMaterial")
        if key.KeyState == "PendingDeletion":  # the only refused state (state matrix, external-key APIs)
            raise errors.ApiError("Rejected.StateModifiedFailed", f"The request is rejected in the current key state {key.KeyState}.", 409)
        params = self._import_parameters.get(call.require("ImportToken"))
        if params is None or params.key_id != key.KeyId or params.region != key.RegionId:
            raise errors.invalid_parameter("ImportToken", "It was not issued by GetParametersForImport for this key.")
        if params.expires <= call.now:
            raise errors.invalid_parameter("ImportToken", "It has expired; call GetParametersForImport again.")
        wrapped = _base64_param(call, "EncryptedKeyMaterial")
        expire_unix = call.int("KeyMaterialExpireUnix", 0, lo=0, hi=253402300799)  # at most 9999-12-31
        expires = datetime.fromtimestamp(expire_unix, timezone.utc) if expire_unix else None
        if expires is not None and expires <= call.now:
            raise errors.invalid_parameter("KeyMaterialExpireUnix", "It must be in the future, or 0 for material that does not expire.")
        try:
            material = params.private_key.decrypt(wrapped, _unwrap_padding(params.algorithm))
        except ValueError:
            raise errors.invalid_parameter("EncryptedKeyMaterial", f"It does not decrypt with the public key and {params.algorithm}.") from None
        spec = getattr(key, "KeySpec", None) or "Aliyun_AES_256"
        if spec not in MATERIAL_BYTES:
            raise unsupported("ImportKeyMaterial", f"the local cloud imports symmetric material only, not {spec}.")
        if len(material) != MATERIAL_BYTES[spec]:
            raise errors.invalid_parameter("EncryptedKeyMaterial", f"The key material of a {spec} key must be {MATERIAL_BYTES[spec] * 8} bits.")
        check = hashlib.sha256(key.KeyId.encode() + b"\0" + material).hexdigest()
        bound = self._material_checks.setdefault(key.KeyId, check)
        if bound != check:
            raise errors.invalid_parameter("EncryptedKeyMaterial", "It is not the key material this key was first imported with; "
                                                                   "a key accepts only the same material again.")
        self._materials[key.KeyId] = material
        key.MaterialExpireTime = iso(expires) if expires else None
        if key.KeyState == "PendingImport":
            key.KeyState = "Enabled"
        return m.ImportKeyMaterialResponseBody().to_map()

    @api("DeleteKeyMaterial", write=True)
    def delete_key_material(self, call: Call) -> dict:
        key = self._external_key(call, "DeleteKeyMaterial")  # any key state (state matrix, external-key APIs)
        self.drop_material(key)
        return m.DeleteKeyMaterialResponseBody().to_map()


# ---------------------------------------------------------------- request parsing


def _unwrap_padding(algorithm: str):
    if algorithm == "RSAES_PKCS1_V1_5":
        return padding.PKCS1v15()
    digest = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


def _header(key_id: str, version_id: str) -> bytes:
    return key_id.encode() + b"\0" + version_id.encode() + b"\0"


def _parse_blob(blob: str) -> tuple[str, str, bytes, bytes]:
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_ciphertext() from None
    parts = raw.split(b"\0", 2)
    if len(parts) != 3 or not parts[0] or not parts[1] or len(parts[2]) < NONCE_BYTES + TAG_BYTES:
        raise invalid_ciphertext()
    try:
        key_id, version = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise invalid_ciphertext() from None
    return key_id, version, parts[2][:NONCE_BYTES], parts[2][NONCE_BYTES:]


def _base64_param(call: Call, name: str) -> bytes:
    try:
        return base64.b64decode(call.require(name), validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid_parameter(name, "It must be Base64-encoded.") from None


def _context(call: Call, name: str) -> bytes:
    """The canonical form of an EncryptionContext (sorted pairs), authenticated with the ciphertext."""
    raw = call.get(name)
    if raw is None:
        return b""
    if len(raw) > MAX_CONTEXT:
        raise errors.invalid_parameter(name, f"It must be at most {MAX_CONTEXT} characters.")
    try:
        context = json.loads(raw)
    except json.JSONDecodeError:
        context = None
    if not isinstance(context, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
        raise errors.invalid_parameter(name, 'It must be a JSON object of strings, such as {"Key":"Value"}.')
    return json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() if context else b""


def _interval_of(text: str | None) -> "timedelta | None":
    match = _INTERVAL.fullmatch(text or "")
    if not match:
        return None
    return timedelta(**{_INTERVAL_UNITS[match[2]]: int(match[1])})


def _dry_run(call: Call) -> None:
    if call.bool("DryRun", False):
        raise errors.ApiError("DryRunOperationError", "The request would have succeeded, but DryRun was set.", 400)


def _no_recipient(call: Call) -> None:
    if call.get("Recipient") is not None:
        raise errors.invalid_parameter("Recipient", "Trusted-environment recipients are not supported by the local cloud.")
