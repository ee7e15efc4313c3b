"""The emulated NAS through the official SDK: DescribeFileSystems paging, filters, encryption fields,
and the account file's file system records."""
from __future__ import annotations

import pytest
from alibabacloud_nas20170626 import models as nas
from alibabacloud_nas20170626.client import Client as NasClient
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.account import AccountError
from tests.support.accounts import KEY, OTHER_KEY, REGION, make_account, protocol_account
from tests.support.clients import sdk_config
from tests.support.resources import file_system


def client_for(start_cloud, *systems, **account) -> NasClient:
    return NasClient(sdk_config(start_cloud(make_account(nas={"file_systems": list(systems)}, **account))))


def test_pages_with_page_number_and_total_count(start_cloud):
    client = client_for(start_cloud, *[file_system(f"31a8e4{i:04}", key=KEY if i % 2 else None) for i in range(25)])

    pages = [client.describe_file_systems(nas.DescribeFileSystemsRequest(page_number=n, page_size=10)).body for n in (1, 2, 3)]
    assert [p.total_count for p in pages] == [25, 25, 25]
    assert [(p.page_number, p.page_size) for p in pages] == [(1, 10), (2, 10), (3, 10)]
    ids = [fs.file_system_id for p in pages for fs in p.file_systems.file_system]
    assert ids == [f"31a8e4{i:04}" for i in range(25)]
    first = pages[0].file_systems.file_system
    assert (first[1].encrypt_type, first[1].kmskey_id, first[1].region_id) == (2, KEY, REGION)
    assert (first[0].encrypt_type, first[0].kmskey_id) == (0, None)


def test_defaults_to_ten_a_page_and_refuses_out_of_range_page_sizes(start_cloud):
    client = client_for(start_cloud, *[file_system(f"fs{i:02}") for i in range(12)])

    body = client.describe_file_systems(nas.DescribeFileSystemsRequest()).body
    assert (len(body.file_systems.file_system), body.page_size, body.total_count) == (10, 10, 12)
    for size in (0, 101):
        with pytest.raises(ClientException) as refused:
            client.describe_file_systems(nas.DescribeFileSystemsRequest(page_size=size))
        assert (refused.value.code, refused.value.status_code) == ("InvalidParameter", 400)


def test_filters_on_type_id_and_vpc(start_cloud):
    client = client_for(start_cloud, file_system("31a8e40001"), file_system("extreme-0015a", fs_type="extreme", VpcId="vpc-a"),
                        file_system("cpfs-1254", fs_type="cpfs", key=OTHER_KEY))

    def ids(**kwargs):
        body = client.describe_file_systems(nas.DescribeFileSystemsRequest(page_size=100, **kwargs)).body
        return [fs.file_system_id for fs in body.file_systems.file_system]

    assert ids() == ids(file_system_type="all") == ["31a8e40001", "extreme-0015a", "cpfs-1254"]
    assert ids(file_system_type="extreme,cpfs") == ["extreme-0015a", "cpfs-1254"]
    assert ids(file_system_id="cpfs-1254") == ["cpfs-1254"]
    assert ids(vpc_id="vpc-a") == ["extreme-0015a"]
    with pytest.raises(ClientException) as bad:
        ids(file_system_type="floppy")
    assert bad.value.code == "InvalidParameter"


def test_each_regional_endpoint_answers_for_its_own_region(start_cloud):
    cloud = start_cloud(protocol_account(nas={"file_systems": [file_system("hz-fs"), file_system("sh-fs", region="cn-shanghai")]}))
    for region, expected in ((REGION, "hz-fs"), ("cn-shanghai", "sh-fs")):
        config = sdk_config(cloud)
        config.endpoint, config.region_id = cloud.endpoint(region), region
        body = NasClient(config).describe_file_systems(nas.DescribeFileSystemsRequest()).body
        assert [fs.file_system_id for fs in body.file_systems.file_system] == [expected]


@pytest.mark.parametrize("record, message", [
    (file_system("fs1", KmsKeyId=KEY), "unknown field(s) KmsKeyId"),
    (file_system("fs1", key=None, encrypt_type=2), "EncryptType 2"),
    (file_system("fs1", encrypt_type=0), "EncryptType is 0"),
    (file_system("fs1", status="running"), "Status"),
])
def test_account_file_refuses_unknown_fields_and_inconsistent_encryption(record, message):
    with pytest.raises(AccountError) as refused:
        make_account(nas={"file_systems": [record]})
    assert message in str(refused.value) and "nas.file_systems[0]" in str(refused.value)
