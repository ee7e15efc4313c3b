"""Tests for localcloud.eventbridge_pattern (EventBridge event-pattern matching)."""
import json

import pytest

from localcloud.eventbridge_pattern import PatternError, matches, parse_pattern


# --------------------------------------------------------------------------- #
# Realistic case: KMS rule over ActionTrail CloudEvents
# --------------------------------------------------------------------------- #

KMS_RULE = (
    '{"type":["kms:ActionTrail:ApiCall","kms:ActionTrail:ConsoleOperation"],'
    '"data":{"serviceName":["Kms"],"eventName":["ScheduleKeyDeletion","DisableKey"]}}'
)


def actiontrail_event(event_name="ScheduleKeyDeletion", type_="kms:ActionTrail:ApiCall",
                      service="Kms"):
    return {
        "specversion": "1.0",
        "id": "2ca2f3a1-6c55-4f0b-9c3e-8d8f0a0b1c2d",
        "source": "acs.kms",
        "type": type_,
        "subject": "acs:kms:cn-hangzhou:1234567890123456:key/key-hzz62f1cb66fa42qo****",
        "time": "2024-05-01T08:00:00Z",
        "aliyunaccountid": "1234567890123456",
        "aliyunregionid": "cn-hangzhou",
        "datacontenttype": "application/json;charset=utf-8",
        "data": {
            "eventId": "A1B2C3D4-0000-1111-2222-333344445555",
            "eventName": event_name,
            "eventSource": "kms.cn-hangzhou.aliyuncs.com",
            "eventType": "ApiCall",
            "eventVersion": "1",
            "serviceName": service,
            "sourceIpAddress": "10.0.0.17",
            "requestParameters": {"KeyId": "key-hzz62f1cb66fa42qo****", "PendingWindowInDays": 7},
            "userIdentity": {"type": "ram-user", "userName": "alice"},
            "acsRegion": "cn-hangzhou",
        },
    }


def test_kms_rule_matches_schedule_key_deletion():
    assert matches(parse_pattern(KMS_RULE), actiontrail_event("ScheduleKeyDeletion"))


def test_kms_rule_matches_console_operation_disable_key():
    event = actiontrail_event("DisableKey", type_="kms:ActionTrail:ConsoleOperation")
    assert matches(parse_pattern(KMS_RULE), event)


def test_kms_rule_rejects_describe_key():
    assert not matches(parse_pattern(KMS_RULE), actiontrail_event("DescribeKey"))


def test_kms_rule_rejects_other_event_type():
    event = actiontrail_event(type_="actiontrail:ActionTrail:ApiCall")
    assert not matches(parse_pattern(KMS_RULE), event)


def test_kms_rule_is_case_sensitive():
    assert not matches(parse_pattern(KMS_RULE), actiontrail_event(service="kms"))
    assert not matches(parse_pattern(KMS_RULE), actiontrail_event("schedulekeydeletion"))


# --------------------------------------------------------------------------- #
# parse_pattern
# --------------------------------------------------------------------------- #

def test_parse_pattern_accepts_json_text_and_dict():
    as_dict = {"source": ["acs.kms"]}
    assert parse_pattern(json.dumps(as_dict)) == as_dict
    assert parse_pattern(as_dict) == as_dict


@pytest.mark.parametrize("text, needle", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('"acs.kms"', "JSON object"),
])
def test_parse_pattern_rejects_non_object(text, needle):
    with pytest.raises(PatternError, match=needle):
        parse_pattern(text)


# --------------------------------------------------------------------------- #
# Exact values, AND / OR, nesting, missing fields
# --------------------------------------------------------------------------- #

def test_exact_string_or_alternatives():
    pattern = {"source": ["acs.oss", "acs.kms"]}
    assert matches(pattern, {"source": "acs.kms"})
    assert matches(pattern, {"source": "acs.oss"})
    assert not matches(pattern, {"source": "acs.ecs"})


