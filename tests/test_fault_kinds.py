"""Fault kinds answer as each product really answers, through that product's official SDK: the code,
the HTTP status and the wire format (POP JSON, OSS XML, SLS JSON). The sources of each code are cited
in localcloud/fault_kinds.py; the ones cited here are the pages that settle the asserted values."""
from __future__ import annotations

import time

import oss2
import pytest
from aliyun.log import LogException, LogItem, PutLogsRequest
from alibabacloud_cs20151215 import models as cs
from alibabacloud_cs20151215.client import Client as CsClient
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from Tea.exceptions import UnretryableException

from localcloud.account import Account, AccountError
from localcloud.cloud import LocalCloud
from shared.clients import is_access_denied, is_throttled, is_transient
from shared.log_client import make_log_client
from tests.support.accounts import ALICE_AK, ALICE_SECRET, BASE_ACCOUNT, KEY, REGION, make_account
from tests.support.clients import alice_kms, sdk_config


@pytest.fixture
def cloud():
    account = make_account(buckets=[{"Name": "acme-data", "Location": "oss-cn-hangzhou"}])
    with LocalCloud(account) as c:
        yield c


def raised(call, kind=Exception):
    with pytest.raises(kind) as info:
        call()
    return info.value


# ---------------------------------------------------------------- KMS (POP RPC)


def test_kms_throttled_is_429_rejected_throttling(cloud):
    # "调用密钥管理服务KMS的API接口时返回“QPS Limit Exceeded”错误" (help.aliyun.com, KMS): 429 Rejected.Throttling.
    cloud.faults.add("kms:DescribeKey", kind="throttled")
    err = raised(lambda: alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)), ClientException)
    assert (err.code, err.status_code) == ("Rejected.Throttling", 429) and "QPS Limit Exceeded" in err.message
    assert is_throttled(err) and is_transient(err)


def test_kms_denied_is_403_forbidden_no_permission(cloud):
    cloud.faults.add("kms:CancelKeyDeletion", kind="denied")
    err = raised(lambda: alice_kms(cloud).cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=KEY)), ClientException)
    assert (err.code, err.status_code) == ("Forbidden.NoPermission", 403)
    assert is_access_denied(err) and not is_transient(err)


def test_kms_server_error_is_500_internal_error(cloud):
    # Alibaba Cloud server errors table (doc-detail/25686): InternalError 500.
    cloud.faults.add("kms:DescribeKey", kind="server_error")
    err = raised(lambda: alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)), ServerException)
    assert (err.code, err.status_code) == ("InternalError", 500)
    assert is_transient(err)


def test_no_kind_sends_a_retry_after(cloud):
    # No product page cited in fault_kinds documents a retry-after for its throttling answer.
    cloud.faults.add("kms:DescribeKey", kind="throttled")
    err = raised(lambda: alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)), ClientException)
    assert not getattr(err, "retry_after", None)


def test_a_malformed_answer_is_a_200_the_sdk_cannot_read(cloud):
    cloud.faults.add("kms:DescribeKey", kind="malformed")
    err = raised(lambda: alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)))
    assert not isinstance(err, (ClientException, ServerException))  # not an error answer: an unreadable success
    assert cloud.calls.get("kms:DescribeKey") == 1


def test_a_timeout_answers_after_the_clients_read_timeout(cloud):
    cloud.faults.add("kms:DescribeKey", kind="timeout", latency_ms=600)
    config = sdk_config(cloud)
    config.read_timeout = 200
    from alibabacloud_kms20160120.client import Client as KmsClient

    started = time.monotonic()
    err = raised(lambda: KmsClient(config).describe_key(kms.DescribeKeyRequest(key_id=KEY)), UnretryableException)
    assert time.monotonic() - started < 0.55
    assert "timed out" in str(err).lower() and is_transient(err)


# ---------------------------------------------------------------- ECS (POP RPC)


def test_ecs_denied_is_403_forbidden_ram_and_throttled_is_throttling_user(cloud):
    client = EcsClient(sdk_config(cloud))
    cloud.faults.add("ecs:DescribeDisks", kind="denied")
    err = raised(lambda: client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION)), ClientException)
    assert (err.code, err.status_code) == ("Forbidden.RAM", 403)
    cloud.faults.clear()
    cloud.faults.add("ecs:DescribeDisks", kind="throttled")
    err = raised(lambda: client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION)), ClientException)
    assert (err.code, err.status_code) == ("Throttling.User", 400) and is_throttled(err)


# ---------------------------------------------------------------- OSS (REST/XML)


def test_oss_denied_is_403_access_denied_in_an_xml_body(cloud):
    # OSS "0003-00000201": a request a RAM policy denies answers 403 AccessDenied "Access denied by bucket policy.".
    cloud.faults.add("oss:GetBucketInfo", kind="denied")
    err = raised(lambda: oss2.Bucket(oss2.Auth(ALICE_AK, ALICE_SECRET), cloud.endpoint_url(), "acme-data").get_bucket_info(),
                 oss2.exceptions.AccessDenied)
    assert (err.status, err.code, err.message) == (403, "AccessDenied", "Access denied by bucket policy.")
    assert err.details.get("EC") == "0003-00000201"


