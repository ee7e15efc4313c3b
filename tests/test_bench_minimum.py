"""The bench's honest minimum: for a small region, the fewest calls the documented strategies need, computed
here from the region's own sizes (never from the scanners), product by product; and where the audit's own
strategy makes more calls, the per-product comparison says so and why. No cloud is started: counting only."""
from __future__ import annotations

import math

import pytest

from kms_steward.bench import quota_bound
from kms_steward.bench_region import (KEY, BenchRegion, Sizes, audit_strategy_calls, minimum_by_product, minimum_calls,
                                      product_minimums)
from shared.quotas import Quotas

SIZES = Sizes(disks=2000, snapshots=1000, secrets=250, buckets=40, rds=100, polardb=130, nas=150, logstores=40, redis=60,
              mongodb=50, ack=120, trail_events=2000)


def pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


@pytest.fixture(scope="module")
def region() -> BenchRegion:
    return BenchRegion.build(SIZES)


def test_a_server_side_key_filter_makes_the_minimum_the_filtered_page_count(region):
    minimum = minimum_calls(region)
    assert region.on["disks"] == 30 and region.on["snapshots"] == 10
    # DescribeDisks(KMSKeyId): the key's 30 disks in one page of 500, not the region's 2,000 disks in 4.
    assert minimum["ecs:DescribeDisks"] == pages(30, 500) == 1 < pages(SIZES.disks, 500)
    # DescribeSnapshots(KMSKeyId), 100 a page: the key's 10, not the region's 1,000 (10 pages).
    assert minimum["ecs:DescribeSnapshots"] == pages(10, 100) == 1 < pages(SIZES.snapshots, 100)


def test_a_reverse_lookup_is_the_whole_minimum_for_rds(region):
    minimum, audit = minimum_calls(region), audit_strategy_calls(region)
    assert minimum["rds:DescribeKmsAssociateResources"] == 1
    assert "rds:DescribeDBInstanceEncryptionKey" not in minimum  # finding needs no per-instance describe
    assert audit["rds:DescribeDBInstanceEncryptionKey"] == region.on["rds"]  # the audit's verification, shown apart


def test_a_listing_that_carries_the_key_needs_no_describe_and_the_others_one_per_item(region):
    minimum = minimum_calls(region)
    assert minimum["nas:DescribeFileSystems"] == pages(SIZES.nas, 100) == 2  # KMSKeyId is in each item
    assert minimum["cs:DescribeClustersV1"] == pages(sum(
        1 for c in region.account["cs"]["clusters"]
        if c["cluster_type"] == "ManagedKubernetes" and c.get("cluster_spec", "").startswith("ack.pro")), 50)
    assert "cs:DescribeClusterDetail" not in minimum  # meta_data is in each item
    # No key filter, no key in the listing: every secret is listed (100 a page) and described.
    assert minimum["kms:ListSecrets"] == pages(SIZES.secrets, 100) == 3 and minimum["kms:DescribeSecret"] == SIZES.secrets
    assert minimum["polardb:DescribeDBClusters"] == pages(SIZES.polardb, 100) == 2
    assert minimum["polardb:DescribeDBClusterEncryptionKey"] == SIZES.polardb
    assert minimum["oss:ListBuckets"] == 1 and minimum["oss:GetBucketInfo"] == minimum["oss:GetBucketReplication"] == SIZES.buckets
    assert minimum["sls:ListProject"] == 1 and minimum["sls:ListLogStores"] == pages(SIZES.logstores, 10)  # 10 logstores a project
    assert minimum["sls:GetLogStore"] == SIZES.logstores
    tde_on = sum(1 for r in region.account["redis"]["instances"] if r["TDEStatus"] == "Enabled")
    assert minimum["redis:DescribeInstances"] == pages(SIZES.redis, 50) == 2
    assert minimum["redis:DescribeInstanceTDEStatus"] == SIZES.redis and minimum["redis:DescribeEncryptionKey"] == tde_on
    assert minimum["ecs:DescribeDiskDefaultKMSKeyId"] == 1 and "ecs:DescribeDiskEncryptionByDefaultStatus" not in minimum


