"""The emulated ECS through the official SDK: the KMSKeyId filter and NextToken paging, DescribeImages
(filters, PageNumber paging), snapshot Usage, and the region's default disk encryption."""
from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.account import AccountError, Region
from tests.support.accounts import KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import sdk_config
from tests.support.resources import disk, ecs_image as image, snapshot


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
    # MaxResults below 10 is served as 10 ("Valid values: 10 to 500 ... less than 10, the default value is 10",
    # https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describedisks): 25 of 75 disks
    # have the key, so MaxResults=4 still takes three pages (10, 10, 5), each token carrying the filter on.
    disks = [disk(f"d-{i:03}", key=KEY if i % 3 == 0 else OTHER_KEY) for i in range(75)]
    client = EcsClient(sdk_config(start_cloud(make_account(disks=disks))))
    sizes = []

    def fetch(token):
        body = client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, kmskey_id=KEY, max_results=4, next_token=token)).body
        sizes.append(len(body.disks.disk))
        return [d.disk_id for d in body.disks.disk], body.next_token

    ids, pages = all_pages(fetch)
    assert ids == [f"d-{i:03}" for i in range(0, 75, 3)]
    assert pages == 3 and sizes == [10, 10, 5]


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


# ---------------------------------------------------------------- images


def image_ids(client, **kwargs) -> list[str]:
    body = client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, **kwargs)).body
    return [i.image_id for i in body.images.image]


def test_describe_images_filters_on_snapshot_owner_and_status(start_cloud):
    images = [image("m-avail", "s-1"), image("m-creating", "s-1", status="Creating"), image("m-public", "s-1", owner="system"),
              image("m-shared", "s-1", owner="others"), image("m-market", "s-1", owner="marketplace"), image("m-other", "s-2"),
              image("m-deprecated", "s-1", "s-3", status="Deprecated", usage="instance")]
    client = EcsClient(sdk_config(start_cloud(make_account(ecs={"images": images}))))

    assert image_ids(client, snapshot_id="s-1", image_owner_alias="self") == ["m-avail"]  # Status defaults to Available
    assert image_ids(client, snapshot_id="s-1", image_owner_alias="self", status="ALL") == ["m-avail", "m-creating", "m-deprecated"]
    assert image_ids(client, snapshot_id="s-1", image_owner_alias="self", status="Creating,Deprecated") == ["m-creating", "m-deprecated"]
    assert image_ids(client, snapshot_id="s-3", status="ALL") == ["m-deprecated"]  # any disk mapping of the image
    # No alias answers system, self and others; marketplace images only when asked for.
    assert image_ids(client, snapshot_id="s-1") == ["m-avail", "m-public", "m-shared"]
    assert image_ids(client, image_owner_alias="marketplace") == ["m-market"]
    assert image_ids(client, image_id="m-avail,m-other") == ["m-avail", "m-other"]
    assert image_ids(client, usage="instance", status="ALL") == ["m-deprecated"]
    [found] = client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, image_id="m-deprecated", status="ALL")).body.images.image
    assert (found.usage, found.image_owner_alias) == ("instance", "self")
    assert [(d.snapshot_id, d.encrypted) for d in found.disk_device_mappings.disk_device_mapping] == [("s-1", True), ("s-3", True)]


def test_describe_images_pages_by_number_at_most_100(start_cloud):
    client = EcsClient(sdk_config(start_cloud(make_account(ecs={"images": [image(f"m-{i:03}", "s-1") for i in range(120)]}))))

    first = client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, snapshot_id="s-1", page_size=100)).body
    second = client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, snapshot_id="s-1", page_size=100, page_number=2)).body
    assert (first.total_count, first.page_size, first.page_number, first.region_id) == (120, 100, 1, REGION)
    assert [i.image_id for i in first.images.image + second.images.image] == [f"m-{i:03}" for i in range(120)]
    assert client.describe_images(ecs.DescribeImagesRequest(region_id=REGION)).body.page_size == 10  # the default
    with pytest.raises(ClientException) as too_big:
        client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, page_size=101))
    assert (too_big.value.code, too_big.value.status_code) == ("InvalidParameter", 400)


