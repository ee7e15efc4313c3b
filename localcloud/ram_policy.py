"""RAM policy evaluation: whether a policy set lets an identity take an action on a resource.

The grammar and the rules, as RAM documents them:
- A policy is `{"Version": "1", "Statement": [...]}`; a statement has `Effect` (Allow | Deny), `Action` or
  `NotAction` (one string or a list), `Resource` (one string or a list) and an optional `Condition`
  ("Policy structure and syntax", https://www.alibabacloud.com/help/document_detail/93739.html).
- Values may hold `*` (any characters, none included) and `?` (exactly one). An action name is matched without
  regard to case ("In most cases, the value of the Action element is not case-sensitive", "Policy elements",
  https://www.alibabacloud.com/help/doc-detail/93738.htm); a resource is matched as written.
- Nothing is allowed unless a statement allows it, and an explicit Deny in any policy overrides every Allow
  ("How RAM evaluates policies", https://help.aliyun.com/en/ram/policy-evaluation-process).
- Condition: `{"<operator>": {"<key>": [values]}}`. The values of one key are ORed, the keys of one operator and the
  operators of one block are ANDed ("Policy elements", Evaluation logic). Operators: the String, Numeric, Date, Bool
  and IpAddress families ("Conditional operators", https://www.alibabacloud.com/help/en/ram/conditional-operator).
  A key the request does not carry fails a positive operator (what ACK documents for its tag keys) and meets a negated
  one (StringNotEquals, NotIpAddress, ...): "Deny unless the request comes from my VPC" must deny a request that says
  nothing of a VPC. Alibaba publishes no general rule (UNCONFIRMED); this is AWS's, the one that keeps such a Deny
  closed. A value a numeric, date or address operator cannot read meets no operator, negated or not; a date written
  without its zone is UTC.

`NotResource`, `ForAnyValue:`/`ForAllValues:` and `...IfExists` are not in Alibaba's current grammar: a policy using
them is refused when it is loaded (PolicyError), not evaluated in some guessed way.
"""
from __future__ import annotations

import ipaddress
import json
import operator
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterable, Mapping

STATEMENT_KEYS = {"Effect", "Action", "NotAction", "Resource", "Condition", "Sid"}


class PolicyError(ValueError):
    """A policy document RAM would not accept (or one using what is not emulated)."""


@dataclass(frozen=True)
class Grant:
    """Which part of a policy let a call through: the policy, the statement's index, the Action pattern that matched."""

    policy: str
    statement: int
    action: str
    statement_actions: tuple[str, ...] = ()  # the statement's whole Action list: it names the statement across renderings


@dataclass
class Verdict:
    allowed: bool
    explicit_deny: bool = False
    grants: list[Grant] = field(default_factory=list)  # every Allow that matched (empty when denied)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Policy:
    name: str
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, name: str, document: Any) -> "Policy":
        doc = json.loads(document) if isinstance(document, str) else document
        if not isinstance(doc, dict) or doc.get("Version") != "1" or not isinstance(doc.get("Statement"), list):
            raise PolicyError(f'{name}: a policy is {{"Version": "1", "Statement": [...]}}')
        return cls(name, tuple(_statement(name, i, s) for i, s in enumerate(doc["Statement"])))


def _as_tuple(value: Any, what: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{what} must be a non-empty string or list of strings")
    return tuple(values)


def _statement(name: str, index: int, raw: Any) -> Statement:
    where = f"{name} statement {index}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: not an object")
    unknown = set(raw) - STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: {', '.join(sorted(unknown))} is not an element this local cloud evaluates")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be Allow or Deny")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where}: exactly one of Action and NotAction")
    condition: dict[str, dict[str, tuple[str, ...]]] = {}
    for operator, keys in (raw.get("Condition") or {}).items():
        if operator not in OPERATORS:
            raise PolicyError(f"{where}: condition operator {operator} is not one RAM documents")
        if not isinstance(keys, dict):
            raise PolicyError(f"{where}: {operator} must map condition keys to values")
        condition[operator] = {key: tuple(str(v).lower() if isinstance(v, bool) else str(v)
                                          for v in (values if isinstance(values, list) else [values]))
                               for key, values in keys.items()}
    return Statement(effect=raw["Effect"],
                     actions=_as_tuple(raw["Action"], f"{where} Action") if "Action" in raw else (),
                     not_actions=_as_tuple(raw["NotAction"], f"{where} NotAction") if "NotAction" in raw else (),
                     resources=_as_tuple(raw.get("Resource"), f"{where} Resource"), condition=condition)


