"""The ECS image / default-key, OSS bucket / replication and SLB/ALB certificate scanners against the local
cloud over HTTP through the official SDKs: contract tests replaying the API docs' sample responses,
scanner behaviour (what is called, how often, what is reported), and key-guard end to end."""
from __future__ import annotations

import pytest

from localcloud.account import Region
from shared.audit.runner import run_audit
from shared.audit.scanners import SCANNERS
from shared.audit.scanners.ecs_default_key import EcsDefaultKeyScanner
from shared.audit.scanners.ecs_images import EcsImagesScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.lb_certificates import LbCertificatesScanner
from shared.audit.scanners.oss_buckets import OssBucketsScanner
from shared.audit.scanners.oss_replication import OssReplicationScanner
from shared.clients import Clients, Credentials
from shared.ratelimit import RateLimiter
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import (bucket, disk, ecs_image as image, image_snapshot, replicating_bucket as replicating,
                                     replication_rule as rule, snapshot)
from tests.support.scanners import clients, sample, target

SHANGHAI = "cn-shanghai"


def single_endpoint_clients(cloud, region: str = REGION) -> Clients:
    """One endpoint override for every region, as a private gateway would be configured."""
    return Clients(Credentials(ALICE_AK, ALICE_SECRET), region, endpoint_override=cloud.endpoint_url(region),
                   limiter=RateLimiter(lambda api: None))


def without_state_bucket(account):
    account.oss.buckets = [b for b in account.oss.buckets if b.Name != "kms-steward-state"]
    return account


# ---------------------------------------------------------------- contract: the docs' sample responses


