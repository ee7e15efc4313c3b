"""The MongoDB scanner against the local cloud over HTTP through the official SDK: contract tests replaying
the API docs' sample responses, scanner behaviour (every instance type, paging, TDE and cloud disk keys,
call counts, states, failures), and key-guard end to end."""
from __future__ import annotations

import pytest

from localcloud.account import Region
from shared.audit.runner import run_audit
from shared.audit.scanners.mongodb_instances import MongodbInstancesScanner
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import MONGODB_TDE_ROLE as ROLE, mongodb_instance as instance
from tests.support.scanners import clients, sample, target

APIS = ("DescribeDBInstances", "DescribeDBInstanceTDEInfo", "DescribeDBInstanceAttribute")

# ---------------------------------------------------------------- contract: the docs' sample responses


def replayed(start_cloud):
    docs = {api: sample("mongodb", api) for api in APIS}
    cloud = start_cloud(make_account())
    for api, doc in docs.items():
        response = doc["response"]
        if api == "DescribeDBInstances":  # one page of the sample's 5: replayed as the whole listing, its total is what it holds
            response = {**response, "TotalCount": len(response["DBInstances"]["DBInstance"])}
        cloud.faults.respond(f"mongodb:{api}", response)
    return cloud, docs


def test_contract_doc_samples_tde_key_is_found(start_cloud):
    cloud, docs = replayed(start_cloud)
    item = docs["DescribeDBInstances"]["response"]["DBInstances"]["DBInstance"][0]
    tde = docs["DescribeDBInstanceTDEInfo"]["response"]

    [dep] = MongodbInstancesScanner().scan(target(tde["EncryptionKey"]), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("MongoDB", "ACS::MongoDB::DBInstance",
                                                                             item["DBInstanceId"], REGION)
    assert dep.usage == "TDE (transparent data encryption)" and dep.state == "live"  # Running, Unlock
    assert dep.name == item["DBInstanceDescription"] and dep.detail["role"] == tde["RoleARN"]
    assert dep.detail["status"] == "Running" and dep.detail["version"] == "4.4"  # the Attribute's, the freshest
    # The sample listing answers every type: the instance is still reported once.
    assert cloud.calls.get("mongodb:DescribeDBInstances") == 3


def test_contract_doc_samples_cloud_disk_key_is_found(start_cloud):
    cloud, docs = replayed(start_cloud)
    attribute = docs["DescribeDBInstanceAttribute"]["response"]["DBInstances"]["DBInstance"][0]

    [dep] = MongodbInstancesScanner().scan(target(attribute["EncryptionKey"]), clients(cloud))

    assert dep.usage == "cloud disk encryption" and "role" not in dep.detail
    assert dep.detail["storage"] == "cloud_essd1" and dep.detail["type"] == "replicate"
    assert MongodbInstancesScanner().scan(target(OTHER_KEY), clients(cloud)) == []


# ---------------------------------------------------------------- scanner behaviour


def test_scanner_lists_every_type_and_matches_tde_and_disk_keys(start_cloud):
    instances = [instance("dds-tde", tde=KEY), instance("dds-disk", disk=KEY), instance("dds-both", tde=KEY, disk=KEY),
                 instance("dds-shard", kind="sharding", tde=KEY), instance("dds-sls", kind="serverless", disk=KEY),
                 instance("dds-single", ReplicationFactor="1", disk=KEY),
                 instance("dds-other", tde=OTHER_KEY, disk=OTHER_KEY), instance("dds-plain"),
                 instance("dds-nobyok", TDE={"TDEStatus": "enabled", "EncryptionKey": "NoActiveBYOK"}),
                 instance("dds-arn", disk=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"),
                 instance("dds-elsewhere", region="cn-shanghai", tde=KEY)]
    account = make_account(mongodb={"instances": instances})
    account.regions.append(Region(RegionId="cn-shanghai"))  # the central endpoint answers for every region
    cloud = start_cloud(account)

    found = {d.resource_id: d for d in MongodbInstancesScanner().scan(target(), clients(cloud))}

    assert set(found) == {"dds-tde", "dds-disk", "dds-both", "dds-shard", "dds-sls", "dds-single", "dds-arn"}
    assert found["dds-both"].usage == "TDE (transparent data encryption) and cloud disk encryption"
    assert (found["dds-shard"].detail["type"], found["dds-sls"].detail["type"]) == ("sharding", "serverless")
    assert found["dds-tde"].detail == {"status": "Running", "version": "4.4", "type": "replicate", "storage": "cloud_essd1",
                                       "role": ROLE}
    assert found["dds-tde"].name == "dds-tde-name" and found["dds-disk"].region == REGION
    assert cloud.calls.get("mongodb:DescribeDBInstances") == 3  # replicate, sharding, serverless: one page each
    assert cloud.calls.get("mongodb:DescribeDBInstanceAttribute") == 10  # the region's instances only
    assert cloud.calls.get("mongodb:DescribeDBInstanceTDEInfo") == 9  # not the single-node one


def test_scanner_states_follow_status_and_lock_mode(start_cloud):
    cloud = start_cloud(make_account(mongodb={"instances": [
        instance("dds-running", tde=KEY), instance("dds-rebooting", tde=KEY, status="Rebooting"),
        instance("dds-deleting", tde=KEY, status="Deleting"), instance("dds-expired", disk=KEY, LockMode="LockByExpiration"),
        instance("dds-released", disk=KEY, LockMode="Released"), instance("dds-diskfull", disk=KEY, LockMode="LockByDiskQuota"),
    ]}))

    found = {d.resource_id: d for d in MongodbInstancesScanner().scan(target(), clients(cloud))}

    assert {i: d.state for i, d in found.items()} == {"dds-running": "live", "dds-rebooting": "live", "dds-deleting": "inert",
                                                       "dds-expired": "inert", "dds-released": "inert", "dds-diskfull": "live"}
    assert found["dds-expired"].detail["lock"] == "LockByExpiration" and "lock" not in found["dds-running"].detail


def test_scanner_pages_concurrently_with_the_largest_page(start_cloud):
    plain = [instance(f"dds-{i:03}") for i in range(230)] + [instance(f"dds-s{i:03}", kind="sharding") for i in range(120)]
    cloud = start_cloud(make_account(mongodb={"instances": plain + [instance("dds-tde", kind="sharding", tde=KEY)]}))

    [dep] = MongodbInstancesScanner().scan(target(), clients(cloud))

    assert dep.resource_id == "dds-tde"
    assert cloud.calls.get("mongodb:DescribeDBInstances") == 3 + 2 + 1  # 230 and 121 at 100 a page, serverless empty
    assert cloud.calls.get("mongodb:DescribeDBInstanceTDEInfo") == cloud.calls.get("mongodb:DescribeDBInstanceAttribute") == 351


@pytest.mark.parametrize("api, code, status", [
    ("mongodb:DescribeDBInstances", "InvalidRegionId.NotFound", 404),
    ("mongodb:DescribeDBInstances", "Forbidden.RAM", 403),
    ("mongodb:DescribeDBInstanceTDEInfo", "OperationDenied.DBInstanceStatus", 403),
    ("mongodb:DescribeDBInstanceTDEInfo", "InvalidDBInstanceType.ValueNotSupport", 400),  # an undocumented refusal
    ("mongodb:DescribeDBInstanceAttribute", "InternalError", 400),
])
def test_errors_stop_the_scanner_and_the_audit_is_incomplete(start_cloud, api, code, status):
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-tde", tde=KEY)]},
                                     faults=[{"Api": api, "Code": code, "Status": status}]))

    [result] = run_audit(target(), clients(cloud), scanners=(MongodbInstancesScanner(),)).results

    assert result.complete is False and result.dependents == [] and code in result.reason


