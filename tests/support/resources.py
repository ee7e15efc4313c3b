"""One builder per product record, as the account file spells it (the field names the real Describe/List API
returns): make_account(disks=[disk("d-app1")], rds={"instances": [rds_instance("rm-1", tde=KEY)]}), ...

Each record depends on the audited KEY unless told otherwise; a builder named for its product where a bare
name would be ambiguous (an ACK cluster and a PolarDB cluster, a MongoDB and a Redis instance)."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

from tests.support.accounts import ACCOUNT_ID, KEY, REGION

# ---------------------------------------------------------------- ECS


def disk(disk_id: str, key: str | None = KEY, status: str = "In_use", **extra) -> dict:
    return {"DiskId": disk_id, "RegionId": REGION, "Status": status, "Encrypted": key is not None, "KMSKeyId": key,
            "InstanceId": "i-bp1app000001" if status == "In_use" else None, "Type": "data", **extra}


def snapshot(snapshot_id: str, key: str = KEY) -> dict:
    return {"SnapshotId": snapshot_id, "RegionId": REGION, "Encrypted": True, "KMSKeyId": key, "Status": "accomplished"}


def image_snapshot(snapshot_id: str, key: str = KEY, usage: str = "image") -> dict:
    return {**snapshot(snapshot_id, key), "Usage": usage}


def ecs_image(image_id: str, *snapshot_ids: str, owner: str = "self", status: str = "Available", usage: str = "none",
              region: str = REGION) -> dict:
    return {"ImageId": image_id, "RegionId": region, "ImageOwnerAlias": owner, "Status": status, "Usage": usage,
            "DiskDeviceMappings": {"DiskDeviceMapping": [{"SnapshotId": s, "Encrypted": True} for s in snapshot_ids]}}


# ---------------------------------------------------------------- OSS


def bucket(name: str, key: str | None = KEY) -> dict:
    rule = {"SSEAlgorithm": "KMS", "KMSMasterKeyID": key} if key else None
    return {"Name": name, "Location": "oss-cn-hangzhou", "ServerSideEncryptionRule": rule}


def replication_rule(rule_id: str, dest: str, location: str = f"oss-{REGION}", key: str | None = KEY, **extra) -> dict:
    return {"ID": rule_id, "Destination": {"Bucket": dest, "Location": location}, **extra,
            **({"EncryptionConfiguration": {"ReplicaKmsKeyID": key},
                "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}}} if key else {})}


def replicating_bucket(name: str, *rules: dict, region: str = REGION, key: str | None = None) -> dict:
    return {**bucket(name, key=key), "Location": f"oss-{region}", "ReplicationConfiguration": {"Rule": list(rules)}}


# ---------------------------------------------------------------- KMS (Secrets Manager)


def secret(name: str, key: str | None = KEY, region: str = REGION, **extra) -> dict:
    record = {"SecretName": name, "RegionId": region, "SecretType": "Generic", **extra}
    if key:
        record["EncryptionKeyId"] = key
    return record


# ---------------------------------------------------------------- databases


def rds_instance(instance_id: str, *, tde: str | None = None, disk: str | None = None, status: str = "Running",
                 engine: str = "MySQL", region: str = REGION, **extra) -> dict:
    """An instance record: TDE on `tde`, cloud disks encrypted with `disk` (either may be None)."""
    record = {"DBInstanceId": instance_id, "RegionId": region, "Engine": engine, "DBInstanceStatus": status, **extra}
    if tde:
        record["TDE"] = {"TDEStatus": "Enabled", "EncryptionKey": tde, "TDEMode": "Customer_Provided_Key"}
    if disk:
        record["DiskEncryption"] = {"EncryptionKey": disk}
    return record


def polardb_cluster(cluster_id: str, *, tde: str | None = None, storage: str | None = None, status: str = "Running",
                    region: str = REGION, **extra) -> dict:
    """A cluster record: TDE on `tde`, storage encrypted with `storage` (either may be None)."""
    record = {"DBClusterId": cluster_id, "RegionId": region, "DBType": "MySQL", "DBClusterStatus": status, **extra}
    if tde:
        record["TDE"] = {"TDEStatus": "Enabled", "EncryptionKey": tde}
    if storage:
        record["StorageEncryption"] = {"StorageEncryptionKey": storage}
    return record


MONGODB_TDE_ROLE = f"acs:ram::{ACCOUNT_ID}:role/aliyunrdsinstanceencryptiondefaultrole"


def mongodb_instance(instance_id: str, *, tde: str | None = None, disk: str | None = None, kind: str = "replicate",
                     status: str = "Running", region: str = REGION, **extra) -> dict:
    """A MongoDB 4.4 instance (a 3-node replica set unless told), TDE on `tde` and its cloud disks on `disk`."""
    record = {"DBInstanceId": instance_id, "RegionId": region, "DBInstanceType": kind, "DBInstanceStatus": status,
              "Engine": "MongoDB", "EngineVersion": "4.4", "DBInstanceDescription": f"{instance_id}-name", "LockMode": "Unlock",
              "StorageType": "cloud_essd1", **({"ReplicationFactor": "3"} if kind == "replicate" else {}), **extra}
    if tde:
        record["TDE"] = {"TDEStatus": "enabled", "EncryptionKey": tde, "RoleARN": MONGODB_TDE_ROLE}
    if disk:
        record.update(Encrypted=True, EncryptionKey=disk)
    return record


def redis_instance(instance_id: str, key: str | None = KEY, *, status: str = "Normal", region: str = REGION, **extra) -> dict:
    """A Tair (Enterprise Edition) instance, with TDE on `key` unless key is None."""
    record = {"InstanceId": instance_id, "RegionId": region, "InstanceStatus": status, "InstanceType": "Tair",
              "EditionType": "Enterprise", "EngineVersion": "6.0", "InstanceName": f"{instance_id}-name", **extra}
    if key:
        record.update(TDEStatus="Enabled", EncryptionKey=key,
                      RoleArn="acs:ram::1234567890123456:role/AliyunRdsInstanceEncryptionDefaultRole")
    return record


def redis_community(instance_id: str, **extra) -> dict:
    """An open-source Redis instance: no TDE."""
    return {"InstanceId": instance_id, "RegionId": REGION, "InstanceType": "Redis", "EditionType": "Community",
            "EngineVersion": "7.0", **extra}


# ---------------------------------------------------------------- NAS


def file_system(fs_id: str, key: str | None = KEY, *, encrypt_type: int | None = None, status: str = "Running",
                fs_type: str = "standard", region: str = REGION, **extra) -> dict:
    """A DescribeFileSystems item as the account file holds it (EncryptType 2 when a key is given)."""
    encrypt_type = (2 if key else 0) if encrypt_type is None else encrypt_type
    record = {"FileSystemId": fs_id, "RegionId": region, "FileSystemType": fs_type, "Status": status,
              "EncryptType": encrypt_type, "ProtocolType": "NFS", "StorageType": "Performance", "ZoneId": f"{region}-b", **extra}
    if key:
        record["KMSKeyId"] = key
    return record


# ---------------------------------------------------------------- ACK (CS)


def ack_meta_data(key: str | None = KEY, *, disabled: bool = False, **extra) -> str:
    """A meta_data string as DescribeClusterDetail returns it: JSON, Capabilities holding the Secrets key."""
    caps = {"EncryptionKMSKeyId": key, "DisableEncryption": disabled} if key else {}
    return json.dumps({"Addons": [{"name": "coredns"}], "Capabilities": caps, **extra})


def ack_cluster(cluster_id: str, key: str | None = KEY, *, state: str = "running", region: str = REGION,
                spec: str = "ack.pro.small", disabled: bool = False, **extra) -> dict:
    """An ACK Pro managed cluster, its Secrets encrypted with `key` unless key is None."""
    return {"cluster_id": cluster_id, "region_id": region, "name": f"{cluster_id}-name", "state": state,
            "cluster_type": "ManagedKubernetes", "cluster_spec": spec, "profile": "Default",
            "current_version": "1.31.1-aliyun.1", "meta_data": ack_meta_data(key, disabled=disabled), **extra}


def ack_basic_cluster(cluster_id: str, **extra) -> dict:
    """An ACK Basic managed cluster: no Secret encryption."""
    return {**ack_cluster(cluster_id, key=None, spec="ack.standard"), **extra}


# ---------------------------------------------------------------- SLS


SLS_CMK_ROLE = f"acs:ram::{ACCOUNT_ID}:role/sls-cmk"


def logstore(project: str, name: str, key: str | None = KEY, *, enable: bool = True, encrypted: bool = True) -> dict:
    """A logstore: on `key` (BYOK), or with SLS's service key (key None), or not encrypted at all."""
    store = {"projectName": project, "logstoreName": name, "RegionId": REGION}
    if encrypted:
        store["encrypt_conf"] = {"enable": enable, "encrypt_type": "default"}
        if key:
            store["encrypt_conf"]["user_cmk_info"] = {"cmk_key_id": key, "arn": SLS_CMK_ROLE, "region_id": REGION}
    return store


