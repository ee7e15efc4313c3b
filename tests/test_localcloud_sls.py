"""The local cloud's SLS, driven by the real aliyun-log-python-sdk over HTTP (no mocks), and the
client factory that makes the SDK reach an IP endpoint (shared/log_client.py)."""
from __future__ import annotations

import json
import zlib

import pytest
import requests
from aliyun.log import GetLogsRequest, ListLogstoresRequest, LogClient, LogException, LogItem, PutLogsRequest
from aliyun.log.auth import AUTH_VERSION_4, AuthV1
from aliyun.log.credentials import StaticCredentialsProvider
from aliyun.log.log_logs_pb2 import LogGroup
from aliyun.log.util import Util

from localcloud.account import Account
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from shared.log_client import is_ip_endpoint, make_log_client
from tests.support.accounts import ALICE_AK, ALICE_SECRET, PROTOCOL_NOW, STS_AK, STS_SECRET, STS_TOKEN, protocol_account

PROJECT = "kms-steward-logs"
STORE = "key-guard-decisions"
T0 = 1_893_456_000  # 2030-01-01T00:00:00Z


def account() -> Account:
    return protocol_account(sls={"logstores": [
        {"projectName": PROJECT, "logstoreName": STORE, "RegionId": "cn-hangzhou"},
        {"projectName": PROJECT, "logstoreName": "fc-logs", "RegionId": "cn-hangzhou"},
        {"projectName": "shanghai-logs", "logstoreName": "audit", "RegionId": "cn-shanghai"},
    ]})


@pytest.fixture
def cloud():
    with LocalCloud(account(), clock=Clock(PROTOCOL_NOW)) as c:
        yield c


def client(cloud: LocalCloud, ak: str = ALICE_AK, secret: str = ALICE_SECRET, token: str | None = None,
           region: str = "cn-hangzhou") -> LogClient:
    return make_log_client(cloud.endpoint(region), ak, secret, token)


def item(t: int, **contents: str) -> LogItem:
    li = LogItem()
    li.set_time(t)
    li.set_contents(list(contents.items()))
    return li


def put(c: LogClient, *items: LogItem, topic: str = "key-guard", store: str = STORE, project: str = PROJECT, **kw):
    return c.put_logs(PutLogsRequest(project, store, topic, "10.0.0.7", list(items), **kw))


DECISION = {"event": "ScheduleKeyDeletion", "keyId": "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b", "decision": "cancelled",
            "dependents": json.dumps([{"type": "ecs:disk", "id": "d-bp1"}])}


# ---------------------------------------------------------------- the client factory


@pytest.mark.parametrize("endpoint, ip", [
    ("127.0.0.1:41231", True), ("http://127.0.0.1:41231", True), ("127.0.0.1", True), ("https://10.1.2.3/", True),
    ("cn-hangzhou.log.aliyuncs.com", False), ("https://cn-hangzhou-intranet.log.aliyuncs.com", False),
])
def test_make_log_client_uses_ip_mode_only_for_ip_endpoints(endpoint, ip):
    assert is_ip_endpoint(endpoint) is ip
    c = make_log_client(endpoint, ALICE_AK, ALICE_SECRET)
    assert c._isRowIp is ip


def test_the_sdk_alone_would_not_use_ip_mode_but_the_factory_client_reaches_the_local_cloud(cloud):
    """Why the factory exists: the SDK's own check refuses "127.0.0.1:PORT" and would then send the
    request to `<project>.127.0.0.1`, which does not resolve (and the SDK retries that 10 times)."""
    assert Util.is_row_ip(cloud.endpoint()) is False
    assert LogClient(cloud.endpoint(), ALICE_AK, ALICE_SECRET)._isRowIp is False
    assert sorted(client(cloud).list_logstores(ListLogstoresRequest(PROJECT)).get_logstores()) == ["fc-logs", STORE]


# ---------------------------------------------------------------- PutLogs / GetLogs


