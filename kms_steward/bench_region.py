"""The synthetic region the benchmark audits: many resources, a few hundred of them on the audited key,
spread the way a real account spreads them (most encrypted with other keys, some not at all), and the
minimum number of calls that covers it: the fewest any documented strategy needs, product by product,
next to what the audit's own strategy needs (`product_minimums`, "minimums" below).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from localcloud.clock import iso
from shared.audit.scanners.kms_usage import MAX_EVENTS, QUIET_PAGES
from shared.usage import CRYPTO_APIS

ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
KEY = "5e1c2b3a-0d9f-4c8b-a7e6-000000be0001"
OTHER_KEYS = ["5e1c2b3a-0d9f-4c8b-a7e6-000000be0002", "5e1c2b3a-0d9f-4c8b-a7e6-000000be0003"]
AK, SECRET = "LTAI5tBenchOperator00001", "bench-local-only-secret"
APP_CALLERS = (("payments-api", "10.0.1.15", "payments-api/1.4 (Python 3.10)"),
               ("ledger-worker", "10.0.2.20", "ledger-worker/2.0 (Java 17)"),
               ("backup-job", "10.0.3.30", "aliyun-cli/3.0"))


@dataclass(frozen=True)
class Sizes:
    disks: int = 10_000
    snapshots: int = 10_000
    secrets: int = 5_000
    buckets: int = 2_000
    rds: int = 1_000
    polardb: int = 500
    nas: int = 1_000
    logstores: int = 500
    redis: int = 200
    mongodb: int = 300
    ack: int = 200  # ACK clusters (CS)
    trail_events: int = 2_000  # ActionTrail events in the window, a few hundred naming the key

    @classmethod
    def scaled(cls, scale: float) -> "Sizes":
        return cls(**{f.name: max(1, round(getattr(cls(), f.name) * scale)) for f in fields(cls)})

    def as_dict(self) -> dict:
        return asdict(self)


# What share of each collection is on the audited key: "a few hundred of them" at the default size.
ON_KEY_SHARE = {"disks": 0.015, "snapshots": 0.01, "secrets": 0.008, "buckets": 0.01, "rds": 0.015, "polardb": 0.02,
                "nas": 0.02, "logstores": 0.02, "redis": 0.025, "mongodb": 0.02, "ack": 0.02,
                "trail_events": 0.15}
IMAGE_SHARE = 0.1  # of the key's snapshots, those an image was built from
MONGODB_TYPES = ("replicate", "sharding", "serverless")  # DescribeDBInstances lists one type at a time


def on_key(sizes: Sizes, name: str) -> int:
    return max(1, math.floor(getattr(sizes, name) * ON_KEY_SHARE[name]))


@dataclass
class BenchRegion:
    sizes: Sizes
    account: dict
    on: dict[str, int] = field(default_factory=dict)
    image_snapshots: int = 0
    projects: int = 0
    redis_tde: int = 0
    mongodb_types: dict[str, int] = field(default_factory=dict)  # instances per DBInstanceType
    mongodb_tde_asked: int = 0  # instances asked DescribeDBInstanceTDEInfo (all but single-node ones)

    access_key_id: str = AK
    access_key_secret: str = SECRET

    def target(self) -> dict:
        return {"key_id": KEY, "key_arn": f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", "region": REGION, "account_id": ACCOUNT_ID}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.account), encoding="utf-8")

    def on_key_counts(self) -> dict[str, int]:
        return dict(self.on)

    def expected_counts(self) -> dict[str, int]:
        """What each scanner must find (scanner name -> dependents)."""
        return {
            "ecs_disks": self.on["disks"], "ecs_snapshots": self.on["snapshots"], "ecs_images": self.image_snapshots,
            "ecs_default_key": 1, "oss_buckets": self.on["buckets"], "oss_replication": 0, "rds_instances": self.on["rds"],
            "polardb_clusters": self.on["polardb"], "kms_secrets": self.on["secrets"], "nas_file_systems": self.on["nas"],
            "redis_instances": self.on["redis"], "mongodb_instances": self.on["mongodb"], "sls_logstores": self.on["logstores"],
            "ack_clusters": self.on["ack"],
            "kms_usage": min(len(APP_CALLERS), self.on["trail_events"]),  # the callers take turns
            "lb_certificates": 0,
        }

    @classmethod
    def build(cls, sizes: Sizes) -> "BenchRegion":
        on = {name: on_key(sizes, name) for name in ON_KEY_SHARE}
        now = datetime.now(timezone.utc)

        def key_for(i: int, n_on: int) -> str | None:
            if i < n_on:
                return KEY
            return OTHER_KEYS[i % 2] if i % 3 else None  # a third unencrypted, the rest on other keys

        disks = []
        for i in range(sizes.disks):
            k = key_for(i, on["disks"])
            disks.append({"DiskId": f"d-bench{i:07d}", "RegionId": REGION, "Status": "In_use" if i % 4 else "Available",
                          "Encrypted": k is not None, **({"KMSKeyId": k} if k else {}), "Type": "data",
                          **({"InstanceId": f"i-bench{i // 4:06d}"} if i % 4 else {})})
        image_snaps = max(1, math.floor(on["snapshots"] * IMAGE_SHARE))
        snapshots, images = [], []
        for i in range(sizes.snapshots):
            k = key_for(i, on["snapshots"])
            usage = "image" if i < image_snaps else "none"
            snapshots.append({"SnapshotId": f"s-bench{i:07d}", "RegionId": REGION, "Encrypted": k is not None,
                              **({"KMSKeyId": k} if k else {}), "Status": "accomplished", "Usage": usage,
                              "SourceDiskId": f"d-bench{i:07d}"})
            if usage == "image":
                images.append({"ImageId": f"m-bench{i:07d}", "RegionId": REGION, "ImageOwnerAlias": "self", "Status": "Available",
                               "DiskDeviceMappings": {"DiskDeviceMapping": [{"SnapshotId": f"s-bench{i:07d}", "Encrypted": "true"}]}})
        buckets = []
        for i in range(sizes.buckets):
            k = key_for(i, on["buckets"])
            rule = {"SSEAlgorithm": "KMS", "KMSMasterKeyID": k} if k else ({"SSEAlgorithm": "AES256"} if i % 2 else None)
            buckets.append({"Name": f"bench-bucket-{i:06d}", "Location": f"oss-{REGION}",
                            **({"ServerSideEncryptionRule": rule} if rule else {})})
        secrets = [{"SecretName": f"bench/secret-{i:06d}", "RegionId": REGION, "SecretType": "Generic",
                    "EncryptionKeyId": key_for(i, on["secrets"]) or OTHER_KEYS[0]} for i in range(sizes.secrets)]
        rds = [{"DBInstanceId": f"rm-bench{i:06d}", "RegionId": REGION, "Engine": "MySQL", "DBInstanceStatus": "Running",
                **_rds_encryption(key_for(i, on["rds"]), i)} for i in range(sizes.rds)]
        polardb = [{"DBClusterId": f"pc-bench{i:06d}", "RegionId": REGION, "DBType": "MySQL", "DBClusterStatus": "Running",
                    **_polardb_encryption(key_for(i, on["polardb"]), i)} for i in range(sizes.polardb)]
        nas = []
        for i in range(sizes.nas):
            k = key_for(i, on["nas"])
            nas.append({"FileSystemId": f"bench{i:06d}", "RegionId": REGION, "FileSystemType": "standard", "Status": "Running",
                        "EncryptType": 2 if k else 0, **({"KMSKeyId": k} if k else {})})
        redis = [{"InstanceId": f"r-bench{i:06d}", "RegionId": REGION, "InstanceStatus": "Normal", "InstanceType": "Tair",
                  "EditionType": "Enterprise", **_redis_encryption(key_for(i, on["redis"]))} for i in range(sizes.redis)]
        redis_tde = sum(1 for r in redis if r["TDEStatus"] == "Enabled")
        mongodb = [_mongodb_instance(i, key_for(i, on["mongodb"])) for i in range(sizes.mongodb)]
        mongodb_types = {t: sum(1 for m in mongodb if m["DBInstanceType"] == t) for t in MONGODB_TYPES}
        mongodb_tde_asked = sum(1 for m in mongodb if m.get("ReplicationFactor") != "1")
        ack = [_ack_cluster(i, key_for(i, on["ack"])) for i in range(sizes.ack)]
        per_project = 10
        projects = max(1, math.ceil(sizes.logstores / per_project))
        logstores = []
        for i in range(sizes.logstores):
            k = key_for(i, on["logstores"])
            store = {"projectName": f"bench-project-{i // per_project:04d}", "logstoreName": f"store-{i:05d}", "RegionId": REGION}
            if k:
                store["encrypt_conf"] = {"enable": True, "encrypt_type": "default",
                                         "user_cmk_info": {"cmk_key_id": k, "arn": f"acs:ram::{ACCOUNT_ID}:role/sls-cmk", "region_id": REGION}}
            logstores.append(store)
        events = _trail_events(sizes.trail_events, on["trail_events"], now)
        account = {
            "account_id": ACCOUNT_ID,
            "credentials": [{"AccessKeyId": AK, "AccessKeySecret": SECRET, "UserName": "auditor"}]
            + [{"AccessKeyId": f"LTAI5tBenchApp{n:010d}", "AccessKeySecret": f"bench-app-{n}", "UserName": name}
               for n, (name, _, _) in enumerate(APP_CALLERS)],
            "regions": [{"RegionId": REGION}],
            "kms": {"keys": [{"KeyId": k, "RegionId": REGION, "KeyState": "Enabled", "Creator": ACCOUNT_ID} for k in [KEY, *OTHER_KEYS]],
                    "secrets": secrets},
            "ecs": {"disks": disks, "snapshots": snapshots, "images": images,
                    "encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": True}]},
            "oss": {"buckets": buckets},
            "rds": {"instances": rds}, "polardb": {"clusters": polardb}, "nas": {"file_systems": nas}, "redis": {"instances": redis},
            "mongodb": {"instances": mongodb},
            "cs": {"clusters": ack},
            "sls": {"logstores": logstores},
            "actiontrail": {"events": events},
        }
        return cls(sizes=sizes, account=account, on=on, image_snapshots=image_snaps, projects=projects, redis_tde=redis_tde,
                   mongodb_types=mongodb_types, mongodb_tde_asked=mongodb_tde_asked)


def _rds_encryption(key: str | None, i: int) -> dict:
    if key is None:
        return {}
    return {"TDE": {"TDEStatus": "Enabled", "EncryptionKey": key}} if i % 2 else {"DiskEncryption": {"EncryptionKey": key}}


def _polardb_encryption(key: str | None, i: int) -> dict:
    if key is None:
        return {}
    return {"TDE": {"TDEStatus": "Enabled", "EncryptionKey": key}} if i % 2 else {"StorageEncryption": {"StorageEncryptionKey": key}}


def _redis_encryption(key: str | None) -> dict:
    return {"TDEStatus": "Enabled", "EncryptionKey": key} if key else {"TDEStatus": "Disabled"}


def _mongodb_instance(i: int, key: str | None) -> dict:
    """Mostly replica sets, every fifth a sharded cluster, a few serverless; some replica-set slots are
    single-node instances (no TDE there). A key is used for TDE or the cloud disks, alternately."""
    kind = "sharding" if i % 5 == 1 else "serverless" if i % 25 == 3 else "replicate"
    single = kind == "replicate" and i % 10 == 7
    record = {"DBInstanceId": f"dds-bench{i:06d}", "RegionId": REGION, "DBInstanceType": kind, "DBInstanceStatus": "Running",
              "Engine": "MongoDB", "EngineVersion": "4.4", "LockMode": "Unlock", "StorageType": "cloud_essd1",
              **({"ReplicationFactor": "1" if single else "3"} if kind == "replicate" else {})}
    if key and (i % 2 or single):
        record.update(Encrypted=True, EncryptionKey=key)
    elif key:
        record["TDE"] = {"TDEStatus": "enabled", "EncryptionKey": key,
                         "RoleARN": f"acs:ram::{ACCOUNT_ID}:role/aliyunrdsinstanceencryptiondefaultrole"}
    return record


def _ack_cluster(i: int, key: str | None) -> dict:
    """ACK Pro clusters (Secrets encrypted with `key` when given), every third one Basic, every tenth a
    dedicated cluster: those two cannot encrypt Secrets. The listing carries each one's meta_data."""
    kind = "dedicated" if i % 10 == 9 else "basic" if i % 3 == 2 else "pro"
    if key:
        kind = "pro"  # Secret encryption needs ACK Pro
    caps = {"EncryptionKMSKeyId": key, "DisableEncryption": False} if key and kind == "pro" else {}
    return {"cluster_id": f"cbench{i:06d}", "region_id": REGION, "name": f"bench-cluster-{i:06d}", "state": "running",
            "cluster_type": "Kubernetes" if kind == "dedicated" else "ManagedKubernetes",
            **({"cluster_spec": "ack.pro.small" if kind == "pro" else "ack.standard", "profile": "Default"} if kind != "dedicated" else {}),
            "current_version": "1.31.1-aliyun.1", "meta_data": json.dumps({"Addons": [{"name": "coredns"}], "Capabilities": caps})}


