"""The synthetic region the benchmark audits: many resources, a few hundred of them on the audited key,
spread the way a real account spreads them (most encrypted with other keys, some not at all), and
the minimum number of calls the audit's chosen APIs need to cover it.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from localcloud.clock import iso
from shared.audit.scanners.kms_usage import MAX_EVENTS
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


def minimum_calls(region: BenchRegion) -> dict[str, int]:
    """The fewest calls the audit's chosen APIs need for this region, API by API: pages at the largest
    size each API allows, and one describe per resource only where no listing or reverse lookup
    carries the key."""
    s, on = region.sizes, region.on
    pages = lambda n, size: max(1, math.ceil(n / size))  # noqa: E731
    return {
        "ecs:DescribeDisks": pages(on["disks"], 500),
        "ecs:DescribeSnapshots": pages(on["snapshots"], 100),
        "ecs:DescribeImages": region.image_snapshots,
        "ecs:DescribeDiskDefaultKMSKeyId": 1,
        "ecs:DescribeDiskEncryptionByDefaultStatus": 1,  # asked only because the key is the region's default
        "oss:ListBuckets": pages(s.buckets, 1000),
        "oss:GetBucketInfo": s.buckets,  # region and default encryption in one call
        "oss:GetBucketReplication": s.buckets,  # no listing says whether same-region replication is on
        "rds:DescribeKmsAssociateResources": 1,
        "rds:DescribeDBInstanceEncryptionKey": on["rds"],
        "polardb:DescribeDBClusters": pages(s.polardb, 100),
        "polardb:DescribeDBClusterEncryptionKey": s.polardb,
        "kms:DescribeKey": 1,  # is the key in a KMS instance? (narrows the secrets listing)
        "kms:ListSecrets": pages(s.secrets, 100),
        "kms:DescribeSecret": s.secrets,
        "nas:DescribeFileSystems": pages(s.nas, 100),
        "redis:DescribeInstances": pages(s.redis, 50),
        "redis:DescribeInstanceTDEStatus": s.redis,
        "redis:DescribeEncryptionKey": region.redis_tde,
        "mongodb:DescribeDBInstances": sum(pages(region.mongodb_types.get(t, 0), 100) for t in MONGODB_TYPES),
        "mongodb:DescribeDBInstanceTDEInfo": region.mongodb_tde_asked,  # no listing or lookup carries the key
        "mongodb:DescribeDBInstanceAttribute": s.mongodb,
        "cs:DescribeClustersV1": pages(s.ack, 50),  # each item carries meta_data: no DescribeClusterDetail
        "sls:ListProject": pages(region.projects, 500),
        "sls:ListLogStores": region.projects,
        "sls:GetLogStore": s.logstores,
        # The fewer of the two documented ways to read the key's crypto calls: all of its KMS events in one
        # query (ResourceName + ServiceName), or each crypto API by name (ResourceName + EventName, at least
        # a page each); the newest MAX_EVENTS are enough either way. The audit takes the first for a quiet key
        # and, past kms_usage.QUIET_PAGES, the second, so for a busy key it is above this minimum.
        "actiontrail:LookupEvents": min(pages(min(on["trail_events"], MAX_EVENTS), 50),
                                        sum(pages(min(n, MAX_EVENTS), 50) for n in _crypto_calls_per_api(on["trail_events"]))),
    }