def test_and_across_keys():
    pattern = {"source": ["acs.kms"], "type": ["kms:ActionTrail:ApiCall"]}
    assert matches(pattern, {"source": "acs.kms", "type": "kms:ActionTrail:ApiCall"})
    assert not matches(pattern, {"source": "acs.kms", "type": "other"})
    assert not matches(pattern, {"source": "acs.oss", "type": "kms:ActionTrail:ApiCall"})


def test_nested_objects():
    pattern = {"data": {"userIdentity": {"type": ["ram-user"]}}}
    assert matches(pattern, {"data": {"userIdentity": {"type": "ram-user"}}})
    assert not matches(pattern, {"data": {"userIdentity": {"type": "root-account"}}})
    # nesting must line up: the same key at the wrong level does not count
    assert not matches(pattern, {"data": {"type": "ram-user"}})
    assert not matches(pattern, {"type": "ram-user"})


def test_extra_event_fields_are_ignored_and_empty_pattern_matches():
    assert matches({"source": ["acs.kms"]}, {"source": "acs.kms", "other": 1})
    assert matches({}, {"anything": "goes"})


def test_missing_field_does_not_match():
    assert not matches({"source": ["acs.kms"]}, {})
    assert not matches({"data": {"eventName": ["DisableKey"]}}, {"data": {}})
    assert not matches({"data": {"eventName": ["DisableKey"]}}, {})
    # even operators that "exclude" need the field to be present
    assert not matches({"state": [{"anything-but": "x"}]}, {})
    assert not matches({"n": [{"numeric": ["!=", 1]}]}, {})


def test_numbers_booleans_null_exact():
    assert matches({"n": [5]}, {"n": 5})
    assert matches({"n": [5]}, {"n": 5.0})
    assert not matches({"n": [5]}, {"n": "5"})
    assert not matches({"n": [1]}, {"n": True})
    assert matches({"b": [True]}, {"b": True})
    assert not matches({"b": [True]}, {"b": 1})
    assert not matches({"b": [False]}, {"b": 0})
    assert matches({"r": [None]}, {"r": None})
    assert not matches({"r": [None]}, {})          # null is not "missing"
    assert not matches({"r": [None]}, {"r": ""})


def test_empty_string_matches_only_empty_string():
    pattern = {"eventVersion": [""]}
    assert matches(pattern, {"eventVersion": ""})
    assert not matches(pattern, {"eventVersion": "1"})
    assert not matches(pattern, {"eventVersion": None})
    assert not matches(pattern, {})


def test_list_valued_event_field_matches_if_any_element_matches():
    pattern = {"resources": ["key-b"]}
    assert matches(pattern, {"resources": ["key-a", "key-b"]})
    assert not matches(pattern, {"resources": ["key-a", "key-c"]})
    assert not matches(pattern, {"resources": []})
    assert matches({"resources": [{"prefix": "key-"}]}, {"resources": ["x", "key-1"]})


def test_list_of_objects_in_event():
    pattern = {"data": {"items": {"id": ["k2"]}}}
    assert matches(pattern, {"data": {"items": [{"id": "k1"}, {"id": "k2"}]}})
    assert not matches(pattern, {"data": {"items": [{"id": "k1"}]}})


# --------------------------------------------------------------------------- #
# String operators
# --------------------------------------------------------------------------- #

def test_prefix():
    pattern = {"source": [{"prefix": "acs."}]}
    assert matches(pattern, {"source": "acs.kms"})
    assert not matches(pattern, {"source": "xacs.kms"})
    assert not matches(pattern, {"source": "ACS.kms"})


def test_suffix():
    pattern = {"subject": [{"suffix": ".jpg"}]}
    assert matches(pattern, {"subject": "acs:oss:bucket/a.jpg"})
    assert not matches(pattern, {"subject": "acs:oss:bucket/a.jpg.png"})


def test_contains():
    pattern = {"type": [{"contains": "Normal"}]}
    assert matches(pattern, {"type": "ecs:Instance:NormalStop"})
    assert not matches(pattern, {"type": "ecs:Instance:normalStop"})


