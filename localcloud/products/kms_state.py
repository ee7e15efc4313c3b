"""KMS's part of the account file (section `kms`): keys with their tags and versions, aliases, and
Secrets Manager secrets, each with the field names the KMS API returns for it.

The API handlers read and change these records: the key state machine (localcloud/products/kms.py),
the cryptography and key versions (kms_crypto.py), the secrets' metadata (kms_secrets.py) and values (kms_secret_values.py).
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Optional

from alibabacloud_kms20160120 import models as m
from pydantic import Field, field_validator, model_validator

from localcloud.records import AccountSection, Record, StrictRecord, _iso


class KmsTag(StrictRecord):
    TagKey: str
    TagValue: str = ""


class KmsKeyVersion(Record):
    """A key version as ListKeyVersions returns it (inside its key in the account file)."""

    sdk_model: ClassVar[Any] = m.ListKeyVersionsResponseBodyKeyVersionsKeyVersion
    extra_fields: ClassVar[frozenset] = frozenset()

    KeyVersionId: str
    CreationDate: Optional[str] = None

    _check_date = field_validator("CreationDate")(classmethod(lambda cls, v: _iso(v)))


class KmsKey(Record):
    sdk_model: ClassVar[Any] = m.DescribeKeyResponseBodyKeyMetadata
    # Policy: the key policy GetKeyPolicy answers (JSON text; kms_policies.py), for a key in a KMS instance.
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "Tags", "KeyVersions", "Policy"})

    KeyId: str
    RegionId: str
    KeyState: Literal["Enabled", "Disabled", "PendingDeletion", "PendingImport"] = "Enabled"
    DeletionProtection: Literal["Enabled", "Disabled"] = "Disabled"
    Tags: list[KmsTag] = Field(default_factory=list)
    DeleteDate: Optional[str] = None
    CreationDate: Optional[str] = None
    # ListKeyVersions items, oldest first; none means one version (localcloud/products/kms_crypto.py).
    KeyVersions: Optional[list[KmsKeyVersion]] = None
    # The KMS instance (KMS 3.0) the key belongs to, as DescribeKey's KeyMetadata names it (the SDK's wire name,
    # alibabacloud_kms20160120 3.3.1); None: a key outside any instance. Crypto calls on an instance key are
    # served as through the instance's dedicated gateway: logged to the instance's SLS log, not ActionTrail
    # (localcloud/actiontrail.py, KmsInstanceLog).
    DKMSInstanceId: Optional[str] = None

    _check_dates = field_validator("DeleteDate", "CreationDate")(classmethod(lambda cls, v: _iso(v)))

    @field_validator("KeyId")
    @classmethod
    def _uuid(cls, v):
        if not re.fullmatch(r"[0-9a-fA-F-]{8,64}|key-[a-z0-9]+", v):
            raise ValueError("is not a KMS key id (a UUID such as 0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b)")
        return v

    @model_validator(mode="after")
    def _pending_has_date(self):
        if self.KeyState == "PendingDeletion" and not self.DeleteDate:
            raise ValueError("KeyState PendingDeletion needs a DeleteDate")
        # Only a pending deletion has a date (DescribeKey drops it otherwise): an Enabled key with one
        # would read as safe here while the file's author meant a deletion to come.
        if self.DeleteDate and self.KeyState != "PendingDeletion":
            raise ValueError(f"field DeleteDate: only a key in KeyState PendingDeletion has one (this key is {self.KeyState}); "
                             "set KeyState: PendingDeletion or remove the DeleteDate")
        return self


class KmsAlias(Record):
    sdk_model: ClassVar[Any] = m.ListAliasesByKeyIdResponseBodyAliasesAlias
    AliasName: str
    KeyId: str
    RegionId: str

    @field_validator("AliasName")
    @classmethod
    def _alias(cls, v):
        if not v.startswith("alias/"):
            raise ValueError("must start with 'alias/'")
        return v


class KmsSecretTag(Record):
    TagKey: str
    TagValue: str = ""
    extra_fields: ClassVar[frozenset] = frozenset()


class KmsSecretVersion(Record):
    """One version of a secret's value, in ListSecretVersionIds' item shape (VersionId, CreateTime, VersionStages,
    the stages as a plain list), with the value encrypted at rest in CiphertextBlob. An account file may seed a
    plaintext SecretData (GetSecretValue's name) instead: the local cloud encrypts it with the secret's key when
    it starts and keeps only the ciphertext (localcloud/products/kms_secret_values.py)."""

    sdk_model: ClassVar[Any] = m.ListSecretVersionIdsResponseBodyVersionIdsVersionId
    extra_fields: ClassVar[frozenset] = frozenset()

    VersionId: str
    CreateTime: Optional[str] = None
    VersionStages: list[str] = Field(default_factory=list)
    SecretDataType: Literal["text", "binary"] = "text"
    SecretData: Optional[str] = Field(default=None, repr=False)
    CiphertextBlob: Optional[str] = Field(default=None, repr=False)

    _check_date = field_validator("CreateTime")(classmethod(lambda cls, v: _iso(v)))

    @model_validator(mode="after")
    def _one_value(self):
        if (self.SecretData is None) == (self.CiphertextBlob is None):
            raise ValueError(f"version {self.VersionId}: give its value as SecretData (plaintext, encrypted when the local cloud "
                             "starts) or CiphertextBlob (as a local cloud dumped it), exactly one of them")
        return self


class KmsSecret(Record):
    """A secret's metadata as DescribeSecret returns it, plus RegionId and the creator ListSecrets filters on,
    and its `Versions` (as KmsKey keeps `KeyVersions`; the values APIs are in kms_secret_values.py).
    DescribeSecret answers only its own wire fields, so the versions never reach it.
    """

    sdk_model: ClassVar[Any] = m.DescribeSecretResponseBody
    # Policy: the secret policy GetSecretPolicy answers (JSON text; kms_policies.py), for a secret in a KMS instance.
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "Creator", "Policy"})

    SecretName: str
    RegionId: str
    # DescribeSecret's doc spells Generic, Rds, RAMCredentials, ECS; CreateSecret's adds Redis, ListSecrets' PolarDB.
    SecretType: Literal["Generic", "Rds", "RAMCredentials", "ECS", "Redis", "PolarDB"] = "Generic"
    # The key that encrypts the secret's values; without one, Secrets Manager uses its own service key.
    EncryptionKeyId: Optional[str] = None
    # Returned for managed (Rds, RAMCredentials, ECS) secrets; for Generic ones with a rotation policy too (UNCONFIRMED).
    AutomaticRotation: Optional[Literal["Enabled", "Disabled", "Invalid"]] = None
    PlannedDeleteTime: Optional[str] = None
    CreateTime: Optional[str] = None
    Tags: list[KmsSecretTag] = []
    # Oldest first. None recorded: a secret known by its metadata only, whose value the local cloud cannot answer.
    Versions: list[KmsSecretVersion] = Field(default_factory=list)

    _check_dates = field_validator("PlannedDeleteTime", "CreateTime")(classmethod(lambda cls, v: _iso(v)))

    @model_validator(mode="after")
    def _versions_hold_together(self):
        # What the service keeps true of every secret ("Secret object model", https://www.alibabacloud.com/help/doc-detail/152002.htm;
        # the limits in localcloud/products/kms_secret_values.py): unique version ids, each stage on one version,
        # one ACSCurrent version, at most 10 versions and 8 stages.
        if not self.Versions:
            return self
        ids = [v.VersionId for v in self.Versions]
        if len(set(ids)) != len(ids):
            raise ValueError("field Versions: a VersionId is listed twice")
        stages = [stage for v in self.Versions for stage in v.VersionStages]
        if len(set(stages)) != len(stages):
            raise ValueError("field Versions: a version stage marks one version only, but one is on two versions")
        if "ACSCurrent" not in stages:
            raise ValueError("field Versions: one version must carry the ACSCurrent stage")
        if len(ids) > 10 or len(stages) > 8:
            raise ValueError("field Versions: a secret has at most 10 versions and 8 version stages")
        return self

    def matches(self, key: str, values: list) -> bool:
        """Whether the secret passes one ListSecrets filter."""
        if key == "TagKey":
            return any(t.TagKey in values for t in self.Tags)
        if key == "TagValue":
            return any(t.TagValue in values for t in self.Tags)
        value = self.wire().get(key)
        if key == "SecretType":
            # The filter doc spells RDS where DescribeSecret answers Rds: compared case-blind (UNCONFIRMED).
            return value is not None and value.lower() in {str(v).lower() for v in values}
        return value in values


class KmsSection(AccountSection):
    section: ClassVar[str] = "kms"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {
        "keys": ("KeyId",), "aliases": ("RegionId", "AliasName"), "secrets": ("RegionId", "SecretName")}
    id_fields: ClassVar[tuple[str, ...]] = ("AliasName", "KeyId", "SecretName")

    keys: list[KmsKey] = Field(default_factory=list)
    aliases: list[KmsAlias] = Field(default_factory=list)
    secrets: list[KmsSecret] = Field(default_factory=list)
    # The local cloud's key seed (hex), not an Alibaba field: key material and secret values are derived from
    # it, so a state dump carries it and the cloud that loads the dump decrypts what this one encrypted.
    Seed: Optional[str] = None
