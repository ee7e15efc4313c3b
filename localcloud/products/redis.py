"""Redis/Tair (R-kvstore) 2015-01-01: DescribeInstances (PageNumber/PageSize), and the TDE pair
DescribeInstanceTDEStatus and DescribeEncryptionKey (dependency-apis.md §7).

DescribeInstances carries nothing about encryption, so the account file's instance record holds, beside
the DescribeInstances item and its RegionId, what the TDE APIs answer for it:

- `IsSupportTDE` (DescribeInstanceAttribute's flag). Only Tair (Enterprise Edition) memory-optimized
  instances support TDE ("Enable TDE" prerequisites); when the record leaves it out, Tair/Enterprise
  instances are taken to support it. Others answer the TDE APIs with 400 InstanceType.NotSupport,
  "Current instance type does not support this operation." (seen in aliyun/terraform-provider-alicloud#9971).
- `TDEStatus` (Enabled/Disabled: DescribeInstanceTDEStatus). TDE cannot be disabled once enabled.
- `EncryptionKey`, `EncryptionName`, `RoleArn` (DescribeEncryptionKey): the key TDE encrypts with, a
  custom key or the one KMS generated when ModifyInstanceTDE was given none. The rest of the
  DescribeEncryptionKey answer (status, creator, deletion date, ...) is read from the KMS key itself.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_r_kvstore20150101 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.records import AccountSection, Record, find

DEFAULT_ENCRYPTION_NAME = "AES-CTR-256"  # ModifyInstanceTDE's documented default
INSTANCE_STATUSES = ("Normal", "Creating", "Changing", "Inactive", "Flushing", "Released", "Transforming", "Unavailable",
                     "Error", "Migrating", "BackupRecovering", "MinorVersionUpgrading", "NetworkModifying", "SSLModifying",
                     "MajorVersionUpgrading")
# DescribeInstances request filters that match an item field of the same name.
_EQUALITY_FILTERS = ("InstanceStatus", "InstanceType", "EditionType", "EngineVersion", "ArchitectureType", "ChargeType",
                     "NetworkType", "InstanceClass", "VpcId", "VSwitchId", "ZoneId", "ResourceGroupId", "PrivateIp")
MAX_INSTANCE_IDS = 30
# DescribeEncryptionKey fields that restate the KMS key (same wire names as DescribeKey's KeyMetadata).
_KEY_METADATA = ("Creator", "DeleteDate", "Description", "KeyUsage", "MaterialExpireTime", "Origin")


class RedisInstance(Record):
    """A DescribeInstances KVStoreInstance item plus what the TDE APIs answer for it (module docstring)."""

    sdk_model: ClassVar[Any] = m.DescribeInstancesResponseBodyInstancesKVStoreInstance
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "IsSupportTDE", "TDEStatus", "EncryptionKey",
                                                   "EncryptionName", "RoleArn"})

    InstanceId: str
    RegionId: str
    InstanceStatus: Literal[INSTANCE_STATUSES] = "Normal"  # type: ignore[valid-type]
    InstanceType: Literal["Redis", "Tair", "Memcache"] = "Redis"
    EditionType: Optional[Literal["Community", "Enterprise"]] = None
    IsSupportTDE: Optional[bool] = None
    TDEStatus: Literal["Enabled", "Disabled"] = "Disabled"
    EncryptionKey: Optional[str] = None
    EncryptionName: Optional[str] = None
    RoleArn: Optional[str] = None

    @property
    def supports_tde(self) -> bool:
        if self.IsSupportTDE is not None:
            return self.IsSupportTDE
        return self.EditionType == "Enterprise" or self.InstanceType == "Tair"

    @model_validator(mode="after")
    def _tde_consistent(self):
        if self.TDEStatus == "Enabled" and not self.supports_tde:
            raise ValueError("TDEStatus is Enabled but the instance does not support TDE (IsSupportTDE false, or not Tair/Enterprise)")
        if self.TDEStatus == "Enabled" and not self.EncryptionKey:
            raise ValueError("TDEStatus Enabled needs the EncryptionKey TDE encrypts with")
        if self.TDEStatus == "Disabled" and (self.EncryptionKey or self.EncryptionName or self.RoleArn):
            raise ValueError("EncryptionKey/EncryptionName/RoleArn are set but TDEStatus is Disabled")
        return self


class RedisSection(AccountSection):
    section: ClassVar[str] = "redis"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"instances": ("InstanceId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("InstanceId",)

    instances: list[RedisInstance] = Field(default_factory=list)


def _instance_not_found() -> errors.ApiError:
    return errors.ApiError("InvalidInstanceId.NotFound", "The InstanceId provided does not exist in our records.", 404)


def _tde_not_supported() -> errors.ApiError:
    return errors.ApiError("InstanceType.NotSupport", "Current instance type does not support this operation.", 400)


class Redis(RpcProduct):
    code = "redis"
    service_name = "R-kvstore"
    version = "2015-01-01"
    endpoint_prefix = "r-kvstore"

    def _instance(self, call: Call) -> RedisInstance:
        # Instance ids are global: the SDK sends these calls to the central endpoint without a RegionId.
        instance_id = call.require("InstanceId")
        found = find(self.account.redis.instances, InstanceId=instance_id)
        if found is None:
            raise _instance_not_found()
        return found

    @api("DescribeInstances")
    def describe_instances(self, call: Call) -> dict:
        instances = list(self.account.redis.instances)
        # The SDK maps most regions to the central endpoint r-kvstore.aliyuncs.com, which serves every
        # region: without a RegionId the answer spans all of them (UNCONFIRMED).
        if (region := call.get("RegionId")) is not None:
            self.known_region(region)  # UNCONFIRMED for R-kvstore: the code ECS answers for an unknown region
            instances = [i for i in instances if i.RegionId == region]
        if (ids := call.get("InstanceIds")) is not None:
            wanted = {i.strip() for i in ids.split(",") if i.strip()}
            if len(wanted) > MAX_INSTANCE_IDS:
                raise errors.invalid_parameter("InstanceIds", f"At most {MAX_INSTANCE_IDS} instance ids.")
            instances = [i for i in instances if i.InstanceId in wanted]
        for name in _EQUALITY_FILTERS:
            if (value := call.get(name)) is not None:
                instances = [i for i in instances if getattr(i, name, None) == value]
        if (key := call.get("SearchKey")) is not None:  # fuzzy match on id and name, as documented
            instances = [i for i in instances if key in i.InstanceId or key in (getattr(i, "InstanceName", None) or "")]
        page, total, number, size = paginate_numbers(instances, call, default_size=30, max_size=50)
        items = [m.DescribeInstancesResponseBodyInstancesKVStoreInstance().from_map(i.wire()) for i in page]
        return m.DescribeInstancesResponseBody(
            instances=m.DescribeInstancesResponseBodyInstances(kvstore_instance=items),
            page_number=number, page_size=size, total_count=total,
        ).to_map()

    @api("DescribeInstanceTDEStatus")
    def describe_instance_tde_status(self, call: Call) -> dict:
        instance = self._instance(call)
        if not instance.supports_tde:
            raise _tde_not_supported()
        return m.DescribeInstanceTDEStatusResponseBody(tdestatus=instance.TDEStatus).to_map()

    @api("DescribeEncryptionKey")
    def describe_encryption_key(self, call: Call) -> dict:
        instance = self._instance(call)
        if not instance.supports_tde:
            raise _tde_not_supported()  # UNCONFIRMED for this API; confirmed for DescribeInstanceTDEStatus
        # The documented use names a candidate key (from DescribeEncryptionKeyList); without one, the
        # instance's own key. An instance without TDE answers no key: the terraform provider reads this
        # API for every TDE-capable instance, enabled or not (UNCONFIRMED: the doc only says TDE must be
        # enabled with a custom key first).
        key_id = call.get("EncryptionKey") or instance.EncryptionKey
        if not key_id:
            return m.DescribeEncryptionKeyResponseBody().to_map()
        answer = {"EncryptionKey": key_id, "RoleArn": instance.RoleArn,
                  "EncryptionName": instance.EncryptionName or DEFAULT_ENCRYPTION_NAME}
        key = next((k for k in self.account.kms.keys if k.KeyId == key_id), None)
        if key is not None:  # the key's own metadata, as KMS DescribeKey states it
            meta = key.wire()
            answer.update({name: meta.get(name) for name in _KEY_METADATA})
            answer["EncryptionKeyStatus"] = "Enabled" if key.KeyState == "Enabled" else "Disabled"
        return m.DescribeEncryptionKeyResponseBody().from_map(answer).to_map()
