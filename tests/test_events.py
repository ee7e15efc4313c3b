import copy
import json
from pathlib import Path

import pytest

from shared.events import (
    ActionTrailRecord,
    CloudEvent,
    EventParseError,
    TimerEvent,
    UserIdentity,
    event_dedupe_key,
    mask_access_key_id,
    parse_fc_event,
    parse_timer_event,
)

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"
KEY_ID = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
ACCOUNT = "1234567890123456"

# Fake AccessKey ids, built by concatenation so that secret scanners do not flag this file.
FAKE_LONG_TERM_AK = "LTAI" + "5tFAKE" + "0123456789abcd"
FAKE_STS_AK = "STS." + "NUQNP4FAKE" + "9xYz"


def load_raw(name: str) -> bytes:
    return (EVENTS_DIR / name).read_bytes()


def load_dict(name: str) -> dict:
    return json.loads(load_raw(name))


def record(**fields) -> ActionTrailRecord:
    return ActionTrailRecord.model_validate(fields)


# --- sample files ------------------------------------------------------------------------------------------


def test_schedule_key_deletion_sample_parses():
    [ev] = parse_fc_event(load_raw("schedule_key_deletion.json"))
    assert ev.type == "kms:ActionTrail:ApiCall"
    assert ev.source == "acs.kms"
    assert ev.aliyunaccountid == ACCOUNT
    assert ev.subject == f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}"
    assert ev.data.eventName == "ScheduleKeyDeletion"
    assert ev.data.serviceName == "Kms"
    assert ev.data.key_id == KEY_ID
    assert ev.data.param_int("PendingWindowInDays") == 7
    assert ev.data.failed is False
    assert ev.data.userIdentity.userName == "alice"
    assert ev.data.caller == "ram-user alice (uid 2034567890123456, AK LTAI****)"


def test_disable_key_sample_parses():
    [ev] = parse_fc_event(load_raw("disable_key.json"))
    assert ev.type == "kms:ActionTrail:ApiCall"
    assert ev.data.eventName == "DisableKey"
    assert ev.data.key_id == KEY_ID
    assert ev.data.eventVersion == "1"
    assert ev.data.userIdentity.type == "assumed-role"
    assert ev.data.userIdentity.sessionContext["attributes"]["mfaAuthenticated"] == "false"


def test_console_sample_parses():
    [ev] = parse_fc_event(load_raw("schedule_key_deletion_console.json"))
    assert ev.type == "kms:ActionTrail:ConsoleOperation"
    assert ev.data.eventType == "ConsoleOperation"
    assert ev.data.userAgent == "AliyunConsole"
    assert ev.data.sourceIpAddress == "203.0.113.7"
    assert ev.data.key_id == KEY_ID
    assert ev.data.param_int("PendingWindowInDays") == 30
    # No AccessKey id on this console record, so none is shown.
    assert ev.data.caller == "ram-user alice (uid 2034567890123456)"


def test_sample_events_have_distinct_dedupe_keys():
    names = ["schedule_key_deletion.json", "disable_key.json", "schedule_key_deletion_console.json"]
    keys = {event_dedupe_key(parse_fc_event(load_raw(n))[0]) for n in names}
    assert len(keys) == 3


# --- input forms -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda raw: raw, id="bytes"),
        pytest.param(bytearray, id="bytearray"),
        pytest.param(lambda raw: raw.decode("utf-8"), id="str"),
        pytest.param(json.loads, id="dict"),
        pytest.param(lambda raw: b"\xef\xbb\xbf" + raw, id="bytes-with-bom"),
    ],
)
def test_single_event_input_forms(convert):
    events = parse_fc_event(convert(load_raw("disable_key.json")))
    assert [e.id for e in events] == ["1a9f4c26-0e3b-4d58-9c7a-2f6e8b1d3c05"]
    assert isinstance(events[0], CloudEvent)


