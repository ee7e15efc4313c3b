"""The emulated Container Service for Kubernetes (ACK, product CS) through the official cs SDK: the ROA
protocol (signature verified, gateway errors, faults, canned answers, ActionTrail), DescribeClustersV1
paging and filters, DescribeClusterDetail, and the account file's cluster records."""
from __future__ import annotations

import json

import pytest
from alibabacloud_cs20151215 import models as cs
from alibabacloud_cs20151215.client import Client as CsClient
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.account import AccountError
from tests.support.accounts import ALICE_AK, KEY, OTHER_KEY, REGION, STS_AK, STS_SECRET, STS_TOKEN, make_account, protocol_account
from tests.support.clients import sdk_config
from tests.support.resources import ack_basic_cluster as basic, ack_cluster as cluster, ack_meta_data as meta


def client_for(start_cloud, *clusters, **account) -> CsClient:
    return CsClient(sdk_config(start_cloud(make_account(cs={"clusters": list(clusters)}, **account))))


# ---------------------------------------------------------------- the ROA protocol


def test_a_signed_roa_call_is_served_and_counted_under_its_action(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-one")]}))
    client = CsClient(sdk_config(cloud))

    listing = client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION))
    detail = client.describe_cluster_detail("c-one")

    assert [c.cluster_id for c in listing.body.clusters] == ["c-one"]
    assert detail.body.cluster_id == "c-one" and detail.status_code == 200
    assert listing.headers["x-acs-request-id"] and "RequestId" not in listing.body.to_map()
    assert cloud.calls.get("cs:DescribeClustersV1") == 1 and cloud.calls.get("cs:DescribeClusterDetail") == 1


def test_wrong_secret_gets_signature_does_not_match(start_cloud):
    client = CsClient(sdk_config(start_cloud(make_account()), secret="not-alices-secret"))
    with pytest.raises(ClientException) as refused:
        client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION))
    assert (refused.value.code, refused.value.status_code) == ("SignatureDoesNotMatch", 400)
    assert "not-alices-secret" not in str(refused.value)


def test_unknown_access_key_gets_invalid_access_key_id(start_cloud):
    client = CsClient(sdk_config(start_cloud(make_account()), access_key_id="LTAI5tNobody000000000001"))
    with pytest.raises(ClientException) as refused:
        client.describe_cluster_detail("c-one")
    assert (refused.value.code, refused.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)
    assert refused.value.message.startswith("code: 404, Specified access key is not found.")  # as CS answers it


def test_sts_credentials_need_their_security_token(start_cloud):
    cloud = start_cloud(protocol_account(cs={"clusters": [cluster("c-one")]}), now="2030-01-01T00:00:00Z")

    def client(token):
        return CsClient(Config(access_key_id=STS_AK, access_key_secret=STS_SECRET, security_token=token,
                               endpoint=cloud.endpoint(REGION), protocol="http", region_id=REGION))

    assert client(STS_TOKEN).describe_cluster_detail("c-one").body.cluster_id == "c-one"
    with pytest.raises(ClientException) as refused:
        client("CAIS-someone-elses-token").describe_cluster_detail("c-one")
    assert refused.value.code == "InvalidSecurityToken.MismatchWithAccessKey"


def test_a_path_no_route_serves_is_refused_with_the_gateway_error(start_cloud):
    client = client_for(start_cloud)
    # DescribeClusterResources (GET /clusters/{ClusterId}/resources) is not emulated.
    with pytest.raises(ClientException) as refused:
        client.describe_cluster_resources("c-one", cs.DescribeClusterResourcesRequest())
    assert (refused.value.code, refused.value.status_code) == ("InvalidAction.NotFound", 404)


def test_injected_faults_reach_roa_calls(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-one")]}, faults=[
        {"Api": "cs:DescribeClusterDetail", "Code": "Forbidden.RAM", "Remaining": 1},
        {"Api": "cs:DescribeClustersV1", "Code": "Throttling.User", "RetryAfterMs": 50, "Remaining": 1},
    ]))
    client = CsClient(sdk_config(cloud))

    with pytest.raises(ClientException) as denied:
        client.describe_cluster_detail("c-one")
    assert (denied.value.code, denied.value.status_code) == ("Forbidden.RAM", 403)
    with pytest.raises(ThrottlingException) as throttled:
        client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION))
    assert throttled.value.code == "Throttling.User" and throttled.value.retry_after == 50
    assert client.describe_cluster_detail("c-one").body.cluster_id == "c-one"  # Remaining 1: once each


