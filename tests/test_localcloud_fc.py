"""The local Function Compute runtime, driven through `cloud.fc` with a small s.yaml of its own (not the
project's): per-attempt request ids of asynchronous invocations, the result-callback record sent to an
onFailure / onSuccess destination, event age, timer triggers with the FC 3.0 timer event."""
from __future__ import annotations

import json
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from localcloud.account import Account
from localcloud.clock import Clock, parse_time
from localcloud.cloud import LocalCloud
from localcloud.fc import CONDITION_EVENT_AGE, CONDITION_UNHANDLED, MAX_DESTINATION_DEPTH
from localcloud.serverless import ServerlessError
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, REGION

NOW = "2030-01-01T04:00:00Z"
RECORDER = "test-recorder"

# Handlers log what FC hands them (function, request id, event) to the JSON-lines file RECORD_FILE names.
HANDLERS = {
    "failing.py": '''
        import json, os

        def handler(event, context):
            with open(os.environ["RECORD_FILE"], "a") as out:
                out.write(json.dumps({"function": os.environ["FC_FUNCTION_NAME"], "request_id": context.request_id,
                                      "event": event.decode()}) + "\\n")
            raise RuntimeError("downstream refused the batch")
    ''',
    "recorder.py": '''
        import json, os

        def handler(event, context):
            with open(os.environ["RECORD_FILE"], "a") as out:
                out.write(json.dumps({"function": os.environ["FC_FUNCTION_NAME"], "request_id": context.request_id,
                                      "event": event.decode()}) + "\\n")
            return {"recorded": True}
    ''',
}


def s_yaml(record_file: Path) -> str:
    def function(name: str, handler: str, *, retries: int = 2, age: int | None = None, on_failure: str | None = None,
                 on_success: str | None = None, triggers: str = "") -> str:
        destinations = ""
        if on_failure or on_success:
            destinations = "\n        destinationConfig:" + \
                (f"\n          onFailure:\n            destination: {on_failure}" if on_failure else "") + \
                (f"\n          onSuccess:\n            destination: {on_success}" if on_success else "")
        age_line = f"\n        maxAsyncEventAgeInSeconds: {age}" if age else ""
        return f"""
  {name}:
    component: fc3
    props:
      region: {REGION}
      functionName: {name}
      runtime: python3.10
      code: ./
      handler: {handler}
      environmentVariables:
        RECORD_FILE: {record_file}
      asyncInvokeConfig:
        maxAsyncRetryAttempts: {retries}{age_line}{destinations}{triggers}"""

    # as the project's s.yaml writes it: ${vars.region} (itself an ${env(...)}) inside the ARN
    recorder_arn = f"acs:fc:${{vars.region}}:${{config('AccountID')}}:functions/{RECORDER}"
    timers = """
      triggers:
        - triggerName: nightly-sweep
          triggerType: timer
          triggerConfig:
            cronExpression: "0 0 4 * * *"
            enable: true
            payload: '{"job":"sweep"}'
        - triggerName: paused
          triggerType: timer
          triggerConfig:
            cronExpression: "@every 5m"
            enable: false"""
    head = f"edition: 3.0.0\nname: fc-runtime-test\naccess: default\nvars:\n  region: ${{env('REGION', '{REGION}')}}\nresources:"
    return head + "".join([
        function(RECORDER, "recorder.handler", triggers=timers),
        function("always-fails", "failing.handler", age=3600, on_failure=recorder_arn),
        function("fails-to-mns", "failing.handler", on_failure=f"acs:mns:{REGION}:{ACCOUNT_ID}:/queues/dead-letters/messages"),
        function("fails-to-other-account", "failing.handler", on_failure=f"acs:fc:{REGION}:9999999999999999:functions/{RECORDER}"),
        function("succeeds", "recorder.handler", on_failure=recorder_arn),
        function("succeeds-and-reports", "recorder.handler", on_success=recorder_arn),
        function("fails-into-itself", "failing.handler", retries=0, on_failure=f"acs:fc:{REGION}:{ACCOUNT_ID}:functions/fails-into-itself"),
    ]) + "\n"


