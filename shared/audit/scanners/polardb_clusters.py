"""PolarDB clusters that use the key for TDE or storage encryption.

PolarDB has no reverse lookup by key (dependency-apis.md §5): list the region's clusters (the largest
page, later pages fetched concurrently), then one DescribeDBClusterEncryptionKey per cluster. Its
EncryptionKeyList names every key the cluster uses with UsedBy TDE or DiskEncryption, so one call
covers both uses (DescribeDBClusterTDE would only add the TDE one).
"""
from __future__ import annotations

from alibabacloud_polardb20170801 import models as polardb

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 100  # DescribeDBClusters takes 30, 50 or 100
GONE = ("InvalidDBClusterId.NotFound", "InvalidDBCluster.NotFound")  # released between list and describe
INERT_STATUSES = {"Stopped", "Deleting", "Deleted"}
USES = {"TDE": "TDE (transparent data encryption)", "DiskEncryption": "storage encryption"}


class PolardbClustersScanner:
    name = "polardb_clusters"
    service = "PolarDB"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.polardb(target.region)

        def page(number: int):
            return clients.call("polardb:DescribeDBClusters", client.describe_dbclusters,
                                polardb.DescribeDBClustersRequest(region_id=target.region, page_number=number,
                                                                  page_size=PAGE_SIZE)).body

        clusters = items_by_number(page, lambda b: b.items and b.items.dbcluster, lambda b: b.total_record_count, PAGE_SIZE)

        def used_by(cluster) -> list[str] | None:
            """The cluster's uses of the key (TDE, DiskEncryption); None when it vanished since the listing."""
            try:
                body = clients.call("polardb:DescribeDBClusterEncryptionKey", client.describe_dbcluster_encryption_key,
                                    polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id=cluster.dbcluster_id)).body
            except Exception as exc:
                if error_code(exc) in GONE:
                    return None
                raise
            return sorted({k.used_by for k in body.encryption_key_list or [] if target.names_key(k.encryption_key)})

        found = []
        for cluster, uses in zip(clusters, fan_out(used_by, clusters)):
            if not uses:
                continue
            found.append(Dependent(
                service=self.service, resource_type="ACS::POLARDB::DBCluster", resource_id=cluster.dbcluster_id,
                region=target.region, state="inert" if cluster.dbcluster_status in INERT_STATUSES else "live",
                name=cluster.dbcluster_description or None, usage=" and ".join(USES.get(u, u) for u in uses),
                detail={k: v for k, v in {"engine": cluster.dbtype, "status": cluster.dbcluster_status}.items() if v},
            ))
        return found
