"""RDS, PolarDB, Secrets Manager and SLS logstore scanners against the local cloud over HTTP through
the official SDKs: the emulated APIs, contract tests replaying the API docs' sample responses, the
scanners on seeded accounts, and key-guard end to end (a found dependent blocks the deletion; a
failing scanner makes the audit incomplete, which blocks it too)."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_polardb20170801 import models as polardb
from alibabacloud_polardb20170801.client import Client as PolardbClient
from alibabacloud_rds20140815 import models as rds
from alibabacloud_rds20140815.client import Client as RdsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from shared.audit.scanners.kms_secrets import KmsSecretsScanner
from shared.audit.scanners.polardb_clusters import PolardbClustersScanner
from shared.audit.scanners.rds_instances import RdsInstancesScanner
from shared.audit.scanners.sls_logstores import SlsLogstoresScanner
from tests.conftest import KEY, OTHER_KEY, REGION, alerts, alice_kms, key_state, make_account, sdk_config
from tests.scanner_kit import clients, sample, target
from tests.test_key_guard import only_record, schedule_deletion


def rds_instance(instance_id: str, *, tde: str | None = None, disk: str | None = None, status: str = "Running") -> dict:
    record = {"DBInstanceId": instance_id, "RegionId": REGION, "Engine": "MySQL", "DBInstanceStatus": status}
    if tde:
        record["TDE"] = {"TDEStatus": "Enabled", "EncryptionKey": tde, "TDEMode": "Customer_Provided_Key"}
    if disk:
        record["DiskEncryption"] = {"EncryptionKey": disk}
    return record


def cluster(cluster_id: str, *, tde: str | None = None, storage: str | None = None, status: str = "Running") -> dict:
    record = {"DBClusterId": cluster_id, "RegionId": REGION, "DBType": "MySQL", "DBClusterStatus": status}
    if tde:
        record["TDE"] = {"TDEStatus": "Enabled", "EncryptionKey": tde}
    if storage:
        record["StorageEncryption"] = {"StorageEncryptionKey": storage}
    return record


def secret(name: str, key: str = KEY, **extra) -> dict:
    return {"SecretName": name, "RegionId": REGION, "SecretType": "Generic", "EncryptionKeyId": key, **extra}


def logstore(project: str, name: str, key: str | None = KEY) -> dict:
    store = {"projectName": project, "logstoreName": name, "RegionId": REGION}
    if key:
        store["encrypt_conf"] = {"enable": True, "encrypt_type": "default",
                                 "user_cmk_info": {"cmk_key_id": key, "arn": "acs:ram::1234567890123456:role/sls-cmk",
                                                   "region_id": REGION}}
    return store


# ---------------------------------------------------------------- the emulated APIs


def test_rds_lookup_answers_per_use_and_only_for_the_owner(start_cloud):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("rm-both", tde=KEY, disk=KEY), rds_instance("rm-other", tde=OTHER_KEY)]}))
    client = RdsClient(sdk_config(cloud))
    ask = lambda owner: client.describe_kms_associate_resources(rds.DescribeKmsAssociateResourcesRequest(  # noqa: E731
        region_id=REGION, kms_resource_type="key", kms_resource_id=KEY, kms_resource_user=owner)).body
    body = ask("1234567890123456")
    assert body.associate_status is True
    assert sorted((i.dbinstance_name, i.key_used_by) for i in body.associate_dbinstances) == [("rm-both", "DiskEncryption"), ("rm-both", "TDE")]
    assert ask("9999999999999999").associate_status is False
    tde = client.describe_dbinstance_tde(rds.DescribeDBInstanceTDERequest(dbinstance_id="rm-other")).body
    assert (tde.tdestatus, tde.encryption_key) == ("Enabled", OTHER_KEY)
    with pytest.raises(ClientException) as err:
        client.describe_dbinstance_encryption_key(rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id="rm-nope"))
    assert (err.value.code, err.value.status_code) == ("InvalidDBInstanceId.NotFound", 404)


def test_rds_and_polardb_listings_page_as_documented(start_cloud):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance(f"rm-{i:03d}") for i in range(130)]},
                                     polardb={"clusters": [cluster(f"pc-{i:03d}") for i in range(60)]}))
    r = RdsClient(sdk_config(cloud)).describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION, page_size=100, page_number=2)).body
    assert (r.total_record_count, r.page_record_count, r.items.dbinstance[0].dbinstance_id) == (130, 30, "rm-100")
    assert r.items.dbinstance[0].to_map().keys().isdisjoint({"TDE", "DiskEncryption"})  # the listing carries no key
    p = PolardbClient(sdk_config(cloud))
    body = p.describe_dbclusters(polardb.DescribeDBClustersRequest(region_id=REGION, page_size=50, page_number=2)).body
    assert (body.total_record_count, len(body.items.dbcluster)) == (60, 10)
    with pytest.raises(ClientException) as err:
        p.describe_dbclusters(polardb.DescribeDBClustersRequest(region_id=REGION, page_size=40))
    assert err.value.code == "InvalidParameter"


def test_secrets_list_without_keys_and_describe_with_them(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": [secret(f"app/s{i:03d}") for i in range(120)]}))
    client = alice_kms(cloud)
    page = client.list_secrets(kms.ListSecretsRequest(page_size=100, page_number=2)).body
    assert (page.total_count, len(page.secret_list.secret)) == (120, 20)
    assert "EncryptionKeyId" not in page.secret_list.secret[0].to_map()
    body = client.describe_secret(kms.DescribeSecretRequest(secret_name="app/s007")).body
    assert body.encryption_key_id == KEY and body.arn.endswith(":secret/app/s007")
    with pytest.raises(ClientException) as err:
        client.describe_secret(kms.DescribeSecretRequest(secret_name="app/nope"))
    assert (err.value.code, err.value.status_code) == ("Forbidden.ResourceNotFound", 404)
    with pytest.raises(ClientException) as err:
        client.list_secrets(kms.ListSecretsRequest(page_size=101))
    assert err.value.code == "InvalidParameter"


# ---------------------------------------------------------------- contract: the docs' sample responses


def test_rds_contract_doc_samples_instance_is_found(start_cloud):
    lookup, verify = sample("rds", "DescribeKmsAssociateResources"), sample("rds", "DescribeDBInstanceEncryptionKey")
    cloud = start_cloud(make_account())
    cloud.faults.respond("rds:DescribeKmsAssociateResources", lookup["response"])
    cloud.faults.respond("rds:DescribeDBInstanceEncryptionKey", verify["response"])

    [dep] = RdsInstancesScanner().scan(target(lookup["key_id"]), clients(cloud))

    assert (dep.resource_type, dep.resource_id, dep.state) == ("ACS::RDS::DBInstance", "pgm-bp16p6f68130****", "live")
    assert dep.usage == "cloud disk encryption" and dep.detail["engine"] == "PostgreSQL" and "verification" not in dep.detail


def test_polardb_contract_doc_samples_cluster_is_found(start_cloud):
    listing, keys = sample("polardb", "DescribeDBClusters"), sample("polardb", "DescribeDBClusterEncryptionKey")
    cloud = start_cloud(make_account())
    cloud.faults.respond("polardb:DescribeDBClusters", listing["response"])
    cloud.faults.respond("polardb:DescribeDBClusterEncryptionKey", keys["response"])

    [dep] = PolardbClustersScanner().scan(target(keys["key_id"]), clients(cloud))

    assert (dep.resource_type, dep.resource_id, dep.state, dep.name) == ("ACS::POLARDB::DBCluster", "pc-****************", "live", "test")
    assert dep.usage == "TDE (transparent data encryption)"


def test_secrets_contract_doc_samples_secret_is_found(start_cloud):
    listing, described = sample("kms", "ListSecrets"), sample("kms", "DescribeSecret")
    cloud = start_cloud(make_account())
    cloud.faults.respond("kms:ListSecrets", listing["response"])
    cloud.faults.respond("kms:DescribeSecret", described["response"])
    cloud.faults.respond("kms:DescribeKey", {"KeyMetadata": {"KeyId": "key-gzz63ca6b4ehb7vmsp****"}})

    [dep] = KmsSecretsScanner().scan(target(described["response"]["EncryptionKeyId"]), clients(cloud))

    assert (dep.resource_type, dep.resource_id, dep.state) == ("ACS::KMS::Secret", "secret001", "live")
    assert dep.detail["arn"] == described["response"]["Arn"]


def test_sls_contract_doc_sample_logstore_is_found(start_cloud):
    doc = sample("sls", "GetLogStore")
    cloud = start_cloud(make_account(sls={"logstores": [logstore(doc["project"], doc["response"]["logstoreName"], key=None)]}))
    cloud.faults.respond("sls:GetLogStore", doc["response"])

    found = {d.resource_id: d for d in SlsLogstoresScanner().scan(target(doc["response"]["encrypt_conf"]["user_cmk_info"]["cmk_key_id"]),
                                                                  clients(cloud))}

    # every GetLogStore answers with the sample, so each listed logstore reads as it does
    dep = found[f"{doc['project']}/test-logstore"]
    assert (dep.resource_type, dep.state, dep.detail["role"]) == ("ACS::SLS::Logstore", "live", "acs:ram::13234:role/logsource")


# ---------------------------------------------------------------- the scanners on seeded accounts


def test_rds_scanner_finds_tde_and_disk_uses_with_one_lookup(start_cloud):
    cloud = start_cloud(make_account(rds={"instances": [rds_instance("rm-tde", tde=KEY), rds_instance("rm-disk", disk=KEY, status="Stopped"),
                                                        rds_instance("rm-both", tde=KEY, disk=KEY), rds_instance("rm-other", tde=OTHER_KEY),
                                                        rds_instance("rm-plain")]}))
    c = clients(cloud)
    found = {d.resource_id: d for d in RdsInstancesScanner().scan(target(), c)}
    assert set(found) == {"rm-tde", "rm-disk", "rm-both"}
    assert found["rm-both"].usage == "cloud disk encryption and TDE (transparent data encryption)"
    assert found["rm-disk"].state == "inert" and found["rm-tde"].state == "live"
    assert c.calls.counts == {"rds:DescribeKmsAssociateResources": 1, "rds:DescribeDBInstanceEncryptionKey": 3}


def test_polardb_scanner_makes_one_call_per_cluster(start_cloud):
    clusters = [cluster(f"pc-{i:03d}") for i in range(120)] + [cluster("pc-tde", tde=KEY), cluster("pc-storage", storage=KEY)]
    cloud = start_cloud(make_account(polardb={"clusters": clusters}))
    c = clients(cloud)
    found = {d.resource_id: d.usage for d in PolardbClustersScanner().scan(target(), c)}
    assert found == {"pc-tde": "TDE (transparent data encryption)", "pc-storage": "storage encryption"}
    assert c.calls.counts == {"polardb:DescribeDBClusters": 2, "polardb:DescribeDBClusterEncryptionKey": 122}


def test_secrets_scanner_describes_each_secret_once_and_narrows_to_the_keys_instance(start_cloud):
    secrets = [secret("db/payments"), secret("db/other", key=OTHER_KEY),
               secret("old/payments", PlannedDeleteTime="2099-01-01T00:00:00Z")]
    cloud = start_cloud(make_account(kms={"secrets": secrets}))
    c = clients(cloud)
    found = {d.resource_id: d.state for d in KmsSecretsScanner().scan(target(), c)}
    assert found == {"db/payments": "live", "old/payments": "inert"}
    assert c.calls.counts == {"kms:DescribeKey": 1, "kms:ListSecrets": 1, "kms:DescribeSecret": 3}

    instance_key = {"KeyId": "7a1b2c3d-0000-4000-8000-00000000aaaa", "RegionId": REGION, "DKMSInstanceId": "kst-hzz1"}
    account = make_account(kms={"keys": [instance_key], "secrets": [
        secret("in/instance", key=instance_key["KeyId"], DKMSInstanceId="kst-hzz1"), *[secret(f"shared/{i}") for i in range(5)]]})
    c = clients(start_cloud(account))
    assert [d.resource_id for d in KmsSecretsScanner().scan(target(instance_key["KeyId"]), c)] == ["in/instance"]
    assert c.calls.counts["kms:DescribeSecret"] == 1  # the listing was filtered by the key's KMS instance


def test_sls_scanner_reads_every_logstore_of_every_project(start_cloud):
    stores = [logstore("app-logs", "payments", KEY), logstore("app-logs", "web", OTHER_KEY), logstore("app-logs", "plain", None),
              logstore("audit-logs", "trail", KEY)]
    cloud = start_cloud(make_account(sls={"logstores": stores}))
    c = clients(cloud)
    found = sorted(d.resource_id for d in SlsLogstoresScanner().scan(target(), c))
    assert found == ["app-logs/payments", "audit-logs/trail"]
    assert c.calls.counts["sls:ListProject"] == 1 and c.calls.counts["sls:GetLogStore"] == 6  # 4 + the base account's 2


# ---------------------------------------------------------------- key-guard end to end


SCENARIOS = {
    "rds_instances": ({"rds": {"instances": [rds_instance("rm-payments", tde=KEY)]}}, "RDS", "rm-payments",
                      "rds:DescribeKmsAssociateResources"),
    "polardb_clusters": ({"polardb": {"clusters": [cluster("pc-ledger", storage=KEY)]}}, "PolarDB", "pc-ledger",
                         "polardb:DescribeDBClusters"),
    "kms_secrets": ({"kms": {"secrets": [secret("db/payments-password")]}}, "Secrets Manager", "db/payments-password",
                    "kms:ListSecrets"),
    "sls_logstores": ({"sls": {"logstores": [logstore("app-logs", "payments")]}}, "SLS", "app-logs/payments", "sls:ListProject"),
}


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_cancels_a_deletion_that_would_hit_the_dependent(start_cloud, scanner):
    sections, service, resource, _ = SCENARIOS[scanner]
    cloud = start_cloud(make_account(**sections))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and resource in alert["dependents"][service]["ids"]
    record = only_record(cloud)
    assert record["auditComplete"] is True and any(resource in item for item in record["dependents"][service])


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_treats_a_scanner_it_could_not_run_as_live_dependents(start_cloud, scanner):
    _, _, _, api = SCENARIOS[scanner]
    cloud = start_cloud(make_account(faults=[{"Api": api, "Code": "Forbidden.RAM"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [p["part"] for p in alert["auditIncomplete"]] == [scanner]
    assert only_record(cloud)["auditComplete"] is False