def test_put_logs_then_get_logs_returns_the_contents(cloud):
    c = client(cloud)
    put(c, item(T0 + 5, **DECISION))
    assert cloud.calls.get("sls:PutLogs") == 1
    stored = cloud.account.sls.logs
    assert len(stored) == 1 and stored[0].contents == DECISION
    assert (stored[0].projectName, stored[0].logstoreName, stored[0].time, stored[0].topic, stored[0].source) == (
        PROJECT, STORE, T0 + 5, "key-guard", "10.0.0.7")

    resp = c.get_logs(GetLogsRequest(PROJECT, STORE, T0, T0 + 60, query="*"))  # the SDK's default v2 GetLogs (lz4)
    assert resp.is_completed() and resp.get_count() == 1
    log = resp.get_logs()[0]
    assert log.get_time() == T0 + 5 and log.get_source() == "10.0.0.7"
    assert {k: v for k, v in log.get_contents().items() if k != "__topic__"} == DECISION
    assert json.loads(log.get_contents()["dependents"]) == [{"type": "ecs:disk", "id": "d-bp1"}]
    assert cloud.calls.get("sls:GetLogs") == 1


def test_get_log_v1_and_v2_filter_by_key_value_terms(cloud):
    c = client(cloud)
    put(c, item(T0 + 1, event="ScheduleKeyDeletion", keyId="k-1", decision="cancelled"),
        item(T0 + 2, event="ScheduleKeyDeletion", keyId="k-2", decision="allowed"),
        item(T0 + 3, event="DisableKey", keyId="k-1", decision="allowed"))
    for v2 in (True, False):
        c._get_logs_v2_enabled = v2
        q = lambda query, **kw: [l.get_contents()["keyId"] + "/" + l.get_contents()["event"]
                                 for l in c.get_log(PROJECT, STORE, T0, T0 + 60, query=query, **kw).get_logs()]
        assert q("keyId: k-1") == ["k-1/ScheduleKeyDeletion", "k-1/DisableKey"]
        assert q("keyId: k-1 and decision: allowed") == ["k-1/DisableKey"]
        assert q('event:"ScheduleKeyDeletion" AND keyId:k-2') == ["k-2/ScheduleKeyDeletion"]
        assert q("decision: cancelled or event: disablekey") == ["k-1/ScheduleKeyDeletion", "k-1/DisableKey"]
        assert q("event: ScheduleKeyDeletion and not keyId: k-1") == ["k-2/ScheduleKeyDeletion"]
        assert q("k-2") == ["k-2/ScheduleKeyDeletion"]  # full-text term
        assert q("keyId: k-9") == []
        assert q("", reverse=True) == ["k-1/DisableKey", "k-2/ScheduleKeyDeletion", "k-1/ScheduleKeyDeletion"]
        assert q("*", offset=1, size=1) == ["k-2/ScheduleKeyDeletion"]
    # The time window is [from, to).
    assert c.get_log(PROJECT, STORE, T0 + 2, T0 + 3).get_count() == 1


def test_get_logs_honours_topic_and_refuses_sql(cloud):
    c = client(cloud)
    put(c, item(T0, a="1"), topic="key-guard")
    put(c, item(T0, a="2"), topic="other")
    assert [l.get_contents()["a"] for l in c.get_log(PROJECT, STORE, T0, T0 + 1, topic="other").get_logs()] == ["2"]
    assert [l.get_contents()["a"] for l in c.get_log(PROJECT, STORE, T0, T0 + 1, query="__topic__: key-guard").get_logs()] == ["1"]
    with pytest.raises(LogException) as exc:
        c.get_log(PROJECT, STORE, T0, T0 + 1, query="* | select count(*)")
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("ParameterInvalid", 400)


def test_put_logs_uncompressed_and_with_tags(cloud):
    c = client(cloud)
    put(c, item(T0, k="v"), compress=False, logtags=[("env", "test")])
    assert cloud.account.sls.logs[0].contents == {"k": "v", "__tag__:env": "test"}