def test_describe_images_refuses_unknown_owner_alias_and_status(start_cloud):
    client = EcsClient(sdk_config(start_cloud(make_account())))
    with pytest.raises(ClientException) as alias:
        client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, image_owner_alias="mine"))
    assert (alias.value.code, alias.value.status_code) == ("InvalidImageOwnerAlias.ValueNotSupported", 400)
    with pytest.raises(ClientException) as status:
        client.describe_images(ecs.DescribeImagesRequest(region_id=REGION, status="ALL,Available"))
    assert status.value.code == "InvalidParameter"


def test_snapshot_usage_is_derived_from_images_and_disks_unless_stated(start_cloud):
    snaps = [snapshot(s) for s in ("s-img", "s-disk", "s-both", "s-idle")] + [{**snapshot("s-stated"), "Usage": "disk"}]
    account = make_account(snapshots=snaps, disks=[disk("d-1", SourceSnapshotId="s-disk"), disk("d-2", SourceSnapshotId="s-both")],
                           ecs={"images": [image("m-1", "s-img", "s-both")]})
    client = EcsClient(sdk_config(start_cloud(account)))

    body = client.describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, kmskey_id=KEY, max_results=100)).body
    assert {s.snapshot_id: s.usage for s in body.snapshots.snapshot} == {
        "s-img": "image", "s-disk": "disk", "s-both": "image_disk", "s-idle": "none", "s-stated": "disk"}
    body = client.describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, usage="image_disk")).body
    assert [s.snapshot_id for s in body.snapshots.snapshot] == ["s-both"]
    with pytest.raises(ClientException) as bad:
        client.describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, usage="instance"))
    assert (bad.value.code, bad.value.status_code) == ("InvalidUsage", 404)


# ---------------------------------------------------------------- account-level default encryption


def test_default_kms_key_and_encryption_by_default_status_per_region(start_cloud):
    account = make_account(ecs={"encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY, "Encrypted": True}]})
    account.regions.append(Region(RegionId="cn-shanghai"))
    client = EcsClient(sdk_config(start_cloud(account)))

    assert client.describe_disk_default_kmskey_id(ecs.DescribeDiskDefaultKMSKeyIdRequest(region_id=REGION)).body.kmskey_id == KEY
    status = client.describe_disk_encryption_by_default_status(ecs.DescribeDiskEncryptionByDefaultStatusRequest(region_id=REGION))
    assert status.body.encrypted is True and status.body.request_id
    # A region never set up: not encrypted by default, no key named.
    other = ecs.DescribeDiskDefaultKMSKeyIdRequest(region_id="cn-shanghai")
    assert client.describe_disk_default_kmskey_id(other).body.kmskey_id is None
    assert client.describe_disk_encryption_by_default_status(
        ecs.DescribeDiskEncryptionByDefaultStatusRequest(region_id="cn-shanghai")).body.encrypted is False
    with pytest.raises(ClientException) as unknown:
        client.describe_disk_default_kmskey_id(ecs.DescribeDiskDefaultKMSKeyIdRequest(region_id="xx-nowhere-1"))
    assert (unknown.value.code, unknown.value.status_code) == ("InvalidParameter.RegionIdNotExists", 403)


def test_account_file_validates_images_and_encryption_defaults():
    with pytest.raises(AccountError, match=r"ecs.images\[0\] \(ImageId m-1\).*KmsKeyId"):
        make_account(ecs={"images": [{**image("m-1", "s-1"), "KmsKeyId": KEY}]})
    with pytest.raises(AccountError, match="one record per RegionId"):
        make_account(ecs={"encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY}, {"RegionId": REGION}]})