# ---------------------------------------------------------------- ActionTrail


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def crypto_event(name: str = "Decrypt", *, when: datetime, key: str | None = KEY, user: str = "billing-app",
                 identity: str = "ram-user", account: str = ACCOUNT_ID, ip: str = "10.0.0.5", agent: str = "billing/2.1",
                 region: str = REGION, service: str = "Kms", rw: str = "Read", error: str = "",
                 access_key: str = "LTAI5tBillingApp0000001") -> dict:
    """An ActionTrail record of a KMS call, shaped as the recorder writes it (reference §1b/§1c)."""
    principal = str(int(hashlib.sha256(f"{account}/{user}".encode()).hexdigest(), 16) % 10**16).zfill(16)
    return {
        "eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{region}.aliyuncs.com", "eventType": "ApiCall",
        "eventRW": rw, "eventName": name, "serviceName": service, "apiVersion": "2016-01-20", "acsRegion": region,
        "eventTime": iso(when), "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": ip, "userAgent": agent,
        "requestParameters": {"KeyId": key} if key and name != "Decrypt" else {"CiphertextBlob": "<omitted>"},
        "userIdentity": {"type": identity, "accountId": account, "principalId": principal, "accessKeyId": access_key,
                         "userName": user},
        "referencedResources": {"ACS::KMS::Key": [key]} if key else {},
        "isGlobal": False, "errorCode": error, "errorMessage": "",
    }