def test_put_logs_deflate_body_signed_by_the_sdk(cloud):
    """The SDK compresses PutLogs with lz4; a deflate body (other SLS clients) is accepted too."""
    group = LogGroup()
    group.Topic = "t"
    log = group.Logs.add()
    log.Time = T0
    content = log.Contents.add()
    content.Key, content.Value = "k", "deflated"
    raw = group.SerializeToString()
    body = zlib.compress(raw)
    resource = f"/logstores/{STORE}/shards/lb"

    def send(compress_type: str) -> requests.Response:
        headers = {"x-log-bodyrawsize": str(len(raw)), "Content-Type": "application/x-protobuf",
                   "x-log-compresstype": compress_type, "x-log-apiversion": "0.6.0", "Host": f"{PROJECT}.127.0.0.1",
                   "Content-Length": str(len(body))}
        AuthV1(StaticCredentialsProvider(ALICE_AK, ALICE_SECRET, None)).sign_request("POST", resource, {}, headers, body)
        return requests.post(f"http://{cloud.endpoint()}{resource}", data=body, headers=headers, timeout=10)

    resp = send("deflate")
    assert resp.status_code == 200, resp.text
    assert cloud.account.sls.logs[0].contents == {"k": "deflated"}
    bad = send("snappy")
    assert bad.status_code == 400 and bad.json()["errorCode"] == "InvalidCompressType"
    assert bad.headers["x-log-requestid"]


# ---------------------------------------------------------------- errors


def test_unknown_logstore_and_project(cloud):
    c = client(cloud)
    with pytest.raises(LogException) as exc:
        put(c, item(T0, a="b"), store="no-such-store")
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("LogStoreNotExist", 404)
    assert exc.value.get_request_id()
    with pytest.raises(LogException) as exc:
        c.get_log(PROJECT, "no-such-store", T0, T0 + 1)
    assert exc.value.get_error_code() == "LogStoreNotExist"
    with pytest.raises(LogException) as exc:
        put(c, item(T0, a="b"), project="no-such-project")
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("ProjectNotExist", 404)
    # A project lives in one region: the Shanghai project is not found at the Hangzhou endpoint.
    with pytest.raises(LogException) as exc:
        c.list_logstores(ListLogstoresRequest("shanghai-logs"))
    assert exc.value.get_error_code() == "ProjectNotExist"
    assert client(cloud, region="cn-shanghai").list_logstores(ListLogstoresRequest("shanghai-logs")).get_logstores() == ["audit"]
    assert not cloud.account.sls.logs


def test_a_logstore_without_an_index_takes_logs_but_cannot_be_searched():
    data = account().to_data()
    data["sls"]["logstores"].append({"projectName": PROJECT, "logstoreName": "raw", "RegionId": "cn-hangzhou",
                                     "indexed": False})
    with LocalCloud(Account.from_data(data), clock=Clock(PROTOCOL_NOW)) as cloud:
        c = client(cloud)
        put(c, item(T0, a="b"), store="raw")  # written, as SLS keeps logs with no index
        for query in ("*", "a: b"):
            with pytest.raises(LogException) as exc:
                c.get_log(PROJECT, "raw", T0, T0 + 1, query=query)
            assert (exc.value.get_error_code(), exc.value.resp_status) == ("IndexConfigNotExist", 400)


def test_wrong_secret_is_signature_not_match(cloud):
    with pytest.raises(LogException) as exc:
        put(client(cloud, secret="not-the-secret"), item(T0, a="b"))
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("SignatureNotMatch", 401)
    assert not cloud.account.sls.logs
    assert cloud.calls.get("sls:PutLogs") == 1


def test_unknown_access_key_is_unauthorized(cloud):
    with pytest.raises(LogException) as exc:
        put(client(cloud, ak="LTAI" + "5tUnknown" + "00000000"), item(T0, a="b"))
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("Unauthorized", 401)
    assert "AccessKeyId not found" in exc.value.get_error_message()


def test_sts_token_is_checked(cloud):
    put(client(cloud, STS_AK, STS_SECRET, STS_TOKEN), item(T0, a="sts"))
    assert cloud.account.sls.logs[0].contents == {"a": "sts"}
    with pytest.raises(LogException) as exc:
        put(client(cloud, STS_AK, STS_SECRET, "CAIS-forged"), item(T0, a="b"))
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("Unauthorized", 401)
    cloud.clock.set("2030-01-01T02:00:00Z")
    with pytest.raises(LogException) as exc:
        put(client(cloud, STS_AK, STS_SECRET, STS_TOKEN), item(T0, a="b"))
    assert "expired" in exc.value.get_error_message()
    assert len(cloud.account.sls.logs) == 1