@pytest.mark.parametrize("api", ["mongodb:DescribeDBInstanceTDEInfo", "mongodb:DescribeDBInstanceAttribute"])
def test_an_instance_released_between_listing_and_describe_is_skipped(start_cloud, api):
    # The first read meets an instance that is gone (which one depends on the fan-out order).
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-tde1", tde=KEY), instance("dds-tde2", tde=KEY)]},
                                     faults=[{"Api": api, "Code": "InvalidDBInstanceId.NotFound", "Status": 404, "Remaining": 1}]))

    [result] = run_audit(target(), clients(cloud), scanners=(MongodbInstancesScanner(),)).results

    assert result.complete is True and len(result.dependents) == 1


@pytest.mark.parametrize("kind, code, complete", [
    ("serverless", "InvalidParameter", True),  # a region without serverless refuses the value: none to list
    ("serverless", "Forbidden.RAM", False),
    ("sharding", "InvalidParameter", False),  # sharded clusters exist everywhere: a refusal there is a gap
])
def test_a_region_refusing_the_serverless_type_has_none_but_other_refusals_are_gaps(start_cloud, kind, code, complete):
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-tde", tde=KEY)]},
                                     faults=[{"Api": "mongodb:DescribeDBInstances", "Code": code, "Status": 400,
                                              "Params": {"DBInstanceType": kind}}]))

    [result] = run_audit(target(), clients(cloud), scanners=(MongodbInstancesScanner(),)).results

    assert result.complete is complete
    if complete:
        assert [d.resource_id for d in result.dependents] == ["dds-tde"]
    else:
        assert code in result.reason


def test_an_empty_attribute_answer_is_read_as_released(start_cloud):
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-tde", tde=OTHER_KEY)]}))
    cloud.faults.respond("mongodb:DescribeDBInstanceAttribute", {"DBInstances": {"DBInstance": []}})

    [result] = run_audit(target(), clients(cloud), scanners=(MongodbInstancesScanner(),)).results

    assert result.complete is True and result.dependents == []


def test_an_empty_attribute_answer_never_throws_away_a_tde_key_that_names_the_key(start_cloud):
    # The TDE read named the key; an empty Attribute (released, or silently denied) cannot clear it.
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-tde", tde=KEY)]}))
    cloud.faults.respond("mongodb:DescribeDBInstanceAttribute", {"DBInstances": {"DBInstance": []}})

    [result] = run_audit(target(), clients(cloud), scanners=(MongodbInstancesScanner(),)).results

    assert result.complete is False and "dds-tde" in result.reason


# ---------------------------------------------------------------- key-guard end to end


def test_key_guard_cancels_deletion_of_a_key_a_mongodb_instance_depends_on(start_cloud):
    cloud = start_cloud(make_account(mongodb={"instances": [
        instance("dds-orders", tde=KEY), instance("dds-events", kind="sharding", disk=KEY),
        instance("dds-other", tde=OTHER_KEY, disk=OTHER_KEY), instance("dds-plain"),
    ]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert alert["dependents"]["MongoDB"] == {"count": 2, "ids": ["dds-orders", "dds-events"]}
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True and record["dependentCount"] == 2
    assert sorted(d.split(" ")[0] for d in record["dependents"]["MongoDB"]) == ["dds-events", "dds-orders"]
    assert record["apiCalls"]["mongodb:DescribeDBInstances"] == 3 and record["apiCalls"]["mongodb:DescribeDBInstanceAttribute"] == 4