def test_ecs_images_contract_doc_sample_image_is_found(start_cloud):
    doc = sample("ecs", "DescribeImages")
    item = doc["response"]["Images"]["Image"][0]
    snapshot_id = item["DiskDeviceMappings"]["DiskDeviceMapping"][0]["SnapshotId"]
    cloud = start_cloud(make_account(snapshots=[image_snapshot(snapshot_id)]))
    cloud.faults.respond("ecs:DescribeImages", doc["response"])

    [dep] = EcsImagesScanner().scan(target(), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("ECS", "ACS::ECS::Image", item["ImageId"], REGION)
    assert dep.state == "live"  # Status Available: new instances launch from it
    assert dep.usage == f"image built from snapshot {snapshot_id} encrypted with the key: new instances launch from it"
    assert dep.name == item["ImageName"]
    assert dep.detail == {"status": "Available", "snapshots": snapshot_id, "image_usage": "none", "os": item["OSNameEn"],
                          "family": item["ImageFamily"]}


def test_ecs_default_key_contract_doc_samples_name_the_default_key(start_cloud):
    default, status = sample("ecs", "DescribeDiskDefaultKMSKeyId"), sample("ecs", "DescribeDiskEncryptionByDefaultStatus")
    cloud = start_cloud(make_account())
    cloud.faults.respond("ecs:DescribeDiskDefaultKMSKeyId", default["response"])
    cloud.faults.respond("ecs:DescribeDiskEncryptionByDefaultStatus", status["response"])

    [dep] = EcsDefaultKeyScanner().scan(target(default["response"]["KMSKeyId"]), clients(cloud))

    assert (dep.service, dep.resource_type) == ("ECS", "ACS::ECS::DiskEncryptionDefault")
    assert dep.resource_id == f"disk-encryption-default/{REGION}"
    assert dep.state == "live" and dep.usage == "default key for new encrypted disks (encryption by default: off)"  # Encrypted false
    assert EcsDefaultKeyScanner().scan(target(OTHER_KEY), clients(cloud)) == []


def test_oss_buckets_contract_doc_sample_bucket_is_found(start_cloud):
    doc = sample("oss", "GetBucketInfo")
    cloud = start_cloud(without_state_bucket(make_account(buckets=[bucket("oss-example", key=None)])))
    cloud.faults.respond("oss:GetBucketInfo", doc["response"])

    [dep] = OssBucketsScanner().scan(target("9468da86-3509-4f8d-a61e-6eab1eac****"), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("OSS", "ACS::OSS::Bucket", "oss-example", REGION)
    assert dep.state == "live" and dep.usage == "bucket default encryption (SSE-KMS)"
    assert dep.detail == {"storage_class": "Standard", "cross_region_replication": "Disabled"}


def test_oss_replication_contract_doc_sample_rule_is_found(start_cloud):
    doc = sample("oss", "GetBucketReplication")
    beijing = "cn-beijing"
    account = without_state_bucket(make_account(buckets=[bucket("oss-example", key=None),
                                                         {**bucket("target-bucket", key=None), "Location": f"oss-{beijing}"}]))
    account.regions.append(Region(RegionId=beijing))
    cloud = start_cloud(account)
    # The sample is oss-example's (Hangzhou) answer; target-bucket has no rules.
    cloud.faults.add("oss:GetBucketReplication", body=doc["response"], region=REGION)

    [dep] = OssReplicationScanner().scan(target("c4d49f85-ee30-426b-a5ed-95e9139d****", beijing), clients(cloud, beijing))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("OSS", "ACS::OSS::Bucket", "target-bucket", beijing)
    assert dep.state == "live"
    assert dep.usage == "replica encryption (SSE-KMS) of cross-region replication from oss-example (rule test_replication_1, doing)"
    assert dep.detail == {"source_bucket": "oss-example", "source_region": REGION, "rule_id": "test_replication_1",
                          "rule_status": "doing", "replicates_sse_kms_objects": "Enabled", "prefixes": "source_image, video",
                          "action": "PUT", "sync_role": "acs:ram::174649585760****:role/aliyunramrole", "historical_objects": "enabled"}


# ---------------------------------------------------------------- ECS images and the default key


def test_snapshot_listing_is_shared_and_images_are_asked_only_for_image_snapshots(start_cloud):
    snaps = [image_snapshot("s-sys"), image_snapshot("s-data", usage="image_disk"), image_snapshot("s-disk", usage="disk"),
             snapshot("s-idle"), image_snapshot("s-other", key=OTHER_KEY)] + [snapshot(f"s-{i:03}") for i in range(150)]
    images = [image("m-app", "s-sys", "s-data", usage="instance"), image("m-old", "s-data", status="Deprecated"),
              image("m-building", "s-sys", status="Creating"), image("m-other", "s-other"),
              image("m-public", "s-sys", owner="system")]
    cloud = start_cloud(make_account(snapshots=snaps, ecs={"images": images}))

    report = run_audit(target(), clients(cloud), scanners=(EcsSnapshotsScanner(), EcsImagesScanner()))

    snapshots_result, images_result = report.results
    assert snapshots_result.complete and len(snapshots_result.dependents) == 154
    found = {d.resource_id: d for d in images_result.dependents}
    assert set(found) == {"m-app", "m-old", "m-building"}  # own images of the key's snapshots, every status
    assert found["m-app"].detail["snapshots"] == "s-data, s-sys"  # one image from two of the key's snapshots: once
    assert found["m-app"].usage.endswith("new instances launch from it; instances were created from it")
    assert (found["m-app"].state, found["m-building"].state, found["m-old"].state) == ("live", "live", "inert")
    assert found["m-old"].usage.endswith("Deprecated, launches nothing but holds the data")
    assert cloud.calls.get("ecs:DescribeSnapshots") == 2  # 154 snapshots, 100 a page, asked once for both scanners
    assert cloud.calls.get("ecs:DescribeImages") == 2  # s-sys and s-data; not s-disk, s-idle nor the other key's


@pytest.mark.parametrize("encrypted, on", [(True, "on"), (False, "off")])
def test_default_key_is_reported_with_the_encryption_by_default_status(start_cloud, encrypted, on):
    cloud = start_cloud(make_account(ecs={"encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": encrypted}]}))

    [dep] = EcsDefaultKeyScanner().scan(target(), clients(cloud))

    assert dep.usage == f"default key for new encrypted disks (encryption by default: {on})"
    assert dep.detail == {"encryption_by_default": on, "kms_key_id": KEY}
    assert cloud.calls.get("ecs:DescribeDiskDefaultKMSKeyId") == 1 and cloud.calls.get("ecs:DescribeDiskEncryptionByDefaultStatus") == 1


def test_another_default_key_costs_one_call(start_cloud):
    cloud = start_cloud(make_account(ecs={"encryption_defaults": [{"RegionId": REGION, "KMSKeyId": OTHER_KEY, "Encrypted": True}]}))

    assert EcsDefaultKeyScanner().scan(target(), clients(cloud)) == []
    assert cloud.calls.get("ecs:DescribeDiskDefaultKMSKeyId") == 1 and cloud.calls.get("ecs:DescribeDiskEncryptionByDefaultStatus") == 0


