"""The NAS and Redis/Tair scanners against the local cloud over HTTP through the official SDKs:
contract tests replaying the API docs' sample responses, scanner behaviour (paging, TDE support,
call counts, failures), and key-guard end to end."""
from __future__ import annotations

import pytest

from localcloud.account import Region
from shared.audit.runner import run_audit
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from shared.audit.scanners.redis_instances import RedisInstancesScanner
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import file_system, redis_community as community, redis_instance as instance
from tests.support.scanners import clients, sample, target

# ---------------------------------------------------------------- contract: the docs' sample responses


def test_nas_contract_doc_sample_file_system_is_found(start_cloud):
    doc = sample("nas", "DescribeFileSystems")
    item = doc["response"]["FileSystems"]["FileSystem"][0]
    cloud = start_cloud(make_account())
    cloud.faults.respond("nas:DescribeFileSystems", doc["response"])

    [dep] = NasFileSystemsScanner().scan(target(item["KMSKeyId"]), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("NAS", "ACS::NAS::FileSystem", item["FileSystemId"], REGION)
    assert dep.state == "live"  # Status Pending: being created or modified, not at rest
    assert dep.usage == "file system encryption (NAS-managed key)"  # EncryptType 1
    assert dep.name == item["Description"] and dep.detail["status"] == "Pending"
    assert NasFileSystemsScanner().scan(target(OTHER_KEY), clients(cloud)) == []


def test_redis_contract_doc_samples_instance_is_found(start_cloud):
    listing, tde, key = (sample("redis", api) for api in ("DescribeInstances", "DescribeInstanceTDEStatus", "DescribeEncryptionKey"))
    item = listing["response"]["Instances"]["KVStoreInstance"][0]
    cloud = start_cloud(make_account())
    for api, doc in (("DescribeInstances", listing), ("DescribeInstanceTDEStatus", tde), ("DescribeEncryptionKey", key)):
        cloud.faults.respond(f"redis:{api}", doc["response"])

    [dep] = RedisInstancesScanner().scan(target(key["response"]["EncryptionKey"]), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id) == ("Redis", "ACS::Redis::DBInstance", item["InstanceId"])
    assert dep.state == "live" and dep.usage == "TDE (transparent data encryption)"  # InstanceStatus Normal
    assert dep.name == item["InstanceName"] and dep.detail["keyStatus"] == "Enabled"
    assert dep.detail["role"] == key["response"]["RoleArn"]


# ---------------------------------------------------------------- scanner behaviour


def test_nas_scanner_lists_every_page_once_and_matches_the_key(start_cloud):
    systems = [file_system(f"plain{i:03}", key=None) for i in range(200)]
    systems += [file_system("kms-running"), file_system("kms-stopped", status="Stopped"),
                file_system("nas-managed", encrypt_type=1), file_system("other-key", key=OTHER_KEY),
                file_system("arn-named", key=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", fs_type="extreme")]
    cloud = start_cloud(make_account(nas={"file_systems": systems}))

    found = {d.resource_id: d for d in NasFileSystemsScanner().scan(target(), clients(cloud))}

    assert set(found) == {"kms-running", "kms-stopped", "nas-managed", "arn-named"}
    assert (found["kms-running"].state, found["kms-stopped"].state) == ("live", "inert")
    assert found["kms-running"].usage == "file system encryption (KMS key)"
    assert found["arn-named"].detail["type"] == "extreme"  # every file system type is listed
    assert cloud.calls.get("nas:DescribeFileSystems") == 3  # 205 file systems, 100 a page


def test_redis_scanner_asks_the_key_only_of_tde_enabled_instances(start_cloud):
    instances = [instance("r-on-key"), instance("r-disabled-on-key", status="Inactive"), instance("r-other", key=OTHER_KEY),
                 instance("r-tde-off", key=None), community("r-oss"), community("r-mc", InstanceType="Memcache"),
                 instance("r-elsewhere", region="cn-shanghai")]
    account = make_account(redis={"instances": instances})
    account.regions.append(Region(RegionId="cn-shanghai"))  # the central endpoint answers for every region
    cloud = start_cloud(account)

    found = {d.resource_id: d for d in RedisInstancesScanner().scan(target(), clients(cloud))}

    assert set(found) == {"r-on-key", "r-disabled-on-key"}
    assert (found["r-on-key"].state, found["r-disabled-on-key"].state) == ("live", "inert")
    assert found["r-on-key"].detail == {"status": "Normal", "engine": "Tair", "version": "6.0", "edition": "Enterprise",
                                        "keyStatus": "Enabled", "role": f"acs:ram::{ACCOUNT_ID}:role/AliyunRdsInstanceEncryptionDefaultRole"}
    assert cloud.calls.get("redis:DescribeInstances") == 1
    assert cloud.calls.get("redis:DescribeInstanceTDEStatus") == 6  # the region's instances only
    assert cloud.calls.get("redis:DescribeEncryptionKey") == 3  # TDE enabled only


def test_redis_scanner_pages_concurrently_with_the_largest_page(start_cloud):
    cloud = start_cloud(make_account(redis={"instances": [community(f"r-{i:03}") for i in range(120)] + [instance("r-tde")]}))

    [dep] = RedisInstancesScanner().scan(target(), clients(cloud))

    assert dep.resource_id == "r-tde"
    assert cloud.calls.get("redis:DescribeInstances") == 3  # 121 instances, 50 a page
    assert cloud.calls.get("redis:DescribeInstanceTDEStatus") == 121


@pytest.mark.parametrize("scanner, api, code, status", [
    (NasFileSystemsScanner(), "nas:DescribeFileSystems", "InvalidRegionId.NotFound", 404),
    (RedisInstancesScanner(), "redis:DescribeInstances", "InvalidRegionId.NotFound", 404),
    (RedisInstancesScanner(), "redis:DescribeInstanceTDEStatus", "IncorrectInstanceStatus", 400),
    (RedisInstancesScanner(), "redis:DescribeEncryptionKey", "Forbidden.RAM", 403),
])
def test_errors_stop_the_scanner_and_the_audit_is_incomplete(start_cloud, scanner, api, code, status):
    cloud = start_cloud(make_account(redis={"instances": [instance("r-tde")]},
                                     faults=[{"Api": api, "Code": code, "Status": status}]))

    [result] = run_audit(target(), clients(cloud), scanners=(scanner,)).results

    assert result.complete is False and result.dependents == [] and code in result.reason


def test_an_instance_released_between_listing_and_describe_is_skipped(start_cloud):
    # The first TDE question meets an instance that is gone (which one depends on the fan-out order).
    cloud = start_cloud(make_account(redis={"instances": [instance("r-tde1"), instance("r-tde2")]},
                                     faults=[{"Api": "redis:DescribeInstanceTDEStatus", "Code": "InvalidInstanceId.NotFound",
                                              "Status": 404, "Remaining": 1}]))

    [result] = run_audit(target(), clients(cloud), scanners=(RedisInstancesScanner(),)).results

    assert result.complete is True and len(result.dependents) == 1


# ---------------------------------------------------------------- key-guard end to end


def test_key_guard_cancels_deletion_of_a_key_nas_and_redis_depend_on(start_cloud):
    cloud = start_cloud(make_account(nas={"file_systems": [file_system("31a8e4app"), file_system("31a8e4other", key=OTHER_KEY)]},
                                     redis={"instances": [instance("r-sessions"), instance("r-other", key=OTHER_KEY), community("r-oss")]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert alert["dependents"]["NAS"] == {"count": 1, "ids": ["31a8e4app"]}
    assert alert["dependents"]["Redis"] == {"count": 1, "ids": ["r-sessions"]}
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True and record["dependentCount"] == 2
    assert record["dependents"]["NAS"][0].startswith("31a8e4app") and record["dependents"]["Redis"][0].startswith("r-sessions")
    assert record["apiCalls"]["nas:DescribeFileSystems"] == 1 and record["apiCalls"]["redis:DescribeEncryptionKey"] == 2


def test_key_guard_lets_a_deletion_through_when_only_other_keys_are_used(start_cloud):
    cloud = start_cloud(make_account(nas={"file_systems": [file_system("31a8e4other", key=OTHER_KEY)]},
                                     redis={"instances": [instance("r-other", key=OTHER_KEY)]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["dependentCount"] == 0 and record["auditComplete"] is True
