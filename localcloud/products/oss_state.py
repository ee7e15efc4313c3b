"""OSS's part of the account file (section `oss`): buckets with the fields ListBuckets and GetBucketInfo
answer (oss2 has no Tea model, so the fields are listed here), their default encryption and data
replication rules (XML element names, as GetBucketReplication answers them), and objects.

The REST front end that serves them is localcloud/products/oss.py.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar, Literal, Optional

from pydantic import Field, field_validator, model_validator

from localcloud.records import AccountSection, StrictRecord, field_value


class OssReplicationDestination(StrictRecord):
    Bucket: str
    Location: str  # oss-cn-beijing
    TransferType: Optional[Literal["internal", "oss_acc"]] = None

    @property
    def region(self) -> str:
        return self.Location.removeprefix("oss-")


class OssReplicationPrefixSet(StrictRecord):
    Prefix: list[str] = Field(default_factory=list, max_length=10)


class OssSseKmsEncryptedObjects(StrictRecord):
    Status: Literal["Enabled", "Disabled"]


class OssSourceSelectionCriteria(StrictRecord):
    SseKmsEncryptedObjects: OssSseKmsEncryptedObjects


class OssReplicationEncryption(StrictRecord):
    ReplicaKmsKeyID: str


class OssReplicationTimeControl(StrictRecord):
    Status: Literal["enabled", "disabled"]


class OssReplicationRule(StrictRecord):
    """A ReplicationConfiguration/Rule as GetBucketReplication returns it (XML element names)."""

    ID: str
    Destination: OssReplicationDestination
    Status: Literal["starting", "doing", "closing"] = "doing"
    Action: str = "ALL"
    PrefixSet: Optional[OssReplicationPrefixSet] = None
    HistoricalObjectReplication: Literal["enabled", "disabled"] = "enabled"
    SyncRole: Optional[str] = None
    SourceSelectionCriteria: Optional[OssSourceSelectionCriteria] = None
    EncryptionConfiguration: Optional[OssReplicationEncryption] = None
    RTC: Optional[OssReplicationTimeControl] = None

    @model_validator(mode="after")
    def _replica_key_when_kms_objects_replicate(self):
        # PutBucketReplication refuses SseKmsEncryptedObjects Enabled without a ReplicaKmsKeyID (OSS error 0031-00000033).
        criteria = self.SourceSelectionCriteria
        if criteria and criteria.SseKmsEncryptedObjects.Status == "Enabled" and not self.EncryptionConfiguration:
            raise ValueError("SseKmsEncryptedObjects Enabled needs EncryptionConfiguration.ReplicaKmsKeyID")
        if not self.Destination.Location.startswith("oss-"):
            raise ValueError("Destination.Location must look like oss-cn-beijing")
        return self


class OssReplicationConfiguration(StrictRecord):
    Rule: list[OssReplicationRule] = Field(min_length=1)


class OssEncryptionRule(StrictRecord):
    """ServerSideEncryptionRule as GetBucketInfo / GetBucketEncryption return it."""

    SSEAlgorithm: Literal["KMS", "AES256", "SM4"]
    KMSMasterKeyID: Optional[str] = None
    KMSDataEncryption: Optional[str] = None


class OssBucket(StrictRecord):
    """ListBuckets/GetBucketInfo Bucket fields (oss2 has no Tea model, so the list is explicit)."""

    Name: str
    Location: str  # oss-cn-hangzhou
    Region: Optional[str] = None  # cn-hangzhou
    CreationDate: Optional[str] = None
    StorageClass: Literal["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"] = "Standard"
    ExtranetEndpoint: Optional[str] = None
    IntranetEndpoint: Optional[str] = None
    ResourceGroupId: Optional[str] = None
    ServerSideEncryptionRule: Optional[OssEncryptionRule] = None
    # GetBucketReplication's answer; GetBucketInfo reports CrossRegionReplication Enabled when a rule's
    # destination is in another region.
    ReplicationConfiguration: Optional[OssReplicationConfiguration] = None

    @field_validator("Name")
    @classmethod
    def _bucket_name(cls, v):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", v):
            raise ValueError("is not a valid bucket name (3-63 lower-case letters, digits, hyphens)")
        return v

    @model_validator(mode="after")
    def _region(self):
        if not self.Location.startswith("oss-"):
            raise ValueError("Location must look like oss-cn-hangzhou")
        if self.Region is None:
            self.Region = self.Location[len("oss-"):]
        return self

    @property
    def replication_rules(self) -> list[OssReplicationRule]:
        return self.ReplicationConfiguration.Rule if self.ReplicationConfiguration else []

    @property
    def cross_region_replication(self) -> bool:
        return any(r.Destination.region != self.Region for r in self.replication_rules)


class OssObject(StrictRecord):
    """An object (the guard's idempotency markers live here). Content is text."""

    Bucket: str
    Key: str
    Content: str = ""
    LastModified: Optional[str] = None
    ETag: Optional[str] = None


class OssSection(AccountSection):
    section: ClassVar[str] = "oss"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"buckets": ("Name",), "objects": ("Bucket", "Key")}
    id_fields: ClassVar[tuple[str, ...]] = ("Name", "Key")

    buckets: list[OssBucket] = Field(default_factory=list)
    objects: list[OssObject] = Field(default_factory=list)

    @model_validator(mode="after")
    def _replication_targets_exist(self):
        """What PutBucketReplication enforces: the destination is another bucket of the account, in the
        region the rule names (InvalidTargetBucket, InvalidTargetLocation)."""
        by_name = {b.Name: b for b in self.buckets}
        for b in self.buckets:
            for rule in b.replication_rules:
                dest = by_name.get(rule.Destination.Bucket)
                if dest is None or dest.Name == b.Name:
                    raise ValueError(f"bucket {b.Name} rule {rule.ID}: Destination.Bucket must be another bucket of the account")
                if dest.Location != rule.Destination.Location:
                    raise ValueError(f"bucket {b.Name} rule {rule.ID}: Destination.Location is not {dest.Name}'s Location")
        return self

    @classmethod
    def regions_of(cls, record: Any) -> list[tuple[str, str]]:
        """A bucket names its region in `Location` too (oss-cn-hangzhou), as ListBuckets answers it."""
        regions = super().regions_of(record)
        location = field_value(record, "Location")
        if isinstance(location, str) and location.startswith("oss-"):
            regions.append(("Location", location.removeprefix("oss-")))
        return regions


# ---------------------------------------------------------------- what the records imply


def extranet_endpoint(b: OssBucket) -> str:
    return b.ExtranetEndpoint or f"{b.Location}.aliyuncs.com"


def intranet_endpoint(b: OssBucket) -> str:
    return b.IntranetEndpoint or f"{b.Location}-internal.aliyuncs.com"


def etag_of(obj: OssObject) -> str:
    return obj.ETag or hashlib.md5(obj.Content.encode("utf-8")).hexdigest().upper()