def test_images_take_the_fewer_of_per_snapshot_lookups_and_one_listing(region):
    image_snapshots = math.floor(region.on["snapshots"] * 0.1)
    assert region.image_snapshots == image_snapshots == 1
    assert minimum_calls(region)["ecs:DescribeImages"] == min(image_snapshots, pages(len(region.account["ecs"]["images"]), 100))
    bigger = BenchRegion.build(Sizes.scaled(1.0))  # 100 snapshots on the key, 10 made into images: one listing page
    assert bigger.image_snapshots == 10
    assert minimum_calls(bigger)["ecs:DescribeImages"] == 1 and audit_strategy_calls(bigger)["ecs:DescribeImages"] == 10


def test_actiontrail_minimum_is_the_one_query_for_a_key_whose_events_are_all_crypto_calls(region):
    on = region.on["trail_events"]
    assert on == 300  # 100 each of Decrypt, GenerateDataKey, Encrypt
    one_query = pages(on, 50)  # ResourceName + ServiceName: 6 pages
    by_name = 3 * pages(100, 50) + (13 - 3)  # ResourceName + EventName, a page at least for each of 13 crypto APIs: 16
    assert minimum_calls(region)["actiontrail:LookupEvents"] == min(one_query, by_name) == 6
    assert audit_strategy_calls(region)["actiontrail:LookupEvents"] == 4 + by_name  # 4 quiet pages, then by name


def test_per_product_rows_say_where_the_audit_makes_more_and_why(region):
    rows = minimum_by_product(region)
    assert sum(r["fewest_documented"] for r in rows) == sum(minimum_calls(region).values())
    assert sum(r["audit_strategy"] for r in rows) == sum(audit_strategy_calls(region).values())
    above = {(r["product"], r["finds"]): r for r in rows if r["audit_strategy"] > r["fewest_documented"]}
    assert {p for p, _ in above} == {"ecs", "rds", "actiontrail"}
    for row in rows:
        assert row["audit_strategy"] >= row["fewest_documented"], row["finds"]  # the minimum is never above the audit
        assert row["source"] and row["fewest_strategy"]
        assert bool(row["why_audit_differs"]) == ((row["product"], row["finds"]) in above), row["finds"]
    rds = next(r for r in rows if r["product"] == "rds")
    assert rds["audit_strategy"] == 1 + region.on["rds"] and rds["fewest_documented"] == 1
    assert "DescribeDBInstanceEncryptionKey" in rds["why_audit_differs"]


def test_the_quota_bound_is_taken_from_the_honest_minimum(region):
    bound, label = quota_bound(minimum_calls(region), Quotas())
    assert label.startswith("kms:secret-metadata")
    assert bound == pytest.approx((pages(SIZES.secrets, 100) + SIZES.secrets) / 40)


def test_the_minimum_follows_the_region_records_a_kms_instance_and_community_redis():
    region = BenchRegion.build(SIZES)
    # The key in a KMS instance holding 40 of the secrets: ListSecrets' DKMSInstanceId filter narrows the listing.
    next(k for k in region.account["kms"]["keys"] if k["KeyId"] == KEY)["DKMSInstanceId"] = "kst-bench"
    for secret in region.account["kms"]["secrets"][:40]:
        secret["DKMSInstanceId"] = "kst-bench"
    # 20 open-source Redis instances (no TDE): the InstanceType=Tair filter leaves them out.
    for instance in region.account["redis"]["instances"][-20:]:
        instance["InstanceType"] = "Redis"
    minimum, audit = minimum_calls(region), audit_strategy_calls(region)
    assert minimum["kms:ListSecrets"] == 1 and minimum["kms:DescribeSecret"] == 40
    assert audit["kms:DescribeSecret"] == 40  # the audit uses that filter too
    assert minimum["redis:DescribeInstanceTDEStatus"] == SIZES.redis - 20 and minimum["redis:DescribeInstances"] == 1
    assert audit["redis:DescribeInstanceTDEStatus"] == SIZES.redis
    redis = next(p for p in product_minimums(region) if p.product == "redis").as_row()
    assert redis["why_audit_differs"] and "Tair" in redis["why_audit_differs"]