# A trail delivering every event (Read and Write) of every region to the SLS project audit-logs.
TRAIL = {"Name": "audit-trail", "HomeRegion": REGION, "EventRW": "All", "Status": "Enable", "TrailRegion": "All",
         "SlsProjectArn": f"acs:log:{REGION}:{ACCOUNT_ID}:project/audit-logs",
         "SlsWriteRoleArn": f"acs:ram::{ACCOUNT_ID}:role/aliyunserviceroleforactiontrail",
         "StartLoggingTime": "2029-01-01T00:00:00Z", "CreateTime": "2029-01-01T00:00:00Z"}


# ---------------------------------------------------------------- certificates (CAS, SLB, ALB)


def cas_certificate(cert_id: int, end_date: str, common_name: str = "www.example.com", sans: str | None = None, **extra) -> dict:
    """A ListUserCertificateOrder item (OrderType CERT); EndDate is YYYY-MM-DD, as CAS answers it."""
    return {"CertificateId": cert_id, "Name": f"cert-{cert_id}", "CommonName": common_name,
            "Sans": sans if sans is not None else common_name, "EndDate": end_date, "StartDate": "2029-01-01", **extra}


def slb_server_certificate(cert_id: str, expire_time: str, common_name: str = "shop.example.com", sans: tuple = (),
                           region: str = REGION, **extra) -> dict:
    """A DescribeServerCertificates item."""
    return {"ServerCertificateId": cert_id, "ServerCertificateName": f"name-{cert_id}", "RegionId": region,
            "CommonName": common_name, "ExpireTime": expire_time,
            "SubjectAlternativeNames": {"SubjectAlternativeName": list(sans) or [common_name]}, **extra}


def slb_https_listener(lb_id: str, cert_id: str, port: int = 443, region: str = REGION, **extra) -> dict:
    """A DescribeLoadBalancerListeners item of an HTTPS listener serving `cert_id`."""
    return {"LoadBalancerId": lb_id, "RegionId": region, "ListenerPort": port, "ListenerProtocol": "https",
            "HTTPSListenerConfig": {"ServerCertificateId": cert_id}, **extra}


def alb_listener(listener_id: str, *cert_ids: str, lb_id: str = "alb-web01", protocol: str = "HTTPS", port: int = 443,
                 region: str = REGION) -> dict:
    """A ListListeners item with its ListListenerCertificates items (the first certificate is the default one)."""
    return {"ListenerId": listener_id, "LoadBalancerId": lb_id, "RegionId": region, "ListenerProtocol": protocol,
            "ListenerPort": port, "Certificates": [{"CertificateId": c, "IsDefault": i == 0} for i, c in enumerate(cert_ids)]}