def test_batch_as_list_keeps_order():
    batch = [load_dict("schedule_key_deletion.json"), load_dict("disable_key.json")]
    events = parse_fc_event(batch)
    assert [e.data.eventName for e in events] == ["ScheduleKeyDeletion", "DisableKey"]


def test_batch_as_json_array_bytes():
    batch = [load_dict("disable_key.json"), load_dict("schedule_key_deletion_console.json")]
    events = parse_fc_event(json.dumps(batch).encode("utf-8"))
    assert [e.type for e in events] == ["kms:ActionTrail:ApiCall", "kms:ActionTrail:ConsoleOperation"]


def test_empty_batch_is_empty_list():
    assert parse_fc_event(b"[]") == []


def test_parse_does_not_modify_input_dict():
    raw = load_dict("schedule_key_deletion.json")
    before = copy.deepcopy(raw)
    parse_fc_event(raw)
    assert raw == before


def test_unknown_envelope_fields_ignored_and_record_extras_kept():
    raw = load_dict("schedule_key_deletion.json")
    raw["aliyunnewfield"] = "x"
    raw["data"]["extend"] = "KEY"
    [ev] = parse_fc_event(raw)
    assert not hasattr(ev, "aliyunnewfield")
    assert ev.data.model_extra == {"extend": "KEY"}


def test_dedupe_key_is_source_and_id():
    [ev] = parse_fc_event(load_raw("schedule_key_deletion.json"))
    assert event_dedupe_key(ev) == "acs.kms/7d3c1e52-9a4b-4f61-8e2d-5b0a6c9f1e34"


def test_dedupe_key_without_source():
    raw = load_dict("schedule_key_deletion.json")
    del raw["source"]
    [ev] = parse_fc_event(raw)
    assert event_dedupe_key(ev) == "/7d3c1e52-9a4b-4f61-8e2d-5b0a6c9f1e34"


# --- field types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, "1"])
def test_event_version_int_or_str_becomes_str(version):
    assert record(eventVersion=version).eventVersion == "1"


def test_numeric_account_id_becomes_str():
    assert UserIdentity(accountId=1234567890123456).accountId == ACCOUNT


def test_request_parameters_default_to_empty_dict():
    assert record().requestParameters == {}
    assert record(requestParameters=None).requestParameters == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7), (" 30 ", 30), (7, 7), (7.0, 7), ("-1", -1), ("7.5", None), ("abc", None), ("1_0", None),
     (True, None), (None, None), ("", None), (7.5, None)],
)
def test_param_int(value, expected):
    assert record(requestParameters={"N": value}).param_int("N") == expected


def test_param_int_missing():
    assert record(requestParameters={"Other": "1"}).param_int("N") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("false", False), ("True", True), ("FALSE", False), (True, True), (False, False),
     (1, True), (0, False), ("1", True), ("0", False), ("yes", None), (2, None), ("", None), (None, None),
     (1.0, None)],
)
def test_param_bool(value, expected):
    assert record(requestParameters={"EnableDeletionProtection": value}).param_bool("EnableDeletionProtection") is expected


@pytest.mark.parametrize(("error_code", "failed"), [("", False), (None, False), ("  ", False), ("Forbidden.KeyNotFound", True)])
def test_failed_follows_error_code(error_code, failed):
    assert record(errorCode=error_code).failed is failed


def test_failed_when_error_code_absent():
    assert record(eventName="DisableKey").failed is False


# --- key id ------------------------------------------------------------------------------------------------


def test_key_id_from_set_deletion_protection_arn():
    rec = record(
        eventName="SetDeletionProtection",
        requestParameters={
            "ProtectedResourceArn": f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}",
            "EnableDeletionProtection": "false",
        },
    )
    assert rec.key_id == KEY_ID
    assert rec.param_bool("EnableDeletionProtection") is False


