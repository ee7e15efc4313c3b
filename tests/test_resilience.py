"""What happens when things go wrong in flight: transient failures are retried by FC with the claim
released, concurrent deliveries of one event are claimed exactly once, and records can be read back
through the official SLS SDK."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from alibabacloud_cms20190101 import models as cms
from alibabacloud_cms20190101.client import Client as CmsClient
from aliyun.log import GetLogsRequest

from shared.clients import Clients, Credentials
from shared.idempotency import EventClaims
from shared.log_client import make_log_client
from tests.conftest import ALICE_AK, ALICE_SECRET, REGION, alerts, decision_records, disk, key_state, make_account, sdk_config
from tests.test_key_guard import schedule_deletion


def test_a_transient_failure_raises_releases_the_claim_and_fc_retries_it(start_cloud):
    # DescribeKey throttled 4 times: the guard's own retries (4 attempts) give up and the invocation
    # raises; FC's async retry then succeeds. One action, one alert, one record of the outcome.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Throttling.User", "Remaining": 4}]))
    schedule_deletion(cloud)

    attempts = [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]
    assert [inv.ok for inv in attempts] == [False, True]
    assert attempts[0].error["errorType"] == "ThrottlingException"
    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1 and len(alerts(cloud)) == 1
    assert [r["status"] for r in decision_records(cloud)] == ["acted"]


def test_concurrent_claims_of_one_event_have_exactly_one_winner(start_cloud):
    cloud = start_cloud(make_account())
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url())
    claims = EventClaims(clients, "kms-steward-state", REGION)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: claims.claim("acs.kms/event-1", f"invocation-{n}")[0], range(8)))
    assert sorted(outcomes) == ["claimed"] + ["in_flight"] * 7
    claims.complete("acs.kms/event-1", {"decision": "block"})
    assert claims.claim("acs.kms/event-1", "late")[0] == "duplicate"


def test_decision_records_can_be_read_back_with_the_sls_sdk(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    schedule_deletion(cloud)

    client = make_log_client(cloud.endpoint_url(), ALICE_AK, ALICE_SECRET)
    now = int(cloud.clock.now().timestamp())
    response = client.get_logs(GetLogsRequest("kms-steward-logs", "key-guard-decisions", now - 600, now + 600, query="status: acted"))
    [log] = response.get_logs()
    contents = log.get_contents()
    assert contents["decision"] == "block" and contents["keyStateAfter"] == "Enabled"
    assert json.loads(contents["dependents"])["ECS"][0].startswith("d-app1")


def test_custom_metrics_and_events_are_account_state(start_cloud):
    cloud = start_cloud(make_account())
    client = CmsClient(sdk_config(cloud))
    client.put_custom_metric(cms.PutCustomMetricRequest(metric_list=[cms.PutCustomMetricRequestMetricList(
        metric_name="days_to_expiry", group_id="0", values='{"value": 12}', dimensions='{"cert": "c-1"}', type="0")]))
    body = client.put_custom_event(cms.PutCustomEventRequest(event_info=[cms.PutCustomEventRequestEventInfo(
        event_name="Probe", content='{"k": 1}')])).body
    assert body.code == "200"
    assert [(m.MetricName, json.loads(m.Values)["value"]) for m in cloud.account.cms.metrics] == [("days_to_expiry", 12)]
    read = client.describe_custom_event_attribute(cms.DescribeCustomEventAttributeRequest(name="Probe")).body
    assert [e.content for e in read.custom_events.custom_event] == ['{"k": 1}']


def test_credentials_come_from_the_context_or_the_environment(monkeypatch):
    class Ctx:
        class credentials:
            access_key_id, access_key_secret, security_token = "STS.ctx", "ctx-secret", "ctx-token"

    assert Credentials.resolve(Ctx()).access_key_id == "STS.ctx"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIenv")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    resolved = Credentials.resolve(object())
    assert (resolved.access_key_id, resolved.security_token) == ("LTAIenv", None)
    assert "env-secret" not in repr(resolved)