def test_v4_signature_is_verified(cloud):
    def v4(secret):
        c = LogClient(cloud.endpoint(), ALICE_AK, secret, auth_version=AUTH_VERSION_4, region="cn-hangzhou")
        c._isRowIp = True  # what make_log_client does for an IP endpoint
        return c

    put(v4(ALICE_SECRET), item(T0, a="v4"))
    assert v4(ALICE_SECRET).get_log(PROJECT, STORE, T0, T0 + 1).get_count() == 1
    with pytest.raises(LogException) as exc:
        put(v4("wrong"), item(T0, a="b"))
    assert exc.value.get_error_code() == "SignatureNotMatch"


def test_injected_fault_surfaces_as_log_exception(cloud):
    cloud.faults.add("sls:PutLogs", "WriteQuotaExceed", message="Project write quota exceed", status=403)
    c = client(cloud)
    with pytest.raises(LogException) as exc:
        put(c, item(T0, a="b"))
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("WriteQuotaExceed", 403)
    assert not cloud.account.sls.logs
    assert c.get_log(PROJECT, STORE, T0, T0 + 1).get_count() == 0  # other APIs unaffected


# ---------------------------------------------------------------- logstores


def test_list_create_get_logstore(cloud):
    c = client(cloud)
    assert sorted(c.list_logstores(ListLogstoresRequest(PROJECT)).get_logstores()) == ["fc-logs", STORE]
    c.create_logstore(PROJECT, "new-store", ttl=7, shard_count=1)
    got = c.get_logstore(PROJECT, "new-store")
    assert (got.logstore_name, got.ttl, got.shard_count) == ("new-store", 7, 1)
    assert c.list_logstore(PROJECT, "new").get_logstores() == ["new-store"]
    with pytest.raises(LogException) as exc:
        c.create_logstore(PROJECT, "new-store")
    assert exc.value.get_error_code() == "LogStoreAlreadyExist"
    with pytest.raises(LogException) as exc:
        c.get_logstore(PROJECT, "missing")
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("LogStoreNotExist", 404)
    assert cloud.calls.get("sls:CreateLogStore") == 2 and cloud.calls.get("sls:GetLogStore") == 2


# ---------------------------------------------------------------- PutLogs limits


def test_put_logs_refuses_more_than_4096_logs_in_a_log_group(cloud):
    c = client(cloud)
    put(c, *[item(T0, n=str(i)) for i in range(4096)])  # the most a LogGroup holds
    with pytest.raises(LogException) as refused:
        put(c, *[item(T0, n=str(i)) for i in range(4097)])
    assert refused.value.get_error_code() == "InvalidLogSize" and len(cloud.account.sls.logs) == 4096


def test_put_logs_refuses_a_log_group_over_5_mb(cloud):
    c = client(cloud)
    big = "x" * (1024 * 1024)
    put(c, *[item(T0, v=big) for i in range(4)])  # 4 MB and a little framing
    with pytest.raises(LogException) as refused:
        put(c, *[item(T0, v=big) for i in range(6)])
    assert refused.value.get_error_code() == "InvalidLogSize" and len(cloud.account.sls.logs) == 4


def test_write_records_batches_within_the_put_logs_limits(cloud, capsys):
    from shared.clients import Clients, Credentials
    from shared.records import write_records

    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), "cn-hangzhou", endpoint_override=cloud.endpoint_url("cn-hangzhou"))
    records = [{"kind": "finding", "n": i} for i in range(9000)] + [{"kind": "big", "v": "y" * (900 * 1024)} for _ in range(8)]
    where = write_records(records, clients=clients, project=PROJECT, logstore=STORE, region="cn-hangzhou", topic="t")
    assert where == {"sls": 9008, "stdout": 0} and len(cloud.account.sls.logs) == 9008
    assert cloud.calls.get("sls:PutLogs") == 4  # 4096, 4096, 808 + 4 x 900 KB, 4 x 900 KB (each under 5 MB)
    assert capsys.readouterr().out == ""


def test_get_project_answers_a_project_of_the_region_and_project_not_exist_otherwise(cloud):
    c = client(cloud)
    project = c.get_project(PROJECT)
    assert project.get_projectname() == PROJECT and project.get_owner() == cloud.account.account_id
    with pytest.raises(LogException) as exc:
        c.get_project("shanghai-logs")  # a project of another region
    assert (exc.value.get_error_code(), exc.value.resp_status) == ("ProjectNotExist", 404)
    assert [p["projectName"] for p in c.list_project().get_projects()] == [PROJECT]  # the bare endpoint still lists