@pytest.mark.parametrize(
    "arn",
    [f"acs:kms:cn-hangzhou:{ACCOUNT}:secret/my-secret", "not-an-arn", f"acs:ecs:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}",
     f"acs:kms:cn-hangzhou:{ACCOUNT}:key/"],
)
def test_key_id_none_for_non_key_arn(arn):
    assert record(requestParameters={"ProtectedResourceArn": arn}).key_id is None


def test_key_id_given_as_arn_is_normalised():
    rec = record(requestParameters={"KeyId": f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}"})
    assert rec.key_id == KEY_ID


def test_key_id_missing():
    assert record(requestParameters={}).key_id is None
    assert record(requestParameters={"KeyId": ""}).key_id is None


# --- caller ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ak", "shown"), [(FAKE_LONG_TERM_AK, "LTAI****"), (FAKE_STS_AK, "STS.****")])
def test_caller_masks_access_key_id(ak, shown):
    rec = record(userIdentity={"type": "ram-user", "userName": "alice", "principalId": "2034567890123456", "accessKeyId": ak})
    assert rec.caller == f"ram-user alice (uid 2034567890123456, AK {shown})"
    assert ak not in rec.caller
    assert ak[4:8] not in rec.caller


def test_caller_never_shows_short_access_key_id():
    rec = record(userIdentity={"type": "ram-user", "userName": "bob", "accessKeyId": "LTAI"})
    assert rec.caller == "ram-user bob (AK ****)"


def test_mask_access_key_id():
    assert mask_access_key_id(FAKE_LONG_TERM_AK) == "LTAI****"
    assert mask_access_key_id("abc") == "****"


def test_caller_omits_session_context():
    rec = record(
        userIdentity={"type": "assumed-role", "userName": "role:s1", "sessionContext": {"attributes": {"token": "t0p"}}}
    )
    assert rec.caller == "assumed-role role:s1"


def test_caller_without_identity():
    assert record().caller == "unknown caller"
    assert record(userIdentity={"type": "system", "userName": "ecs.aliyuncs.com"}).caller == "system ecs.aliyuncs.com"


# --- errors ------------------------------------------------------------------------------------------------


def test_malformed_json_message_is_short_and_clear():
    payload = b'{"id": "x", "type": "t", "data": {' + b'"k": "v", ' * 10_000 + b"oops}}"
    with pytest.raises(EventParseError) as info:
        parse_fc_event(payload)
    msg = str(info.value)
    assert msg.startswith("event is not valid JSON:")
    assert len(msg) <= 200
    assert "Traceback" not in msg


@pytest.mark.parametrize("ak", [FAKE_LONG_TERM_AK, FAKE_STS_AK])
def test_malformed_json_snippet_masks_access_key_id(ak):
    # The error is just after the id, so the snippet starts in the middle of it.
    payload = ('{"data": {"userIdentity": {"accessKeyId": "' + ak + '" oops}}}').encode()
    with pytest.raises(EventParseError) as info:
        parse_fc_event(payload)
    msg = str(info.value)
    assert "oops" in msg
    assert ak[-6:] not in msg


def test_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_fc_event(b"{")


@pytest.mark.parametrize("payload", [b"", "   ", b"\xff\xfe{}"])
def test_empty_or_undecodable(payload):
    with pytest.raises(EventParseError, match=r"is empty|not valid UTF-8"):
        parse_fc_event(payload)


def test_missing_id_names_the_field():
    raw = load_dict("schedule_key_deletion.json")
    del raw["id"]
    with pytest.raises(EventParseError, match=r"^event invalid: missing required field\(s\): id$"):
        parse_fc_event(raw)


def test_missing_several_fields_in_batch_names_item_and_fields():
    bad = load_dict("disable_key.json")
    del bad["type"]
    del bad["data"]
    with pytest.raises(EventParseError, match=r"^event\[1\] invalid: missing required field\(s\): type, data$"):
        parse_fc_event([load_dict("schedule_key_deletion.json"), bad])


def test_empty_id_rejected():
    raw = load_dict("schedule_key_deletion.json")
    raw["id"] = ""
    with pytest.raises(EventParseError, match=r"^event invalid: id: "):
        parse_fc_event(raw)


def test_data_not_object_rejected():
    raw = load_dict("schedule_key_deletion.json")
    raw["data"] = "oops"
    with pytest.raises(EventParseError, match=r"^event invalid: data: "):
        parse_fc_event(raw)


def test_validation_error_does_not_echo_input():
    raw = load_dict("schedule_key_deletion.json")
    raw["data"]["requestParameters"] = "SECRET-LOOKING-" + "x" * 5000
    with pytest.raises(EventParseError) as info:
        parse_fc_event(raw)
    msg = str(info.value)
    assert msg.startswith("event invalid: data.requestParameters:")
    assert "SECRET-LOOKING" not in msg
    assert len(msg) <= 200


def test_many_problems_message_is_clipped():
    raw = {"data": {"userIdentity": 5, "referencedResources": 5, "eventAttributes": 5, "isGlobal": "maybe"}}
    with pytest.raises(EventParseError) as info:
        parse_fc_event(raw)
    msg = str(info.value)
    assert msg.startswith("event invalid: missing required field(s): id, type; data.")
    assert len(msg) == 200
    assert msg.endswith("…")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'"just a string"', "event must be a JSON object or an array of objects, got string"),
        (b"42", "event must be a JSON object or an array of objects, got number"),
        (b"null", "event must be a JSON object or an array of objects, got null"),
        (b'[{"id": "a"}, 5]', None),
        (b"[[]]", "event[0] is not a JSON object (got array)"),
    ],
)
def test_non_object_rejected(payload, expected):
    with pytest.raises(EventParseError) as info:
        parse_fc_event(payload)
    if expected is None:
        # The first item fails on missing fields before the second item is reached.
        assert str(info.value).startswith("event[0] invalid: missing required field(s): type, data")
    else:
        assert str(info.value) == expected


