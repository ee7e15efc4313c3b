"""The emulated RDS through the official SDK: DescribeDBInstances paging (by number and by token) and
filters, the reverse lookup DescribeKmsAssociateResources, the two per-instance encryption reads, and
the account file's instance records."""
from __future__ import annotations

import pytest
from alibabacloud_rds20140815 import models as rds
from alibabacloud_rds20140815.client import Client as RdsClient

from localcloud.account import AccountError
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import refused, sdk_config
from tests.support.resources import rds_instance


def client_for(start_cloud, *instances) -> RdsClient:
    return RdsClient(sdk_config(start_cloud(make_account(rds={"instances": list(instances)}))))


def lookup(client: RdsClient, key: str = KEY, owner: str = ACCOUNT_ID, **extra):
    return client.describe_kms_associate_resources(rds.DescribeKmsAssociateResourcesRequest(
        region_id=REGION, kms_resource_type="key", kms_resource_id=key, kms_resource_user=owner, **extra)).body



def test_describe_dbinstances_pages_by_number_and_by_token_up_to_a_hundred(start_cloud):
    client = client_for(start_cloud, *[rds_instance(f"rm-{i:03d}", tde=KEY) for i in range(130)])
    listing = lambda **kw: client.describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION, **kw)).body  # noqa: E731

    first = listing()
    assert (first.page_number, first.page_record_count, first.total_record_count) == (1, 30, 130)
    second = listing(page_size=100, page_number=2)
    assert [i.dbinstance_id for i in second.items.dbinstance] == [f"rm-{i:03d}" for i in range(100, 130)]
    assert second.items.dbinstance[0].to_map().keys().isdisjoint({"TDE", "DiskEncryption"})  # the listing shows no key

    by_token = listing(max_results=100)
    rest = listing(max_results=100, next_token=by_token.next_token)
    assert (len(by_token.items.dbinstance), len(rest.items.dbinstance), rest.next_token) == (100, 30, None)

    assert refused(lambda: listing(page_size=101)) == ("InvalidParameter", 400)
    assert refused(lambda: listing(max_results=101)) == ("InvalidParameter", 400)
    assert refused(lambda: listing(max_results=10, next_token="not-a-token")) == ("InvalidNextToken.Malformed", 400)


def test_describe_dbinstances_filters_and_refuses_an_unknown_region(start_cloud):
    client = client_for(start_cloud, rds_instance("rm-a"), rds_instance("rm-b", engine="PostgreSQL"),
                        rds_instance("rm-c", status="Stopped"))
    ids = lambda **kw: [i.dbinstance_id for i in client.describe_dbinstances(  # noqa: E731
        rds.DescribeDBInstancesRequest(**{"region_id": REGION, **kw})).body.items.dbinstance]
    assert ids(dbinstance_id="rm-a,rm-c") == ["rm-a", "rm-c"]
    assert ids(engine="PostgreSQL") == ["rm-b"]
    assert ids(dbinstance_status="Stopped") == ["rm-c"]
    assert refused(lambda: ids(region_id="cn-nowhere")) == ("InvalidRegionId.NotFound", 404)


def test_kms_associate_resources_names_each_use_for_the_keys_owner_only(start_cloud):
    client = client_for(start_cloud, rds_instance("rm-both", tde=KEY, disk=KEY), rds_instance("rm-going", disk=KEY, status="Deleting"),
                        rds_instance("rm-other", tde=OTHER_KEY), rds_instance("rm-plain"))

    body = lookup(client, kms_resource_region_id=REGION)
    assert body.associate_status is True
    assert sorted((i.dbinstance_name, i.key_used_by, i.status, i.engine) for i in body.associate_dbinstances) == [
        ("rm-both", "DiskEncryption", "ACTIVATION", "MySQL"), ("rm-both", "TDE", "ACTIVATION", "MySQL"),
        ("rm-going", "DiskEncryption", "DELETING", "MySQL")]  # the lookup's own status words
    assert lookup(client, owner="9999999999999999").associate_status is False  # not that account's key
    nobody = lookup(client, key="00000000-0000-4000-8000-000000000000")
    assert (nobody.associate_status, nobody.associate_dbinstances) == (False, [])
    assert refused(lambda: client.describe_kms_associate_resources(rds.DescribeKmsAssociateResourcesRequest(
        region_id=REGION, kms_resource_type="secret", kms_resource_id=KEY, kms_resource_user=ACCOUNT_ID))) == ("InvalidParameter", 400)
    assert refused(lambda: client.describe_kms_associate_resources(rds.DescribeKmsAssociateResourcesRequest(
        region_id=REGION, kms_resource_type="key", kms_resource_id=KEY))) == ("MissingParameter", 400)


def test_tde_and_encryption_key_reads_per_instance(start_cloud):
    client = client_for(start_cloud, rds_instance("rm-both", tde=KEY, disk=OTHER_KEY), rds_instance("rm-plain"))

    tde = client.describe_dbinstance_tde(rds.DescribeDBInstanceTDERequest(dbinstance_id="rm-both")).body
    assert (tde.tdestatus, tde.encryption_key, tde.tdemode) == ("Enabled", KEY, "Customer_Provided_Key")
    assert client.describe_dbinstance_tde(rds.DescribeDBInstanceTDERequest(dbinstance_id="rm-plain")).body.tdestatus == "Disabled"

    keys = client.describe_dbinstance_encryption_key(rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id="rm-both")).body
    assert (keys.encryption_key, keys.encryption_key_status) == (OTHER_KEY, "Enabled")  # the cloud-disk key
    assert sorted((k.encryption_key, k.used_by, k.key_type) for k in keys.encryption_key_list) == [
        (KEY, "TDE", "CMK"), (OTHER_KEY, "DiskEncryption", "CMK")]
    plain = client.describe_dbinstance_encryption_key(rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id="rm-plain")).body
    assert (plain.encryption_key, plain.encryption_key_list) == (None, [])

    for read in (lambda: client.describe_dbinstance_tde(rds.DescribeDBInstanceTDERequest(dbinstance_id="rm-nope")),
                 lambda: client.describe_dbinstance_encryption_key(rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id="rm-nope"))):
        assert refused(read) == ("InvalidDBInstanceId.NotFound", 400)


@pytest.mark.parametrize("record, field", [
    (rds_instance("rm-x", KMSKeyId=KEY), "KMSKeyId"),  # not a DescribeDBInstances field
    ({**rds_instance("rm-x"), "TDE": {"TDEStatus": "Enabled", "KeyId": KEY}}, "KeyId"),
    ({**rds_instance("rm-x"), "DiskEncryption": {"EncryptionKey": KEY, "UsedBy": "DiskEncryption"}}, "UsedBy"),
])
def test_instance_records_take_only_the_apis_field_names(record, field):
    with pytest.raises(AccountError, match=field):
        make_account(rds={"instances": [record]})
