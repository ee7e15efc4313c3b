"""RDS 2014-08-15: the instance listing, the reverse lookup by KMS key and the two per-instance
encryption reads (dependency-apis.md §4).

- DescribeDBInstances: `Items.DBInstance[]` (no encryption field), PageNumber/PageSize (1-100,
  TotalRecordCount) or NextToken/MaxResults.
- DescribeKmsAssociateResources: KmsResourceType=key, KmsResourceId, KmsResourceUser (the key
  owner's UID) -> AssociateStatus and AssociateDBInstances[] {DBInstanceName, Engine, KeyUsedBy
  (DiskEncryption | TDE), Status}; one entry per use.
- DescribeDBInstanceTDE -> TDEStatus, EncryptionKey, TDEMode.
- DescribeDBInstanceEncryptionKey -> the disk-encryption key (EncryptionKey, EncryptionKeyStatus, ...)
  and EncryptionKeyList[] with every key the instance uses and what for (UsedBy TDE | DiskEncryption).

An instance record holds the DescribeDBInstances item's wire names plus what the two encryption reads
return, each under the name of the API that returns it: `TDE` (DescribeDBInstanceTDE's fields) and
`DiskEncryption` (DescribeDBInstanceEncryptionKey's fields for the cloud-disk key).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_rds20140815 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers, paginate_token
from localcloud.records import Record, StrictRecord


class RdsTde(StrictRecord):
    TDEStatus: Literal["Enabled", "Disabled"] = "Disabled"
    EncryptionKey: Optional[str] = None
    TDEMode: Optional[Literal["Aliyun_Generate_Key", "Customer_Provided_Key", "Unknown"]] = None


class RdsDiskEncryption(StrictRecord):
    EncryptionKey: str
    EncryptionKeyStatus: Literal["Enabled", "Disabled"] = "Enabled"


class RdsInstance(Record):
    sdk_model: ClassVar[Any] = m.DescribeDBInstancesResponseBodyItemsDBInstance
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId"})

    DBInstanceId: str
    RegionId: str
    Engine: Literal["MySQL", "SQLServer", "PostgreSQL", "MariaDB"] = "MySQL"
    DBInstanceStatus: str = "Running"
    TDE: Optional[RdsTde] = None
    DiskEncryption: Optional[RdsDiskEncryption] = None

    def item(self) -> dict:
        data = self.wire()
        data.pop("TDE", None)
        data.pop("DiskEncryption", None)
        return data

    def key_uses(self) -> list[tuple[str, str]]:
        """(key id, KeyUsedBy) for every use of a customer key."""
        uses = []
        if self.TDE and self.TDE.TDEStatus == "Enabled" and self.TDE.EncryptionKey:
            uses.append((self.TDE.EncryptionKey, "TDE"))
        if self.DiskEncryption:
            uses.append((self.DiskEncryption.EncryptionKey, "DiskEncryption"))
        return uses


class RdsSection(StrictRecord):
    instances: list[RdsInstance] = Field(default_factory=list)


def _instance_not_found(instance_id: str) -> errors.ApiError:
    return errors.ApiError("InvalidDBInstanceId.NotFound", f"Specified instance does not exist or not support. ({instance_id})", 404)


class Rds(RpcProduct):
    code = "rds"
    service_name = "Rds"
    version = "2014-08-15"
    endpoint_prefix = "rds"

    def _instances(self, call: Call) -> list[RdsInstance]:
        region = self.known_region(call.require("RegionId") if call.action == "DescribeDBInstances" else call.region)
        return [i for i in self.account.rds.instances if i.RegionId == region]

    def _instance(self, call: Call) -> RdsInstance:
        instance_id = call.require("DBInstanceId")
        instance = next((i for i in self.account.rds.instances if i.DBInstanceId == instance_id), None)
        if instance is None:
            raise _instance_not_found(instance_id)
        call.refer("ACS::RDS::DBInstance", instance_id)
        return instance

    @api("DescribeDBInstances")
    def describe_dbinstances(self, call: Call) -> dict:
        instances = self._instances(call)
        if ids := call.get("DBInstanceId"):
            wanted = set(ids.split(","))
            instances = [i for i in instances if i.DBInstanceId in wanted]
        for name, attr in (("Engine", "Engine"), ("DBInstanceStatus", "DBInstanceStatus")):
            if (value := call.get(name)) is not None:
                instances = [i for i in instances if getattr(i, attr) == value]
        items = lambda page: m.DescribeDBInstancesResponseBodyItems(  # noqa: E731
            dbinstance=[m.DescribeDBInstancesResponseBodyItemsDBInstance().from_map(i.item()) for i in page])
        if call.get("MaxResults") or call.get("NextToken"):
            page, token = paginate_token(instances, call, default_size=30, max_size=100)
            return m.DescribeDBInstancesResponseBody(items=items(page), next_token=token or None,
                                                     page_record_count=len(page), total_record_count=len(instances)).to_map()
        page, total, number, size = paginate_numbers(instances, call, default_size=30, max_size=100)
        return m.DescribeDBInstancesResponseBody(items=items(page), page_number=number, page_record_count=len(page),
                                                 total_record_count=total).to_map()

    @api("DescribeKmsAssociateResources")
    def describe_kms_associate_resources(self, call: Call) -> dict:
        if call.require("KmsResourceType") != "key":
            raise errors.invalid_parameter("KmsResourceType", "Only key is supported.")
        key_id = call.require("KmsResourceId")
        owner = call.require("KmsResourceUser")
        region = call.get("KmsResourceRegionId") or call.region
        associated = []
        if owner == self.account.account_id:  # another account's key cannot be associated here
            for instance in self._instances(call):
                for used_key, used_by in instance.key_uses():
                    if used_key.rsplit("/", 1)[-1] == key_id and instance.RegionId == region:
                        associated.append(m.DescribeKmsAssociateResourcesResponseBodyAssociateDBInstances(
                            dbinstance_name=instance.DBInstanceId, engine=instance.Engine, key_used_by=used_by,
                            status=instance.DBInstanceStatus))
        return m.DescribeKmsAssociateResourcesResponseBody(associate_status=bool(associated),
                                                           associate_dbinstances=associated).to_map()

    @api("DescribeDBInstanceTDE")
    def describe_dbinstance_tde(self, call: Call) -> dict:
        instance = self._instance(call)
        tde = instance.TDE or RdsTde()
        return m.DescribeDBInstanceTDEResponseBody(tdestatus=tde.TDEStatus, encryption_key=tde.EncryptionKey,
                                                   tdemode=tde.TDEMode).to_map()

    @api("DescribeDBInstanceEncryptionKey")
    def describe_dbinstance_encryption_key(self, call: Call) -> dict:
        instance = self._instance(call)
        listed = [m.DescribeDBInstanceEncryptionKeyResponseBodyEncryptionKeyList().from_map(entry)
                  for entry in self.key_list(instance.key_uses())]
        disk = instance.DiskEncryption
        return m.DescribeDBInstanceEncryptionKeyResponseBody(
            encryption_key=disk.EncryptionKey if disk else None,
            encryption_key_status=disk.EncryptionKeyStatus if disk else None,
            encryption_key_list=listed,
        ).to_map()
