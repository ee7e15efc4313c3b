"""RAM policy evaluation as the local cloud enforces it (localcloud/ram_policy.py): default deny, explicit Deny over
any Allow, wildcards in actions (case-insensitive) and resources (as written), and the documented condition
operators, with the values of a key ORed and the keys ANDed."""
from __future__ import annotations

import pytest

from localcloud.ram_policy import Policy, PolicyError, evaluate

KEY_ARN = "acs:kms:cn-hangzhou:1234567890123456:key/0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"


def policy(*statements, name="p") -> Policy:
    return Policy.parse(name, {"Version": "1", "Statement": list(statements)})


def allow(action, resource="*", **condition) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **({"Condition": condition} if condition else {})}


def test_nothing_is_allowed_unless_a_statement_allows_it():
    verdict = evaluate([policy(allow("kms:DescribeKey"))], "kms:CancelKeyDeletion", KEY_ARN, {})
    assert not verdict.allowed and not verdict.explicit_deny


def test_an_explicit_deny_overrides_every_allow_in_any_policy():
    deny = {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}
    verdict = evaluate([policy(allow("kms:*")), policy(deny, name="q")], "kms:ScheduleKeyDeletion", KEY_ARN, {})
    assert not verdict.allowed and verdict.explicit_deny


@pytest.mark.parametrize("pattern, action, allowed", [
    ("kms:Describe*", "kms:DescribeKey", True),
    ("kms:describekey", "kms:DescribeKey", True),  # action names are not case-sensitive
    ("kms:Describe?Key", "kms:DescribeKey", False),  # ? is exactly one character
    ("kms:DescribeKe?", "kms:DescribeKey", True),
    ("ecs:*", "kms:DescribeKey", False),
])
def test_action_wildcards(pattern, action, allowed):
    assert evaluate([policy(allow(pattern))], action, KEY_ARN, {}).allowed is allowed


@pytest.mark.parametrize("resource, allowed", [
    ("acs:kms:*:*:key/*", True),
    ("acs:kms:cn-shanghai:*:key/*", False),
    ("acs:kms:*:*:secret/*", False),
    ("ACS:KMS:*:*:KEY/*", False),  # resources are matched as written
])
def test_resource_wildcards(resource, allowed):
    assert evaluate([policy(allow("kms:DescribeKey", resource))], "kms:DescribeKey", KEY_ARN, {}).allowed is allowed


def test_not_action_allows_everything_but_what_it_lists():
    statement = {"Effect": "Allow", "NotAction": ["kms:ScheduleKeyDeletion", "kms:Delete*"], "Resource": "*"}
    assert evaluate([policy(statement)], "kms:CancelKeyDeletion", KEY_ARN, {}).allowed
    assert not evaluate([policy(statement)], "kms:DeleteKeyMaterial", KEY_ARN, {}).allowed


def test_condition_values_are_ored_and_keys_anded():
    statement = allow("kms:EnableKey", **{"StringEquals": {"kms:tag/team": ["payments", "billing"], "kms:tag/env": "prod"}})
    context = {"kms:tag/team": "billing", "kms:tag/env": "prod"}
    assert evaluate([policy(statement)], "kms:EnableKey", KEY_ARN, context).allowed
    assert not evaluate([policy(statement)], "kms:EnableKey", KEY_ARN, {**context, "kms:tag/env": "dev"}).allowed
    assert not evaluate([policy(statement)], "kms:EnableKey", KEY_ARN, {"kms:tag/team": "billing"}).allowed  # key absent


