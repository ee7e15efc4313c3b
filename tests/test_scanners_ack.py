"""The ACK (Container Service for Kubernetes) Secrets-encryption scanner against the local cloud over
HTTP through the official cs SDK: contract tests replaying the API docs' sample responses, scanner
behaviour (paging, meta_data from the listing, DescribeClusterDetail only when it is missing, states,
other keys, malformed meta_data), failures, and key-guard end to end."""
from __future__ import annotations

import copy
import json

import pytest

from localcloud.account import Region
from shared.audit.runner import run_audit
from shared.audit.scanners.ack_clusters import PAGE_SIZE, AckClustersScanner
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import ack_basic_cluster as basic, ack_cluster as cluster, ack_meta_data as meta
from tests.support.scanners import clients, sample, target


def audit(cloud):
    [result] = run_audit(target(), clients(cloud), scanners=(AckClustersScanner(),)).results
    return result


def listing(*items, total: int | None = None) -> dict:
    return {"clusters": list(items), "page_info": {"page_number": 1, "page_size": PAGE_SIZE,
                                                   "total_count": len(items) if total is None else total}}


# ---------------------------------------------------------------- contract: the docs' sample responses


def test_contract_doc_sample_listing_is_read_through_the_sdk(start_cloud):
    # As published, the sample's page_info says 50 clusters (page 3 of 20 a page) beside one item: read
    # through the SDK, that is a listing that did not return every cluster, so the audit is incomplete.
    doc = sample("cs", "DescribeClustersV1")
    item = doc["response"]["clusters"][0]
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", doc["response"])

    result = audit(cloud)

    assert result.complete is False and result.reason == "IncompleteListing: DescribeClustersV1 listed 1 of 50 clusters"
    assert cloud.calls.get("cs:DescribeClustersV1") == 1  # the total of 50 fits the first page of 50

    # With page_info consistent with its one item: a dedicated cluster (cluster_type Kubernetes,
    # ack.standard) cannot encrypt Secrets, so its masked meta_data ("{\"Addons\":[{\"config\":***}") is
    # not needed, and nothing is described.
    consistent = {**doc["response"], "page_info": {"page_number": 1, "page_size": 20, "total_count": 1}}
    cloud.faults.clear()
    cloud.faults.respond("cs:DescribeClustersV1", consistent)
    result = run_audit(target(region=item["region_id"]), clients(cloud), scanners=(AckClustersScanner(),)).results[0]

    assert result.complete is True and result.dependents == []
    assert cloud.calls.get("cs:DescribeClusterDetail") == 0
    assert "ACK Pro" in result.note and "ecs_disks" in result.note


def test_contract_doc_sample_listing_with_a_real_meta_data_is_found(start_cloud):
    # The same sample as an ACK Pro cluster whose meta_data is what terraform-provider-alicloud parses.
    doc = copy.deepcopy(sample("cs", "DescribeClustersV1")["response"])
    item = doc["clusters"][0]
    item.update(cluster_type="ManagedKubernetes", cluster_spec="ack.pro.small", region_id=REGION,
                meta_data=meta(f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"))
    doc["page_info"] = {"page_number": 1, "page_size": PAGE_SIZE, "total_count": 1}
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", doc)

    [dep] = AckClustersScanner().scan(target(), clients(cloud))

    assert (dep.service, dep.resource_type, dep.resource_id, dep.region) == ("ACK", "ACS::ACK::Cluster", item["cluster_id"], REGION)
    assert (dep.state, dep.usage, dep.name) == ("live", "Kubernetes Secrets encryption at rest", "cluster-demo")
    assert dep.detail == {"state": "running", "type": "ManagedKubernetes", "spec": "ack.pro.small", "profile": "Default",
                          "version": "1.16.9-aliyun.1"}
    assert AckClustersScanner().scan(target(OTHER_KEY), clients(cloud)) == []


def test_contract_doc_sample_detail_with_its_masked_meta_data_makes_the_audit_incomplete(start_cloud):
    # A Pro cluster listed without meta_data is asked DescribeClusterDetail; the doc's sample answer
    # (ack.pro.small) carries meta_data masked as "\"Addons\":***", which is no JSON: fail safe.
    detail = sample("cs", "DescribeClusterDetail")["response"]
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", listing({"cluster_id": detail["cluster_id"], "region_id": REGION,
                                                            "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small",
                                                            "state": "running"}))
    cloud.faults.respond("cs:DescribeClusterDetail", detail)

    result = audit(cloud)

    assert result.complete is False and result.dependents == []
    assert result.reason.startswith("MalformedMetaData: cluster c82e6987e2961451182edacd74faf****: meta_data is not valid JSON")
    assert "Addons" not in result.reason  # the metadata itself is never quoted
    assert cloud.calls.get("cs:DescribeClusterDetail") == 1


