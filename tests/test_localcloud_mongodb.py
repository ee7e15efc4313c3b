"""The emulated ApsaraDB for MongoDB (Dds) through the official SDK: DescribeDBInstances paging, types and
filters, DescribeDBInstanceTDEInfo and DescribeDBInstanceAttribute, the errors, and the account file's
instance records."""
from __future__ import annotations

import pytest
from alibabacloud_dds20151201 import models as dds
from alibabacloud_dds20151201.client import Client as MongodbClient
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.account import AccountError
from tests.support.accounts import ALICE_AK, KEY, OTHER_KEY, REGION, make_account, protocol_account
from tests.support.clients import sdk_config
from tests.support.resources import MONGODB_TDE_ROLE as ROLE, mongodb_instance as instance


def client_for(start_cloud, *instances) -> MongodbClient:
    return MongodbClient(sdk_config(start_cloud(make_account(mongodb={"instances": list(instances)}))))


def ids_of(body) -> list[str]:
    return [i.dbinstance_id for i in body.dbinstances.dbinstance]


def test_describe_instances_pages_by_thirty_fifty_or_a_hundred_with_total_count(start_cloud):
    client = client_for(start_cloud, *[instance(f"dds-bp{i:03}") for i in range(120)])

    first = client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION)).body
    assert (len(first.dbinstances.dbinstance), first.page_size, first.page_number, first.total_count) == (30, 30, 1, 120)
    pages = [client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION, page_number=n, page_size=100)).body
             for n in (1, 2)]
    assert [i for p in pages for i in ids_of(p)] == [f"dds-bp{i:03}" for i in range(120)]
    assert (pages[1].page_number, len(pages[1].dbinstances.dbinstance)) == (2, 20)
    for size in (40, 101):  # the documented sizes only
        with pytest.raises(ClientException) as refused:
            client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION, page_size=size))
        assert (refused.value.code, refused.value.status_code) == ("InvalidParameter", 400)


def test_describe_instances_lists_one_type_at_a_time_replicate_by_default(start_cloud):
    client = client_for(start_cloud, instance("dds-rs"), instance("dds-single", ReplicationFactor="1"),
                        instance("dds-shard", kind="sharding"), instance("dds-sls", kind="serverless"))

    def ids(kind=None):
        return ids_of(client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION, dbinstance_type=kind)).body)

    assert ids() == ["dds-rs", "dds-single"] == ids("replicate")  # replica set and standalone instances
    assert (ids("sharding"), ids("serverless")) == (["dds-shard"], ["dds-sls"])
    with pytest.raises(ClientException) as refused:
        ids("cluster")
    assert refused.value.code == "InvalidParameter"


def test_describe_instances_filters_and_items_carry_no_encryption_fields(start_cloud):
    client = client_for(start_cloud, instance("dds-a", tde=KEY, disk=KEY), instance("dds-b", status="Rebooting"),
                        instance("dds-c", EngineVersion="5.0"))

    def ids(**kwargs):
        return ids_of(client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION, **kwargs)).body)

    assert ids(dbinstance_id="dds-b") == ["dds-b"]
    assert ids(dbinstance_status="Rebooting") == ["dds-b"]
    assert ids(engine_version="5.0") == ["dds-c"]
    raw = client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION, dbinstance_id="dds-a")).body.to_map()
    item = raw["DBInstances"]["DBInstance"][0]
    assert (item["DBInstanceId"], item["RegionId"], item["DBInstanceType"], item["StorageType"]) == ("dds-a", REGION, "replicate", "cloud_essd1")
    assert not {"TDE", "TDEStatus", "Encrypted", "EncryptionKey"} & set(item)


def test_region_id_selects_the_region_and_an_unknown_one_is_refused(start_cloud):
    cloud = start_cloud(protocol_account(mongodb={"instances": [instance("dds-hz"), instance("dds-sh", region="cn-shanghai")]}))
    client = MongodbClient(sdk_config(cloud))

    def ids(region):
        return ids_of(client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=region)).body)

    assert ids("cn-shanghai") == ["dds-sh"] and ids(REGION) == ["dds-hz"]
    assert ids(None) == ["dds-hz", "dds-sh"]  # the central endpoint, asked for no region
    with pytest.raises(ClientException) as unknown:
        ids("xx-nowhere-1")
    assert unknown.value.code == "InvalidRegionId.NotFound"


