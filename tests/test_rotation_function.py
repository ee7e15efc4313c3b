"""The secret-rotation function on the local cloud, with tokens (no target system): the event payload and its
rejections, one step at a time, resuming, the timer's schedule by tag, and the failure destination."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.rotation.errors import RotationRefused
from shared.rotation.protocol import RotationEventRejected, Step, parse_request
from shared.rotation.schedule import BadInterval, parse_interval
from tests.rotation_kit import (INTERVAL_TAG, NOW, alerts, create_secret, holder, invoke, rotate_now, rotation_account,
                                rotation_records, stages, value)


@pytest.fixture
def cloud(start_cloud):
    return start_cloud(rotation_account(), now=NOW)


# ---------------------------------------------------------------- the payload


@pytest.mark.parametrize("payload", [
    {"SecretName": "db/app"},
    {"SecretName": "db/app", "Step": "set_secret", "VersionId": "v2"},
    b'{"SecretName": "a+b=c.d@e-f_g/h"}',
])
def test_accepted_payloads(payload):
    request = parse_request(payload)
    assert request.secret_name.startswith(("db/app", "a+b"))


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "not valid JSON"),
    ([{"SecretName": "x"}], "JSON object"),
    ({}, "SecretName must be"),
    ({"SecretName": ""}, "SecretName must be"),
    ({"SecretName": "x" * 193}, "SecretName must be"),
    ({"SecretName": "bad name"}, "SecretName must be"),
    ({"secretName": "x"}, "unknown field(s) secretName"),
    ({"SecretName": "x", "VersionId": "v2"}, "VersionId given without Step"),
    ({"SecretName": "x", "Step": "createSecret", "VersionId": "v2"}, "Step must be one of create_secret"),
    ({"SecretName": "x", "Step": "set_secret"}, "needs the VersionId"),
])
def test_rejected_payloads_say_why(payload, reason):
    with pytest.raises(RotationEventRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_request(payload)


def test_a_bad_event_is_rejected_recorded_alerted_and_never_retried(cloud):
    invocation = invoke(cloud, {"SecretName": "x", "Step": "rotate", "VersionId": "v2"})
    assert invocation.ok and invocation.attempt == 1
    [result] = invocation.result["results"]
    assert result["status"] == "rejected" and "Step must be one of" in result["reason"]
    assert rotation_records(cloud)[-1]["status"] == "rejected"
    [alert] = alerts(cloud)
    assert alert["Name"] == "SecretRotationEventRejected" and alert["severity"] == "WARN"
    assert not cloud.fc.destinations_sent


# ---------------------------------------------------------------- tokens


def test_a_plain_token_and_a_generic_json_token_rotate(cloud):
    create_secret(cloud, "api/plain", "initial-token-000001")
    create_secret(cloud, "api/json", {"engine": "generic", "password": "initial-token-000002", "url": "https://api.example"})
    for name in ("api/plain", "api/json"):
        [result] = invoke(cloud, {"SecretName": name}).result["results"]
        assert result["status"] == "rotated" and result["strategy"] == "generic"
        assert stages(cloud, name) == {"v1": ["ACSPrevious"], result["versionId"]: ["ACSCurrent"]}
    assert isinstance(value(cloud, "api/plain"), str) and len(value(cloud, "api/plain")) == 32
    rotated = value(cloud, "api/json")
    assert rotated["url"] == "https://api.example" and rotated["password"] != "initial-token-000002"


def test_the_steps_one_by_one_as_a_flow_calls_them_each_idempotent(cloud):
    create_secret(cloud, "api/steps", "initial-token-000003")
    for step in ("create_secret", "create_secret", "set_secret", "test_secret", "test_secret"):
        [result] = invoke(cloud, {"SecretName": "api/steps", "Step": step, "VersionId": "v2"}).result["results"]
        assert result["status"] == "step-done", result
    assert stages(cloud, "api/steps") == {"v1": ["ACSCurrent"], "v2": ["ACSPending"]}
    for _ in range(2):
        [result] = invoke(cloud, {"SecretName": "api/steps", "Step": "finish_secret", "VersionId": "v2"}).result["results"]
        assert result["status"] == "step-done"
    assert stages(cloud, "api/steps") == {"v1": ["ACSPrevious"], "v2": ["ACSCurrent"]}


def test_a_second_rotation_is_refused_while_one_is_pending_and_the_pending_one_is_resumed(cloud):
    create_secret(cloud, "api/busy", "initial-token-000004")
    invoke(cloud, {"SecretName": "api/busy", "Step": "create_secret", "VersionId": "v2"})
    [refused] = invoke(cloud, {"SecretName": "api/busy", "Step": "create_secret", "VersionId": "v3"}).result["results"]
    assert refused["status"] == "refused" and "version v2 holds ACSPending" in refused["reason"]
    assert [a["Name"] for a in alerts(cloud)] == ["SecretRotationFailed"]
    outcome = rotate_now(cloud, "api/busy")
    assert outcome.resumed and outcome.version_id == "v2"
    assert holder(cloud, "api/busy", "ACSCurrent") == "v2"


def test_a_step_for_a_version_that_does_not_exist_is_refused(cloud):
    create_secret(cloud, "api/ghost", "initial-token-000005")
    [result] = invoke(cloud, {"SecretName": "api/ghost", "Step": "finish_secret", "VersionId": "nope"}).result["results"]
    assert result["status"] == "refused" and result["step"] == "finish_secret" and "does not exist" in result["reason"]
    assert stages(cloud, "api/ghost") == {"v1": ["ACSCurrent"]}


@pytest.mark.parametrize("value_, reason", [
    ({"engine": "oracle", "host": "h", "port": 1, "username": "u", "password": "p"}, "without a known engine"),
    ({"host": "h", "username": "u", "password": "p"}, "without a known engine"),
    ({"engine": "postgresql", "host": "h", "port": "x", "username": "u", "password": "p"}, '"port"'),
])
def test_a_value_that_is_no_credential_is_refused_and_alerted(cloud, value_, reason):
    create_secret(cloud, "db/odd", value_)
    [result] = invoke(cloud, {"SecretName": "db/odd"}).result["results"]
    assert result["status"] == "refused" and reason in result["reason"] and "password" not in result["reason"].replace('"password"', "")
    assert alerts(cloud)[-1]["Name"] == "SecretRotationFailed"
    assert stages(cloud, "db/odd") == {"v1": ["ACSCurrent"]}


def test_missing_and_managed_secrets_are_refused(cloud):
    [missing] = invoke(cloud, {"SecretName": "no/such"}).result["results"]
    assert missing["status"] == "refused" and "not found" in missing["reason"]
    create_secret(cloud, "rds/x", "pw", secret_type="Rds",
                  extended_config={"SecretSubType": "SingleUser", "DBInstanceId": "rm-bp1x", "CustomData": {}})
    with pytest.raises(RotationRefused, match="Rds secret"):
        rotate_now(cloud, "rds/x")


# ---------------------------------------------------------------- the schedule


@pytest.mark.parametrize("text, expected", [("30d", timedelta(days=30)), ("6h", timedelta(hours=6)),
                                            ("604800s", timedelta(days=7)), ("8760h", timedelta(days=365))])
def test_interval_tag_values(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "30", "1h", "366d", "thirty days", "-5d"])
def test_bad_interval_tags(text):
    with pytest.raises(BadInterval):
        parse_interval(text)


def test_the_timer_rotates_what_is_due_resumes_what_is_half_done_and_reports_bad_tags(cloud):
    create_secret(cloud, "api/monthly", "initial-token-000006", tags={INTERVAL_TAG: "30d"})
    create_secret(cloud, "api/weekly", "initial-token-000007", tags={INTERVAL_TAG: "7d"})
    create_secret(cloud, "api/untagged", "initial-token-000008")
    create_secret(cloud, "api/typo", "initial-token-000009", tags={INTERVAL_TAG: "monthly"})
    cloud.clock.advance(timedelta(days=8))
    run = cloud.fc.fire_timer("secret-rotation")
    assert run.ok, run.error
    sweep = run.result["sweep"]
    assert (sweep["tagged"], sweep["due"], sweep["notDue"], sweep["rotated"], sweep["failed"]) == (3, 1, 1, 1, 1)  # failed: the bad tag
    by_name = {r["secretName"]: r for r in run.result["results"]}
    assert by_name["api/weekly"]["status"] == "rotated" and by_name["api/weekly"]["trigger"] == "timer:rotation-schedule"
    assert by_name["api/typo"]["status"] == "refused" and by_name["api/typo"]["step"] == "schedule"
    assert [a["secretName"] for a in alerts(cloud)] == ["api/typo"]
    assert holder(cloud, "api/untagged", "ACSCurrent") == holder(cloud, "api/monthly", "ACSCurrent") == "v1"

    # A rotation left half done is finished by the next timer run, due or not.
    invoke(cloud, {"SecretName": "api/monthly", "Step": "create_secret", "VersionId": "half"})
    cloud.clock.advance(timedelta(hours=1))
    again = cloud.fc.fire_timer("secret-rotation").result
    assert {r["secretName"]: r["status"] for r in again["results"]} == {"api/typo": "refused", "api/monthly": "rotated"}
    assert holder(cloud, "api/monthly", "ACSCurrent") == "half"
    assert again["sweep"]["apiCallsTotal"] >= 10 and rotation_records(cloud)[-1]["status"] == "sweep"

    cloud.clock.advance(timedelta(days=30))
    late = cloud.fc.fire_timer("secret-rotation").result
    assert {r["secretName"] for r in late["results"] if r["status"] == "rotated"} == {"api/weekly", "api/monthly"}


def test_the_failure_destination_alerts_the_secret_and_rotates_nothing(cloud):
    create_secret(cloud, "api/failed", "initial-token-000010")
    payload = {"timestamp": 1, "requestContext": {"requestId": "r1", "condition": "UnhandledInvocationError",
                                                  "approximateInvokeCount": 3},
               "requestPayload": json.dumps({"SecretName": "api/failed"}),
               "responsePayload": json.dumps({"errorType": "TransientError", "errorMessage": "alert not sent"})}
    run = cloud.fc.invoke("secret-rotation-failures", json.dumps(payload).encode())
    [result] = run.result["results"]
    assert (result["status"], result["secretName"], result["step"]) == ("failed", "api/failed", "invocation")
    assert "after 3 attempt(s)" in result["reason"]
    assert alerts(cloud)[-1]["Name"] == "SecretRotationFailed"
    assert stages(cloud, "api/failed") == {"v1": ["ACSCurrent"]}
    [rejected] = cloud.fc.invoke("secret-rotation-failures", b'{"no": "payload"}').result["results"]
    assert rejected["status"] == "rejected"


def test_the_step_enum_is_the_documented_protocol():
    assert [s.value for s in Step] == ["create_secret", "set_secret", "test_secret", "finish_secret"]