def test_string_operators_do_not_apply_to_non_strings():
    assert not matches({"n": [{"prefix": "1"}]}, {"n": 12})
    assert not matches({"n": [{"suffix": "2"}]}, {"n": 12})
    assert not matches({"n": [{"contains": "1"}]}, {"n": 12})
    assert not matches({"n": [{"prefix": ""}]}, {"n": None})


def test_operators_combine_with_or():
    pattern = {"eventName": ["DisableKey", {"prefix": "Schedule"}]}
    assert matches(pattern, {"eventName": "DisableKey"})
    assert matches(pattern, {"eventName": "ScheduleKeyDeletion"})
    assert not matches(pattern, {"eventName": "EnableKey"})


# --------------------------------------------------------------------------- #
# anything-but
# --------------------------------------------------------------------------- #

def test_anything_but_string():
    pattern = {"state": [{"anything-but": "initializing"}]}
    assert matches(pattern, {"state": "running"})
    assert not matches(pattern, {"state": "initializing"})


def test_anything_but_number():
    pattern = {"x-limit": [{"anything-but": 123}]}
    assert matches(pattern, {"x-limit": 124})
    assert not matches(pattern, {"x-limit": 123})


def test_anything_but_list():
    pattern = {"state": [{"anything-but": ["stopped", "overloaded"]}]}
    assert matches(pattern, {"state": "running"})
    assert not matches(pattern, {"state": "stopped"})
    assert not matches(pattern, {"state": "overloaded"})


def test_anything_but_with_list_event_value():
    pattern = {"price": [{"anything-but": [100, 500]}]}
    assert matches(pattern, {"price": [100, 50]})     # 50 is not excluded
    assert not matches(pattern, {"price": [100, 500]})


@pytest.mark.parametrize("inner, ok, excluded", [
    ({"prefix": "init"}, "running", "initializing"),
    ({"suffix": ".png"}, "a.jpg", "a.png"),
    ({"contains": "/lib/"}, "/usr/bin/x", "/usr/lib/x"),
])
def test_anything_but_string_operators(inner, ok, excluded):
    pattern = {"f": [{"anything-but": inner}]}
    assert matches(pattern, {"f": ok})
    assert not matches(pattern, {"f": excluded})
    assert not matches(pattern, {"f": 7})  # string operators need strings


# --------------------------------------------------------------------------- #
# numeric
# --------------------------------------------------------------------------- #

def test_numeric_range():
    pattern = {"c-count": [{"numeric": [">", 0, "<=", 5]}]}
    assert matches(pattern, {"c-count": 5})
    assert matches(pattern, {"c-count": 0.5})
    assert not matches(pattern, {"c-count": 0})
    assert not matches(pattern, {"c-count": 5.01})


@pytest.mark.parametrize("op, bound, hit, miss", [
    ("=", 7, 7, 8),
    ("!=", 7, 8, 7),
    (">", 7, 8, 7),
    (">=", 7, 7, 6),
    ("<", 7, 6, 7),
    ("<=", 7, 7, 8),
])
def test_numeric_each_operator(op, bound, hit, miss):
    pattern = {"n": [{"numeric": [op, bound]}]}
    assert matches(pattern, {"n": hit})
    assert not matches(pattern, {"n": miss})


def test_numeric_is_strict_about_types():
    pattern = {"n": [{"numeric": [">", 0]}]}
    assert not matches(pattern, {"n": "7"})   # numeric strings are not coerced
    assert not matches(pattern, {"n": True})  # booleans are not numbers
    assert not matches(pattern, {"n": None})
    assert matches(pattern, {"n": ["x", 3]})  # list: any numeric element


# --------------------------------------------------------------------------- #
# cidr
# --------------------------------------------------------------------------- #

def test_cidr():
    pattern = {"data": {"sourceIpAddress": [{"cidr": "10.0.0.0/24"}]}}
    assert matches(pattern, {"data": {"sourceIpAddress": "10.0.0.17"}})
    assert matches(pattern, {"data": {"sourceIpAddress": "10.0.0.255"}})
    assert not matches(pattern, {"data": {"sourceIpAddress": "10.0.1.1"}})