def test_oss_throttled_is_503_for_bucket_operations_and_429_for_objects(cloud):
    # OSS "HTTP status code 503" (MetaOperationQpsLimitExceeded: GetService/ListBuckets and bucket
    # operations) and "HTTP status code 429" (QpsLimitExceeded).
    auth = oss2.Auth(ALICE_AK, ALICE_SECRET)
    cloud.faults.add("oss:ListBuckets", kind="throttled")
    cloud.faults.add("oss:PutObject", kind="throttled")
    err = raised(lambda: oss2.Service(auth, cloud.endpoint_url()).list_buckets(), oss2.exceptions.OssError)
    assert (err.status, err.code) == (503, "MetaOperationQpsLimitExceeded") and is_transient(err)
    err = raised(lambda: oss2.Bucket(auth, cloud.endpoint_url(), "acme-data").put_object("k", "v"), oss2.exceptions.OssError)
    assert (err.status, err.code) == (429, "QpsLimitExceeded") and is_throttled(err)


def test_oss_malformed_is_a_truncated_xml_listing(cloud):
    cloud.faults.add("oss:ListBuckets", kind="malformed")
    with pytest.raises(Exception) as info:
        oss2.Service(oss2.Auth(ALICE_AK, ALICE_SECRET), cloud.endpoint_url()).list_buckets()
    assert isinstance(info.value, SyntaxError)  # xml.etree ParseError: the listing does not parse


def test_oss_page_size_cap_clamps_max_keys(cloud):
    auth = oss2.Auth(ALICE_AK, ALICE_SECRET)
    cloud.faults.add("oss:ListBuckets", page_size_cap=1)
    result = oss2.Service(auth, cloud.endpoint_url()).list_buckets(max_keys=100)
    assert len(result.buckets) == 1 and result.is_truncated and result.next_marker


# ---------------------------------------------------------------- SLS (REST/JSON)


def sls(cloud):
    return make_log_client(cloud.endpoint(), ALICE_AK, ALICE_SECRET)


def test_sls_denied_is_401_unauthorized(cloud):
    # Simple Log Service "Error codes": 401 Unauthorized "The AccessKeyId is unauthorized.".
    cloud.faults.add("sls:ListProject", kind="denied")
    err = raised(lambda: sls(cloud).list_project(0, 100), LogException)
    assert (err.get_error_code(), err.resp_status) == ("Unauthorized", 401)
    assert is_access_denied(err)


def test_sls_throttled_put_logs_is_403_write_quota_exceed(cloud):
    # Simple Log Service "Handle resource throttling errors": WriteQuotaExceed, "Project write quota exceed: qps".
    cloud.faults.add("sls:PutLogs", kind="throttled")
    request = PutLogsRequest("kms-steward-logs", "key-guard-decisions", "t", "", [LogItem(contents=[("a", "b")])])
    err = raised(lambda: sls(cloud).put_logs(request), LogException)
    assert (err.get_error_code(), err.resp_status) == ("WriteQuotaExceed", 403)
    assert is_transient(err)


def test_sls_page_size_cap_clamps_size(cloud):
    cloud.faults.add("sls:ListLogStores", page_size_cap=1)
    response = sls(cloud).list_logstore("kms-steward-logs", None, 0, 500)
    in_project = [s for s in BASE_ACCOUNT["sls"]["logstores"] if s["projectName"] == "kms-steward-logs"]
    assert len(in_project) > 1 and response.get_count() == 1 and response.get_total() == len(in_project)


# ---------------------------------------------------------------- answers lost after the work was done


def test_an_oss_write_whose_answer_is_lost_is_done_and_answered_with_the_fault(cloud):
    cloud.faults.add("oss:PutObject", kind="server_error", answer_lost=True)
    bucket = oss2.Bucket(oss2.Auth(ALICE_AK, ALICE_SECRET), cloud.endpoint_url(), "acme-data")
    err = raised(lambda: bucket.put_object("claims/evt-1", b"{}"), oss2.exceptions.ServerError)
    cloud.faults.clear()
    assert (err.status, err.code) == (503, "ServiceUnavailable")
    assert bucket.get_object("claims/evt-1").read() == b"{}"  # written all the same


def test_an_sls_write_whose_answer_is_lost_is_done_and_answered_with_the_fault(cloud):
    cloud.faults.add("sls:PutLogs", kind="server_error", answer_lost=True)
    request = PutLogsRequest("kms-steward-logs", "key-guard-decisions", "t", "", [LogItem(contents=[("a", "b")])])
    err = raised(lambda: sls(cloud).put_logs(request), LogException)
    assert (err.get_error_code(), err.resp_status) == ("InternalServerError", 500)
    # Written every time: the SLS SDK resends a PutLogs whose answer it did not get, so each try landed a copy
    # (why key-guard gives each record an id of its own).
    copies = [log.contents.get("a") for log in cloud.account.sls.logs if log.logstoreName == "key-guard-decisions"]
    assert len(copies) > 1 and set(copies) == {"b"}


def test_a_roa_call_whose_answer_is_lost_is_answered_with_the_fault(cloud):
    # The ROA front end (ACK here; FC's InvokeFunction is its one write, which runs the function first).
    cloud.faults.add("cs:DescribeClustersV1", kind="server_error", answer_lost=True)
    err = raised(lambda: CsClient(sdk_config(cloud)).describe_clusters_v1(cs.DescribeClustersV1Request()), ServerException)
    assert (err.code, err.status_code) == ("InternalError", 500)
    assert cloud.calls.get("cs:DescribeClustersV1") == 1


# ---------------------------------------------------------------- the record


def test_an_unknown_kind_is_refused_when_the_account_loads():
    with pytest.raises(AccountError, match="Kind"):
        Account.from_data({"account_id": "1234567890123456", "faults": [{"Api": "kms:DescribeKey", "Kind": "slow"}]})