@pytest.fixture
def fc_cloud(tmp_path):
    for name, code in HANDLERS.items():
        (tmp_path / name).write_text(textwrap.dedent(code))
    record_file = tmp_path / "calls.jsonl"
    (tmp_path / "s.yaml").write_text(s_yaml(record_file))
    account = Account.from_data({
        "account_id": ACCOUNT_ID,
        "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}],
        "regions": [{"RegionId": REGION}],
    })
    cloud = LocalCloud(account, project=tmp_path / "s.yaml", env={}, clock=Clock(NOW))
    cloud.start()
    cloud.record_file = record_file
    yield cloud
    cloud.stop()


def calls(cloud, function: str | None = None) -> list[dict]:
    if not cloud.record_file.exists():
        return []
    rows = [json.loads(line) for line in cloud.record_file.read_text().splitlines()]
    return [r for r in rows if function is None or r["function"] == function]


def attempts_of(cloud, resource: str) -> list:
    return [inv for inv in cloud.fc.invocations if inv.function == resource]


# ---------------------------------------------------------------- request ids and retries


def test_each_attempt_of_an_async_invocation_has_its_own_request_id(fc_cloud):
    last = fc_cloud.fc.invoke("always-fails", b'{"order": 7}', invocation_type="Async")

    attempts = attempts_of(fc_cloud, "always-fails")
    assert [a.attempt for a in attempts] == [1, 2, 3]  # maxAsyncRetryAttempts 2: one attempt and two retries
    ids = [a.request_id for a in attempts]
    assert len(set(ids)) == 3
    assert {a.first_request_id for a in attempts} == {ids[0]}  # what ties them together
    assert last is attempts[-1] and not last.ok and last.error["errorType"] == "RuntimeError"
    # the handler saw each attempt's own id as context.request_id
    assert [c["request_id"] for c in calls(fc_cloud, "always-fails")] == ids


def test_a_sync_invocation_runs_once_and_has_no_destination(fc_cloud):
    inv = fc_cloud.fc.invoke("always-fails", b"{}")
    assert (inv.attempt, inv.ok, inv.first_request_id) == (1, False, inv.request_id)
    assert len(attempts_of(fc_cloud, "always-fails")) == 1
    assert fc_cloud.fc.destinations_sent == [] and calls(fc_cloud, RECORDER) == []


# ---------------------------------------------------------------- destinations


def test_exhausted_retries_send_the_result_callback_record_to_the_on_failure_function_once(fc_cloud):
    fc_cloud.fc.invoke("always-fails", b'{"order": 7}', invocation_type="Async")
    attempts = attempts_of(fc_cloud, "always-fails")

    [sent] = fc_cloud.fc.destinations_sent
    assert (sent.kind, sent.function, sent.source_function) == ("onFailure", RECORDER, "always-fails")
    assert sent.destination == f"acs:fc:{REGION}:{ACCOUNT_ID}:functions/{RECORDER}"
    [received] = calls(fc_cloud, RECORDER)  # exactly once, however many attempts failed
    payload = json.loads(received["event"])
    assert payload == sent.payload
    assert set(payload) == {"timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"}
    assert payload["requestContext"] == {
        "requestId": attempts[0].request_id,
        "functionArn": f"acs:fc:{REGION}:{ACCOUNT_ID}:functions/always-fails",
        "condition": CONDITION_UNHANDLED,
        "approximateInvokeCount": 3,
    }
    assert payload["timestamp"] == int(parse_time(NOW).timestamp() * 1000)
    assert payload["requestPayload"] == '{"order": 7}'
    assert payload["responseContext"] == {"statusCode": 200, "functionError": "downstream refused the batch"}
    assert json.loads(payload["responsePayload"])["errorType"] == "RuntimeError"
    # FC invokes the destination asynchronously: an Async invocation of its own, which succeeded
    assert (sent.invocation.invocation_type, sent.invocation.ok, sent.invocation.source) == ("Async", True, "destination:onFailure:always-fails")


def test_a_success_sends_nothing_to_on_failure(fc_cloud):
    inv = fc_cloud.fc.invoke("succeeds", b'{"n": 1}', invocation_type="Async")
    assert inv.ok and inv.attempt == 1
    assert fc_cloud.fc.destinations_sent == []
    assert [c["function"] for c in calls(fc_cloud)] == ["succeeds"]  # the destination function was not called