def test_a_fault_given_a_region_applies_to_that_region_id_only(start_cloud):
    cloud = start_cloud(protocol_account(cs={"clusters": [cluster("c-hz"), cluster("c-sh", region="cn-shanghai")]},
                                         faults=[{"Api": "cs:DescribeClustersV1", "Code": "Forbidden.RAM", "RegionId": "cn-shanghai"}]))
    client = CsClient(sdk_config(cloud))

    assert [c.cluster_id for c in client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION)).body.clusters] == ["c-hz"]
    with pytest.raises(ClientException):
        client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id="cn-shanghai"))


def test_a_canned_answer_is_sent_as_is(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", {"clusters": [{"cluster_id": "c-canned", "meta_data": "{}"}],
                                                   "page_info": {"page_number": 1, "page_size": 10, "total_count": 1}})
    body = CsClient(sdk_config(cloud)).describe_clusters_v1(cs.DescribeClustersV1Request()).body
    assert [c.cluster_id for c in body.clusters] == ["c-canned"] and body.page_info.total_count == 1


def test_every_roa_call_is_recorded_in_actiontrail(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-one")]}))
    client = CsClient(sdk_config(cloud))
    client.describe_cluster_detail("c-one")
    with pytest.raises(ClientException):
        client.describe_cluster_detail("c-gone")

    ok, gone = [e for e in cloud.account.actiontrail.events if e["serviceName"] == "CS"]
    assert (ok["eventName"], ok["eventRW"], ok["apiVersion"], ok["acsRegion"]) == ("DescribeClusterDetail", "Read", "2015-12-15", REGION)
    assert ok["eventSource"] == f"cs.{REGION}.aliyuncs.com" and ok["requestParameters"] == {"ClusterId": "c-one"}
    assert ok["referencedResources"] == {"ACS::ACK::Cluster": ["c-one"]} and ok["userIdentity"]["accessKeyId"] == ALICE_AK
    assert (gone["errorCode"], gone["requestParameters"]) == ("ErrorClusterNotFound", {"ClusterId": "c-gone"})


# ---------------------------------------------------------------- DescribeClustersV1 / DescribeClusterDetail


def test_describe_clusters_v1_pages_with_page_info(start_cloud):
    client = client_for(start_cloud, *[basic(f"c{i:03}") for i in range(25)])

    first = client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION)).body
    assert (len(first.clusters), first.page_info.page_number, first.page_info.page_size, first.page_info.total_count) == (10, 1, 10, 25)
    pages = [client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION, page_number=n, page_size=10)).body
             for n in (1, 2, 3)]
    assert [c.cluster_id for p in pages for c in p.clusters] == [f"c{i:03}" for i in range(25)]
    assert [len(p.clusters) for p in pages] == [10, 10, 5] and pages[2].page_info.page_number == 3
    assert client.describe_clusters_v1(cs.DescribeClustersV1Request(page_number=9, page_size=100)).body.clusters == []
    for size in (0, 101):
        with pytest.raises(ClientException) as refused:
            client.describe_clusters_v1(cs.DescribeClustersV1Request(page_size=size))
        assert (refused.value.code, refused.value.status_code) == ("InvalidParameter", 400)


def test_listing_items_carry_meta_data_as_a_string(start_cloud):
    client = client_for(start_cloud, cluster("c-pro"))
    [item] = client.describe_clusters_v1(cs.DescribeClustersV1Request(region_id=REGION)).body.clusters
    assert isinstance(item.meta_data, str)
    assert json.loads(item.meta_data)["Capabilities"] == {"EncryptionKMSKeyId": KEY, "DisableEncryption": False}
    assert (item.cluster_spec, item.cluster_type, item.profile, item.state) == ("ack.pro.small", "ManagedKubernetes", "Default", "running")


