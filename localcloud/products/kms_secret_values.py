"""Secrets Manager (KMS 2016-01-20) values: CreateSecret, PutSecretValue, GetSecretValue,
UpdateSecretVersionStage, ListSecretVersionIds, DeleteSecret, RestoreSecret, GetRandomPassword, and
TagResource / UntagResource for secrets, with
versions, version stages, encryption at rest under the secret's key and the clock. Listing and describing
secrets is in kms_secrets.py; the records are KmsSecret / KmsSecretVersion (kms_state.py). Wire names and
shapes are the official SDK's (alibabacloud_kms20160120 3.3.1 request and response models).

Facts, and their sources:
- Versions and stages ("Secret object model", https://www.alibabacloud.com/help/doc-detail/152002.htm): each
  version id is written once; a stage marks one version only; a version may carry several stages or none.
  ACSCurrent and ACSPrevious are built in: "If you call PutSecretValue or UpdateSecretVersionStage to update
  the version marked with ACSCurrent, the original version marked with ACSCurrent is marked with ACSPrevious".
  "If a version is not marked with a stage label, it is put in a queue of versions to be deprecated. If the
  number of versions in a secret object exceeds the upper limit, the earliest version in the queue is
  deprecated" (deprecated here: deleted; ListSecretVersionIds' IncludeDeprecated lists the versions without
  stages that are still kept).
- PutSecretValue (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-putsecretvalue):
  generic secrets only; "Each generic secret can have a maximum of 10 versions. If the number of versions
  exceeds the limit, KMS deletes the earliest version"; the new version is ACSCurrent unless VersionStages
  says otherwise; an existing VersionId with the same value succeeds and changes nothing, with another value
  is rejected. VersionStages is a JSON string: the rotation guide sends `["MyPendingLabel"]` ("Rotate generic
  secrets", https://www.alibabacloud.com/help/doc-detail/152004.htm), the older API page shows
  `{"VersionStage": ["ACSCurrent"]}`: both are taken.
- UpdateSecretVersionStage (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-updatesecretversionstage):
  generic secrets only; RemoveFromVersion and/or MoveToVersion (at least one); MoveToVersion is required for
  ACSCurrent and ACSPrevious, which cannot be removed, only moved; "The total number of version stages for
  each generic secret cannot exceed 8". The rotation guide moves ACSCurrent with MoveToVersion alone, so a
  stage moved without RemoveFromVersion leaves the version that had it.
- GetSecretValue (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getsecretvalue,
  and the SDK docstrings): VersionStage defaults to ACSCurrent; VersionId selects a version; with both, a
  version that does not match is "a parameter error" (the KMS-instance edition of the page,
  https://www.alibabacloud.com/help/en/kms/developer-reference/getsecretvalue-2). Managed secrets (Rds, Redis,
  PolarDB, RAMCredentials, ECS) ignore VersionId and answer ACSCurrent or ACSPrevious only. FetchExtendedConfig
  is ignored for generic secrets. The caller needs kms:Decrypt on the secret's key: the value is decrypted
  with it at each call.
- Encryption ("Manage generic secrets", https://www.alibabacloud.com/help/en/kms/key-management-service/support/manage-generic-secrets):
  "Secrets Manager generates a data key from the CMK and uses that data key to encrypt the secret value";
  without EncryptionKeyId, Secrets Manager's own default key encrypts it. Here: a fresh AES-256 data key per
  version encrypts the value with AES-GCM; the data key is sealed under the key's primary version with the
  local cloud's KMS cryptography (kms_crypto.py), the secret's name and the version id bound as context.
  Reading unseals it as Decrypt does, so the key-state refusals of Decrypt apply (doc 44211: Rejected.Disabled,
  Rejected.PendingDeletion, Rejected.PendingImport, 409; a deleted key: Forbidden.KeyNotFound, 404). The
  default key is derived per region from the same per-cloud seed; it cannot be disabled. Only CiphertextBlob
  (`<sealed data key>.<base64 nonce, ciphertext and tag>`) is kept; a plaintext SecretData an account file
  seeds is encrypted when the local cloud starts. A state dump carries the seed (`kms.Seed`), so the cloud
  that loads it decrypts it; one read back under another LOCALCLOUD_KMS_SEED cannot (InternalFailure, 500).
- UNCONFIRMED: PutSecretValue's VersionStages naming ACSPrevious, or an empty list, is taken as given (the
  previous current version then loses its stage); whether the service refuses either is not documented.
- ListSecretVersionIds (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listsecretversionids):
  only versions with stages unless IncludeDeprecated is true; PageNumber from 1, PageSize default 20.
- CreateSecret (SDK docstrings; error table of AlibabaCloudDocs/kms `intl.en-US/API Reference/Secrets/CreateSecret.md`):
  SecretData at most 30,720 bytes; VersionId at most 64 characters; SecretName at most 192 characters of
  letters, digits and _ / + = . - @, not starting with `acs/` for Generic, Rds and Redis secrets, starting with
  `acs/ecs/` for ECS secrets, `$Auto` for RAMCredentials (named `acs/ram/user/<UserName>`); ExtendedConfig (at
  most 1,024 characters, with SecretSubType) required for managed types, ignored for Generic; automatic
  rotation only for managed types, RotationInterval `integer[unit]` (d, h, m, s), 6 hours to 8,760 hours,
  answered as seconds ("604800s"); at most 20 tags, keys not starting with `aliyun` or `acs:`; a symmetric key
  of the same KMS instance. Errors: InvalidParameter 400, Rejected.LimitExceeded 400, Forbidden.ResourceNotFound
  404, Rejected.ResourceExist 409 (the name is taken), Rejected.ResourceInDeleteWindow 409 (the name is a
  secret pending deletion).
- DeleteSecret (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-deletesecret,
  https://alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-deletesecret): RecoveryWindowInDays
  7 to 30, default 30; not together with ForceDeleteWithoutRecovery=true, which deletes at once; answers
  PlannedDeleteTime. A secret already pending deletion: Rejected.ResourceInDeleteWindow, 409. The secret is gone
  once the clock passes PlannedDeleteTime (kms_secrets.py).
- RestoreSecret (https://www.alibabacloud.com/help/id/kms/key-management-service/developer-reference/api-kms-2016-01-20-restoresecret):
  only within the recovery window; a secret not pending deletion: Rejected.ResourceInUse, 409 ("restore normal
  secret").
- TagResource and UntagResource on a secret (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-tagresource,
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-untagresource,
  and the SDK docstrings): exactly one of KeyId, SecretName and CertificateId; TagResource's Tags is a JSON array
  `[{"TagKey": ..., "TagValue": ...}]` (a key already there takes the new value), UntagResource's TagKeys a JSON
  array of keys (`["tagkey1","tagkey2"]`; the text also says "separate multiple tag keys with commas", which is
  taken too). Tag keys 1 to 128 bytes, not starting with aliyun or acs:. UNCONFIRMED: that a secret pending
  deletion can be tagged (metadata only: allowed here), that untagging a key the secret lacks succeeds (it
  does here, as the batch UntagResources documents), and the codes of the refusals (InvalidParameter, 400;
  more than 20 tags: Rejected.LimitExceeded, 400). Certificates are not emulated.
- GetRandomPassword (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getrandompassword):
  PasswordLength 8 to 128, default 32; ExcludeCharacters, ExcludeLowercase/Uppercase/Numbers/Punctuation,
  RequireEachIncludedType; errors InvalidParameter (400).

UNCONFIRMED, and chosen here: the code refusing a PutSecretValue of an existing VersionId with another value
(Rejected.ResourceExist, 409: CreateSecret's "resource already exists"); the code for more than 8 stages
(Rejected.LimitExceeded, 400, as CreateSecret's quota error); the code for a version or stage that does not
exist (Forbidden.ResourceNotFound, 404), for a RemoveFromVersion that does not carry the stage, or neither
RemoveFromVersion nor MoveToVersion (InvalidParameter, 400); Rejected.ResourceInDeleteWindow (409) for
GetSecretValue, PutSecretValue and UpdateSecretVersionStage on a secret pending deletion (documented for
CreateSecret and DeleteSecret only; DescribeSecret, ListSecrets and ListSecretVersionIds still answer);
Rejected.UnsupportedOperation (400, KMS common errors) for version APIs on managed secrets; that GetSecretValue
and PutSecretValue answer the key's own state refusal (Decrypt's and GenerateDataKey's codes) and name the
key in referencedResources; that ForceDeleteWithoutRecovery deletes a secret already pending deletion; that a
custom stage moves without RemoveFromVersion as ACSCurrent does; the order of ListSecretVersionIds (oldest
first) and its largest PageSize (100, as ListSecrets); GetSecretValue's CreateTime (the version's); whether a
binary SecretData must be base64 (taken as given); the punctuation set (Python's string.punctuation, no space)
and RequireEachIncludedType's default (false) for GetRandomPassword; whether PutSecretValue sets
LastRotationDate (it sets UpdateTime only). Not emulated: the rotation Secrets Manager performs for managed
secrets, secret policies (Policy is accepted and dropped), DKMS-instance gateways.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets as random_source
import string
from datetime import timedelta

from alibabacloud_kms20160120 import models as m
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from localcloud import errors
from localcloud.clock import iso
from localcloud.products.base import Call, api, paginate_numbers
from localcloud.products.kms_state import KmsKey, KmsSecret, KmsSecretTag, KmsSecretVersion

CURRENT, PREVIOUS = "ACSCurrent", "ACSPrevious"
MAX_VERSIONS = 10
MAX_STAGES = 8
MAX_SECRET_DATA_BYTES = 30720
MAX_VERSION_ID = 64
MAX_EXTENDED_CONFIG = 1024
MAX_TAGS = 20
RECOVERY_WINDOW_DAYS = (7, 30)
DEFAULT_RECOVERY_WINDOW_DAYS = 30
PASSWORD_LENGTH = (8, 128)
DEFAULT_PASSWORD_LENGTH = 32
ROTATION_INTERVAL = (timedelta(hours=6), timedelta(hours=8760))
MANAGED_TYPES = frozenset({"Rds", "Redis", "PolarDB", "RAMCredentials", "ECS"})
SECRET_TYPES = frozenset({"Generic"}) | MANAGED_TYPES
DATA_TYPES = ("text", "binary")
PUNCTUATION = string.punctuation
# EncryptionKeyId: a key id, an alias or the key's ARN.
ANY_KEY_NAME = frozenset({"id", "alias", "arn"})
_SECRET_NAME = re.compile(r"[A-Za-z0-9_/+=.@-]{1,192}")
_INTERVAL = re.compile(r"(\d+)([dhms])")
_INTERVAL_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
DATA_KEY_BYTES = 32
NONCE_BYTES = 12
# CiphertextBlob: "<sealed data key>.<value>"; a data key sealed by the default key starts with this.
DEFAULT_KEY_PREFIX = "acs-secrets-manager-default-key:"


def _in_delete_window(name: str) -> errors.ApiError:
    return errors.ApiError("Rejected.ResourceInDeleteWindow", f"The secret is planned to be deleted. ({name})", 409)


def _exists(name: str) -> errors.ApiError:
    return errors.ApiError("Rejected.ResourceExist", f"The resource already exists. ({name})", 409)


def _not_found(what: str) -> errors.ApiError:
    return errors.ApiError("Forbidden.ResourceNotFound", f"Resource not found. ({what})", 404)


def _limit_exceeded(what: str) -> errors.ApiError:
    return errors.ApiError("Rejected.LimitExceeded", f"The secret quota is exceeded: {what}", 400)


def _undecryptable() -> errors.ApiError:
    # Never says anything about the value: only that the stored ciphertext does not open.
    return errors.ApiError("InternalFailure", "Internal Failure: the stored secret value cannot be decrypted (was it written by a "
                                              "local cloud with another LOCALCLOUD_KMS_SEED?)", 500)


def _holder(secret: KmsSecret, stage: str) -> KmsSecretVersion | None:
    return next((v for v in secret.Versions if stage in v.VersionStages), None)


def _stages_of(secret: KmsSecret) -> set[str]:
    return {stage for v in secret.Versions for stage in v.VersionStages}


def _attach(secret: KmsSecret, stage: str, version: KmsSecretVersion) -> None:
    """Mark `version` with `stage`, taking it from the version that had it; the version ACSCurrent leaves
    becomes ACSPrevious ("Secret object model")."""
    holder = _holder(secret, stage)
    if holder is version:
        return
    if holder is not None:
        holder.VersionStages.remove(stage)
    version.VersionStages.append(stage)
    if stage == CURRENT and holder is not None:
        _attach(secret, PREVIOUS, holder)


def _stages_after_attaching(secret: KmsSecret, stages: list[str], version: KmsSecretVersion | None) -> set[str]:
    after = _stages_of(secret) | set(stages)
    current = _holder(secret, CURRENT)
    if CURRENT in stages and current is not None and current is not version:
        after.add(PREVIOUS)
    return after


def _version_stages_param(call: Call) -> list[str]:
    raw = call.get("VersionStages")
    if raw is None:
        return [CURRENT]
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and set(parsed) == {"VersionStage"}:
        parsed = parsed["VersionStage"]
    if not isinstance(parsed, list) or not all(isinstance(s, str) and s.strip() for s in parsed):
        raise errors.invalid_parameter("VersionStages", 'It must be a JSON array of stage names, such as ["ACSCurrent"].')
    return list(dict.fromkeys(parsed))


def _data_param(call: Call, name: str = "SecretData") -> bytes:
    data = call.require(name).encode("utf-8")
    if len(data) > MAX_SECRET_DATA_BYTES:
        raise errors.invalid_parameter(name, f"It must be at most {MAX_SECRET_DATA_BYTES} bytes.")
    return data


def _choice(call: Call, name: str, allowed, default: str) -> str:
    value = call.get(name, default)
    if value not in allowed:
        raise errors.invalid_parameter(name, f"It must be one of {', '.join(allowed)}.")
    return value


def _rotation_seconds(call: Call) -> int:
    text = call.require("RotationInterval")
    match = _INTERVAL.fullmatch(text)
    interval = timedelta(**{_INTERVAL_UNITS[match[2]]: int(match[1])}) if match else None
    if interval is None or not ROTATION_INTERVAL[0] <= interval <= ROTATION_INTERVAL[1]:
        raise errors.invalid_parameter("RotationInterval", "It must be 6 hours to 8760 hours as integer[unit] with unit d, h, m or s, "
                                                           "such as 7d or 604800s.")
    return int(interval.total_seconds())


def _tags_param(call: Call) -> list[KmsSecretTag]:
    tags = call.json("Tags") or []
    shape = 'Expected at most 20 [{"TagKey": ..., "TagValue": ...}], keys not starting with aliyun or acs:.'
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise errors.invalid_parameter("Tags", shape)
    out = []
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("TagKey"), str) or tag["TagKey"].startswith(("aliyun", "acs:")):
            raise errors.invalid_parameter("Tags", shape)
        out.append(KmsSecretTag(TagKey=tag["TagKey"], TagValue=str(tag.get("TagValue", ""))))
    return out


def _dry_run(call: Call) -> None:
    if call.bool("DryRun", False):
        raise errors.ApiError("DryRunOperationError", "The request would have succeeded, but DryRun was set.", 400)


class SecretValues:
    """The Secrets Manager value APIs (mixed into localcloud.products.kms.Kms beside SecretsManager and KmsCrypto,
    whose `_find_secret`, `_secret_arn`, `usable_key`, `seal` and `unseal` they use)."""

    def __init__(self, cloud):
        super().__init__(cloud)
        with self.account.lock:
            self.seal_seeded_values()

    # ------------------------------------------------------------ encryption at rest

    def seal_seeded_values(self) -> None:
        """Encrypt every plaintext SecretData the account file seeded, keeping only its CiphertextBlob. The key
        may be in any state or gone: the value was encrypted while it could be, and reads meet its state."""
        for secret in self.account.kms.secrets:
            for version in secret.Versions:
                if version.SecretData is not None:
                    key = self._key_at_rest(secret)
                    version.CiphertextBlob = self._encrypt_value(secret, version.VersionId, version.SecretData.encode("utf-8"), key)
                    version.SecretData = None

    def _key_at_rest(self, secret: KmsSecret) -> KmsKey | None:
        """The key record a seeded value is sealed under (None: the default key), found without a call."""
        ref = secret.EncryptionKeyId
        if not ref:
            return None
        key_id = ref.split(":key/", 1)[1] if ref.startswith("acs:kms:") and ":key/" in ref else ref
        if key_id.startswith("alias/") or ":alias/" in key_id:
            alias = key_id[key_id.index("alias/"):]
            bound = next((a for a in self.account.kms.aliases if a.AliasName == alias and a.RegionId == secret.RegionId), None)
            if bound is None:
                raise ValueError(f"kms.secrets (SecretName {secret.SecretName}): EncryptionKeyId {ref} names no key, so its seeded "
                                 "SecretData cannot be encrypted")
            key_id = bound.KeyId
        key = next((k for k in self.account.kms.keys if k.KeyId == key_id and k.RegionId == secret.RegionId), None)
        # A key the account no longer has still encrypted the value once: reading it meets KeyNotFound.
        return key if key is not None else KmsKey(KeyId=key_id, RegionId=secret.RegionId)

    @staticmethod
    def _value_context(secret: KmsSecret, version_id: str) -> bytes:
        """What a version's ciphertext is bound to: moved to another secret or version, it no longer opens."""
        return json.dumps({"RegionId": secret.RegionId, "SecretName": secret.SecretName, "VersionId": version_id},
                          sort_keys=True, separators=(",", ":")).encode()

    def _default_key(self, region: str) -> AESGCM:
        info = f"{self.account.account_id}/{region}/secrets-manager-default-key".encode()
        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._seed))

    def _encrypt_value(self, secret: KmsSecret, version_id: str, plaintext: bytes, key: KmsKey | None) -> str:
        context = self._value_context(secret, version_id)
        data_key = os.urandom(DATA_KEY_BYTES)
        if key is None:
            nonce = os.urandom(NONCE_BYTES)
            wrapped = DEFAULT_KEY_PREFIX + base64.b64encode(nonce + self._default_key(secret.RegionId).encrypt(nonce, data_key, context)).decode()
        else:
            _, wrapped = self.seal(key, data_key, context)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(data_key).encrypt(nonce, plaintext, context)
        return f"{wrapped}.{base64.b64encode(nonce + sealed).decode()}"

    def _decrypt_value(self, call: Call, secret: KmsSecret, version: KmsSecretVersion) -> bytes:
        """The version's plaintext; the key must be usable now, as Decrypt needs it (doc 44211)."""
        context = self._value_context(secret, version.VersionId)
        wrapped, _, sealed = (version.CiphertextBlob or "").rpartition(".")
        try:
            if wrapped.startswith(DEFAULT_KEY_PREFIX):
                raw = base64.b64decode(wrapped[len(DEFAULT_KEY_PREFIX):], validate=True)
                data_key = self._default_key(secret.RegionId).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
            else:
                try:
                    _, _, data_key = self.unseal(call, wrapped, context)
                except errors.ApiError as err:
                    if err.code == "InvalidParameter":  # the blob does not open: say so without the parameter's name
                        raise _undecryptable() from None
                    raise
            raw = base64.b64decode(sealed, validate=True)
            return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
        except (InvalidTag, ValueError, binascii.Error):
            raise _undecryptable() from None

    def _writing_key(self, call: Call, secret: KmsSecret) -> KmsKey | None:
        """The key a new value is encrypted under, usable now (GenerateDataKey's state refusals), or None."""
        return self.usable_key(call, secret.EncryptionKeyId, ANY_KEY_NAME) if secret.EncryptionKeyId else None

    # ------------------------------------------------------------ lookups

    def _secret_for_values(self, call: Call, *, generic_only: bool) -> KmsSecret:
        """The named secret, not pending deletion (its values cannot be used then)."""
        secret = self._find_secret(call, call.require("SecretName"))
        call.refer("ACS::KMS::Secret", secret.SecretName)
        if secret.PlannedDeleteTime:
            raise _in_delete_window(secret.SecretName)
        if generic_only and secret.SecretType != "Generic":
            raise errors.ApiError("Rejected.UnsupportedOperation", f"{call.action} supports generic secrets only; "
                                                                   f"{secret.SecretName} is a {secret.SecretType} secret.", 400)
        return secret

    @staticmethod
    def _version(secret: KmsSecret, version_id: str) -> KmsSecretVersion:
        version = next((v for v in secret.Versions if v.VersionId == version_id), None)
        if version is None:
            raise _not_found(f"{secret.SecretName} version {version_id}")
        return version

    @staticmethod
    def _stages_map(model, version: KmsSecretVersion):
        return model(version_stage=list(version.VersionStages))

    # ------------------------------------------------------------ APIs

    @api("CreateSecret", write=True)
    def create_secret(self, call: Call) -> dict:
        name = call.require("SecretName")
        version_id = call.require("VersionId")
        data = _data_param(call)
        secret_type = _choice(call, "SecretType", sorted(SECRET_TYPES), "Generic")
        managed = secret_type in MANAGED_TYPES
        data_type = _choice(call, "SecretDataType", ("text",) if managed else DATA_TYPES, "text")
        if len(version_id) > MAX_VERSION_ID:
            raise errors.invalid_parameter("VersionId", f"It must be at most {MAX_VERSION_ID} characters.")
        extended = None
        if managed:
            extended = call.json("ExtendedConfig")
            raw = call.get("ExtendedConfig") or ""
            if not isinstance(extended, dict) or not isinstance(extended.get("SecretSubType"), str) or len(raw) > MAX_EXTENDED_CONFIG:
                raise errors.invalid_parameter("ExtendedConfig", f"A {secret_type} secret needs a JSON object of at most "
                                                                 f"{MAX_EXTENDED_CONFIG} characters with SecretSubType.")
        if secret_type == "RAMCredentials":
            if name != "$Auto" or not isinstance(extended.get("UserName"), str):
                raise errors.invalid_parameter("SecretName", "A RAMCredentials secret is named $Auto, with UserName in ExtendedConfig.")
            name = f"acs/ram/user/{extended['UserName']}"
        if not _SECRET_NAME.fullmatch(name):
            raise errors.invalid_parameter("SecretName", "It must be 1 to 192 letters, digits and _ / + = . - @.")
        if secret_type == "ECS" and not name.startswith("acs/ecs/"):
            raise errors.invalid_parameter("SecretName", "The name of an ECS secret starts with acs/ecs/.")
        if secret_type in ("Generic", "Rds", "Redis") and name.startswith("acs/"):
            raise errors.invalid_parameter("SecretName", f"The name of a {secret_type} secret cannot start with acs/.")
        tags = _tags_param(call)
        rotation = call.bool("EnableAutomaticRotation", False) and managed  # ignored for generic secrets
        interval = _rotation_seconds(call) if rotation else None
        try:
            taken = self._find_secret(call, name)  # a secret whose deletion fell due is gone, its name free again
        except errors.ApiError:
            taken = None
        if taken is not None:
            raise _in_delete_window(name) if taken.PlannedDeleteTime else _exists(name)
        key_ref = call.get("EncryptionKeyId")
        key = self.usable_key(call, key_ref, ANY_KEY_NAME) if key_ref else None
        instance = call.get("DKMSInstanceId")
        if key is not None and not str(getattr(key, "KeySpec", "Aliyun_AES_256") or "Aliyun_AES_256").startswith(("Aliyun_AES", "Aliyun_SM4")):
            # "a symmetric key" (CreateSecret, EncryptionKeyId): an RSA or EC key cannot seal a data key here.
            raise errors.invalid_parameter("EncryptionKeyId", "The key must be a symmetric key.")
        if key is not None and instance is not None and getattr(key, "DKMSInstanceId", None) != instance:
            raise errors.invalid_parameter("EncryptionKeyId", "The key and the secret must belong to the same KMS instance.")
        now = iso(call.now)
        fields = {"Description": call.get("Description"), "DKMSInstanceId": instance,
                  "ExtendedConfig": json.dumps(extended, separators=(",", ":")) if extended is not None else None}
        if managed:
            fields["AutomaticRotation"] = "Enabled" if rotation else "Disabled"
        if interval is not None:
            fields.update(RotationInterval=f"{interval}s", NextRotationDate=iso(call.now + timedelta(seconds=interval)))
        secret = KmsSecret(SecretName=name, RegionId=call.region, SecretType=secret_type, EncryptionKeyId=key_ref, CreateTime=now,
                           UpdateTime=now, Creator=self.account.account_id, Tags=tags,
                           **{k: v for k, v in fields.items() if v is not None})
        blob = self._encrypt_value(secret, version_id, data, key)
        secret.Versions.append(KmsSecretVersion(VersionId=version_id, CreateTime=now, VersionStages=[CURRENT],
                                                SecretDataType=data_type, CiphertextBlob=blob))
        self.account.kms.secrets.append(secret)
        call.refer("ACS::KMS::Secret", name)
        body = m.CreateSecretResponseBody(arn=self._secret_arn(secret), secret_name=name, secret_type=secret_type, version_id=version_id,
                                          dkmsinstance_id=instance)
        if managed:
            wire = secret.wire()
            body.automatic_rotation, body.extended_config = wire.get("AutomaticRotation"), wire.get("ExtendedConfig")
            body.rotation_interval, body.next_rotation_date = wire.get("RotationInterval"), wire.get("NextRotationDate")
        return body.to_map()

    @api("PutSecretValue", write=True)
    def put_secret_value(self, call: Call) -> dict:
        secret = self._secret_for_values(call, generic_only=True)
        version_id = call.require("VersionId")
        data = _data_param(call)
        data_type = _choice(call, "SecretDataType", DATA_TYPES, "text")
        stages = _version_stages_param(call)
        if len(version_id) > MAX_VERSION_ID:
            raise errors.invalid_parameter("VersionId", f"It must be at most {MAX_VERSION_ID} characters.")
        existing = next((v for v in secret.Versions if v.VersionId == version_id), None)
        if existing is not None:
            # Idempotent per VersionId: the same value changes nothing; another value is refused, naming neither.
            if self._decrypt_value(call, secret, existing) != data or existing.SecretDataType != data_type:
                raise errors.ApiError("Rejected.ResourceExist", f"The resource already exists: version {version_id} of "
                                                                f"{secret.SecretName} holds another value; a version is written once.", 409)
            version = existing
        else:
            if len(_stages_after_attaching(secret, stages, None)) > MAX_STAGES:
                raise _limit_exceeded(f"a generic secret has at most {MAX_STAGES} version stages.")
            blob = self._encrypt_value(secret, version_id, data, self._writing_key(call, secret))
            version = KmsSecretVersion(VersionId=version_id, CreateTime=iso(call.now), SecretDataType=data_type, CiphertextBlob=blob)
            secret.Versions.append(version)
            for stage in stages:
                _attach(secret, stage, version)
            while len(secret.Versions) > MAX_VERSIONS:  # the earliest version without a stage goes
                secret.Versions.remove(next(v for v in secret.Versions if not v.VersionStages))
            secret.UpdateTime = iso(call.now)
        return m.PutSecretValueResponseBody(secret_name=secret.SecretName, version_id=version.VersionId,
                                            version_stages=self._stages_map(m.PutSecretValueResponseBodyVersionStages, version)).to_map()

    @api("GetSecretValue")
    def get_secret_value(self, call: Call) -> dict:
        secret = self._secret_for_values(call, generic_only=False)
        if call.get("Recipient") is not None:
            raise errors.invalid_parameter("Recipient", "Trusted-environment recipients are not supported by the local cloud.")
        managed = secret.SecretType in MANAGED_TYPES
        version_id = None if managed else call.get("VersionId")  # ignored for managed secrets
        stage = call.get("VersionStage")
        if managed and stage not in (None, CURRENT, PREVIOUS):
            raise errors.invalid_parameter("VersionStage", f"A {secret.SecretType} secret answers ACSCurrent or ACSPrevious only.")
        if version_id is not None:
            version = self._version(secret, version_id)
            if stage is not None and stage not in version.VersionStages:
                raise errors.invalid_parameter("VersionStage", f"Version {version_id} does not carry the stage {stage}.")
        else:
            version = _holder(secret, stage or CURRENT)
            if version is None:
                raise _not_found(f"{secret.SecretName} stage {stage or CURRENT}")
        plaintext = self._decrypt_value(call, secret, version)
        _dry_run(call)
        wire = secret.wire()
        body = m.GetSecretValueResponseBody(
            secret_name=secret.SecretName, secret_type=secret.SecretType, secret_data=plaintext.decode("utf-8"),
            secret_data_type=version.SecretDataType, version_id=version.VersionId, create_time=version.CreateTime or secret.CreateTime,
            version_stages=self._stages_map(m.GetSecretValueResponseBodyVersionStages, version),
            automatic_rotation=wire.get("AutomaticRotation"), rotation_interval=wire.get("RotationInterval"),
            next_rotation_date=wire.get("NextRotationDate"), last_rotation_date=wire.get("LastRotationDate"))
        if managed and call.bool("FetchExtendedConfig", False):
            body.extended_config = wire.get("ExtendedConfig")
        return body.to_map()

    @api("UpdateSecretVersionStage", write=True)
    def update_secret_version_stage(self, call: Call) -> dict:
        stage = call.require("VersionStage")
        remove_from, move_to = call.get("RemoveFromVersion"), call.get("MoveToVersion")
        if remove_from is None and move_to is None:
            raise errors.invalid_parameter("MoveToVersion", "Specify RemoveFromVersion, MoveToVersion or both.")
        if stage in (CURRENT, PREVIOUS) and move_to is None:
            raise errors.invalid_parameter("MoveToVersion", f"{stage} is a system stage: it cannot be removed, only moved to another "
                                                            "version with MoveToVersion.")
        secret = self._secret_for_values(call, generic_only=True)
        source = self._version(secret, remove_from) if remove_from is not None else None
        target = self._version(secret, move_to) if move_to is not None else None
        if source is not None and stage not in source.VersionStages:
            raise errors.invalid_parameter("RemoveFromVersion", f"Version {remove_from} does not carry the stage {stage}.")
        if target is None:
            source.VersionStages.remove(stage)
        else:
            if len(_stages_after_attaching(secret, [stage], target)) > MAX_STAGES:
                raise _limit_exceeded(f"a generic secret has at most {MAX_STAGES} version stages.")
            _attach(secret, stage, target)
        secret.UpdateTime = iso(call.now)
        return m.UpdateSecretVersionStageResponseBody(secret_name=secret.SecretName).to_map()

    @api("ListSecretVersionIds")
    def list_secret_version_ids(self, call: Call) -> dict:
        secret = self._find_secret(call, call.require("SecretName"))  # answers during the recovery window too
        call.refer("ACS::KMS::Secret", secret.SecretName)
        include_deprecated = call.bool("IncludeDeprecated", False)
        versions = [v for v in secret.Versions if include_deprecated or v.VersionStages]
        page, total, number, size = paginate_numbers(versions, call, default_size=20, max_size=100)
        items = [m.ListSecretVersionIdsResponseBodyVersionIdsVersionId(
            version_id=v.VersionId, create_time=v.CreateTime,
            version_stages=self._stages_map(m.ListSecretVersionIdsResponseBodyVersionIdsVersionIdVersionStages, v)) for v in page]
        return m.ListSecretVersionIdsResponseBody(
            secret_name=secret.SecretName, page_number=number, page_size=size, total_count=total,
            version_ids=m.ListSecretVersionIdsResponseBodyVersionIds(version_id=items)).to_map()

    @api("DeleteSecret", write=True)
    def delete_secret(self, call: Call) -> dict:
        secret = self._find_secret(call, call.require("SecretName"))
        call.refer("ACS::KMS::Secret", secret.SecretName)
        force = call.bool("ForceDeleteWithoutRecovery", False)
        if force and call.get("RecoveryWindowInDays") is not None:
            raise errors.invalid_parameter("RecoveryWindowInDays", "It cannot be set when ForceDeleteWithoutRecovery is true.")
        days = call.int("RecoveryWindowInDays", DEFAULT_RECOVERY_WINDOW_DAYS, lo=RECOVERY_WINDOW_DAYS[0], hi=RECOVERY_WINDOW_DAYS[1])
        if force:
            self.account.kms.secrets = [s for s in self.account.kms.secrets if s is not secret]
            planned = iso(call.now)
        else:
            if secret.PlannedDeleteTime:
                raise errors.ApiError("Rejected.ResourceInDeleteWindow", f"secret in delete period ({secret.SecretName})", 409)
            planned = secret.PlannedDeleteTime = iso(call.now + timedelta(days=days))
            secret.UpdateTime = iso(call.now)
        return m.DeleteSecretResponseBody(secret_name=secret.SecretName, planned_delete_time=planned).to_map()

    @api("RestoreSecret", write=True)
    def restore_secret(self, call: Call) -> dict:
        secret = self._find_secret(call, call.require("SecretName"))
        call.refer("ACS::KMS::Secret", secret.SecretName)
        if not secret.PlannedDeleteTime:
            raise errors.ApiError("Rejected.ResourceInUse", f"restore normal secret: {secret.SecretName} is not pending deletion.", 409)
        secret.PlannedDeleteTime = None
        secret.UpdateTime = iso(call.now)
        return m.RestoreSecretResponseBody(secret_name=secret.SecretName).to_map()

    def tag_secret(self, call: Call) -> dict:
        """TagResource naming a secret (localcloud.products.kms.Kms.tag_resource hands it over)."""
        if call.get("KeyId") is not None or call.get("CertificateId") is not None:
            raise errors.invalid_parameter("SecretName", "Specify one and only one of KeyId, SecretName and CertificateId.")
        secret = self._find_secret(call, call.require("SecretName"))
        call.refer("ACS::KMS::Secret", secret.SecretName)
        call.require("Tags")
        tags = _tags_param(call)
        if not tags or any(not 1 <= len(t.TagKey.encode("utf-8")) <= 128 for t in tags):
            raise errors.invalid_parameter("Tags", 'Expected [{"TagKey": ..., "TagValue": ...}] with keys of 1 to 128 bytes.')
        merged = {t.TagKey: t for t in secret.Tags}
        for tag in tags:
            merged[tag.TagKey] = tag
        if len(merged) > MAX_TAGS:
            raise _limit_exceeded(f"a secret has at most {MAX_TAGS} tags.")
        secret.Tags = list(merged.values())
        secret.UpdateTime = iso(call.now)
        return m.TagResourceResponseBody().to_map()

    @api("UntagResource", write=True)
    def untag_resource(self, call: Call) -> dict:
        named = [p for p in ("KeyId", "SecretName", "CertificateId") if call.get(p) is not None]
        if len(named) != 1:
            raise errors.invalid_parameter("SecretName", "Specify one and only one of KeyId, SecretName and CertificateId.")
        raw = call.require("TagKeys")
        try:
            keys = json.loads(raw)
        except json.JSONDecodeError:
            keys = [k.strip() for k in raw.split(",")]
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and 1 <= len(k.encode("utf-8")) <= 128 for k in keys):
            raise errors.invalid_parameter("TagKeys", 'Expected a JSON array of tag keys, such as ["tagkey1","tagkey2"].')
        if any(k.startswith(("aliyun", "acs:")) for k in keys):
            raise errors.invalid_parameter("TagKeys", "Tags whose keys start with aliyun or acs: cannot be removed.")
        if named[0] == "CertificateId":
            raise errors.invalid_parameter("CertificateId", "Certificates are not emulated by the local cloud.")
        if named[0] == "KeyId":
            resource = self.find(call, call.require("KeyId"), frozenset({"id"}))
        else:
            resource = self._find_secret(call, call.require("SecretName"))
            call.refer("ACS::KMS::Secret", resource.SecretName)
            resource.UpdateTime = iso(call.now)
        resource.Tags = [t for t in resource.Tags if t.TagKey not in keys]
        return m.UntagResourceResponseBody().to_map()

    @api("GetRandomPassword")
    def get_random_password(self, call: Call) -> dict:
        length = call.int("PasswordLength", DEFAULT_PASSWORD_LENGTH, lo=PASSWORD_LENGTH[0], hi=PASSWORD_LENGTH[1])
        excluded = set(call.get("ExcludeCharacters") or "")
        pools = []
        for flag, characters in (("ExcludeLowercase", string.ascii_lowercase), ("ExcludeUppercase", string.ascii_uppercase),
                                 ("ExcludeNumbers", string.digits), ("ExcludePunctuation", PUNCTUATION)):
            if not call.bool(flag, False):
                pool = [c for c in characters if c not in excluded]
                if pool:
                    pools.append(pool)
        if not pools:
            raise errors.invalid_parameter("ExcludeCharacters", "Every character type is excluded: nothing is left to make a password of.")
        alphabet = [c for pool in pools for c in pool]
        chosen = [random_source.choice(pool) for pool in pools] if call.bool("RequireEachIncludedType", False) else []
        chosen += [random_source.choice(alphabet) for _ in range(length - len(chosen))]
        random_source.SystemRandom().shuffle(chosen)
        return m.GetRandomPasswordResponseBody(random_password="".join(chosen)).to_map()
