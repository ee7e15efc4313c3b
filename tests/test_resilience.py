"""What happens when things go wrong in flight: transient failures are retried by FC with the claim
released, concurrent deliveries of one event are claimed exactly once, and records can be read back
through the official SLS SDK."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from alibabacloud_kms20160120 import models as kms
from alibabacloud_cms20190101 import models as cms
from alibabacloud_cms20190101.client import Client as CmsClient
import pytest
from aliyun.log import GetLogsRequest

from shared.clients import Clients, Credentials, describe_error, is_transient
from shared.idempotency import STALE_AFTER, ClaimBusy, EventClaims
from shared.log_client import make_log_client
from tests.support.accounts import ALICE_AK, ALICE_SECRET, REGION, make_account
from tests.support.clients import key_state, sdk_config
from tests.support.guard import alerts, decision_records, schedule_deletion
from tests.support.resources import disk


def test_a_transient_failure_raises_releases_the_claim_and_fc_retries_it(start_cloud):
    # DescribeKey throttled 4 times: the guard's own retries (4 attempts) give up and the invocation
    # raises; FC's async retry then succeeds. One action, one alert, one record of the outcome.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Throttling.User", "Remaining": 4}]))
    schedule_deletion(cloud)

    attempts = [inv for inv in cloud.fc.invocations if inv.function == "key-guard"]
    assert [inv.ok for inv in attempts] == [False, True]
    assert attempts[0].error["errorType"] == "TransientError" and "Throttling" in attempts[0].error["errorMessage"]
    assert key_state(cloud) == "Enabled"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 1 and len(alerts(cloud)) == 1
    assert [r["status"] for r in decision_records(cloud)] == ["acted"]


def alice_claims(cloud) -> EventClaims:
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url())
    return EventClaims(clients, "kms-steward-state", REGION)


def try_claim(claims: EventClaims, event: str, invocation: str) -> str:
    try:
        return claims.claim(event, invocation)[0]
    except ClaimBusy:
        return "busy"


def test_concurrent_claims_of_one_event_have_exactly_one_winner(start_cloud):
    claims = alice_claims(start_cloud(make_account()))
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda n: try_claim(claims, "acs.kms/event-1", f"invocation-{n}"), range(8)))
    assert sorted(outcomes) == ["busy"] * 7 + ["claimed"]
    claims.complete("acs.kms/event-1", {"decision": "block"})
    assert claims.claim("acs.kms/event-1", "late")[0] == "duplicate"


def test_a_claim_left_by_a_dead_attempt_is_taken_over_by_its_retry_or_once_stale(start_cloud):
    cloud = start_cloud(make_account())
    claims = alice_claims(cloud)
    assert try_claim(claims, "acs.kms/event-2", "request-1") == "claimed"
    # FC's retry of the same invocation (same request id) takes its own claim over;
    assert try_claim(claims, "acs.kms/event-2", "request-1") == "claimed"
    # another delivery must wait (ClaimBusy is transient: FC retries it later) ...
    assert try_claim(claims, "acs.kms/event-2", "request-2") == "busy"
    # ... until the claim is older than any invocation may run.
    stale = (datetime.now(timezone.utc) - STALE_AFTER - timedelta(seconds=1)).isoformat()
    claims.bucket.put_object(claims.object_key("acs.kms/event-2"),
                             json.dumps({"status": "in_progress", "started": stale, "invocation": "request-1"}))
    assert try_claim(claims, "acs.kms/event-2", "request-2") == "claimed"


def test_an_unusable_claim_store_does_not_stop_the_guard_and_leaks_nothing(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "oss:PutObject", "Code": "AccessDenied"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [record] = decision_records(cloud)
    assert record["status"] == "acted" and "claim store unusable" in record["idempotencyProblem"]
    assert "AccessDenied" in record["idempotencyProblem"]
    assert alerts(cloud)[0]["Name"] == "KmsKeyDeletionBlocked"
    tokens = [c.SecurityToken for c in cloud.account.credentials if c.SecurityToken]
    secrets = [c.AccessKeySecret for c in cloud.account.credentials]
    outputs = json.dumps([inv.result for inv in cloud.fc.invocations]) + json.dumps(decision_records(cloud)) + json.dumps(alerts(cloud))
    assert tokens and not any(t in outputs for t in tokens) and not any(s in outputs for s in secrets)


def test_when_the_guard_cannot_read_the_key_it_still_cancels_and_alerts(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "Forbidden.RAM"}]))
    schedule_deletion(cloud)
    cloud.faults.clear()

    assert key_state(cloud) == "Enabled"
    [record] = decision_records(cloud)
    assert record["status"] == "error" and "Forbidden.RAM" in record["reason"]
    # The cancel is said no further than the key shows it: DescribeKey is denied, so it cannot be confirmed.
    assert record["actionResult"] == "fail-safe cancel sent; the key's state could not be re-read"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed" and alert["severity"] == "CRITICAL" and "Forbidden.RAM" in alert["reasons"][0]


def test_a_server_error_or_unreachable_endpoint_is_transient(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], faults=[{"Api": "kms:DescribeKey", "Code": "InternalFailure", "Status": 500, "Remaining": 4}]))
    schedule_deletion(cloud)
    assert [inv.ok for inv in cloud.fc.invocations] == [False, True]
    assert key_state(cloud) == "Enabled"

    unreachable = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override="http://127.0.0.1:1")
    try:
        unreachable.kms().describe_key(kms.DescribeKeyRequest(key_id="k"))
    except Exception as exc:
        assert is_transient(exc), type(exc)
    else:
        raise AssertionError("a closed port answered")


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


def test_an_allow_tag_without_a_value_does_not_loosen_protection():
    from shared.config import GuardConfig

    config = GuardConfig.from_env({"GUARD_ALLOW_TAG": "kms-steward:intended-deletion", "STATE_BUCKET": "b"})
    assert config.allow_tag == ("kms-steward:intended-deletion", "true")
    assert "GUARD_ALLOW_TAG" in config.problems[0]
    assert GuardConfig.from_env({"GUARD_ALLOW_TAG": "owner=*"}).allow_tag == ("owner", "*")
    assert GuardConfig.from_env({"GUARD_ALLOW_TAG": "none"}).allow_tag is None


@pytest.mark.parametrize("exc", [TimeoutError(), ConnectionResetError(), AssertionError()], ids=repr)
def test_a_failure_without_text_is_still_described(exc):
    # Every failure path states its reason with describe_error (the fail-safe cancel's alert, the safety net's retry
    # list, an audit's incomplete reason): an exception with no text must not make that path fail in turn.
    assert describe_error(exc) == f"{type(exc).__name__}: (no message)"