def test_list_item_not_object_named_by_index():
    with pytest.raises(EventParseError, match=r"^event\[1\] is not a JSON object \(got string\)$"):
        parse_fc_event([load_dict("disable_key.json"), "nope"])


def test_unsupported_python_type():
    with pytest.raises(EventParseError, match="unsupported event type int"):
        parse_fc_event(5)


# --- timer -------------------------------------------------------------------------------------------------


def test_timer_event_from_bytes():
    ev = parse_timer_event(b'{"triggerTime":"2023-12-26T07:49:00Z","triggerName":"timer-trigger","payload":"awesome-fc"}')
    assert ev == TimerEvent(triggerTime="2023-12-26T07:49:00Z", triggerName="timer-trigger", payload="awesome-fc")


def test_timer_payload_json_decoded_second_time():
    ev = parse_timer_event({"triggerTime": "t", "triggerName": "sweep", "payload": '{"mode": "full", "limit": 5}'})
    assert ev.payload_json() == {"mode": "full", "limit": 5}


@pytest.mark.parametrize("payload", ["", None, "  "])
def test_timer_payload_json_empty_is_none(payload):
    assert TimerEvent(triggerTime="t", triggerName="n", payload=payload).payload_json() is None


def test_timer_payload_not_json():
    ev = TimerEvent(triggerTime="t", triggerName="n", payload="awesome-fc")
    with pytest.raises(EventParseError, match=r"^timer payload is not valid JSON"):
        ev.payload_json()


def test_timer_event_missing_fields():
    with pytest.raises(EventParseError, match=r"^timer event invalid: missing required field\(s\): triggerTime, triggerName$"):
        parse_timer_event(b'{"payload": "x"}')


def test_timer_event_not_object():
    with pytest.raises(EventParseError, match="timer event must be a JSON object, got array"):
        parse_timer_event(b"[]")


# --- identifiers KMS could have accepted ---------------------------------------------------------------------
# KeyId: "the ID, alias, or ARN of the key" (DescribeKey, https://www.alibabacloud.com/help/doc-detail/28952.htm);
# aliases: alias/ + 1-255 letters, digits, _ - / ("Create an alias",
# https://www.alibabacloud.com/help/en/key-management-service/latest/create-an-alias).