def test_cidr_ignores_non_ip_values():
    pattern = {"ip": [{"cidr": "10.0.0.0/8"}]}
    assert not matches(pattern, {"ip": "not-an-ip"})
    assert not matches(pattern, {"ip": 167772161})     # 10.0.0.1 as an int
    assert not matches(pattern, {"ip": "::ffff:10.0.0.1"})
    assert not matches(pattern, {"ip": "::a00:1"})     # IPv6 whose low bits look like 10.0.0.1


# --------------------------------------------------------------------------- #
# exists
# --------------------------------------------------------------------------- #

def test_exists_true():
    pattern = {"data": {"errorCode": [{"exists": True}]}}
    assert matches(pattern, {"data": {"errorCode": "Forbidden"}})
    assert matches(pattern, {"data": {"errorCode": ""}})
    assert not matches(pattern, {"data": {}})
    assert not matches(pattern, {})


def test_exists_false():
    pattern = {"data": {"errorCode": [{"exists": False}]}}
    assert matches(pattern, {"data": {}})
    assert matches(pattern, {})  # parent missing: the leaf is missing too
    assert not matches(pattern, {"data": {"errorCode": "Forbidden"}})


def test_exists_false_or_value():
    pattern = {"state": [{"exists": False}, "ok"]}
    assert matches(pattern, {})
    assert matches(pattern, {"state": "ok"})
    assert not matches(pattern, {"state": "bad"})


def test_exists_is_about_leaves_not_objects():
    assert not matches({"data": [{"exists": True}]}, {"data": {"a": 1}})


# --------------------------------------------------------------------------- #
# Invalid patterns
# --------------------------------------------------------------------------- #

@pytest.mark.parametrize("pattern, needle", [
    ({"source": "acs.kms"}, "source: leaf must be a list"),
    ({"data": {"eventName": "DisableKey"}}, "data.eventName: leaf must be a list"),
    ({"source": []}, "non-empty"),
    ({"source": [["nested"]]}, "must be a value or an operator"),
    ({"source": [{"wildcard": "acs.*"}]}, "unknown operator 'wildcard'"),
    ({"source": [{"prefix": "a", "suffix": "b"}]}, "exactly one key"),
    ({"source": [{"prefix": 1}]}, "'prefix' needs a string"),
    ({"n": [{"numeric": [">"]}]}, "operator/number pairs"),
    ({"n": [{"numeric": []}]}, "operator/number pairs"),
    ({"n": [{"numeric": ">"}]}, "operator/number pairs"),
    ({"n": [{"numeric": ["~", 1]}]}, "'numeric' operator '~'"),
    ({"n": [{"numeric": [">", "0"]}]}, "must be a number"),
    ({"n": [{"numeric": [">", True]}]}, "must be a number"),
    ({"ip": [{"cidr": "10.0.0.0/33"}]}, "not a valid CIDR"),
    ({"ip": [{"cidr": "banana"}]}, "not a valid CIDR"),
    ({"ip": [{"cidr": 10}]}, "'cidr' needs a string"),
    ({"ip": [{"cidr": "fd00::/8"}]}, "only IPv4"),
    ({"f": [{"exists": "yes"}]}, "'exists' needs true or false"),
    ({"f": [{"anything-but": {"wildcard": "*"}}]}, "anything-but"),
    ({"f": [{"anything-but": []}]}, "anything-but"),
    ({"f": [{"anything-but": [{"prefix": "a"}]}]}, "anything-but"),
    ({"f": [{"anything-but": None}]}, "anything-but"),
])
def test_invalid_patterns_raise(pattern, needle):
    with pytest.raises(PatternError, match=needle.replace("(", r"\(")):
        parse_pattern(pattern)
    with pytest.raises(PatternError):
        matches(pattern, {})


def test_pattern_error_is_value_error():
    assert issubclass(PatternError, ValueError)