def test_a_success_goes_to_on_success_with_the_result(fc_cloud):
    inv = fc_cloud.fc.invoke("succeeds-and-reports", b'{"n": 2}', invocation_type="Async")
    [sent] = fc_cloud.fc.destinations_sent
    assert (sent.kind, sent.function) == ("onSuccess", RECORDER)
    payload = json.loads(calls(fc_cloud, RECORDER)[0]["event"])
    assert payload["requestContext"]["requestId"] == inv.request_id and payload["requestContext"]["approximateInvokeCount"] == 1
    assert payload["responseContext"]["functionError"] == ""
    assert json.loads(payload["responsePayload"]) == {"recorded": True}


def test_a_destination_that_is_not_a_project_function_is_recorded(fc_cloud):
    fc_cloud.fc.invoke("fails-to-mns", b"{}", invocation_type="Async")
    fc_cloud.fc.invoke("fails-to-other-account", b"{}", invocation_type="Async")
    mns, other = fc_cloud.fc.destinations_sent
    assert mns.destination == f"acs:mns:{REGION}:{ACCOUNT_ID}:/queues/dead-letters/messages"
    assert (mns.function, mns.invocation, mns.payload["requestContext"]["approximateInvokeCount"]) == (None, None, 3)
    assert (other.function, other.invocation) == (None, None)  # same function name, another account
    assert calls(fc_cloud, RECORDER) == []