def _trail_events(total: int, on_key_n: int, now: datetime) -> list[dict]:
    """Crypto calls by three applications on the key, and other traffic, spread over the last 29 days."""
    events = []
    for i in range(total):
        mine = i < on_key_n
        name, ip, agent = APP_CALLERS[i % len(APP_CALLERS)]
        key = KEY if mine else OTHER_KEYS[i % 2]
        when = now - timedelta(days=29 * (total - i) / total)
        events.append({
            "eventId": f"00000000-0000-4000-8000-{i:012d}", "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com",
            "eventType": "ApiCall", "eventRW": "Read", "eventName": ("Decrypt", "GenerateDataKey", "Encrypt")[i % 3],
            "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION, "eventTime": iso(when),
            "requestId": f"bench-{i}", "sourceIpAddress": ip, "userAgent": agent, "requestParameters": {"KeyId": key},
            "userIdentity": {"type": "ram-user", "principalId": f"20{abs(hash(name)) % 10**14:014d}", "accountId": ACCOUNT_ID,
                             "userName": name, "accessKeyId": "LTAI****"},
            "referencedResources": {"ACS::KMS::Key": [key]}, "isGlobal": False, "errorCode": "", "errorMessage": "",
        })
    return events


def _crypto_calls_per_api(on_key: int) -> list[int]:
    """How many of the key's crypto calls each crypto API made (_trail_events takes turns among three)."""
    made = {name: len(range(i, on_key, 3)) for i, name in enumerate(("Decrypt", "GenerateDataKey", "Encrypt"))}
    return [made.get(name, 0) for name in sorted(CRYPTO_APIS)]