def test_region_without_the_feature_has_no_default_key_and_other_errors_stop_the_scanner(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeDiskDefaultKMSKeyId", "Code": "Abs.InvalidAction.RegionNotSupport",
                                              "Status": 403, "Remaining": 1}]))
    [not_offered] = run_audit(target(), clients(cloud), scanners=(EcsDefaultKeyScanner(),)).results
    assert not_offered.complete is True and not_offered.dependents == []

    cloud.faults.add("ecs:DescribeDiskDefaultKMSKeyId", "InvalidParameter.RegionIdNotExists", status=403)
    [failed] = run_audit(target(), clients(cloud), scanners=(EcsDefaultKeyScanner(),)).results
    assert failed.complete is False and "InvalidParameter.RegionIdNotExists" in failed.reason


# ---------------------------------------------------------------- OSS buckets and replication


def test_oss_scanners_share_the_listing_and_ask_one_info_and_one_replication_per_bucket(start_cloud):
    buckets = [bucket("acme-invoices"), bucket("acme-other", key=OTHER_KEY), bucket("acme-plain", key=None),
               {**bucket("acme-arn", key=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"), "ServerSideEncryptionRule": {
                   "SSEAlgorithm": "KMS", "KMSMasterKeyID": f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", "KMSDataEncryption": "SM4"}},
               {**bucket("acme-managed", key=None), "ServerSideEncryptionRule": {"SSEAlgorithm": "KMS"}},  # the OSS-managed key
               {**bucket("acme-elsewhere"), "Location": f"oss-{SHANGHAI}"}]
    account = make_account(buckets=buckets)
    account.regions.append(Region(RegionId=SHANGHAI))
    cloud = start_cloud(account)

    report = run_audit(target(), clients(cloud), scanners=(OssBucketsScanner(), OssReplicationScanner()))

    buckets_result, replication_result = report.results
    assert {d.resource_id for d in buckets_result.dependents} == {"acme-invoices", "acme-arn"}  # the key's region only
    assert next(d for d in buckets_result.dependents if d.resource_id == "acme-arn").detail["data_encryption"] == "SM4"
    assert buckets_result.note.startswith("objects uploaded with their own x-oss-server-side-encryption-key-id")
    assert replication_result.complete and replication_result.dependents == []
    assert cloud.calls.get("oss:ListBuckets") == 1  # shared
    assert cloud.calls.get("oss:GetBucketInfo") == 6  # the key region's buckets, incl. the state bucket
    assert cloud.calls.get("oss:GetBucketReplication") == 7  # every bucket of the account
    assert cloud.calls.get("oss:GetBucketEncryption") == 0


def test_replicas_encrypted_with_the_key_are_found_in_every_source_region(start_cloud):
    buckets = [replicating("hz-source", rule("srr-app", "hz-replica"), key=OTHER_KEY), bucket("hz-replica", key=OTHER_KEY),
               replicating("sh-source", rule("crr-dr", "hz-dr", Status="starting"), region=SHANGHAI), bucket("hz-dr", key=None),
               replicating("sh-other", rule("crr-other-key", "hz-plain", key=OTHER_KEY), region=SHANGHAI), bucket("hz-plain", key=None),
               replicating("hz-out", rule("crr-out", "sh-sink", location=f"oss-{SHANGHAI}", key=OTHER_KEY)),
               {**bucket("sh-sink", key=None), "Location": f"oss-{SHANGHAI}"}]
    account = make_account(buckets=buckets)
    account.regions.append(Region(RegionId=SHANGHAI))
    cloud = start_cloud(account)

    found = {d.detail["rule_id"]: d for d in OssReplicationScanner().scan(target(), clients(cloud))}

    assert set(found) == {"srr-app", "crr-dr"}
    assert (found["srr-app"].resource_id, found["srr-app"].region) == ("hz-replica", REGION)
    assert found["srr-app"].usage == "replica encryption (SSE-KMS) of same-region replication from hz-source (rule srr-app, doing)"
    assert (found["crr-dr"].resource_id, found["crr-dr"].detail["source_region"]) == ("hz-dr", SHANGHAI)
    assert found["crr-dr"].usage == "replica encryption (SSE-KMS) of cross-region replication from sh-source (rule crr-dr, starting)"


def test_a_bucket_of_another_region_behind_one_endpoint_override_makes_replication_incomplete(start_cloud):
    account = make_account(buckets=[{**bucket("sh-source"), "Location": f"oss-{SHANGHAI}"}])
    account.regions.append(Region(RegionId=SHANGHAI))
    cloud = start_cloud(account)

    [result] = run_audit(target(), single_endpoint_clients(cloud), scanners=(OssReplicationScanner(),)).results

    assert result.complete is False and "AccessDenied" in result.reason  # never silently empty


# ---------------------------------------------------------------- SLB/ALB certificates


def test_lb_certificates_are_considered_without_a_call_and_say_why(start_cloud):
    cloud = start_cloud(make_account())
    before = cloud.calls.snapshot()

    [result] = run_audit(target(), clients(cloud), scanners=(LbCertificatesScanner(),)).results

    assert result.complete is True and result.dependents == []
    assert result.note.startswith("SLB/ALB certificates cannot depend on a customer KMS key")
    assert "alibabacloud-alb20200616 1.3.3" in result.note
    assert cloud.calls.snapshot() == before
    assert any(isinstance(s, LbCertificatesScanner) for s in SCANNERS)  # in every audit


# ---------------------------------------------------------------- key-guard end to end


def test_key_guard_cancels_deletion_of_a_key_images_the_disk_default_and_replicas_depend_on(start_cloud):
    cloud = start_cloud(make_account(
        snapshots=[image_snapshot("s-golden"), image_snapshot("s-other", key=OTHER_KEY)],
        buckets=[replicating("acme-invoices", rule("srr-backup", "acme-backup"), key=KEY), bucket("acme-backup", key=None)],
        ecs={"images": [image("m-golden", "s-golden"), image("m-other", "s-other")],
             "encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": True}]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert set(alert["dependents"]["ECS"]["ids"]) == {"s-golden", "m-golden", f"disk-encryption-default/{REGION}"}
    assert set(alert["dependents"]["OSS"]["ids"]) == {"acme-invoices", "acme-backup"}
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True and record["dependentCount"] == 5
    assert any(d.startswith("m-golden") for d in record["dependents"]["ECS"])
    assert record["apiCalls"]["ecs:DescribeSnapshots"] == 1 and record["apiCalls"]["ecs:DescribeImages"] == 1
    assert record["apiCalls"]["oss:ListBuckets"] == 1


def test_key_guard_lets_a_deletion_through_when_images_defaults_and_replicas_use_other_keys(start_cloud):
    cloud = start_cloud(make_account(
        snapshots=[image_snapshot("s-other", key=OTHER_KEY)],
        buckets=[replicating("acme-invoices", rule("srr-backup", "acme-backup", key=OTHER_KEY), key=OTHER_KEY),
                 bucket("acme-backup", key=None)],
        ecs={"images": [image("m-other", "s-other")],
             "encryption_defaults": [{"RegionId": REGION, "KMSKeyId": OTHER_KEY, "Encrypted": True}]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["dependentCount"] == 0 and record["auditComplete"] is True


@pytest.mark.parametrize("api, code, part", [
    ("ecs:DescribeImages", "Forbidden.RAM", "ecs_images"),
    ("ecs:DescribeDiskDefaultKMSKeyId", "Forbidden.RAM", "ecs_default_key"),
    ("oss:GetBucketInfo", "AccessDenied", "oss_buckets"),
    ("oss:GetBucketReplication", "AccessDenied", "oss_replication"),
])
def test_access_denied_makes_the_audit_incomplete_and_the_deletion_is_cancelled(start_cloud, api, code, part):
    cloud = start_cloud(make_account(snapshots=[image_snapshot("s-other", key=OTHER_KEY), image_snapshot("s-golden")],
                                     ecs={"images": [image("m-golden", "s-golden")]},
                                     disks=[disk("d-other", key=OTHER_KEY)], faults=[{"Api": api, "Code": code}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [p["part"] for p in alert["auditIncomplete"]] == [part]
    assert "access denied" in alert["auditIncomplete"][0]["reason"] and code in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["decision"] == "block"


def test_disks_and_snapshots_contract_doc_samples_are_found(start_cloud):
    from shared.audit.scanners.ecs_disks import EcsDisksScanner

    disks, snaps = sample("ecs", "DescribeDisks"), sample("ecs", "DescribeSnapshots")
    key = disks["response"]["Disks"]["Disk"][0]["KMSKeyId"]
    cloud = start_cloud(make_account())
    cloud.faults.respond("ecs:DescribeDisks", disks["response"])
    cloud.faults.respond("ecs:DescribeSnapshots", snaps["response"])

    [disk_dep] = EcsDisksScanner().scan(target(key), clients(cloud))
    [snap_dep] = EcsSnapshotsScanner().scan(target(key), clients(cloud))

    assert (disk_dep.resource_id, disk_dep.state) == ("d-bp18um4r4f2fve24****", "live")
    assert "attached to i-bp67acfmxazb4ph****" in disk_dep.usage
    assert (snap_dep.resource_id, snap_dep.state, snap_dep.resource_type) == ("s-bp67acfmxazb4p****", "inert", "ACS::ECS::Snapshot")