@pytest.mark.parametrize("operator, values, actual, met", [
    ("StringLike", ["kms-steward/*"], "kms-steward/db", True),
    ("StringNotLike", ["kms-steward/*"], "kms-steward/db", False),
    ("StringEqualsIgnoreCase", ["APOLLO"], "apollo", True),
    ("StringNotEquals", ["a"], "b", True),
    ("IpAddress", ["10.0.0.0/8"], "10.1.2.3", True),
    ("NotIpAddress", ["10.0.0.0/8"], "10.1.2.3", False),
    ("DateLessThan", ["2026-12-31T00:00:00Z"], "2026-12-02T03:00:00Z", True),
    ("NumericGreaterThan", ["3"], "4", True),
    ("NumericLessThanEquals", ["4"], "4", True),
    ("NumericNotEquals", ["4"], "4", False),
    ("NumericEquals", ["4"], "not a number", False),
    ("DateGreaterThanEquals", ["2026-12-02T03:00:00Z"], "2026-12-02T03:00:00Z", True),
    ("DateNotEquals", ["2026-12-02T03:00:00Z"], "2026-12-02T03:00:00Z", False),
    ("Bool", [True], "true", True),
    ("Bool", ["true"], "false", False),
])
def test_condition_operators(operator, values, actual, met):
    statement = allow("kms:DescribeKey", **{operator: {"acs:test": values}})
    assert evaluate([policy(statement)], "kms:DescribeKey", KEY_ARN, {"acs:test": actual}).allowed is met


@pytest.mark.parametrize("document, why", [
    ({"Version": "2", "Statement": []}, "Version"),
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action and NotAction"),
    ({"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}, "Effect"),
    ({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "*"}]}, "NotResource"),
    ({"Version": "1", "Statement": [allow("*", **{"ForAnyValue:StringEquals": {"k": "v"}})]}, "ForAnyValue"),
])
def test_a_policy_ram_would_not_take_is_refused_when_loaded(document, why):
    with pytest.raises(PolicyError, match=why):
        Policy.parse("p", document)


def test_every_allow_that_matched_is_named_so_minimality_can_be_checked():
    p = policy(allow(["kms:DescribeKey", "kms:Describe*"]), allow("kms:*"))
    verdict = evaluate([p], "kms:DescribeKey", KEY_ARN, {})
    assert [(g.statement, g.action) for g in verdict.grants] == [(0, "kms:DescribeKey"), (1, "kms:*")]


def test_a_date_written_without_its_zone_is_utc():
    # acs:CurrentTime carries its zone ("...Z"); a policy's date without one is compared as UTC, never an error (a 500)
    p = policy(allow("kms:*", DateLessThan={"acs:CurrentTime": "2030-01-01T00:00:00"}))
    assert evaluate([p], "kms:DescribeKey", "*", {"acs:CurrentTime": "2026-01-01T00:00:00Z"}).allowed
    assert not evaluate([p], "kms:DescribeKey", "*", {"acs:CurrentTime": "2030-01-01T00:00:01Z"}).allowed


def test_a_deny_unless_from_a_vpc_denies_a_request_that_names_no_vpc():
    # A negated operator on a key the request does not carry is met (UNCONFIRMED for Alibaba; AWS's rule), so the
    # common "deny unless from my VPC" guardrail stays closed rather than silently skipped.
    deny = {"Effect": "Deny", "Action": "kms:*", "Resource": "*", "Condition": {"StringNotEquals": {"acs:SourceVpc": ["vpc-corp"]}}}
    policies = [policy(allow("kms:*"), deny)]
    assert not evaluate(policies, "kms:GetSecretValue", "*", {"acs:SourceIp": "203.0.113.9"}).allowed
    assert evaluate(policies, "kms:GetSecretValue", "*", {"acs:SourceVpc": "vpc-corp"}).allowed


@pytest.mark.parametrize("operator", ["NumericNotEquals", "DateNotEquals", "NotIpAddress"])
def test_a_negated_operator_on_a_value_it_cannot_read_grants_nothing(operator):
    p = policy(allow("kms:*", **{operator: {"acs:test": ["1"]}}))
    assert not evaluate([p], "kms:DescribeKey", "*", {"acs:test": "not-a-value"}).allowed
