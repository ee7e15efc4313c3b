"""ApsaraDB for MongoDB (Dds) 2015-12-01: DescribeDBInstances (PageNumber/PageSize), and the two
per-instance reads that name a key: DescribeDBInstanceTDEInfo (the TDE key) and
DescribeDBInstanceAttribute (`Encrypted`, `EncryptionKey`: the cloud disk encryption key).

- DescribeDBInstances: `DBInstances.DBInstance[]`, PageSize 30 (default), 50 or 100, TotalCount. It lists
  one architecture at a time: `DBInstanceType` replicate (the default: replica set and standalone
  instances), sharding, or serverless (the China site's reference lists it). Its items carry nothing
  about encryption.
- DescribeDBInstanceTDEInfo: TDEStatus `enabled`/`disabled` (lower case); RoleARN, EncryptionKey and
  EncryptorName only when enabled. EncryptionKey is the string `NoActiveBYOK` where the region has no
  BYOK (the key is then service-managed). TDE needs a replica set or sharded cluster instance.
- DescribeDBInstanceAttribute: `DBInstances.DBInstance[]` holding the one instance asked for, with
  `Encrypted` (disk encryption on) and `EncryptionKey` ("the ID of the KMS key used for disk encryption").

The account file's instance record: the DescribeDBInstances item's wire names (DBInstanceId, RegionId,
DBInstanceType, DBInstanceStatus, ...), any further field DescribeDBInstanceAttribute returns for the
instance under its own wire name (`Encrypted`, `EncryptionKey`, `StorageEngine`, ...), and `TDE` holding
what DescribeDBInstanceTDEInfo answers, as it names it: {TDEStatus, EncryptionKey, EncryptorName, RoleARN}.
Any other field is refused.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_dds20151201 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.records import AccountSection, Record, StrictRecord, find, sdk_wire_names

INSTANCE_TYPES = ("replicate", "sharding", "serverless")
PAGE_SIZES = (30, 50, 100)
NO_BYOK = "NoActiveBYOK"  # the TDE EncryptionKey of a region without BYOK: a service-managed key
DEFAULT_ENCRYPTOR = "aes-256-cbc"  # the doc sample's EncryptorName; UNCONFIRMED as the default
# The MongoDB "Instance states" table. UNCONFIRMED: the stored copies end after AuditLogOpening;
# AuditLogClosing is the state the terraform provider waits out when the audit log is turned off.
INSTANCE_STATUSES = ("Creating", "DBInstanceClassChanging", "DBInstanceNetTypeChanging", "Deleting", "EngineVersionUpgrading",
                     "GuardSwitching", "HASwitching", "Importing", "ImportingFromOthers", "LinkSwitching",
                     "MinorVersionUpgrading", "NET_CREATING", "NET_DELETING", "NodeCreating", "NodeDeleting", "Rebooting",
                     "NodeRestarting", "Restoring", "Running", "SSLModifying", "TempDBInstanceCreating", "Transing",
                     "TransingToOthers", "AuditLogOpening", "AuditLogClosing")
LOCK_MODES = ("Unlock", "ManualLock", "LockByExpiration", "LockByRestoration", "LockByDiskQuota", "Released")
SINGLE_NODE = "1"  # ReplicationFactor of a standalone (single-node) instance
# DescribeDBInstances request filters that match an item field of the same name.
_EQUALITY_FILTERS = ("DBInstanceStatus", "DBInstanceClass", "Engine", "EngineVersion", "NetworkType", "ChargeType", "ZoneId",
                     "ResourceGroupId", "ReplicationFactor")
_ATTRIBUTE_ITEM = m.DescribeDBInstanceAttributeResponseBodyDBInstancesDBInstance


class MongodbTde(StrictRecord):
    """What DescribeDBInstanceTDEInfo answers for the instance, as it names it."""

    TDEStatus: Literal["enabled", "disabled"] = "disabled"
    EncryptionKey: Optional[str] = None
    EncryptorName: Optional[str] = None
    RoleARN: Optional[str] = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.TDEStatus == "enabled" and not self.EncryptionKey:
            raise ValueError(f"TDEStatus enabled needs the EncryptionKey TDE encrypts with (a key id, or {NO_BYOK})")
        if self.TDEStatus == "disabled" and (self.EncryptionKey or self.EncryptorName or self.RoleARN):
            raise ValueError("EncryptionKey/EncryptorName/RoleARN are set but TDEStatus is disabled "
                             "(the API returns them only when enabled)")
        return self


class MongodbInstance(Record):
    """A DescribeDBInstances DBInstance item, DescribeDBInstanceAttribute's further fields, and `TDE`."""

    sdk_model: ClassVar[Any] = m.DescribeDBInstancesResponseBodyDBInstancesDBInstance
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "TDE"}) | sdk_wire_names(_ATTRIBUTE_ITEM)

    DBInstanceId: str
    RegionId: str
    DBInstanceType: Literal[INSTANCE_TYPES] = "replicate"  # type: ignore[valid-type]
    DBInstanceStatus: Literal[INSTANCE_STATUSES] = "Running"  # type: ignore[valid-type]
    Engine: Literal["MongoDB"] = "MongoDB"
    LockMode: Optional[Literal[LOCK_MODES]] = None  # type: ignore[valid-type]
    ReplicationFactor: Optional[str] = None
    Encrypted: Optional[bool] = None
    EncryptionKey: Optional[str] = None  # DescribeDBInstanceAttribute's: the cloud disk key
    TDE: Optional[MongodbTde] = None

    @model_validator(mode="after")
    def _encryption_consistent(self):
        if self.EncryptionKey and self.Encrypted is not True:
            raise ValueError("EncryptionKey (the cloud disk encryption key) is set but Encrypted is not true")
        if self.TDE and self.TDE.TDEStatus == "enabled" and self.ReplicationFactor == SINGLE_NODE:
            raise ValueError("TDE is enabled on a single-node instance (ReplicationFactor 1): "
                             "TDE needs a replica set or sharded cluster")
        return self

    def item(self) -> dict:
        """The DescribeDBInstances item: only the listing's own fields."""
        return m.DescribeDBInstancesResponseBodyDBInstancesDBInstance().from_map(self.wire()).to_map()

    def attribute(self) -> dict:
        """The DescribeDBInstanceAttribute item: the Attribute's fields, without the TDE answer."""
        data = self.wire()
        data.pop("TDE", None)
        return _ATTRIBUTE_ITEM().from_map(data).to_map()