def test_tde_info_answers_the_key_only_when_enabled(start_cloud):
    client = client_for(start_cloud, instance("dds-tde", tde=KEY), instance("dds-plain"),
                        instance("dds-nobyok", TDE={"TDEStatus": "enabled", "EncryptionKey": "NoActiveBYOK"}))

    def tde(instance_id):
        return client.describe_dbinstance_tdeinfo(dds.DescribeDBInstanceTDEInfoRequest(dbinstance_id=instance_id)).body

    on = tde("dds-tde")
    assert (on.tdestatus, on.encryption_key, on.role_arn, on.encryptor_name) == ("enabled", KEY, ROLE, "aes-256-cbc")
    off = tde("dds-plain").to_map()
    assert off["TDEStatus"] == "disabled" and not {"EncryptionKey", "RoleARN", "EncryptorName"} & set(off)
    assert tde("dds-nobyok").encryption_key == "NoActiveBYOK"  # a region without BYOK: a service-managed key
    with pytest.raises(ClientException) as missing:
        tde("dds-gone")
    assert (missing.value.code, missing.value.status_code) == ("InvalidDBInstanceId.NotFound", 404)


def test_attribute_answers_the_cloud_disk_key_of_the_one_instance_asked(start_cloud):
    client = client_for(start_cloud, instance("dds-disk", disk=OTHER_KEY, tde=KEY, StorageEngine="WiredTiger"), instance("dds-plain"))

    def attribute(instance_id, **kwargs):
        return client.describe_dbinstance_attribute(dds.DescribeDBInstanceAttributeRequest(dbinstance_id=instance_id, **kwargs)).body

    [item] = attribute("dds-disk").dbinstances.dbinstance
    assert (item.dbinstance_id, item.encrypted, item.encryption_key, item.storage_engine) == ("dds-disk", True, OTHER_KEY, "WiredTiger")
    assert "TDE" not in attribute("dds-disk").to_map()["DBInstances"]["DBInstance"][0]  # TDE is DescribeDBInstanceTDEInfo's
    [plain] = attribute("dds-plain").dbinstances.dbinstance
    assert (plain.encrypted, plain.encryption_key, plain.dbinstance_status) == (None, None, "Running")
    assert attribute("dds-disk", is_delete=True).dbinstances.dbinstance == []  # no released instance is kept
    with pytest.raises(ClientException) as missing:
        attribute("dds-gone")
    assert missing.value.code == "InvalidDBInstanceId.NotFound"


def test_a_wrong_secret_is_refused_with_the_real_signature_error(start_cloud):
    cloud = start_cloud(make_account(mongodb={"instances": [instance("dds-a")]}))
    client = MongodbClient(sdk_config(cloud, access_key_id=ALICE_AK, secret="not-alice-secret"))
    with pytest.raises(ClientException) as refused:
        client.describe_dbinstances(dds.DescribeDBInstancesRequest(region_id=REGION))
    assert (refused.value.code, refused.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert cloud.calls.get("mongodb:DescribeDBInstances") == 1


@pytest.mark.parametrize("record, message", [
    ({**instance("dds-1"), "KmsKeyId": KEY}, "unknown field(s) KmsKeyId"),
    ({**instance("dds-1"), "EncryptionKey": KEY}, "Encrypted is not true"),
    ({**instance("dds-1"), "TDE": {"TDEStatus": "enabled"}}, "needs the EncryptionKey"),
    ({**instance("dds-1"), "TDE": {"TDEStatus": "disabled", "EncryptionKey": KEY}}, "TDEStatus is disabled"),
    ({**instance("dds-1"), "TDE": {"TDEStatus": "Enabled", "EncryptionKey": KEY}}, "TDEStatus"),  # lower case, as the API answers
    ({**instance("dds-1", tde=KEY), "ReplicationFactor": "1"}, "single-node"),
    (instance("dds-1", status="Normal"), "DBInstanceStatus"),
    (instance("dds-1", kind="cluster"), "DBInstanceType"),
])
def test_account_file_refuses_unknown_fields_and_inconsistent_encryption(record, message):
    with pytest.raises(AccountError) as refused:
        make_account(mongodb={"instances": [record]})
    assert message in str(refused.value) and "mongodb.instances[0]" in str(refused.value)