# ---------------------------------------------------------------------------------------------- minimums
#
# Two counts per product, both for a cold audit (nothing known beforehand):
# - the audit's strategy: what the APIs the audit chose need for this region, at the page size each scanner
#   asks for (shared/audit/scanners/*.py). It can only confirm the audit's choices, so it is shown, not
#   divided by;
# - the fewest documented: the fewest calls ANY documented strategy needs to find every resource of the
#   region that depends on the key: a server-side key filter where the API has one, the largest documented
#   page, a reverse lookup, a listing that already carries the key (no per-item describe), a server-side
#   filter down to the only resources that can use a key. That is `minimum_calls`, what
#   `calls_ratio_to_minimum` divides by.
# Where the audit's strategy makes more calls, `product_minimums` says why, part by part, and the bench
# prints both columns.
#
# The quota lower bound (bench.quota_bound) is computed from the fewest documented calls only: a lower bound
# on wall time must hold for every strategy, and one computed from the audit's own calls would excuse the
# calls its strategy adds. (In this region the binding quota is KMS's secret-metadata group, 40 QPS for
# ListSecrets + DescribeSecret, where both counts agree, so the bound does not move; the per-product table
# shows where the audit's choices cost calls.)
#
# Not counted as a strategy: services that keep their own copy of other products' configuration (Cloud
# Config, Resource Center). They answer only where they were enabled beforehand, from their recorded copy,
# so a cold audit of an arbitrary account cannot count on them.
#
# A warm audit, one that remembers immutable facts (a secret's EncryptionKeyId, a disk's KMSKeyId) and
# describes only the resources it has not seen, can go below this minimum: it is the floor for an audit
# that knows nothing.