@pytest.mark.parametrize(
    ("key_ref", "expected"),
    [
        (KEY_ID, KEY_ID),
        ("key-hzz630494463ejqjx1a2b", "key-hzz630494463ejqjx1a2b"),
        (f"  {KEY_ID}  ", KEY_ID),
        ("alias/payments", "alias/payments"),
        ("alias/team_a/payments-2", "alias/team_a/payments-2"),
        ("alias/" + "a" * 255, "alias/" + "a" * 255),
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:key/key-hzz630494463ejqjx1a2b", "key-hzz630494463ejqjx1a2b"),
        (f"acs:kms:cn-shanghai-finance-1:{ACCOUNT}:key/{KEY_ID}", KEY_ID),
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:alias/payments", f"acs:kms:cn-hangzhou:{ACCOUNT}:alias/payments"),
        ("k" * 128, "k" * 128),  # longer than any real id, still accepted: the bound is generous
    ],
)
def test_real_key_references_are_usable(key_ref, expected):
    rec = record(requestParameters={"KeyId": key_ref}, acsRegion="cn-hangzhou")
    assert rec.key_id == expected
    assert rec.problems() == []


@pytest.mark.parametrize(
    "key_ref",
    [
        "a" * 100_000,  # every API call would answer HTTP 414 (URI too long)
        "k" * 129,
        "not a key",
        "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b\x00",
        "key-\u00e9",
        "alias/",
        "alias/" + "a" * 256,
        "alias/with space",
        "../../etc/passwd",
        f"acs:kms:cn-hangzhou:{ACCOUNT}:key/",
        f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{'b' * 5000}",
        f"acs:kms:CN-HANGZHOU:{ACCOUNT}:key/{KEY_ID}",
        f"acs:kms:cn-hangzhou:not-an-account:key/{KEY_ID}",
        f"acs:kms:cn-hangzhou:{ACCOUNT}:secret/my-secret",
        f"acs:ecs:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}",
    ],
)
def test_impossible_key_id_is_never_usable_and_is_named(key_ref):
    rec = record(requestParameters={"KeyId": key_ref})
    assert rec.key_id is None
    [problem] = rec.problems()
    assert problem.startswith("requestParameters.KeyId ") and "is not a KMS key id, alias or key ARN" in problem
    assert len(problem) <= 200  # the value is shown clipped, never whole


@pytest.mark.parametrize(("value", "type_word"), [(12345, "number"), (1.5, "number"), (True, "boolean"), (["k"], "array"),
                                                 ({"id": KEY_ID}, "object")])
def test_key_id_of_another_type_is_named(value, type_word):
    rec = record(requestParameters={"KeyId": value})
    assert rec.key_id is None
    assert rec.problems() == [f"requestParameters.KeyId is not text (got {type_word})"]


def test_huge_key_id_problem_is_short_and_says_how_long():
    [problem] = record(requestParameters={"KeyId": "a" * 100_000}).problems()
    assert "100000 characters" in problem and len(problem) < 200


def test_problem_masks_access_key_ids_in_the_value():
    [problem] = record(requestParameters={"KeyId": FAKE_LONG_TERM_AK + " x"}).problems()
    assert FAKE_LONG_TERM_AK not in problem and "LTAI****" in problem


def test_missing_or_empty_key_id_is_not_a_problem():
    assert record(requestParameters={}).problems() == []
    assert record(requestParameters={"KeyId": ""}).problems() == []
    assert record(requestParameters={"KeyId": None}).problems() == []


