"""The emulated PolarDB through the official SDK: DescribeDBClusters paging (PageSize 30, 50 or 100)
and filters, the per-cluster encryption reads DescribeDBClusterTDE and DescribeDBClusterEncryptionKey,
and the account file's cluster records."""
from __future__ import annotations

import pytest
from alibabacloud_polardb20170801 import models as polardb
from alibabacloud_polardb20170801.client import Client as PolardbClient

from localcloud.account import AccountError
from tests.support.accounts import KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import refused, sdk_config
from tests.support.resources import polardb_cluster as cluster


def client_for(start_cloud, *clusters) -> PolardbClient:
    return PolardbClient(sdk_config(start_cloud(make_account(polardb={"clusters": list(clusters)}))))



def test_describe_dbclusters_pages_only_by_the_documented_sizes(start_cloud):
    client = client_for(start_cloud, *[cluster(f"pc-{i:03d}", tde=KEY) for i in range(120)])
    listing = lambda **kw: client.describe_dbclusters(polardb.DescribeDBClustersRequest(region_id=REGION, **kw)).body  # noqa: E731

    first = listing()
    assert (first.page_number, first.page_record_count, first.total_record_count) == (1, 30, 120)
    assert first.items.dbcluster[0].to_map().keys().isdisjoint({"TDE", "StorageEncryption"})  # the listing shows no key
    pages = [listing(page_size=100, page_number=n) for n in (1, 2)]
    assert [c.dbcluster_id for p in pages for c in p.items.dbcluster] == [f"pc-{i:03d}" for i in range(120)]
    assert len(listing(page_size=50, page_number=3).items.dbcluster) == 20
    for size in (40, 101, 10):
        assert refused(lambda: listing(page_size=size)) == ("InvalidParameter", 400)


def test_describe_dbclusters_filters_and_refuses_an_unknown_region(start_cloud):
    client = client_for(start_cloud, cluster("pc-a"), cluster("pc-b", DBType="PostgreSQL"), cluster("pc-c", status="Stopped"),
                        cluster("pc-far", region="cn-shanghai"))
    ids = lambda **kw: [c.dbcluster_id for c in client.describe_dbclusters(  # noqa: E731
        polardb.DescribeDBClustersRequest(**{"region_id": REGION, **kw})).body.items.dbcluster]
    assert ids() == ["pc-a", "pc-b", "pc-c"]  # not pc-far, in another region
    assert ids(dbcluster_ids="pc-a,pc-c") == ["pc-a", "pc-c"]
    assert ids(dbtype="PostgreSQL") == ["pc-b"]
    assert ids(dbcluster_status="Stopped") == ["pc-c"]
    assert refused(lambda: ids(region_id="cn-nowhere")) == ("InvalidRegionId.NotFound", 404)


def test_encryption_key_lists_tde_and_storage_keys_in_one_answer(start_cloud):
    client = client_for(start_cloud, cluster("pc-both", tde=KEY, storage=OTHER_KEY), cluster("pc-plain"))

    keys = client.describe_dbcluster_encryption_key(polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id="pc-both")).body
    assert sorted((k.encryption_key, k.used_by, k.key_type, k.encryption_key_status) for k in keys.encryption_key_list) == [
        (KEY, "TDE", "CMK", "Enabled"), (OTHER_KEY, "DiskEncryption", "CMK", "Enabled")]
    plain = client.describe_dbcluster_encryption_key(polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id="pc-plain")).body
    assert plain.encryption_key_list == []

    tde = client.describe_dbcluster_tde(polardb.DescribeDBClusterTDERequest(dbcluster_id="pc-both")).body
    assert (tde.tdestatus, tde.encryption_key, tde.encryption_key_status, tde.tderegion) == ("Enabled", KEY, "Enabled", REGION)
    assert client.describe_dbcluster_tde(polardb.DescribeDBClusterTDERequest(dbcluster_id="pc-plain")).body.tdestatus == "Disabled"

    for read in (lambda: client.describe_dbcluster_tde(polardb.DescribeDBClusterTDERequest(dbcluster_id="pc-nope")),
                 lambda: client.describe_dbcluster_encryption_key(polardb.DescribeDBClusterEncryptionKeyRequest(dbcluster_id="pc-nope"))):
        assert refused(read) == ("InvalidDBCluster.NotFound", 404)


@pytest.mark.parametrize("record, field", [
    (cluster("pc-x", StorageEncryptionKey=KEY), "StorageEncryptionKey"),  # CreateDBCluster's name, not the listing's
    ({**cluster("pc-x"), "TDE": {"TDEStatus": "Enabled", "KeyId": KEY}}, "KeyId"),
])
def test_cluster_records_take_only_the_apis_field_names(record, field):
    with pytest.raises(AccountError, match=field):
        make_account(polardb={"clusters": [record]})
