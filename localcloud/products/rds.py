"""RDS 2014-08-15: the instance listing, the reverse lookup by KMS key and the two per-instance
encryption reads (dependency-apis.md §4).

- DescribeDBInstances: `Items.DBInstance[]` (no encryption field); PageNumber/PageSize (1-100, default
  30, TotalRecordCount) or NextToken/MaxResults (1-100, default 30).
- DescribeKmsAssociateResources: KmsResourceType=key, KmsResourceId, KmsResourceUser (the key owner's
  UID) -> AssociateStatus and AssociateDBInstances[] {DBInstanceName, Engine, KeyUsedBy (DiskEncryption |
  TDE), Status}: one entry per use. Its Status has a vocabulary of its own (LOOKUP_STATUS).
- DescribeDBInstanceTDE -> TDEStatus, EncryptionKey, TDEMode.
- DescribeDBInstanceEncryptionKey -> the cloud-disk key (EncryptionKey, EncryptionKeyStatus, ...) and
  EncryptionKeyList[] with every key the instance uses and what for (UsedBy TDE | DiskEncryption).

The account file's instance record: the DescribeDBInstances item's wire names (DBInstanceId, RegionId,
Engine, DBInstanceStatus, DBInstanceDescription, ...), plus what the two encryption reads return, each
grouped under the use it describes:
  TDE:            {TDEStatus, EncryptionKey, TDEMode}          as DescribeDBInstanceTDE names them
  DiskEncryption: {EncryptionKey, EncryptionKeyStatus}         as DescribeDBInstanceEncryptionKey names them
Any other field is refused.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_rds20140815 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers, paginate_token
from localcloud.records import AccountSection, Record, StrictRecord, find

PAGE_DEFAULT, PAGE_MAX = 30, 100

# DescribeKmsAssociateResources' Status values, as its doc lists them (CREATING, ACTIVATION, DELETING,
# RESTARTING, CLASS_CHANGING, INS_MAINTAINING, BACKUP_RECOVERING, NET_MODIFYING), for the
# DescribeDBInstances status each one describes. UNCONFIRMED: the lookup's spelling of a status with no
# counterpart in that list (Stopped, TRANSING, ...); it is answered upper-cased ("STOPPED").
LOOKUP_STATUS = {
    "Creating": "CREATING", "Running": "ACTIVATION", "Deleting": "DELETING", "Rebooting": "RESTARTING",
    "DBInstanceClassChanging": "CLASS_CHANGING", "Restoring": "BACKUP_RECOVERING",
    "DBInstanceNetTypeChanging": "NET_MODIFYING",
}


class RdsTde(StrictRecord):
    TDEStatus: Literal["Enabled", "Disabled"] = "Disabled"
    EncryptionKey: Optional[str] = None
    TDEMode: Optional[Literal["Aliyun_Generate_Key", "Customer_Provided_Key", "Unknown"]] = None


class RdsDiskEncryption(StrictRecord):
    EncryptionKey: str
    EncryptionKeyStatus: Literal["Enabled", "Disabled"] = "Enabled"


class RdsInstance(Record):
    sdk_model: ClassVar[Any] = m.DescribeDBInstancesResponseBodyItemsDBInstance

    DBInstanceId: str
    RegionId: str
    Engine: Literal["MySQL", "SQLServer", "PostgreSQL", "MariaDB"] = "MySQL"
    DBInstanceStatus: str = "Running"
    TDE: Optional[RdsTde] = None
    DiskEncryption: Optional[RdsDiskEncryption] = None

    def item(self) -> dict:
        """The DescribeDBInstances item: the encryption facts are not in the listing."""
        data = self.wire()
        data.pop("TDE", None)
        data.pop("DiskEncryption", None)
        return data

    def key_uses(self) -> list[tuple[str, str]]:
        """(key id, use) for every key the instance uses, use spelled as KeyUsedBy/UsedBy spell it."""
        uses = []
        if self.TDE and self.TDE.TDEStatus == "Enabled" and self.TDE.EncryptionKey:
            uses.append((self.TDE.EncryptionKey, "TDE"))
        if self.DiskEncryption:
            uses.append((self.DiskEncryption.EncryptionKey, "DiskEncryption"))
        return uses

    def lookup_status(self) -> str:
        return LOOKUP_STATUS.get(self.DBInstanceStatus, self.DBInstanceStatus.upper())


class RdsSection(AccountSection):
    section: ClassVar[str] = "rds"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"instances": ("DBInstanceId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("DBInstanceId",)

    instances: list[RdsInstance] = Field(default_factory=list)


def _instance_not_found() -> errors.ApiError:
    # As the RDS API reference lists it (ModifyDBInstanceSpec's error codes); UNCONFIRMED that the two
    # encryption reads answer with this same status and message.
    return errors.ApiError("InvalidDBInstanceId.NotFound", "The DBInstanceId provided does not exist in records.", 400)


class Rds(RpcProduct):
    code = "rds"
    service_name = "Rds"
    version = "2014-08-15"
    endpoint_prefix = "rds"

    def _in_region(self, region: str) -> list[RdsInstance]:
        region = self.known_region(region)
        return [i for i in self.account.rds.instances if i.RegionId == region]

    def _instance(self, call: Call) -> RdsInstance:
        instance_id = call.require("DBInstanceId")
        instance = find(self.account.rds.instances, DBInstanceId=instance_id)
        if instance is None:
            raise _instance_not_found()
        call.refer("ACS::RDS::DBInstance", instance_id)
        return instance

    @api("DescribeDBInstances")
    def describe_dbinstances(self, call: Call) -> dict:
        instances = self._in_region(call.require("RegionId"))
        if ids := call.get("DBInstanceId"):  # several ids, comma-separated
            wanted = set(ids.split(","))
            instances = [i for i in instances if i.DBInstanceId in wanted]
        for name in ("Engine", "DBInstanceStatus"):
            if (value := call.get(name)) is not None:
                instances = [i for i in instances if getattr(i, name) == value]

        def items(page: list[RdsInstance]):
            return m.DescribeDBInstancesResponseBodyItems(
                dbinstance=[m.DescribeDBInstancesResponseBodyItemsDBInstance().from_map(i.item()) for i in page])

        if call.get("MaxResults") or call.get("NextToken"):
            page, token = paginate_token(instances, call, default_size=PAGE_DEFAULT, max_size=PAGE_MAX)
            return m.DescribeDBInstancesResponseBody(items=items(page), next_token=token or None, page_record_count=len(page),
                                                     total_record_count=len(instances)).to_map()
        page, total, number, _ = paginate_numbers(instances, call, default_size=PAGE_DEFAULT, max_size=PAGE_MAX)
        return m.DescribeDBInstancesResponseBody(items=items(page), page_number=number, page_record_count=len(page),
                                                 total_record_count=total).to_map()

    @api("DescribeKmsAssociateResources")
    def describe_kms_associate_resources(self, call: Call) -> dict:
        if call.require("KmsResourceType") != "key":
            raise errors.invalid_parameter("KmsResourceType", "Only key is supported.")
        key_id = call.require("KmsResourceId")
        owner = call.require("KmsResourceUser")
        instances = self._in_region(call.get("KmsResourceRegionId") or call.region)
        associated = []
        if owner == self.account.account_id:  # another account's key is not this account's to associate
            for instance in instances:
                for used_key, used_by in instance.key_uses():
                    if used_key.rsplit("/", 1)[-1] == key_id:
                        associated.append(m.DescribeKmsAssociateResourcesResponseBodyAssociateDBInstances(
                            dbinstance_name=instance.DBInstanceId, engine=instance.Engine, key_used_by=used_by,
                            status=instance.lookup_status()))
        return m.DescribeKmsAssociateResourcesResponseBody(associate_status=bool(associated),
                                                           associate_dbinstances=associated).to_map()

    @api("DescribeDBInstanceTDE")
    def describe_dbinstance_tde(self, call: Call) -> dict:
        tde = self._instance(call).TDE or RdsTde()
        return m.DescribeDBInstanceTDEResponseBody(tdestatus=tde.TDEStatus, encryption_key=tde.EncryptionKey,
                                                   tdemode=tde.TDEMode).to_map()

    @api("DescribeDBInstanceEncryptionKey")
    def describe_dbinstance_encryption_key(self, call: Call) -> dict:
        # UNCONFIRMED: what the real API answers for an instance with TDE but no disk encryption (third-party
        # code expects NoActiveBYOK for some); here the list names the TDE key, as its UsedBy values allow.
        instance = self._instance(call)
        listed = [m.DescribeDBInstanceEncryptionKeyResponseBodyEncryptionKeyList().from_map(entry)
                  for entry in self.key_list(instance.key_uses())]
        disk = instance.DiskEncryption
        return m.DescribeDBInstanceEncryptionKeyResponseBody(
            encryption_key=disk.EncryptionKey if disk else None,
            encryption_key_status=disk.EncryptionKeyStatus if disk else None,
            encryption_key_list=listed,
        ).to_map()