@pytest.mark.parametrize(
    ("arn", "problem"),
    [
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{KEY_ID}", None),
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:secret/my-secret", None),  # another resource: not a key, not impossible
        ("acs:kms:cn-hangzhou:" + "9" * 100_000 + f":key/{KEY_ID}", "requestParameters.ProtectedResourceArn "),
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:key/", "requestParameters.ProtectedResourceArn "),
        (f"acs:kms:cn-hangzhou:{ACCOUNT}:key/{'x' * 200}", "requestParameters.ProtectedResourceArn "),
        (42, "requestParameters.ProtectedResourceArn is not text (got number)"),
    ],
)
def test_protected_resource_arn_problems(arn, problem):
    problems = record(eventName="SetDeletionProtection", requestParameters={"ProtectedResourceArn": arn}).problems()
    if problem is None:
        assert problems == []
    else:
        [found] = problems
        assert found.startswith(problem) and len(found) <= 200


@pytest.mark.parametrize("region", ["cn-hangzhou", "ap-southeast-1", "cn-shanghai-finance-1", "eu-central-1", "me-east-1"])
def test_real_regions_are_fine(region):
    raw = load_dict("schedule_key_deletion.json")
    raw["data"]["acsRegion"] = raw["aliyunregionid"] = region
    [ev] = parse_fc_event(raw)
    assert ev.problems() == [] and ev.region == region


@pytest.mark.parametrize("region", ["r" * 100_000, "CN-HANGZHOU", "cn-hangzhou\r\nX-Injected: 1", "cn_hangzhou", "hangzhou",
                                    "cn-", "5", "cn-hangzhou/../x", "cn-" + "a" * 70])
def test_impossible_acs_region_is_named(region):
    raw = load_dict("schedule_key_deletion.json")
    raw["data"]["acsRegion"] = region
    [ev] = parse_fc_event(raw)
    [problem] = ev.problems()
    assert problem.startswith("acsRegion ") and "is not an Alibaba Cloud region id" in problem and len(problem) <= 200
    assert ev.region == "cn-hangzhou"  # only a region-shaped value is offered: here the envelope's


def test_impossible_envelope_region_is_named():
    raw = load_dict("schedule_key_deletion.json")
    del raw["data"]["acsRegion"]
    raw["aliyunregionid"] = "x" * 5000
    [ev] = parse_fc_event(raw)
    [problem] = ev.problems()
    assert problem.startswith("aliyunregionid ")
    assert ev.region is None  # no usable region: the caller uses its own


def test_sample_events_have_no_problems():
    for name in ("schedule_key_deletion.json", "disable_key.json", "schedule_key_deletion_console.json"):
        [ev] = parse_fc_event(load_raw(name))
        assert ev.problems() == [] and ev.region == "cn-hangzhou"


# --- hostile JSON ------------------------------------------------------------------------------------------


def test_number_too_long_for_int_is_a_parse_error():
    # json.loads raises a plain ValueError (not JSONDecodeError) past sys.get_int_max_str_digits() digits.
    with pytest.raises(EventParseError, match="number too long"):
        parse_fc_event(b"1" * 5000)
    payload = load_raw("schedule_key_deletion.json").replace(b'"eventVersion": 1', b'"eventVersion": ' + b"7" * 5000)
    with pytest.raises(EventParseError, match="number too long"):
        parse_fc_event(payload)


def test_unpaired_surrogates_in_text_are_replaced():
    raw = load_raw("schedule_key_deletion.json").replace(b'"alice"', b'"al\\ud800ice"').replace(
        b'"id": "7d3c1e52', b'"id": "\\udfff7d3c1e52')
    [ev] = parse_fc_event(raw)
    assert ev.data.userIdentity.userName == "al\ufffdice"
    assert ev.id.startswith("\ufffd7d3c1e52")
    ev.id.encode("utf-8")  # now encodable: it can be hashed into a claim and written to SLS
    assert ev.data.caller.encode("utf-8")


def test_valid_surrogate_pair_is_kept():
    [ev] = parse_fc_event(load_raw("schedule_key_deletion.json").replace(b'"alice"', b'"alice\\ud83d\\udd11"'))
    assert ev.data.userIdentity.userName == "alice\U0001f511"
