"""The RDS and PolarDB scanners against the local cloud over HTTP through the official SDKs: contract
tests replaying the API docs' sample responses, the scanners on seeded accounts (what they call, what
they skip, when they give up), and key-guard end to end (a found dependent blocks the deletion; a
scanner that could not look everywhere blocks it too)."""
from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from shared.audit.scanners.polardb_clusters import PolardbClustersScanner
from shared.audit.scanners.rds_instances import RdsInstancesScanner
from tests.support.accounts import KEY, OTHER_KEY, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import polardb_cluster as cluster, rds_instance
from tests.support.scanners import clients, sample, target

# ---------------------------------------------------------------- contract: the docs' sample responses


def test_rds_contract_doc_samples_lookup_names_the_instance(start_cloud):
    lookup, verify = sample("rds", "DescribeKmsAssociateResources"), sample("rds", "DescribeDBInstanceEncryptionKey")
    cloud = start_cloud(make_account())
    cloud.faults.respond("rds:DescribeKmsAssociateResources", lookup["response"])
    cloud.faults.respond("rds:DescribeDBInstanceEncryptionKey", verify["response"])

    [dep] = RdsInstancesScanner().scan(target(lookup["key_id"]), clients(cloud))

    assert (dep.resource_type, dep.resource_id, dep.state) == ("ACS::RDS::DBInstance", "pgm-bp16p6f68130****", "live")
    assert dep.usage == "cloud disk encryption" and dep.detail["engine"] == "PostgreSQL" and dep.detail["status"] == "ACTIVATION"
    # The two samples are independent: the verification's sample names another key (for TDE), so the
    # instance is reported on the lookup's word, and the detail says the verification did not confirm it.
    assert "does not list DiskEncryption" in dep.detail["verification"]


def test_rds_contract_doc_sample_verification_confirms_the_tde_use(start_cloud):
    verify = sample("rds", "DescribeDBInstanceEncryptionKey")
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("pgm-bp16p6f68130****", tde=verify["key_id"], engine="PostgreSQL")]}))
    cloud.faults.respond("rds:DescribeDBInstanceEncryptionKey", verify["response"])

    [dep] = RdsInstancesScanner().scan(target(verify["key_id"]), clients(cloud))

    assert (dep.resource_id, dep.state, dep.usage) == ("pgm-bp16p6f68130****", "live", "TDE (transparent data encryption)")
    assert "verification" not in dep.detail


def test_polardb_contract_doc_samples_cluster_is_found(start_cloud):
    listing, keys = sample("polardb", "DescribeDBClusters"), sample("polardb", "DescribeDBClusterEncryptionKey")
    cloud = start_cloud(make_account())
    # One page of the sample's 16: replayed as the whole listing, its total is what it holds.
    page = listing["response"]
    cloud.faults.respond("polardb:DescribeDBClusters", {**page, "TotalRecordCount": len(page["Items"]["DBCluster"])})
    cloud.faults.respond("polardb:DescribeDBClusterEncryptionKey", keys["response"])
    c = clients(cloud)

    [dep] = PolardbClustersScanner().scan(target(keys["key_id"]), c)

    assert (dep.resource_type, dep.resource_id, dep.name, dep.state) == ("ACS::POLARDB::DBCluster", "pc-****************", "GDN-1", "live")
    assert dep.usage == "storage encryption" and dep.detail == {"engine": "MySQL", "status": "Running"}
    assert c.calls.counts == {"polardb:DescribeDBClusters": 1, "polardb:DescribeDBClusterEncryptionKey": 1}


# ---------------------------------------------------------------- RDS on seeded accounts


def test_rds_scanner_makes_one_lookup_then_one_verification_per_instance(start_cloud):
    cloud = start_cloud(make_account(rds={"instances": [
        rds_instance("rm-tde", tde=KEY), rds_instance("rm-disk", disk=KEY, status="Stopped"), rds_instance("rm-both", tde=KEY, disk=KEY),
        rds_instance("rm-going", disk=KEY, status="Deleting"), rds_instance("rm-other", tde=OTHER_KEY, disk=OTHER_KEY),
        rds_instance("rm-plain"), *[rds_instance(f"rm-{i:03d}") for i in range(40)]]}))
    c = clients(cloud)

    found = {d.resource_id: d for d in RdsInstancesScanner().scan(target(), c)}

    assert set(found) == {"rm-tde", "rm-disk", "rm-both", "rm-going"}
    assert found["rm-both"].usage == "cloud disk encryption and TDE (transparent data encryption)"
    assert {i: d.state for i, d in found.items()} == {"rm-tde": "live", "rm-both": "live", "rm-disk": "inert", "rm-going": "inert"}
    assert all("verification" not in d.detail for d in found.values())
    assert c.calls.counts == {"rds:DescribeKmsAssociateResources": 1, "rds:DescribeDBInstanceEncryptionKey": 4}


@pytest.mark.parametrize("verification", [{"Api": "rds:DescribeDBInstanceEncryptionKey", "Body": {"EncryptionKeyList": []}},
                                          {"Api": "rds:DescribeDBInstanceEncryptionKey", "Code": "NoActiveBYOK"}])
def test_rds_scanner_reports_what_the_lookup_names_even_when_the_verification_disagrees(start_cloud, verification):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("rm-tde", tde=KEY)]}, faults=[verification]))

    [dep] = RdsInstancesScanner().scan(target(), clients(cloud))

    assert (dep.resource_id, dep.usage) == ("rm-tde", "TDE (transparent data encryption)")
    assert "does not list TDE" in dep.detail["verification"]