# The largest page each listing documents. SDK versions are those installed with the project; their models
# carry the API reference's own text.
DISKS_PAGE = 500  # DescribeDisks MaxResults "10 to 500" (alibabacloud_ecs20140526 7.11.8 DescribeDisksRequest)
SNAPSHOTS_PAGE = 100  # DescribeSnapshots MaxResults "Maximum value: 100" (same SDK, DescribeSnapshotsRequest)
IMAGES_PAGE = 100  # DescribeImages PageSize "Maximum value: 100" (same SDK, DescribeImagesRequest)
BUCKETS_PAGE = 1000  # ListBuckets (GetService) max-keys "cannot exceed 1000" (OSS API reference, GetService (ListBuckets),
#                      https://www.alibabacloud.com/help/tc/doc-detail/31957.html)
POLARDB_PAGE = 100  # DescribeDBClusters PageSize "30, 50, and 100" (alibabacloud_polardb20170801 9.2.1)
SECRETS_PAGE = 100  # ListSecrets PageSize "1 to 100" ("Key Management Service:ListSecrets",
#                     https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listsecrets)
NAS_PAGE = 100  # DescribeFileSystems PageSize "1 to 100" (alibabacloud_nas20170626 3.7.5)
REDIS_PAGE = 50  # DescribeInstances PageSize "Maximum value: 50" (alibabacloud_r_kvstore20150101 7.0.0)
MONGODB_PAGE = 100  # DescribeDBInstances PageSize "30 (default), 50, 100" (alibabacloud_dds20151201 9.5.0)
# DescribeClustersV1 page_size: the API reference ("Container Service for Kubernetes:DescribeClustersV1",
# https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/developer-reference/api-query-information-about-all-clusters)
# publishes no maximum. 50, the size public tools page at, is the largest known to be accepted, so the
# minimum is counted at 50 too; a larger accepted size would lower it.
ACK_PAGE = 50
SLS_PAGE = 500  # ListProject and ListLogStores size "Maximum value: 500" ("Simple Log Service:ListLogStores",
#                 https://www.alibabacloud.com/help/doc-detail/29019.htm; SLS SDK for Python list_project,
#                 https://www.alibabacloud.com/help/en/sls/developer-reference/list-projects)
TRAIL_PAGE = 50  # LookupEvents MaxResults "0 to 50" (alibabacloud_actiontrail20200706 2.6.0)