def test_describe_clusters_v1_filters(start_cloud):
    cloud = start_cloud(protocol_account(cs={"clusters": [
        cluster("c-pro"), basic("c-basic", name="payments-basic"), cluster("c-sh", region="cn-shanghai"),
        {**basic("c-dedicated"), "cluster_type": "Kubernetes", "cluster_spec": None},
        {**cluster("c-edge"), "profile": "Edge"}]}))
    client = CsClient(sdk_config(cloud))

    def ids(**kwargs):
        return [c.cluster_id for c in client.describe_clusters_v1(cs.DescribeClustersV1Request(page_size=100, **kwargs)).body.clusters]

    assert ids(region_id="cn-shanghai") == ["c-sh"]
    assert ids(region_id=REGION) == ["c-pro", "c-basic", "c-dedicated", "c-edge"]
    assert ids() == ["c-pro", "c-basic", "c-sh", "c-dedicated", "c-edge"]  # every region without region_id
    assert ids(region_id="xx-nowhere-1") == []
    assert ids(cluster_type="Kubernetes") == ["c-dedicated"]
    assert ids(cluster_spec="ack.standard") == ["c-basic"]
    assert ids(profile="Edge") == ["c-edge"]
    assert ids(cluster_id="c-pro") == ["c-pro"]
    assert ids(name="payments") == ["c-basic"]  # a fuzzy match


def test_describe_cluster_detail_and_a_cluster_that_is_gone(start_cloud):
    client = client_for(start_cloud, cluster("c-pro", tags=[{"key": "env", "value": "prod"}]))

    body = client.describe_cluster_detail("c-pro").body
    assert (body.cluster_id, body.region_id, body.name, body.current_version) == ("c-pro", REGION, "c-pro-name", "1.31.1-aliyun.1")
    assert json.loads(body.meta_data)["Capabilities"]["EncryptionKMSKeyId"] == KEY
    assert [(t.key, t.value) for t in body.tags] == [("env", "prod")]
    with pytest.raises(ClientException) as gone:
        client.describe_cluster_detail("c-gone")
    err = gone.value
    assert (err.code, err.status_code) == ("ErrorClusterNotFound", 404)
    assert err.data["code"] == "ErrorClusterNotFound" and err.data["requestId"] == err.request_id


# ---------------------------------------------------------------- the account file


def test_account_file_cluster_records_round_trip():
    account = make_account(cs={"clusters": [cluster("c-pro"), basic("c-basic")]})
    data = account.to_data()["cs"]["clusters"]
    assert data[0]["meta_data"] == meta(KEY) and data[1]["cluster_spec"] == "ack.standard"
    assert account.cs.clusters[0].encryption_key == KEY and account.cs.clusters[1].encryption_key is None


@pytest.mark.parametrize("record, message", [
    ({**cluster("c-1"), "RegionId": REGION}, "unknown field(s) RegionId"),
    ({**cluster("c-1"), "kms_key_id": KEY}, "unknown field(s) kms_key_id"),
    ({**cluster("c-1"), "meta_data": '{"Capabilities": {'}, "meta_data is not valid JSON"),
    ({**cluster("c-1"), "meta_data": '["Capabilities"]'}, "meta_data is not a JSON object"),
    ({**cluster("c-1"), "meta_data": '{"Capabilities": "on"}'}, "Capabilities is not a JSON object"),
    ({**cluster("c-1"), "meta_data": json.dumps({"Capabilities": {"EncryptionKMSKeyId": 7}})}, "must be a string"),
    ({**cluster("c-1"), "meta_data": json.dumps({"Capabilities": {"EncryptionKMSKeyId": KEY, "DisableEncryption": "no"}})},
     "DisableEncryption must be true or false"),
    (cluster("c-1", spec="ack.standard"), "is not ACK Pro"),
    ({**cluster("c-1"), "cluster_type": "Kubernetes"}, "is not ACK Pro"),
    (cluster("c-1", state="Running"), "state"),
])
def test_account_file_refuses_unknown_fields_and_inconsistent_encryption(record, message):
    with pytest.raises(AccountError) as refused:
        make_account(cs={"clusters": [record]})
    assert message in str(refused.value) and "cs.clusters[0] (" in str(refused.value)


def test_a_basic_cluster_may_keep_a_key_it_no_longer_encrypts_with():
    # DisableEncryption true: the key may stay named; the Pro requirement is for encryption in use.
    account = make_account(cs={"clusters": [cluster("c-1", key=OTHER_KEY, disabled=True, spec="ack.standard")]})
    assert account.cs.clusters[0].encryption_key == OTHER_KEY


def test_the_signature_covers_the_path_as_sent_percent_encoded(start_cloud):
    # The SDK percent-encodes a path parameter (`*` -> %2A) and signs that form, as the doc samples'
    # masked ids show ("c82e6987e2961451182edacd74faf****").
    client = client_for(start_cloud, cluster("c82e6987****"))
    assert client.describe_cluster_detail("c82e6987****").body.cluster_id == "c82e6987****"