def test_rds_scanner_skips_an_instance_released_before_its_verification(start_cloud):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("rm-tde", tde=KEY)]},
                                     faults=[{"Api": "rds:DescribeDBInstanceEncryptionKey", "Code": "InvalidDBInstanceId.NotFound"}]))
    assert RdsInstancesScanner().scan(target(), clients(cloud)) == []


def test_rds_scanner_gives_up_on_a_lookup_that_says_associated_but_names_nothing(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("rds:DescribeKmsAssociateResources", {"AssociateStatus": True, "AssociateDBInstances": []})
    with pytest.raises(RuntimeError, match="names none"):
        RdsInstancesScanner().scan(target(), clients(cloud))


# ---------------------------------------------------------------- PolarDB on seeded accounts


def test_polardb_scanner_lists_with_the_largest_page_and_describes_each_cluster_once(start_cloud):
    clusters = [cluster(f"pc-{i:03d}") for i in range(200)] + [
        cluster("pc-tde", tde=KEY, DBClusterDescription="ledger"), cluster("pc-storage", storage=KEY, status="Stopped"),
        cluster("pc-both", tde=KEY, storage=KEY, LockMode="LockByExpiration"), cluster("pc-other", tde=OTHER_KEY, storage=OTHER_KEY)]
    cloud = start_cloud(make_account(polardb={"clusters": clusters}))
    c = clients(cloud)

    found = {d.resource_id: d for d in PolardbClustersScanner().scan(target(), c)}

    assert {i: (d.usage, d.state) for i, d in found.items()} == {
        "pc-tde": ("TDE (transparent data encryption)", "live"), "pc-storage": ("storage encryption", "inert"),
        "pc-both": ("TDE (transparent data encryption) and storage encryption", "inert")}
    assert found["pc-tde"].name == "ledger" and found["pc-both"].detail["lock"] == "LockByExpiration"
    assert c.calls.counts == {"polardb:DescribeDBClusters": 3, "polardb:DescribeDBClusterEncryptionKey": 204}  # 204 at 100 a page


@pytest.mark.parametrize("code", ["InvalidDBCluster.NotFound", "InvalidDBClusterId.NotFound"])
def test_polardb_scanner_skips_a_cluster_released_between_list_and_describe(start_cloud, code):
    cloud = start_cloud(make_account(polardb={"clusters": [cluster("pc-gone", tde=KEY)]},
                                     faults=[{"Api": "polardb:DescribeDBClusterEncryptionKey", "Code": code, "Status": 404}]))
    assert PolardbClustersScanner().scan(target(), clients(cloud)) == []


# ---------------------------------------------------------------- both: errors stop the scanner


@pytest.mark.parametrize("scanner, api", [
    (RdsInstancesScanner(), "rds:DescribeKmsAssociateResources"), (RdsInstancesScanner(), "rds:DescribeDBInstanceEncryptionKey"),
    (PolardbClustersScanner(), "polardb:DescribeDBClusters"), (PolardbClustersScanner(), "polardb:DescribeDBClusterEncryptionKey"),
])
def test_scanners_raise_when_access_is_denied(start_cloud, scanner, api):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("rm-tde", tde=KEY)]}, polardb={"clusters": [cluster("pc-tde", tde=KEY)]},
                                     faults=[{"Api": api, "Code": "Forbidden.RAM"}]))
    with pytest.raises(ClientException) as err:
        scanner.scan(target(), clients(cloud))
    assert (err.value.code, err.value.status_code) == ("Forbidden.RAM", 403)


@pytest.mark.parametrize("scanner", [RdsInstancesScanner(), PolardbClustersScanner()])
def test_scanners_raise_in_a_region_the_product_does_not_serve(start_cloud, scanner):
    cloud = start_cloud(make_account())
    with pytest.raises(ClientException) as err:
        scanner.scan(target(region="cn-shanghai"), clients(cloud))
    assert err.value.code == "InvalidRegionId.NotFound"  # incomplete, never "no dependents"


# ---------------------------------------------------------------- key-guard end to end


SCENARIOS = {
    "rds_instances": ("RDS", "rm-payments", lambda key: {"rds": {"instances": [rds_instance("rm-payments", tde=key)]}}),
    "polardb_clusters": ("PolarDB", "pc-ledger", lambda key: {"polardb": {"clusters": [cluster("pc-ledger", storage=key)]}}),
}


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_cancels_a_deletion_that_would_hit_the_dependent(start_cloud, scanner):
    service, resource, sections = SCENARIOS[scanner]
    cloud = start_cloud(make_account(**sections(KEY)))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["dependents"][service]["ids"] == [resource]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True
    assert [item for item in record["dependents"][service] if resource in item]


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_lets_a_deletion_through_when_only_another_key_is_used(start_cloud, scanner):
    _, _, sections = SCENARIOS[scanner]
    cloud = start_cloud(make_account(**sections(OTHER_KEY)))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["dependentCount"] == 0 and record["auditComplete"] is True


@pytest.mark.parametrize("scanner, api, code, reason", [
    ("rds_instances", "rds:DescribeKmsAssociateResources", "Forbidden.RAM", "access denied"),
    ("polardb_clusters", "polardb:DescribeDBClusters", "Forbidden.RAM", "access denied"),
    ("polardb_clusters", "polardb:DescribeDBClusters", "InvalidRegionId.NotFound", "service not enabled in the region"),
])
def test_key_guard_treats_a_scanner_it_could_not_run_as_live_dependents(start_cloud, scanner, api, code, reason):
    cloud = start_cloud(make_account(faults=[{"Api": api, "Code": code}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [p["part"] for p in alert["auditIncomplete"]] == [scanner]
    assert reason in alert["auditIncomplete"][0]["reason"] and code in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["dependentCount"] == 0 and record["decision"] == "block"