@dataclass(frozen=True)
class ProductMinimum:
    """One part of the audit, both ways: the calls per API the audit's strategy needs for this region, and
    the calls per API the fewest documented strategy needs."""

    product: str  # the API prefix, as the bench's calls per product count it
    finds: str  # what depends on the key
    audit: dict[str, int]
    fewest: dict[str, int]
    strategy: str  # the fewest documented strategy, in words
    why: str  # why the audit's strategy makes more calls; "" when it makes as few
    source: str  # where the APIs' filters, page sizes and fields are documented

    def as_row(self) -> dict:
        audit, fewest = sum(self.audit.values()), sum(self.fewest.values())
        return {"product": self.product, "finds": self.finds, "audit_strategy": audit, "fewest_documented": fewest,
                "audit_strategy_per_api": {k: v for k, v in self.audit.items() if v},
                "fewest_documented_per_api": {k: v for k, v in self.fewest.items() if v},
                "fewest_strategy": self.strategy, "why_audit_differs": (self.why or None) if audit != fewest else None,
                "source": self.source}


def _pages(n: int, size: int) -> int:
    """Calls to list n items at `size` a page: at least one (an empty listing is one call too)."""
    return max(1, math.ceil(n / size))


def product_minimums(region: BenchRegion) -> list[ProductMinimum]:
    """Per part of the audit, the audit's strategy and the fewest documented strategy for this region,
    counted from the region's own records (never from the scanners' code)."""
    s, on, account = region.sizes, region.on, region.account
    in_region = lambda records: [r for r in records if r.get("RegionId", REGION) == REGION]  # noqa: E731
    self_images = len(in_region(account["ecs"]["images"]))
    buckets = len(account["oss"]["buckets"])  # the account's, every region (the bench's state bucket included)
    buckets_here = sum(1 for b in account["oss"]["buckets"] if b["Location"] == f"oss-{REGION}")
    key = next(k for k in account["kms"]["keys"] if k["KeyId"] == KEY)
    secrets = [x for x in in_region(account["kms"]["secrets"])
               if not key.get("DKMSInstanceId") or x.get("DKMSInstanceId") == key["DKMSInstanceId"]]
    tair = [r for r in account["redis"]["instances"] if r.get("InstanceType", "Tair") == "Tair"]  # the InstanceType filter
    tde_on = lambda instances: sum(1 for r in instances if r.get("TDEStatus") == "Enabled")  # noqa: E731
    pro = sum(1 for c in account["cs"]["clusters"]  # what cluster_type ManagedKubernetes + cluster_spec ack.pro.small lists
              if c.get("cluster_type") == "ManagedKubernetes" and str(c.get("cluster_spec", "")).startswith("ack.pro"))
    key_events = on["trail_events"]  # every ActionTrail event naming the key here is a crypto call
    by_name = sum(_pages(min(n, MAX_EVENTS), TRAIL_PAGE) for n in _crypto_calls_per_api(key_events))
    one_query = _pages(min(key_events, MAX_EVENTS), TRAIL_PAGE)
    busy = key_events > QUIET_PAGES * TRAIL_PAGE
    same = ""
    return [
        ProductMinimum(
            "ecs", "disks encrypted with the key",
            {"ecs:DescribeDisks": _pages(on["disks"], DISKS_PAGE)}, {"ecs:DescribeDisks": _pages(on["disks"], DISKS_PAGE)},
            "DescribeDisks with the server-side KMSKeyId filter, 500 a page", same,
            "DescribeDisksRequest.kmskey_id and max_results (alibabacloud_ecs20140526 7.11.8)"),
        ProductMinimum(
            "ecs", "snapshots encrypted with the key",
            {"ecs:DescribeSnapshots": _pages(on["snapshots"], SNAPSHOTS_PAGE)},
            {"ecs:DescribeSnapshots": _pages(on["snapshots"], SNAPSHOTS_PAGE)},
            "DescribeSnapshots with the server-side KMSKeyId filter, 100 a page", same,
            "DescribeSnapshotsRequest.kmskey_id and max_results (alibabacloud_ecs20140526 7.11.8)"),
        ProductMinimum(
            "ecs", "images built from the key's snapshots",
            {"ecs:DescribeImages": region.image_snapshots},
            {"ecs:DescribeImages": min(region.image_snapshots, _pages(self_images, IMAGES_PAGE))},
            "the fewer of: DescribeImages(SnapshotId) per snapshot of the key whose Usage says an image was built "
            "from it, or every custom image of the region (ImageOwnerAlias self, Status ALL, 100 a page), matched "
            "on DiskDeviceMappings' SnapshotId",
            "asks DescribeImages once per snapshot of the key made into an image; listing all of the region's own "
            "images is fewer calls when they fit in fewer pages than there are such snapshots",
            "DescribeImagesRequest.snapshot_id, image_owner_alias, status (ALL) and page_size (max 100); "
            "DescribeImagesResponseBody DiskDeviceMapping.snapshot_id (alibabacloud_ecs20140526 7.11.8)"),
        ProductMinimum(
            "ecs", "the region's default key for new disks",
            {"ecs:DescribeDiskDefaultKMSKeyId": 1, "ecs:DescribeDiskEncryptionByDefaultStatus": 1},
            {"ecs:DescribeDiskDefaultKMSKeyId": 1},
            "DescribeDiskDefaultKMSKeyId: one call names the region's default key",
            "also asks DescribeDiskEncryptionByDefaultStatus (the key is the region's default), to say whether "
            "encryption by default is on; finding the dependent does not need it",
            "DescribeDiskDefaultKMSKeyIdResponseBody.kmskey_id (alibabacloud_ecs20140526 7.11.8)"),
        ProductMinimum(
            "oss", "buckets whose default encryption names the key",
            {"oss:ListBuckets": _pages(buckets, BUCKETS_PAGE), "oss:GetBucketInfo": buckets_here},
            {"oss:ListBuckets": _pages(buckets, BUCKETS_PAGE), "oss:GetBucketInfo": buckets_here},
            "ListBuckets, 1,000 a page (it carries no encryption), then one call per bucket of the key's region "
            "(GetBucketInfo or GetBucketEncryption: either one per bucket); no listing or lookup carries the key",
            same,
            "OSS API reference GetService (ListBuckets), https://www.alibabacloud.com/help/tc/doc-detail/31957.html; "
            "\"Object Storage Service:GetBucketEncryption\", https://www.alibabacloud.com/help/doc-detail/117915.html"),
        ProductMinimum(
            "oss", "replicas encrypted with the key (replication rules)",
            {"oss:GetBucketReplication": buckets}, {"oss:GetBucketReplication": buckets},
            "GetBucketReplication per bucket of the account (rules live on the source bucket only, in any region; "
            "GetBucketInfo flags cross-region replication only, at one call per bucket too)", same,
            "\"Object Storage Service:GetBucketReplication\", https://www.alibabacloud.com/help/en/oss/developer-reference/"
            "getbucketreplication; oss2 and oss-v2 BucketInfo report cross-region replication only "
            "(shared/audit/scanners/oss_replication.py)"),
        ProductMinimum(
            "rds", "instances using the key for TDE or disk encryption",
            {"rds:DescribeKmsAssociateResources": 1, "rds:DescribeDBInstanceEncryptionKey": on["rds"]},
            {"rds:DescribeKmsAssociateResources": 1},
            "DescribeKmsAssociateResources: one reverse lookup (not paged) names every instance on the key and "
            "what uses it (KeyUsedBy TDE or DiskEncryption)",
            "verifies each instance the lookup names with DescribeDBInstanceEncryptionKey (a cross-check it "
            "reports either way); finding them needs the lookup only",
            "\"ApsaraDB RDS:DescribeKmsAssociateResources\", "
            "https://www.alibabacloud.com/help/en/rds/developer-reference/api-rds-2014-08-15-describekmsassociateresources; "
            "its request has no paging parameter (alibabacloud_rds20140815 16.0.2)"),
        ProductMinimum(
            "polardb", "clusters using the key for TDE or storage encryption",
            {"polardb:DescribeDBClusters": _pages(s.polardb, POLARDB_PAGE), "polardb:DescribeDBClusterEncryptionKey": s.polardb},
            {"polardb:DescribeDBClusters": _pages(s.polardb, POLARDB_PAGE), "polardb:DescribeDBClusterEncryptionKey": s.polardb},
            "DescribeDBClusters, 100 a page (no key filter, no key in the items, no reverse lookup), then "
            "DescribeDBClusterEncryptionKey per cluster: one call lists every key a cluster uses and for what", same,
            "DescribeDBClustersRequest / ResponseBody and DescribeDBClusterEncryptionKeyResponseBody "
            "(alibabacloud_polardb20170801 9.2.1)"),
        ProductMinimum(
            "kms", "secrets encrypted with the key",
            {"kms:DescribeKey": 1, "kms:ListSecrets": _pages(len(secrets), SECRETS_PAGE), "kms:DescribeSecret": len(secrets)},
            {"kms:DescribeKey": 1, "kms:ListSecrets": _pages(len(secrets), SECRETS_PAGE), "kms:DescribeSecret": len(secrets)},
            "DescribeKey (is the key in a KMS instance? that narrows the listing, and says whether ActionTrail sees "
            "all of its use), ListSecrets 100 a page (no key filter, no key in the items: only the DKMSInstanceId "
            "filter narrows), DescribeSecret per secret listed for its EncryptionKeyId",
            same,
            "\"Key Management Service:ListSecrets\", "
            "https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listsecrets; "
            "ListSecretsRequest.filters and ListSecretsResponseBody (alibabacloud_kms20160120 3.3.1)"),
        ProductMinimum(
            "nas", "file systems encrypted with the key",
            {"nas:DescribeFileSystems": _pages(s.nas, NAS_PAGE)}, {"nas:DescribeFileSystems": _pages(s.nas, NAS_PAGE)},
            "DescribeFileSystems, 100 a page: each item carries EncryptType and KMSKeyId, so no describe (no key filter)",
            same, "DescribeFileSystemsRequest and ResponseBody (alibabacloud_nas20170626 3.7.5)"),
        ProductMinimum(
            "redis", "Tair instances whose TDE uses the key",
            {"redis:DescribeInstances": _pages(s.redis, REDIS_PAGE), "redis:DescribeInstanceTDEStatus": s.redis,
             "redis:DescribeEncryptionKey": tde_on(account["redis"]["instances"])},
            {"redis:DescribeInstances": _pages(len(tair), REDIS_PAGE), "redis:DescribeInstanceTDEStatus": len(tair),
             "redis:DescribeEncryptionKey": tde_on(tair)},
            "DescribeInstances with the InstanceType=Tair filter, 50 a page (TDE needs Tair Enterprise Edition), "
            "DescribeInstanceTDEStatus per Tair instance, DescribeEncryptionKey per instance with TDE enabled (its doc "
            "requires TDE on first); no listing carries the key",
            "lists and asks every instance of the region, not only Tair (Enterprise Edition) ones",
            "DescribeInstancesRequest.instance_type and page_size (alibabacloud_r_kvstore20150101 7.0.0); \"Enable TDE\" "
            "prerequisites, https://www.alibabacloud.com/help/en/tair/user-guide/enable-tde"),
        ProductMinimum(
            "mongodb", "instances using the key for TDE or disk encryption",
            {"mongodb:DescribeDBInstances": sum(_pages(region.mongodb_types.get(t, 0), MONGODB_PAGE) for t in MONGODB_TYPES),
             "mongodb:DescribeDBInstanceTDEInfo": region.mongodb_tde_asked, "mongodb:DescribeDBInstanceAttribute": s.mongodb},
            {"mongodb:DescribeDBInstances": sum(_pages(region.mongodb_types.get(t, 0), MONGODB_PAGE) for t in MONGODB_TYPES),
             "mongodb:DescribeDBInstanceTDEInfo": region.mongodb_tde_asked, "mongodb:DescribeDBInstanceAttribute": s.mongodb},
            "DescribeDBInstances once per DBInstanceType (it lists one at a time), 100 a page, then per instance "
            "DescribeDBInstanceAttribute (disk key) and, but for single-node ones, DescribeDBInstanceTDEInfo (TDE key); "
            "DescribeDBInstanceEncryptionKey asks one scenario per call, so it is no fewer", same,
            "DescribeDBInstancesRequest.dbinstance_type and page_size, DescribeDBInstanceAttributeResponseBody.encryption_key, "
            "DescribeDBInstanceEncryptionKeyRequest.encryption_type (alibabacloud_dds20151201 9.5.0)"),
        ProductMinimum(
            "cs", "ACK clusters whose Secrets are encrypted with the key",
            {"cs:DescribeClustersV1": _pages(s.ack, ACK_PAGE)}, {"cs:DescribeClustersV1": _pages(pro, ACK_PAGE)},
            "DescribeClustersV1 with cluster_type ManagedKubernetes and cluster_spec ack.pro.small (Secret encryption "
            "is an ACK Pro feature), 50 a page: each item carries meta_data, so no DescribeClusterDetail",
            "lists every cluster of the region, Basic and dedicated ones included, to judge those whose listing "
            "does not say their spec",
            "\"Container Service for Kubernetes:DescribeClustersV1\", https://www.alibabacloud.com/help/en/ack/"
            "ack-managed-and-ack-dedicated/developer-reference/api-query-information-about-all-clusters (no page_size "
            "maximum published); \"Use KMS to encrypt Kubernetes Secrets\", https://www.alibabacloud.com/help/doc-detail/177372.htm"),
        ProductMinimum(
            "sls", "logstores encrypted with the key",
            {"sls:ListProject": _pages(region.projects, SLS_PAGE), "sls:ListLogStores": region.projects,
             "sls:GetLogStore": s.logstores},
            {"sls:ListProject": _pages(region.projects, SLS_PAGE), "sls:ListLogStores": region.projects,
             "sls:GetLogStore": s.logstores},
            "ListProject and ListLogStores (names only), 500 a page, then GetLogStore per logstore for its "
            "encrypt_conf; nothing lists logstores by key", same,
            "\"Simple Log Service:ListLogStores\", https://www.alibabacloud.com/help/doc-detail/29019.htm; "
            "\"Simple Log Service:GetLogStore\", https://www.alibabacloud.com/help/en/sls/developer-reference/api-sls-2020-12-30-getlogstore"),
        ProductMinimum(
            "actiontrail", "callers of the key's crypto APIs (usage evidence)",
            {"actiontrail:LookupEvents": QUIET_PAGES + by_name if busy else one_query},
            {"actiontrail:LookupEvents": min(one_query, by_name)},
            "the fewer of the two documented LookupAttribute pairs: all of the key's KMS events in one query "
            "(ResourceName + ServiceName) or each crypto API by name (ResourceName + EventName, a page each at "
            "least), 50 a page, the newest MAX_EVENTS either way",
            f"past {QUIET_PAGES} pages it sets the one query aside and asks each of the {len(CRYPTO_APIS)} "
            "crypto APIs by name, so that reads of a busy key cannot hide its uses; here every event naming the key "
            "is a crypto call, so the one query would have done",
            "\"How do I configure the LookupAttribute parameter when I call the LookupEvents operation\", "
            "https://www.alibabacloud.com/help/en/actiontrail/support/how-to-set-the-lookupattribute-parameter; "
            "LookupEventsRequest.max_results (alibabacloud_actiontrail20200706 2.6.0)"),
    ]


def _merged(parts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for api, n in part.items():
            total[api] = total.get(api, 0) + n
    return {api: n for api, n in total.items() if n}


def minimum_calls(region: BenchRegion) -> dict[str, int]:
    """The honest minimum: per API, the calls the fewest documented strategy of each product needs to find
    everything in this region that depends on the key (APIs it does not need are left out). The bench's
    `calls_ratio_to_minimum` divides by its total and its quota lower bound is computed from it."""
    return _merged([p.fewest for p in product_minimums(region)])


def audit_strategy_calls(region: BenchRegion) -> dict[str, int]:
    """Per API, the calls the audit's own strategy needs for this region (what the minimum used to be)."""
    return _merged([p.audit for p in product_minimums(region)])


def minimum_by_product(region: BenchRegion) -> list[dict]:
    """The bench's per-product comparison: audit's strategy vs fewest documented, with the reason they differ."""
    return [p.as_row() for p in product_minimums(region)]