# ---------------------------------------------------------------- scanner behaviour


def test_lists_every_page_once_and_reads_the_key_from_the_listing(start_cloud):
    clusters = [basic(f"c-basic{i:03}") for i in range(200)]
    clusters += [cluster("c-running"), cluster("c-stopped", state="stopped"), cluster("c-deleted", state="deleted"),
                 cluster("c-upgrading", state="upgrading"), cluster("c-other", key=OTHER_KEY),
                 cluster("c-plain", key=None), cluster("c-arn", key=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"),
                 {**cluster("c-serverless"), "profile": "Serverless"}]
    cloud = start_cloud(make_account(cs={"clusters": clusters}))

    found = {d.resource_id: d for d in AckClustersScanner().scan(target(), clients(cloud))}

    assert set(found) == {"c-running", "c-stopped", "c-deleted", "c-upgrading", "c-arn", "c-serverless"}
    assert {k: d.state for k, d in found.items()} == {"c-running": "live", "c-stopped": "inert", "c-deleted": "inert",
                                                      "c-upgrading": "live", "c-arn": "live", "c-serverless": "live"}
    assert found["c-running"].detail == {"state": "running", "type": "ManagedKubernetes", "spec": "ack.pro.small",
                                         "profile": "Default", "version": "1.31.1-aliyun.1"}
    assert found["c-running"].name == "c-running-name" and found["c-serverless"].detail["profile"] == "Serverless"
    assert cloud.calls.get("cs:DescribeClustersV1") == 5  # 208 clusters, 50 a page
    assert cloud.calls.get("cs:DescribeClusterDetail") == 0  # every listing item carried its meta_data


def test_only_the_key_region_is_listed_and_kept(start_cloud):
    account = make_account(cs={"clusters": [cluster("c-hz"), cluster("c-sh", region="cn-shanghai")]})
    account.regions.append(Region(RegionId="cn-shanghai"))
    cloud = start_cloud(account)

    assert [d.resource_id for d in AckClustersScanner().scan(target(), clients(cloud))] == ["c-hz"]
    [listed] = [e for e in cloud.account.actiontrail.events if e["eventName"] == "DescribeClustersV1"]
    assert listed["requestParameters"]["region_id"] == REGION and listed["requestParameters"]["page_size"] == str(PAGE_SIZE)


def test_a_cluster_with_encryption_disabled_that_still_names_the_key_is_reported_inert(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-off", disabled=True)]}))

    [dep] = AckClustersScanner().scan(target(), clients(cloud))

    assert dep.state == "inert" and dep.detail["encryption"] == "disabled (DisableEncryption true)"


def test_describe_cluster_detail_is_asked_only_for_pro_clusters_listed_without_meta_data(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-detail")]}))
    cloud.faults.respond("cs:DescribeClustersV1", listing(
        {"cluster_id": "c-detail", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small"},
        {"cluster_id": "c-basic", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.standard"},
        {"cluster_id": "c-dedicated", "region_id": REGION, "cluster_type": "Kubernetes"},
        {"cluster_id": "c-gone", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small"},
        {"cluster_id": "c-other-region", "region_id": "cn-shanghai", "cluster_type": "ManagedKubernetes",
         "cluster_spec": "ack.pro.small"},
    ))

    [dep] = AckClustersScanner().scan(target(), clients(cloud))

    assert dep.resource_id == "c-detail" and dep.name == "c-detail-name"  # read from DescribeClusterDetail
    # c-detail and c-gone (ErrorClusterNotFound: deleted since the listing, skipped); not the Basic,
    # dedicated or other-region clusters.
    assert cloud.calls.get("cs:DescribeClusterDetail") == 2


def test_a_pro_cluster_without_meta_data_anywhere_makes_the_audit_incomplete(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [{**cluster("c-bare"), "meta_data": None}]}))

    result = audit(cloud)

    assert result.complete is False and result.reason.startswith("MissingMetaData: cluster c-bare")
    assert cloud.calls.get("cs:DescribeClusterDetail") == 1


@pytest.mark.parametrize("meta_data, spec", [
    ('{"Capabilities": {"EncryptionKMSKeyId": ', "ack.pro.small"),
    ('"just a string"', "ack.pro.xlarge"),
    ('{"Capabilities": ["EncryptionKMSKeyId"]}', None),  # the listing does not say the spec: it may be Pro
])
def test_malformed_meta_data_of_a_cluster_that_may_encrypt_makes_the_audit_incomplete(start_cloud, meta_data, spec):
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", listing(
        {"cluster_id": "c-ok", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small",
         "meta_data": meta(KEY)},
        {"cluster_id": "c-bad", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": spec,
         "meta_data": meta_data}))

    result = audit(cloud)

    assert result.complete is False and result.dependents == []  # never a partial answer
    assert result.reason.startswith("MalformedMetaData: cluster c-bad: meta_data")


def test_malformed_meta_data_of_a_cluster_that_cannot_encrypt_secrets_is_not_needed(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", listing(
        {"cluster_id": "c-pro", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small",
         "meta_data": meta(KEY)},
        {"cluster_id": "c-basic", "region_id": REGION, "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.standard",
         "meta_data": "{broken"},
        {"cluster_id": "c-registered", "region_id": REGION, "cluster_type": "ExternalKubernetes", "meta_data": "{broken"}))

    result = audit(cloud)

    assert result.complete is True and [d.resource_id for d in result.dependents] == ["c-pro"]


def test_a_listing_shorter_than_its_total_count_makes_the_audit_incomplete(start_cloud):
    # A server that capped page_size below what was asked would answer this way: never "no dependent".
    cloud = start_cloud(make_account())
    cloud.faults.respond("cs:DescribeClustersV1", listing(basic("c-1"), basic("c-2"), total=2 * PAGE_SIZE))

    result = audit(cloud)

    assert result.complete is False
    assert result.reason == f"IncompleteListing: DescribeClustersV1 listed 4 of {2 * PAGE_SIZE} clusters"


@pytest.mark.parametrize("api, code, status", [
    ("cs:DescribeClustersV1", "Forbidden.RAM", 403),
    ("cs:DescribeClustersV1", "ErrorCheckAcl", 403),
    ("cs:DescribeClustersV1", "InternalError", 500),
    ("cs:DescribeClusterDetail", "Forbidden.RAM", 403),
    ("cs:DescribeClusterDetail", "ErrorClusterState", 400),
])
def test_errors_stop_the_scanner_and_the_audit_is_incomplete(start_cloud, api, code, status):
    cloud = start_cloud(make_account(cs={"clusters": [{**cluster("c-1"), "meta_data": None}]},
                                     faults=[{"Api": api, "Code": code, "Status": status}]))

    result = audit(cloud)

    assert result.complete is False and result.dependents == [] and code in result.reason


def test_throttling_is_retried_honouring_retry_after(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-1")]},
                                     faults=[{"Api": "cs:DescribeClustersV1", "Code": "Throttling.User", "RetryAfterMs": 20,
                                              "Remaining": 2}]))

    result = audit(cloud)

    assert result.complete is True and [d.resource_id for d in result.dependents] == ["c-1"]
    assert cloud.calls.get("cs:DescribeClustersV1") == 3


# ---------------------------------------------------------------- key-guard end to end


def test_key_guard_cancels_deletion_of_a_key_an_ack_cluster_encrypts_secrets_with(start_cloud):
    cloud = start_cloud(make_account(cs={"clusters": [cluster("c-payments"), cluster("c-other", key=OTHER_KEY), basic("c-basic")]}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert alert["dependents"]["ACK"] == {"count": 1, "ids": ["c-payments"]}
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True and record["dependentCount"] == 1
    assert record["dependents"]["ACK"][0].startswith("c-payments")
    assert record["apiCalls"]["cs:DescribeClustersV1"] == 1 and "cs:DescribeClusterDetail" not in record["apiCalls"]


def test_meta_data_in_the_account_file_is_the_json_string_the_api_returns():
    account = make_account(cs={"clusters": [cluster("c-1")]})
    assert json.loads(account.to_data()["cs"]["clusters"][0]["meta_data"])["Capabilities"]["EncryptionKMSKeyId"] == KEY