@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def evaluate(policies: Iterable[Policy], action: str, resource: str, context: Mapping[str, Any]) -> Verdict:
    """The verdict for `action` (`<ram code>:<Action>`) on `resource` (an ARN, or "*" for an action no resource
    scopes), with `context` the request's condition keys (acs:SourceIp, acs:CurrentTime, kms:tag/<key>, ...)."""
    grants: list[Grant] = []
    for policy in policies:
        for index, statement in enumerate(policy.statements):
            matched = _matched_action(statement, action)
            if matched is None or not any(matches(r, resource) for r in statement.resources):
                continue
            if not _condition_met(statement.condition, context):
                continue
            if statement.effect == "Deny":
                return Verdict(allowed=False, explicit_deny=True)
            grants.append(Grant(policy.name, index, matched, statement.actions or statement.not_actions))
    return Verdict(allowed=bool(grants), grants=grants)


def _matched_action(statement: Statement, action: str) -> str | None:
    """The Action pattern the action meets (for NotAction: "NotAction"), or None."""
    if statement.not_actions:
        return None if any(matches(p, action, ignore_case=True) for p in statement.not_actions) else "NotAction"
    return next((p for p in statement.actions if matches(p, action, ignore_case=True)), None)


NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
           "NotIpAddress"}


def _condition_met(condition: Mapping[str, Mapping[str, tuple[str, ...]]], context: Mapping[str, Any]) -> bool:
    for name, keys in condition.items():
        test = OPERATORS[name]
        for key, values in keys.items():
            actual = _lookup(context, key)
            if actual is None:
                if name not in NEGATED:
                    return False
            elif not test(str(actual), values):
                return False
    return True


def _lookup(context: Mapping[str, Any], key: str) -> Any:
    # Condition keys are matched without regard to case, as action names are (UNCONFIRMED for keys)
    lowered = key.lower()
    return next((v for k, v in context.items() if k.lower() == lowered), None)


def _numbers(actual: str, values: tuple[str, ...]) -> tuple[float, list[float]] | None:
    try:
        return float(actual), [float(v) for v in values]
    except ValueError:
        return None


def _dates(actual: str, values: tuple[str, ...]) -> tuple[datetime, list[datetime]] | None:
    def parse(text: str) -> datetime:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)

    try:
        return parse(actual), [parse(v) for v in values]
    except ValueError:
        return None


def _compare(convert, op, *, whole: bool = False):
    """`op` between the request's value and any of the policy's (`whole`: with all of them at once); an unreadable
    value meets nothing."""
    def test(actual: str, values: tuple[str, ...]) -> bool:
        converted = convert(actual, values)
        if converted is None:
            return False
        return op(converted[0], converted[1]) if whole else any(op(converted[0], v) for v in converted[1])
    return test


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _ordered(family: str, convert) -> dict:
    """The six comparisons of an ordered family (Numeric, Date): Equals, NotEquals, LessThan(Equals), GreaterThan(Equals)."""
    equals = _compare(convert, operator.eq)
    return {f"{family}Equals": equals, f"{family}NotEquals": _compare(convert, lambda a, vs: a not in vs, whole=True),
            f"{family}LessThan": _compare(convert, operator.lt), f"{family}LessThanEquals": _compare(convert, operator.le),
            f"{family}GreaterThan": _compare(convert, operator.gt),
            f"{family}GreaterThanEquals": _compare(convert, operator.ge)}


def _in_network(actual: str, values: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(actual)
        return any(address in ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError:
        return False


OPERATORS = {
    "StringEquals": lambda a, vs: a in vs,
    "StringNotEquals": lambda a, vs: a not in vs,
    "StringEqualsIgnoreCase": lambda a, vs: a.lower() in {v.lower() for v in vs},
    "StringNotEqualsIgnoreCase": lambda a, vs: a.lower() not in {v.lower() for v in vs},
    "StringLike": lambda a, vs: any(matches(v, a) for v in vs),
    "StringNotLike": lambda a, vs: not any(matches(v, a) for v in vs),
    **_ordered("Numeric", _numbers),
    **_ordered("Date", _dates),
    "Bool": lambda a, vs: a.lower() in {v.lower() for v in vs},
    "IpAddress": _in_network,
    "NotIpAddress": lambda a, vs: _is_address(a) and not _in_network(a, vs),
}


def allow_grants(document: dict) -> list[tuple[str, str]]:
    """Each (action, resource) an Allow statement of a policy document grants, as written (wildcards unexpanded)."""
    out = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions, resources = statement.get("Action", []), statement.get("Resource", [])
        for action in actions if isinstance(actions, list) else [actions]:
            for resource in resources if isinstance(resources, list) else [resources]:
                out.append((action, resource))
    return out
