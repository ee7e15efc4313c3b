"""The emulated ECS through the official SDK: the KMSKeyId filter and NextToken paging."""
from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.conftest import KEY, OTHER_KEY, REGION, disk, make_account, sdk_config, snapshot


def all_pages(fetch):
    items, token, pages = [], None, 0
    while True:
        body = fetch(token)
        pages += 1
        items += body[0]
        token = body[1]
        if not token:
            return items, pages


def test_describe_disks_filters_on_key_and_pages_with_next_token(start_cloud):
    disks = [disk(f"d-{i:03}", key=KEY if i % 3 == 0 else OTHER_KEY) for i in range(30)]
    client = EcsClient(sdk_config(start_cloud(make_account(disks=disks))))

    def fetch(token):
        body = client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, kmskey_id=KEY, max_results=4, next_token=token)).body
        return [d.disk_id for d in body.disks.disk], body.next_token

    ids, pages = all_pages(fetch)
    assert ids == [f"d-{i:03}" for i in range(0, 30, 3)]
    assert pages == 3


def test_describe_snapshots_filters_on_key(start_cloud):
    client = EcsClient(sdk_config(start_cloud(make_account(snapshots=[snapshot("s-1"), snapshot("s-2", key=OTHER_KEY)]))))
    body = client.describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, kmskey_id=KEY, max_results=100)).body
    assert [s.snapshot_id for s in body.snapshots.snapshot] == ["s-1"] and not body.next_token


def test_bad_next_token_and_unknown_region_are_refused(start_cloud):
    client = EcsClient(sdk_config(start_cloud(make_account())))
    with pytest.raises(ClientException) as bad_token:
        client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, next_token="not-a-token"))
    assert bad_token.value.code == "InvalidNextToken.Malformed"
    with pytest.raises(ClientException) as bad_region:
        client.describe_disks(ecs.DescribeDisksRequest(region_id="xx-nowhere-1"))
    assert bad_region.value.code == "InvalidRegionId.NotFound"


def test_injected_access_denied_answers_403(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}]))
    with pytest.raises(ClientException) as denied:
        EcsClient(sdk_config(cloud)).describe_disks(ecs.DescribeDisksRequest(region_id=REGION))
    assert (denied.value.code, denied.value.status_code) == ("Forbidden.RAM", 403)
