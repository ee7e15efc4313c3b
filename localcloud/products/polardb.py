"""PolarDB 2017-08-01: the cluster listing and the per-cluster encryption reads (dependency-apis.md §5).

- DescribeDBClusters: `Items.DBCluster[]` (no encryption field); PageNumber/PageSize where PageSize is
  30, 50 or 100 (default 30), with TotalRecordCount. PolarDB has no reverse lookup by key.
- DescribeDBClusterTDE -> TDEStatus, EncryptionKey, EncryptionKeyStatus, TDERegion, ...
- DescribeDBClusterEncryptionKey -> EncryptionKeyList[] {EncryptionKey, UsedBy (TDE | DiskEncryption),
  KeyType, EncryptionKeyStatus, ...}: every key the cluster uses, TDE and storage alike.

The account file's cluster record: the DescribeDBClusters item's wire names (DBClusterId, RegionId,
DBType, DBClusterStatus, DBClusterDescription, LockMode, ...), plus the encryption facts grouped by use:
  TDE:               {TDEStatus, EncryptionKey}   as DescribeDBClusterTDE names them
  StorageEncryption: {StorageEncryptionKey}       as CreateDBCluster names the storage key
Any other field is refused.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_polardb20170801 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.records import AccountSection, Record, StrictRecord, find

PAGE_SIZES = (30, 50, 100)  # the documented PageSize values; 30 is the default


class PolardbTde(StrictRecord):
    TDEStatus: Literal["Enabled", "Disabled"] = "Disabled"
    EncryptionKey: Optional[str] = None


class PolardbStorageEncryption(StrictRecord):
    StorageEncryptionKey: str


class PolardbCluster(Record):
    sdk_model: ClassVar[Any] = m.DescribeDBClustersResponseBodyItemsDBCluster

    DBClusterId: str
    RegionId: str
    DBType: Literal["MySQL", "PostgreSQL", "Oracle"] = "MySQL"
    DBClusterStatus: str = "Running"
    TDE: Optional[PolardbTde] = None
    StorageEncryption: Optional[PolardbStorageEncryption] = None

    def item(self) -> dict:
        """The DescribeDBClusters item: the encryption facts are not in the listing."""
        data = self.wire()
        data.pop("TDE", None)
        data.pop("StorageEncryption", None)
        return data

    def key_uses(self) -> list[tuple[str, str]]:
        """(key id, UsedBy) for every key the cluster uses."""
        uses = []
        if self.TDE and self.TDE.TDEStatus == "Enabled" and self.TDE.EncryptionKey:
            uses.append((self.TDE.EncryptionKey, "TDE"))
        if self.StorageEncryption:
            uses.append((self.StorageEncryption.StorageEncryptionKey, "DiskEncryption"))
        return uses


class PolardbSection(AccountSection):
    section: ClassVar[str] = "polardb"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"clusters": ("DBClusterId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("DBClusterId",)

    clusters: list[PolardbCluster] = Field(default_factory=list)


def _cluster_not_found() -> errors.ApiError:
    # The code and message PolarDB's cluster-level APIs document (DeleteDBCluster, CheckConnectionString);
    # UNCONFIRMED for the encryption reads, whose pages list no error codes. Some PolarDB APIs spell it
    # InvalidDBClusterId.NotFound; the scanner accepts both.
    return errors.ApiError("InvalidDBCluster.NotFound", "The DBClusterId provided does not exist in our records.", 404)


class Polardb(RpcProduct):
    code = "polardb"
    service_name = "polardb"
    version = "2017-08-01"
    endpoint_prefix = "polardb"

    def _cluster(self, call: Call) -> PolardbCluster:
        cluster_id = call.require("DBClusterId")
        cluster = find(self.account.polardb.clusters, DBClusterId=cluster_id)
        if cluster is None:
            raise _cluster_not_found()
        call.refer("ACS::POLARDB::DBCluster", cluster_id)
        return cluster

    @api("DescribeDBClusters")
    def describe_dbclusters(self, call: Call) -> dict:
        region = self.known_region(call.require("RegionId"))
        clusters = [c for c in self.account.polardb.clusters if c.RegionId == region]
        if ids := call.get("DBClusterIds"):  # several ids, comma-separated
            wanted = set(ids.split(","))
            clusters = [c for c in clusters if c.DBClusterId in wanted]
        for name in ("DBType", "DBClusterStatus"):
            if (value := call.get(name)) is not None:
                clusters = [c for c in clusters if getattr(c, name) == value]
        if (size := call.int("PageSize")) is not None and size not in PAGE_SIZES:
            raise errors.invalid_parameter("PageSize", "Valid values: 30, 50 and 100.")
        page, total, number, _ = paginate_numbers(clusters, call, default_size=PAGE_SIZES[0], max_size=PAGE_SIZES[-1])
        items = m.DescribeDBClustersResponseBodyItems(
            dbcluster=[m.DescribeDBClustersResponseBodyItemsDBCluster().from_map(c.item()) for c in page])
        return m.DescribeDBClustersResponseBody(items=items, page_number=number, page_record_count=len(page),
                                                total_record_count=total).to_map()

    @api("DescribeDBClusterTDE")
    def describe_dbcluster_tde(self, call: Call) -> dict:
        cluster = self._cluster(call)
        tde = cluster.TDE or PolardbTde()
        key = self.key_list([(tde.EncryptionKey, "TDE")])[0] if tde.EncryptionKey else {}
        return m.DescribeDBClusterTDEResponseBody(dbcluster_id=cluster.DBClusterId, tdestatus=tde.TDEStatus,
                                                  encryption_key=tde.EncryptionKey,
                                                  encryption_key_status=key.get("EncryptionKeyStatus"),
                                                  tderegion=cluster.RegionId if tde.EncryptionKey else None).to_map()

    @api("DescribeDBClusterEncryptionKey")
    def describe_dbcluster_encryption_key(self, call: Call) -> dict:
        cluster = self._cluster(call)
        listed = [m.DescribeDBClusterEncryptionKeyResponseBodyEncryptionKeyList().from_map(entry)
                  for entry in self.key_list(cluster.key_uses())]
        return m.DescribeDBClusterEncryptionKeyResponseBody(encryption_key_list=listed).to_map()