class MongodbSection(AccountSection):
    section: ClassVar[str] = "mongodb"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"instances": ("DBInstanceId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("DBInstanceId",)

    instances: list[MongodbInstance] = Field(default_factory=list)


def _instance_not_found() -> errors.ApiError:
    # The code the terraform provider reads as "released" for every Dds per-instance read (its
    # MongoDBService); UNCONFIRMED: the HTTP status and the message.
    return errors.ApiError("InvalidDBInstanceId.NotFound", "The DBInstanceId provided does not exist in our records.", 404)


class Mongodb(RpcProduct):
    code = "mongodb"
    service_name = "Dds"
    version = "2015-12-01"
    endpoint_prefix = "mongodb"

    def _instance(self, call: Call) -> MongodbInstance:
        # Instance ids are global: the per-instance reads carry no RegionId.
        instance_id = call.require("DBInstanceId")
        found = find(self.account.mongodb.instances, DBInstanceId=instance_id)
        if found is None:
            raise _instance_not_found()
        call.refer("ACS::MongoDB::DBInstance", instance_id)
        return found

    @api("DescribeDBInstances")
    def describe_dbinstances(self, call: Call) -> dict:
        instances = list(self.account.mongodb.instances)
        # The SDK maps most regions to the central endpoint mongodb.aliyuncs.com: without a RegionId
        # the answer spans every region (UNCONFIRMED, as for R-kvstore).
        if (region := call.get("RegionId")) is not None:
            self.known_region(region)  # UNCONFIRMED for Dds: the code ECS answers for an unknown region
            instances = [i for i in instances if i.RegionId == region]
        kind = call.get("DBInstanceType", "replicate")
        if kind not in INSTANCE_TYPES:
            raise errors.invalid_parameter("DBInstanceType", f"Valid values: {', '.join(INSTANCE_TYPES)}.")
        instances = [i for i in instances if i.DBInstanceType == kind]
        if (instance_id := call.get("DBInstanceId")) is not None:
            instances = [i for i in instances if i.DBInstanceId == instance_id]
        for name in _EQUALITY_FILTERS:
            if (value := call.get(name)) is not None:
                instances = [i for i in instances if getattr(i, name, None) == value]
        size = call.int("PageSize", PAGE_SIZES[0])
        if size not in PAGE_SIZES:  # the documented values; UNCONFIRMED that others are refused, and how
            raise errors.invalid_parameter("PageSize", f"Valid values: {', '.join(map(str, PAGE_SIZES))}.")
        page, total, number, size = paginate_numbers(instances, call, default_size=PAGE_SIZES[0], max_size=PAGE_SIZES[-1])
        items = [m.DescribeDBInstancesResponseBodyDBInstancesDBInstance().from_map(i.item()) for i in page]
        return m.DescribeDBInstancesResponseBody(
            dbinstances=m.DescribeDBInstancesResponseBodyDBInstances(dbinstance=items),
            page_number=number, page_size=size, total_count=total,
        ).to_map()

    @api("DescribeDBInstanceAttribute")
    def describe_dbinstance_attribute(self, call: Call) -> dict:
        if call.bool("IsDelete"):  # released instances: the account file holds none
            return m.DescribeDBInstanceAttributeResponseBody(
                dbinstances=m.DescribeDBInstanceAttributeResponseBodyDBInstances(dbinstance=[])).to_map()
        item = _ATTRIBUTE_ITEM().from_map(self._instance(call).attribute())
        return m.DescribeDBInstanceAttributeResponseBody(
            dbinstances=m.DescribeDBInstanceAttributeResponseBodyDBInstances(dbinstance=[item])).to_map()

    @api("DescribeDBInstanceTDEInfo")
    def describe_dbinstance_tde_info(self, call: Call) -> dict:
        instance = self._instance(call)
        # UNCONFIRMED: what a single-node instance (which cannot use TDE) is answered; the terraform
        # provider never asks them, nor does the scanner. They are answered as TDE off here.
        tde = instance.TDE or MongodbTde()
        if tde.TDEStatus != "enabled":
            return m.DescribeDBInstanceTDEInfoResponseBody(tdestatus="disabled").to_map()
        return m.DescribeDBInstanceTDEInfoResponseBody(
            tdestatus="enabled", encryption_key=tde.EncryptionKey, encryptor_name=tde.EncryptorName or DEFAULT_ENCRYPTOR,
            role_arn=tde.RoleARN,
        ).to_map()
