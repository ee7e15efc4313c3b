"""PolarDB clusters that use the key for TDE or storage encryption (dependency-apis.md §5).

PolarDB has no reverse lookup by key: list the region's clusters (the largest page, the later pages
fetched concurrently), then one DescribeDBClusterEncryptionKey per cluster. Its EncryptionKeyList names
every key the cluster uses with UsedBy TDE or DiskEncryption, so that one call covers both uses;
DescribeDBClusterTDE would only repeat the TDE one.

Not remembered by the warm audit (shared/audit/facts.py): the answer can change, since TDE can be enabled on an
existing cluster, with a key of the caller's choice ("PolarDB: ModifyDBClusterTDE", "Enables the TDE feature or
changes the encryption method", https://www.alibabacloud.com/help/doc-detail/167982.htm). Read fresh every time.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from alibabacloud_polardb20170801 import models as polardb

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 100  # DescribeDBClusters takes 30, 50 or 100
# Released between the listing and the describe; PolarDB's pages spell the code both ways.
GONE = ("InvalidDBCluster.NotFound", "InvalidDBClusterId.NotFound")
# Cluster states (PolarDB's cluster state table) in which nothing serves the data: stopped, being
# released, released. A cluster locked because its subscription expired serves nothing either.
AT_REST = ("Stopped", "Deleting", "Deleted")
EXPIRED_LOCK = "LockByExpiration"
USES = {"TDE": "TDE (transparent data encryption)", "DiskEncryption": "storage encryption"}


class Cluster(NamedTuple):
    """What the scanner keeps of a listed cluster (a listing of thousands is not kept whole)."""

    id: str
    name: Optional[str]
    status: Optional[str]
    engine: Optional[str]
    lock_mode: Optional[str]


class PolardbClustersScanner:
    name = "polardb_clusters"
    service = "PolarDB"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.polardb(target.region)

        def page(number: int):
            request = polardb.DescribeDBClustersRequest(region_id=target.region, page_number=number, page_size=PAGE_SIZE)
            return clients.call("polardb:DescribeDBClusters", client.describe_dbclusters, request).body

        # The answer reports no page size (PageRecordCount is the number of items on the page): the
        # helper learns it from the items when the service pages by fewer than asked.
        clusters = items_by_number(page, lambda b: b.items and b.items.dbcluster, lambda b: b.total_record_count, PAGE_SIZE,
                                   keep=lambda c: Cluster(c.dbcluster_id, c.dbcluster_description, c.dbcluster_status, c.dbtype,
                                                          c.lock_mode),
                                   key=lambda c: c.id, api="DescribeDBClusters", noun="clusters")

        def dependent(cluster: Cluster) -> Dependent | None:
            """The cluster as a dependent of the key, or None: it does not use the key, or it is gone."""
            try:
                body = clients.call("polardb:DescribeDBClusterEncryptionKey", client.describe_dbcluster_encryption_key,
                                    polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id=cluster.id)).body
            except Exception as exc:
                if error_code(exc) in GONE:
                    return None
                raise
            uses = sorted({USES.get(k.used_by, k.used_by or "use not stated")
                           for k in body.encryption_key_list or [] if target.names_key(k.encryption_key)})
            if not uses:
                return None
            return Dependent(
                service=self.service, resource_type="ACS::POLARDB::DBCluster", resource_id=cluster.id, region=target.region,
                state="inert" if cluster.status in AT_REST or cluster.lock_mode == EXPIRED_LOCK else "live",
                name=cluster.name or None, usage=" and ".join(uses),
                detail={k: v for k, v in {"engine": cluster.engine, "status": cluster.status,
                                          "lock": None if cluster.lock_mode == "Unlock" else cluster.lock_mode}.items() if v},
            )

        return [d for d in fan_out(dependent, clusters) if d is not None]
