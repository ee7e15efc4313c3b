"""A region's inventory of what depends on which key, read in one pass over each product: every listing is asked
once for the whole region (not once per key, as the per-key audit of shared/audit/ does), and each item naming a key
is filed under that key's id. The deletion_protection check reads it; nothing here runs the per-key audit.

The listings reuse the audit's paging helpers (shared/audit/paging.py: a listing the answers do not prove whole
raises) and its scanners' listing code where that is not tied to one key (the account's bucket listing, ECS's
silent-denial probe, ACK's meta_data reading). A product whose listing fails is named in `incomplete` with the reason
(denied, throttled past retries, a listing not proved whole, silent denial): a key with no dependents found is then
NOT shown to have none, and the check reports itself incomplete.

Products read (the per-key audit's call for the same facts in brackets):
- ECS disks: DescribeDisks(Encrypted=true), 500 a page, each disk's KMSKeyId [ecs_disks filters by key]. An empty
  answer is checked against the region with the audit's own probe (check_disks_visible: silent denial).
- ECS snapshots: DescribeSnapshots(Encrypted=true), 100 a page, each snapshot's KMSKeyId [ecs_snapshots].
- ECS default key: DescribeDiskDefaultKMSKeyId [ecs_default_key].
- OSS buckets: ListBuckets once (shared with the audit's code), GetBucketInfo per bucket of the region [oss_buckets].
- Secrets Manager: ListSecrets + DescribeSecret per secret, shared with the secret checks [kms_secrets].
- NAS: DescribeFileSystems (the key is in the listing) [nas_file_systems].
- PolarDB: DescribeDBClusters, DescribeDBClusterEncryptionKey per cluster [polardb_clusters].
- ACK: DescribeClustersV1, the key read from each Pro cluster's meta_data [ack_clusters].
- SLS: ListProject, ListLogStores, GetLogStore per logstore [sls_logstores].
The Secrets Manager reading describes every secret of the region anyway: what it learned of each secret's encryption
key, which cannot change (shared/audit/scanners/kms_secrets.py cites the documentation), is written to the audit's
facts store (shared/audit/facts.py) when one is given, so key-guard and the pre-flight describe only the secrets it
has not seen. A failure to write is logged and changes nothing here; the inventory never reads the store.
Not inventoried yet (NOT_INVENTORIED; a key used only by these shows no dependents here, which the result's note
says): RDS (its reverse lookup is per key: DescribeKmsAssociateResources), Redis/Tair and MongoDB TDE (a describe
per instance each), OSS replication rules (a call per bucket of every region), and usage evidence (ActionTrail is
searched per key). A resource naming the key by an alias is not matched to it (only ids and key ARNs are).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import oss2
from alibabacloud_cs20151215 import models as cs
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_nas20170626 import models as nas
from alibabacloud_polardb20170801 import models as polardb

from shared.audit.facts import PROCESS_STARTED, FactsPlace
from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number, items_by_offset, items_by_token
from shared.audit.runner import incomplete_reason
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.ack_clusters import AckAuditError, may_encrypt_secrets, secrets_encryption
from shared.audit.scanners.ecs_default_key import NOT_OFFERED
from shared.audit.scanners.ecs_disks import check_disks_visible
from shared.audit.scanners.kms_secrets import remember_secret_keys
from shared.audit.scanners.oss_buckets import all_buckets, bucket_region
from shared.clients import Clients, error_code
from shared.sweeps.kms_reads import secret_metadata

NOT_INVENTORIED = ("RDS", "Redis", "MongoDB", "OSS replication", "usage evidence (ActionTrail)")
Reading = Iterable[tuple[Optional[str], Dependent]]  # (the key as the resource names it, the dependent)


def key_id_of(value: Optional[str]) -> Optional[str]:
    """The key id a resource field names: an id as is, a key ARN (acs:kms:<region>:<uid>:key/<id>) reduced to its id.
    An alias names no id here (None)."""
    if not value or "alias/" in value:
        return None
    return value.rsplit("/", 1)[-1] if value.startswith("acs:kms:") else value


@dataclass
class RegionInventory:
    region: str
    by_key: dict[str, list[Dependent]] = field(default_factory=dict)
    incomplete: dict[str, str] = field(default_factory=dict)  # product -> why its listing is not whole
    products: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def dependents_of(self, key_id: str) -> list[Dependent]:
        return self.by_key.get(key_id, [])

    def reason(self) -> str:
        return "; ".join(f"{product}: {why}" for product, why in self.incomplete.items())


def _ecs_disks(clients: Clients, region: str) -> Reading:
    client = clients.ecs(region)

    def page(token):
        request = ecs.DescribeDisksRequest(region_id=region, encrypted=True, max_results=500, next_token=token)
        return clients.call("ecs:DescribeDisks", client.describe_disks, request).body

    listed = 0
    for disk in items_by_token(page, lambda b: b.disks and b.disks.disk, api="DescribeDisks"):
        listed += 1
        attached = disk.status in ("In_use", "Attaching")
        yield disk.kmskey_id, Dependent(service="ECS", resource_type="ACS::ECS::Disk", resource_id=disk.disk_id, region=region,
                                        state="live" if attached else "inert", name=disk.disk_name or None,
                                        usage=f"{disk.type or 'data'} disk encryption")
    if not listed:  # an empty answer is checked against the region (silent denial), as the audit does
        check_disks_visible(AuditTarget(key_id="", key_arn="", region=region, account_id=""), clients)


def _ecs_snapshots(clients: Clients, region: str) -> Reading:
    client = clients.ecs(region)

    def page(token):
        request = ecs.DescribeSnapshotsRequest(region_id=region, encrypted=True, max_results=100, next_token=token)
        return clients.call("ecs:DescribeSnapshots", client.describe_snapshots, request).body

    for snap in items_by_token(page, lambda b: b.snapshots and b.snapshots.snapshot, api="DescribeSnapshots"):
        yield snap.kmskey_id, Dependent(service="ECS", resource_type="ACS::ECS::Snapshot", resource_id=snap.snapshot_id,
                                        region=region, state="inert", name=snap.snapshot_name or None, usage="snapshot encryption")


def _ecs_default_key(clients: Clients, region: str) -> Reading:
    client = clients.ecs(region)
    try:
        default = clients.call("ecs:DescribeDiskDefaultKMSKeyId", client.describe_disk_default_kmskey_id,
                               ecs.DescribeDiskDefaultKMSKeyIdRequest(region_id=region)).body
    except Exception as exc:
        if error_code(exc) == NOT_OFFERED:
            return
        raise
    if default.kmskey_id:
        yield default.kmskey_id, Dependent(service="ECS", resource_type="ACS::ECS::DiskEncryptionDefault",
                                           resource_id=f"disk-encryption-default/{region}", region=region, state="live",
                                           usage="default key for new encrypted disks")


def _oss_buckets(clients: Clients, region: str) -> Reading:
    buckets = [b for b in all_buckets(clients, region) if bucket_region(b) == region]

    def rule_of(bucket):
        try:
            return clients.call("oss:GetBucketInfo", clients.oss_bucket(bucket.name, region).get_bucket_info).bucket_encryption_rule
        except oss2.exceptions.NoSuchBucket:  # deleted since the listing
            return None

    for bucket, rule in zip(buckets, fan_out(rule_of, buckets)):
        if rule is not None and rule.sse_algorithm == "KMS" and rule.kms_master_keyid:
            yield rule.kms_master_keyid, Dependent(service="OSS", resource_type="ACS::OSS::Bucket", resource_id=bucket.name,
                                                   region=region, state="live", usage="bucket default encryption (SSE-KMS)")


def _kms_secrets(clients: Clients, region: str) -> Reading:
    for body in secret_metadata(clients, region):
        if body.encryption_key_id:
            yield body.encryption_key_id, Dependent(
                service="Secrets Manager", resource_type="ACS::KMS::Secret", resource_id=body.secret_name, region=region,
                state="inert" if body.planned_delete_time else "live", name=body.secret_name,
                usage=f"{body.secret_type or 'Generic'} secret values encrypted with the key")


def _nas(clients: Clients, region: str) -> Reading:
    client = clients.nas(region)

    def page(number: int):
        request = nas.DescribeFileSystemsRequest(file_system_type="all", page_number=number, page_size=100)
        return clients.call("nas:DescribeFileSystems", client.describe_file_systems, request).body

    for fs in items_by_number(page, lambda b: b.file_systems and b.file_systems.file_system, lambda b: b.total_count, 100,
                              size_of=lambda b: b.page_size, key=lambda f: f.file_system_id, api="DescribeFileSystems",
                              noun="file systems"):
        if fs.encrypt_type in (1, 2) and fs.kmskey_id:
            yield fs.kmskey_id, Dependent(service="NAS", resource_type="ACS::NAS::FileSystem", resource_id=fs.file_system_id,
                                          region=region, state="inert" if fs.status in ("Stopped", "Stopping", "Deleting") else "live",
                                          usage="file system encryption")


def _polardb(clients: Clients, region: str) -> Reading:
    client = clients.polardb(region)

    def page(number: int):
        request = polardb.DescribeDBClustersRequest(region_id=region, page_number=number, page_size=100)
        return clients.call("polardb:DescribeDBClusters", client.describe_dbclusters, request).body

    clusters = items_by_number(page, lambda b: b.items and b.items.dbcluster, lambda b: b.total_record_count, 100,
                               keep=lambda c: (c.dbcluster_id, c.dbcluster_status), key=lambda c: c[0],
                               api="DescribeDBClusters", noun="clusters")

    def keys_of(cluster):
        try:
            body = clients.call("polardb:DescribeDBClusterEncryptionKey", client.describe_dbcluster_encryption_key,
                                polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id=cluster[0])).body
        except Exception as exc:
            if error_code(exc) in ("InvalidDBCluster.NotFound", "InvalidDBClusterId.NotFound"):
                return []
            raise
        return [(k.encryption_key, k.used_by) for k in body.encryption_key_list or [] if k.encryption_key]

    for (cluster_id, status), keys in zip(clusters, fan_out(keys_of, clusters)):
        for key, used_by in keys:
            yield key, Dependent(service="PolarDB", resource_type="ACS::POLARDB::DBCluster", resource_id=cluster_id,
                                 region=region, state="inert" if status in ("Stopped", "Deleting", "Deleted") else "live",
                                 usage=used_by or "encryption")


def _ack(clients: Clients, region: str) -> Reading:
    client = clients.cs(region)

    def page(number: int):
        request = cs.DescribeClustersV1Request(region_id=region, page_number=number, page_size=50)
        return clients.call("cs:DescribeClustersV1", client.describe_clusters_v1, request).body

    listed = items_by_number(page, lambda b: b.clusters, lambda b: b.page_info and b.page_info.total_count, 50,
                             size_of=lambda b: b.page_info and b.page_info.page_size, key=lambda c: c.cluster_id,
                             api="DescribeClustersV1", noun="clusters")
    for cluster in {c.cluster_id: c for c in listed if c.region_id in (None, region)}.values():
        meta_data = cluster.meta_data
        if not meta_data and may_encrypt_secrets(cluster):
            meta_data = clients.call("cs:DescribeClusterDetail", client.describe_cluster_detail, cluster.cluster_id).body.meta_data
            if not meta_data:
                raise AckAuditError("MissingMetaData", f"cluster {cluster.cluster_id}: no meta_data, so its Secrets "
                                                       "encryption key cannot be read")
        if not meta_data:
            continue
        try:
            caps = secrets_encryption(cluster.cluster_id, meta_data)
        except AckAuditError:
            if may_encrypt_secrets(cluster):
                raise
            continue
        key = caps.get("EncryptionKMSKeyId")
        if isinstance(key, str) and key:
            disabled = caps.get("DisableEncryption") is True
            yield key, Dependent(service="ACK", resource_type="ACS::ACK::Cluster", resource_id=cluster.cluster_id, region=region,
                                 state="inert" if disabled or cluster.state in ("stopped", "deleted", "failed") else "live",
                                 name=cluster.name or None, usage="Kubernetes Secrets encryption at rest")


def _sls(clients: Clients, region: str) -> Reading:
    log = clients.sls(region)
    projects = [p["projectName"] for p in items_by_offset(
        lambda off: clients.call("sls:ListProject", log.list_project, off, 500), lambda r: r.get_projects(),
        lambda r: r.get_total(), key=lambda p: p["projectName"], api="ListProject", noun="projects")]

    def stores_of(project: str):
        return [(project, name) for name in items_by_offset(
            lambda off: clients.call("sls:ListLogStores", log.list_logstore, project, None, off, 500),
            lambda r: r.get_logstores(), lambda r: r.get_total(), key=lambda n: n, api=f"ListLogStores ({project})",
            noun="logstores")]

    stores = [s for per_project in fan_out(stores_of, projects) for s in per_project]

    def conf_of(store):
        try:
            return clients.call("sls:GetLogStore", log.get_logstore, *store).get_encrypt_conf() or {}
        except Exception as exc:
            if error_code(exc) in ("LogStoreNotExist", "ProjectNotExist"):
                return {}
            raise

    for (project, name), conf in zip(stores, fan_out(conf_of, stores)):
        key = (conf.get("user_cmk_info") or {}).get("cmk_key_id")
        if key:
            yield key, Dependent(service="SLS", resource_type="ACS::SLS::Logstore", resource_id=f"{project}/{name}",
                                 region=region, state="live" if conf.get("enable") else "inert", name=name,
                                 usage="logstore encryption with the key")


READERS: dict[str, Callable[[Clients, str], Reading]] = {
    "ECS disks": _ecs_disks,
    "ECS snapshots": _ecs_snapshots,
    "ECS default key": _ecs_default_key,
    "OSS buckets": _oss_buckets,
    "Secrets Manager": _kms_secrets,
    "NAS": _nas,
    "PolarDB": _polardb,
    "ACK": _ack,
    "SLS": _sls,
}


def build_inventory(clients: Clients, region: str, readers: dict[str, Callable[[Clients, str], Reading]] = READERS, *,
                    account_id: str = "", facts: Optional[FactsPlace] = None) -> RegionInventory:
    """Every product's listing of the region, concurrently, each once per run (shared by every check asking). With
    `facts` (and the account the clients read), what the secrets' describes taught is remembered for the audits."""
    def build() -> RegionInventory:
        inventory = RegionInventory(region=region, products=tuple(readers))
        lock = threading.Lock()

        def read(product: str) -> None:
            try:
                found = list(readers[product](clients, region))
            except Exception as exc:  # fail safe: this product's dependents are unknown, and said so
                with lock:
                    inventory.incomplete[product] = incomplete_reason(exc)
                return
            with lock:
                for ref, dependent in found:
                    key_id = key_id_of(ref)
                    if key_id:
                        inventory.by_key.setdefault(key_id, []).append(dependent)

        with ThreadPoolExecutor(max_workers=len(readers) or 1, thread_name_prefix="inventory") as pool:
            list(pool.map(read, readers))
        inventory.incomplete = {p: inventory.incomplete[p] for p in readers if p in inventory.incomplete}  # table order
        if facts is not None and readers.get("Secrets Manager") is _kms_secrets and "Secrets Manager" not in inventory.incomplete:
            # The describes were made by secret_metadata, once per run, perhaps by another check before this one: the
            # one instant known to precede them is when this process started (a fact is never dated after its lesson).
            remember_secret_keys(clients, facts, account_id, region, secret_metadata(clients, region),
                                 learned_at=PROCESS_STARTED)
        return inventory

    return clients.once(("sweep:inventory", region), build)