def test_an_event_older_than_its_max_age_is_not_run_and_goes_to_on_failure(fc_cloud):
    queued = fc_cloud.clock.now() - timedelta(seconds=3601)  # maxAsyncEventAgeInSeconds: 3600
    inv = fc_cloud.fc.invoke("always-fails", b'{"late": true}', invocation_type="Async", queued_at=queued)

    assert (inv.attempt, inv.ok, inv.error["errorType"]) == (0, False, CONDITION_EVENT_AGE)
    assert attempts_of(fc_cloud, "always-fails") == [] and calls(fc_cloud, "always-fails") == []
    [sent] = fc_cloud.fc.destinations_sent
    context = sent.payload["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == (CONDITION_EVENT_AGE, 0)
    assert sent.payload["requestPayload"] == '{"late": true}'
    assert len(calls(fc_cloud, RECORDER)) == 1


def test_a_destination_loop_ends(fc_cloud):
    fc_cloud.fc.invoke("fails-into-itself", b"{}", invocation_type="Async")
    sent = fc_cloud.fc.destinations_sent
    assert len(sent) == MAX_DESTINATION_DEPTH + 1 and sent[-1].invocation is None and "chained" in sent[-1].note
    assert len(attempts_of(fc_cloud, "fails-into-itself")) == MAX_DESTINATION_DEPTH + 1


# ---------------------------------------------------------------- timer triggers


def test_a_timer_fires_with_the_fc3_timer_event(fc_cloud):
    spec = fc_cloud.project.function(RECORDER)
    nightly, paused = spec.timer_triggers
    assert (nightly.name, nightly.cron_expression, nightly.enable, nightly.payload) == ("nightly-sweep", "0 0 4 * * *", True, '{"job":"sweep"}')
    assert (paused.enable, paused.payload) == (False, "")

    inv = fc_cloud.fc.fire_timer(RECORDER, "nightly-sweep")
    assert (inv.ok, inv.invocation_type, inv.source) == (True, "Async", "timer:nightly-sweep")
    event = json.loads(calls(fc_cloud, RECORDER)[0]["event"])
    assert event == {"triggerTime": "2030-01-01T04:00:00Z", "triggerName": "nightly-sweep", "payload": '{"job":"sweep"}'}

    fc_cloud.clock.advance(timedelta(days=1))
    fc_cloud.fc.fire_timer("test-recorder", "nightly-sweep")  # by functionName as well
    assert json.loads(calls(fc_cloud, RECORDER)[1]["event"])["triggerTime"] == "2030-01-02T04:00:00Z"


def test_fire_timer_refuses_a_disabled_unknown_or_ambiguous_trigger(fc_cloud):
    with pytest.raises(ServerlessError, match="disabled"):
        fc_cloud.fc.fire_timer(RECORDER, "paused")
    with pytest.raises(ServerlessError, match="no timer trigger named"):
        fc_cloud.fc.fire_timer(RECORDER, "hourly")
    with pytest.raises(ServerlessError, match="2 timer triggers"):
        fc_cloud.fc.fire_timer(RECORDER)
    with pytest.raises(ServerlessError, match="0 timer triggers"):
        fc_cloud.fc.fire_timer("always-fails")
    assert calls(fc_cloud) == []


# ---------------------------------------------------------------- what is deployed, read through the FC 3.0 SDK


def _fc(cloud):
    from alibabacloud_fc20230330.client import Client as FcClient

    from tests.support.clients import sdk_config

    return FcClient(sdk_config(cloud))


def test_get_function_list_triggers_and_async_config_answer_the_project_as_s_yaml_declares_it():
    from alibabacloud_fc20230330 import models as fc

    from tests.support.accounts import S_YAML, make_account

    with LocalCloud(make_account(), project=S_YAML, env={}) as cloud:
        client = _fc(cloud)
        function = client.get_function("kms-steward-key-guard", fc.GetFunctionRequest()).body
        assert (function.function_name, function.role, function.timeout) == (
            "kms-steward-key-guard", f"acs:ram::{ACCOUNT_ID}:role/kms-steward-key-guard", 3600)
        assert (function.log_config.project, function.log_config.logstore) == ("kms-steward-logs", "fc-logs")
        assert function.environment_variables["RECORDS_LOGSTORE"] == "key-guard-decisions"

        triggers = {t.trigger_name: t for t in client.list_triggers("kms-steward-key-guard", fc.ListTriggersRequest()).body.triggers}
        assert set(triggers) == {"safety-net", "kms-key-mutations"}
        timer = json.loads(triggers["safety-net"].trigger_config)
        assert (triggers["safety-net"].trigger_type, timer["cronExpression"], timer["enable"]) == ("timer", "0 0 3 * * *", True)
        bridge = json.loads(triggers["kms-key-mutations"].trigger_config)
        assert json.loads(bridge["eventRuleFilterPattern"])["data"]["eventName"][0] == "ScheduleKeyDeletion"
        first = client.list_triggers("kms-steward-key-guard", fc.ListTriggersRequest(limit=1)).body
        rest = client.list_triggers("kms-steward-key-guard", fc.ListTriggersRequest(limit=1, next_token=first.next_token)).body
        assert [t.trigger_name for t in first.triggers + rest.triggers] == ["safety-net", "kms-key-mutations"] and not rest.next_token
        assert [t.trigger_name for t in client.list_triggers("kms-steward-key-guard", fc.ListTriggersRequest(prefix="kms")).body.triggers] \
            == ["kms-key-mutations"]

        config = client.get_async_invoke_config("kms-steward-key-guard", fc.GetAsyncInvokeConfigRequest()).body
        assert (config.max_async_retry_attempts, config.max_async_event_age_in_seconds) == (3, 3600)
        assert config.destination_config.on_failure.destination == \
            f"acs:fc:{REGION}:{ACCOUNT_ID}:functions/kms-steward-key-guard-failures"


def test_an_unknown_function_is_function_not_found():
    from alibabacloud_fc20230330 import models as fc

    from tests.support.accounts import S_YAML, make_account
    from tests.support.clients import refused

    with LocalCloud(make_account(), project=S_YAML, env={}) as cloud:
        client = _fc(cloud)
        assert refused(lambda: client.get_function("nope", fc.GetFunctionRequest())) == ("FunctionNotFound", 404)
        assert refused(lambda: client.list_triggers("nope", fc.ListTriggersRequest())) == ("FunctionNotFound", 404)
        assert refused(lambda: client.get_async_invoke_config("nope", fc.GetAsyncInvokeConfigRequest())) == ("FunctionNotFound", 404)
    with LocalCloud(make_account()) as cloud:  # not wired from s.yaml: nothing is deployed
        assert refused(lambda: _fc(cloud).get_function("kms-steward-key-guard", fc.GetFunctionRequest())) == ("FunctionNotFound", 404)
