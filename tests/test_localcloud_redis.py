"""The emulated Redis/Tair (R-kvstore) through the official SDK: DescribeInstances paging and filters,
DescribeInstanceTDEStatus and DescribeEncryptionKey, and the account file's instance records."""
from __future__ import annotations

import pytest
from alibabacloud_r_kvstore20150101 import models as kvstore
from alibabacloud_r_kvstore20150101.client import Client as RedisClient
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.account import AccountError
from tests.support.accounts import KEY, REGION, make_account, protocol_account
from tests.support.clients import sdk_config
from tests.support.resources import redis_community as community, redis_instance as instance


def client_for(start_cloud, *instances) -> RedisClient:
    return RedisClient(sdk_config(start_cloud(make_account(redis={"instances": list(instances)}))))


def test_describe_instances_pages_up_to_fifty_with_total_count(start_cloud):
    client = client_for(start_cloud, *[community(f"r-bp{i:03}") for i in range(60)])

    first = client.describe_instances(kvstore.DescribeInstancesRequest(region_id=REGION)).body
    assert (len(first.instances.kvstore_instance), first.page_size, first.total_count) == (30, 30, 60)
    pages = [client.describe_instances(kvstore.DescribeInstancesRequest(region_id=REGION, page_number=n, page_size=50)).body
             for n in (1, 2)]
    assert [i.instance_id for p in pages for i in p.instances.kvstore_instance] == [f"r-bp{i:03}" for i in range(60)]
    assert pages[1].page_number == 2
    with pytest.raises(ClientException) as refused:
        client.describe_instances(kvstore.DescribeInstancesRequest(region_id=REGION, page_size=51))
    assert (refused.value.code, refused.value.status_code) == ("InvalidParameter", 400)


def test_describe_instances_filters_and_items_carry_no_tde_fields(start_cloud):
    client = client_for(start_cloud, instance("r-tair1"), community("r-redis1"), community("r-redis2", InstanceStatus="Inactive"))

    def ids(**kwargs):
        body = client.describe_instances(kvstore.DescribeInstancesRequest(region_id=REGION, **kwargs)).body
        return [i.instance_id for i in body.instances.kvstore_instance]

    assert ids(instance_ids="r-redis2,r-tair1") == ["r-tair1", "r-redis2"]
    assert ids(edition_type="Enterprise") == ["r-tair1"]
    assert ids(instance_status="Inactive") == ["r-redis2"]
    assert ids(search_key="tair1-na") == ["r-tair1"]
    raw = client.describe_instances(kvstore.DescribeInstancesRequest(region_id=REGION, instance_ids="r-tair1")).body.to_map()
    item = raw["Instances"]["KVStoreInstance"][0]
    assert item["InstanceId"] == "r-tair1" and item["RegionId"] == REGION
    assert not {"TDEStatus", "EncryptionKey", "IsSupportTDE", "RoleArn"} & set(item)


def test_region_id_selects_the_region_and_an_unknown_one_is_refused(start_cloud):
    cloud = start_cloud(protocol_account(redis={"instances": [community("r-hz"), {**community("r-sh"), "RegionId": "cn-shanghai"}]}))
    client = RedisClient(sdk_config(cloud))

    def ids(region):
        body = client.describe_instances(kvstore.DescribeInstancesRequest(region_id=region)).body
        return [i.instance_id for i in body.instances.kvstore_instance]

    assert ids("cn-shanghai") == ["r-sh"] and ids(REGION) == ["r-hz"]
    assert ids(None) == ["r-hz", "r-sh"]  # the central endpoint, asked for no region
    with pytest.raises(ClientException) as unknown:
        ids("xx-nowhere-1")
    assert unknown.value.code == "InvalidRegionId.NotFound"


def test_tde_status_answers_enabled_disabled_or_not_supported(start_cloud):
    client = client_for(start_cloud, instance("r-tde"), instance("r-plain", key=None), community("r-oss"))

    def status(instance_id):
        return client.describe_instance_tdestatus(kvstore.DescribeInstanceTDEStatusRequest(instance_id=instance_id)).body.tdestatus

    assert (status("r-tde"), status("r-plain")) == ("Enabled", "Disabled")
    with pytest.raises(ClientException) as unsupported:
        status("r-oss")
    assert (unsupported.value.code, unsupported.value.status_code) == ("InstanceType.NotSupport", 400)
    # As the real answer reads through the SDK (aliyun/terraform-provider-alicloud#9971).
    assert unsupported.value.message.startswith("code: 400, Current instance type does not support this operation.")
    with pytest.raises(ClientException) as missing:
        status("r-gone")
    assert (missing.value.code, missing.value.status_code) == ("InvalidInstanceId.NotFound", 404)


def test_describe_encryption_key_reads_the_kms_key(start_cloud):
    client = client_for(start_cloud, instance("r-tde"), instance("r-plain", key=None))

    body = client.describe_encryption_key(kvstore.DescribeEncryptionKeyRequest(instance_id="r-tde")).body
    assert (body.encryption_key, body.encryption_key_status, body.origin) == (KEY, "Enabled", "Aliyun_KMS")
    assert body.encryption_name == "AES-CTR-256" and body.role_arn.endswith(":role/AliyunRdsInstanceEncryptionDefaultRole")
    assert body.creator == "1234567890123456"
    plain = client.describe_encryption_key(kvstore.DescribeEncryptionKeyRequest(instance_id="r-plain")).body
    assert plain.encryption_key is None and plain.request_id


def test_describe_encryption_key_reports_a_key_pending_deletion_as_disabled(start_cloud):
    cloud = start_cloud(make_account(redis={"instances": [instance("r-tde")]}, key_state="PendingDeletion"))
    body = RedisClient(sdk_config(cloud)).describe_encryption_key(kvstore.DescribeEncryptionKeyRequest(instance_id="r-tde")).body
    assert (body.encryption_key_status, body.delete_date) == ("Disabled", "2099-01-01T00:00:00Z")


@pytest.mark.parametrize("record, message", [
    ({**community("r-1"), "TdeStatus": "Enabled"}, "unknown field(s) TdeStatus"),
    ({**community("r-1"), "TDEStatus": "Enabled", "EncryptionKey": KEY}, "does not support TDE"),
    ({**instance("r-1", key=None), "TDEStatus": "Enabled"}, "needs the EncryptionKey"),
    ({**instance("r-1", key=None), "EncryptionKey": KEY}, "TDEStatus is Disabled"),
    (instance("r-1", status="Running"), "InstanceStatus"),
])
def test_account_file_refuses_unknown_fields_and_inconsistent_tde(record, message):
    with pytest.raises(AccountError) as refused:
        make_account(redis={"instances": [record]})
    assert message in str(refused.value) and "redis.instances[0]" in str(refused.value)
