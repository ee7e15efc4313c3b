"""The baseline the benchmark compares the audit with: an operator following a runbook with the CLI.

One call at a time: list every resource of each product (largest page the API allows), then, where
the listing does not carry the key, describe each resource in turn. Disks, snapshots and NAS file
systems carry their key in the listing (ACK clusters in the listing's meta_data), so the runbook reads
it there; a runbook does not know the reverse lookups (KMSKeyId filters, DescribeKmsAssociateResources),
which is the point of comparing.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import oss2
from alibabacloud_actiontrail20200706 import models as at
from alibabacloud_cs20151215 import models as cs
from alibabacloud_dds20151201 import models as dds
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_kms20160120 import models as kms
from alibabacloud_nas20170626 import models as nas
from alibabacloud_polardb20170801 import models as polardb
from alibabacloud_r_kvstore20150101 import models as redis
from alibabacloud_rds20140815 import models as rds

from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code


def _pages(fetch, items_of, total_of, size):
    page, out = 1, []
    while True:
        body = fetch(page, size)
        out += list(items_of(body) or [])
        if page * size >= (total_of(body) or 0):
            return out
        page += 1


def _optional(fn, *missing_codes):
    """A describe that answers 'nothing here' with an error code (no TDE, no replication rule)."""
    try:
        return fn()
    except Exception as exc:
        if error_code(exc) in missing_codes or isinstance(exc, oss2.exceptions.NotFound):
            return None
        raise


def sequential_scan(target: AuditTarget, clients: Clients) -> dict[str, list[str]]:
    """What the runbook finds, per product: the ids of resources that name the key."""
    r, key = target.region, target.key_id
    found: dict[str, list[str]] = {}
    call = clients.call

    c = clients.ecs(r)
    disks = _pages(lambda p, s: call("ecs:DescribeDisks", c.describe_disks, ecs.DescribeDisksRequest(region_id=r, page_number=p, page_size=s)).body,
                   lambda b: b.disks and b.disks.disk, lambda b: b.total_count, 100)
    found["ecs_disks"] = [d.disk_id for d in disks if d.kmskey_id == key]
    snaps = _pages(lambda p, s: call("ecs:DescribeSnapshots", c.describe_snapshots,
                                     ecs.DescribeSnapshotsRequest(region_id=r, page_number=p, page_size=s)).body,
                   lambda b: b.snapshots and b.snapshots.snapshot, lambda b: b.total_count, 100)
    found["ecs_snapshots"] = [s.snapshot_id for s in snaps if s.kmskey_id == key]

    service = clients.oss_service(r)
    buckets, marker = [], ""
    while True:
        listing = call("oss:ListBuckets", service.list_buckets, marker=marker, max_keys=1000)
        buckets += [b for b in listing.buckets if (b.region or b.location.removeprefix("oss-")) == r]
        if not listing.is_truncated:
            break
        marker = listing.next_marker
    found["oss_buckets"] = []
    for b in buckets:
        bucket = clients.oss_bucket(b.name, r)
        rule = _optional(lambda: call("oss:GetBucketEncryption", bucket.get_bucket_encryption), "NoSuchServerSideEncryptionRule")
        replication = _optional(lambda: call("oss:GetBucketReplication", bucket.get_bucket_replication),
                                "NoSuchReplicationConfiguration")
        uses = rule is not None and target.names_key(rule.kms_master_keyid)
        uses = uses or any(target.names_key(getattr(rule_, "replica_kms_keyid", None)) for rule_ in getattr(replication, "rule_list", None) or [])
        if uses:
            found["oss_buckets"].append(b.name)

    c = clients.rds(r)
    instances = _pages(lambda p, s: call("rds:DescribeDBInstances", c.describe_dbinstances,
                                         rds.DescribeDBInstancesRequest(region_id=r, page_number=p, page_size=s)).body,
                       lambda b: b.items and b.items.dbinstance, lambda b: b.total_record_count, 100)
    found["rds_instances"] = []
    for i in instances:
        tde = _optional(lambda: call("rds:DescribeDBInstanceTDE", c.describe_dbinstance_tde,
                                     rds.DescribeDBInstanceTDERequest(dbinstance_id=i.dbinstance_id)).body, "Api.NotSupport")
        disk_key = _optional(lambda: call("rds:DescribeDBInstanceEncryptionKey", c.describe_dbinstance_encryption_key,
                                          rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id=i.dbinstance_id)).body,
                             "Api.NotSupport", "NoActiveBYOK")
        if (tde and tde.encryption_key == key) or (disk_key and disk_key.encryption_key == key):
            found["rds_instances"].append(i.dbinstance_id)

    c = clients.polardb(r)
    clusters = _pages(lambda p, s: call("polardb:DescribeDBClusters", c.describe_dbclusters,
                                        polardb.DescribeDBClustersRequest(region_id=r, page_number=p, page_size=s)).body,
                      lambda b: b.items and b.items.dbcluster, lambda b: b.total_record_count, 100)
    found["polardb_clusters"] = []
    for cl in clusters:
        tde = call("polardb:DescribeDBClusterTDE", c.describe_dbcluster_tde, polardb.DescribeDBClusterTDERequest(dbcluster_id=cl.dbcluster_id)).body
        storage = call("polardb:DescribeDBClusterEncryptionKey", c.describe_dbcluster_encryption_key,
                       polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id=cl.dbcluster_id)).body
        if tde.encryption_key == key or any(k.encryption_key == key for k in storage.encryption_key_list or []):
            found["polardb_clusters"].append(cl.dbcluster_id)

    c = clients.kms(r)
    secrets = _pages(lambda p, s: call("kms:ListSecrets", c.list_secrets, kms.ListSecretsRequest(page_number=p, page_size=s)).body,
                     lambda b: b.secret_list and b.secret_list.secret, lambda b: b.total_count, 100)
    found["kms_secrets"] = []
    for sec in secrets:
        body = call("kms:DescribeSecret", c.describe_secret, kms.DescribeSecretRequest(secret_name=sec.secret_name)).body
        if body.encryption_key_id == key:
            found["kms_secrets"].append(sec.secret_name)

    c = clients.nas(r)
    file_systems = _pages(lambda p, s: call("nas:DescribeFileSystems", c.describe_file_systems,
                                            nas.DescribeFileSystemsRequest(page_number=p, page_size=s)).body,
                          lambda b: b.file_systems and b.file_systems.file_system, lambda b: b.total_count, 100)
    found["nas_file_systems"] = [f.file_system_id for f in file_systems if f.kmskey_id == key]

    c = clients.redis(r)
    kv = _pages(lambda p, s: call("redis:DescribeInstances", c.describe_instances,
                                  redis.DescribeInstancesRequest(region_id=r, page_number=p, page_size=s)).body,
                lambda b: b.instances and b.instances.kvstore_instance, lambda b: b.total_count, 50)
    found["redis_instances"] = []
    for inst in kv:
        enc = _optional(lambda: call("redis:DescribeEncryptionKey", c.describe_encryption_key,
                                     redis.DescribeEncryptionKeyRequest(instance_id=inst.instance_id)).body,
                        "InstanceType.NotSupport", "TDE.NotEnabled", "Instance.TDE.NotEnabled")
        if enc is not None and enc.encryption_key == key:
            found["redis_instances"].append(inst.instance_id)

    c = clients.mongodb(r)
    found["mongodb_instances"] = []
    for kind in ("replicate", "sharding", "serverless"):  # DescribeDBInstances lists one type at a time
        listed = _pages(lambda p, s: call("mongodb:DescribeDBInstances", c.describe_dbinstances, dds.DescribeDBInstancesRequest(
                            region_id=r, dbinstance_type=kind, page_number=p, page_size=s)).body,
                        lambda b: b.dbinstances and b.dbinstances.dbinstance, lambda b: b.total_count, 100)
        for inst in listed:
            tde = None if inst.replication_factor == "1" else call(  # single-node instances cannot use TDE
                "mongodb:DescribeDBInstanceTDEInfo", c.describe_dbinstance_tdeinfo,
                dds.DescribeDBInstanceTDEInfoRequest(dbinstance_id=inst.dbinstance_id)).body
            attribute = call("mongodb:DescribeDBInstanceAttribute", c.describe_dbinstance_attribute,
                             dds.DescribeDBInstanceAttributeRequest(dbinstance_id=inst.dbinstance_id)).body
            disk_keys = [a.encryption_key for a in (attribute.dbinstances and attribute.dbinstances.dbinstance) or []]
            if (tde is not None and tde.encryption_key == key) or key in disk_keys:
                found["mongodb_instances"].append(inst.dbinstance_id)

    c = clients.cs(r)
    clusters = []
    page = 1
    while True:  # DescribeClustersV1 pages with page_info; each item carries meta_data (the Secrets key)
        body = call("cs:DescribeClustersV1", c.describe_clusters_v1,
                    cs.DescribeClustersV1Request(region_id=r, page_number=page, page_size=50)).body
        clusters += body.clusters or []
        if page * 100 >= ((body.page_info and body.page_info.total_count) or 0):
            break
        page += 1
    found["ack_clusters"] = []
    for cl in clusters:
        try:
            caps = json.loads(cl.meta_data or "{}").get("Capabilities") or {}
        except ValueError:
            caps = {}
        if caps.get("EncryptionKMSKeyId") == key:
            found["ack_clusters"].append(cl.cluster_id)

    log = clients.sls(r)
    found["sls_logstores"] = []
    projects = call("sls:ListProject", log.list_project, 0, 500).get_projects()
    for project in projects:
        name = project["projectName"]
        for store in call("sls:ListLogStores", log.list_logstore, name, None, 0, 500).get_logstores():
            conf = call("sls:GetLogStore", log.get_logstore, name, store).get_encrypt_conf() or {}
            if (conf.get("user_cmk_info") or {}).get("cmk_key_id") == key:
                found["sls_logstores"].append(f"{name}/{store}")

    c = clients.actiontrail(r)
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=target.usage_window_days)
    callers, token = set(), None
    while True:
        body = call("actiontrail:LookupEvents", c.lookup_events, at.LookupEventsRequest(
            start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"), end_time=end.strftime("%Y-%m-%dT%H:%M:%SZ"), max_results=50,
            next_token=token, lookup_attribute=[at.LookupEventsRequestLookupAttribute(key="ResourceName", value=key)])).body
        callers |= {(e.get("userIdentity") or {}).get("principalId", "") for e in body.events or []}
        token = body.next_token
        if not token:
            break
    found["kms_usage"] = sorted(c for c in callers if c)
    return found
