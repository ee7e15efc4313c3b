"""Alibaba Cloud EventBridge event-pattern matching for the local cloud emulation.

Why this exists: kms-steward's functions are triggered by EventBridge rules
(``eventRuleFilterPattern`` in s.yaml). To run them locally against emulated
events we must decide, exactly as EventBridge would, whether an event reaches a
rule's target. A pattern that is too loose in the emulator would hide a rule
that never fires in the cloud, so matching here is deliberately strict.

Model (Alibaba "Event patterns" doc, same model as AWS EventBridge):

* The pattern mirrors the event's nesting. Every key of the pattern must match
  (AND). A leaf is a non-empty list of alternatives (OR).
* Comparison is case-sensitive and type-aware: the string ``"7"`` never equals
  or numerically matches the number ``7``; ``true`` never equals ``1``.
* A field missing from the event matches nothing, except ``{"exists": false}``.
* If the event value is a list, the leaf matches when any element matches.
* Operators inside a leaf: exact values (string, number, bool, null; ``""``
  matches an empty string), ``prefix``, ``suffix``, ``contains``,
  ``anything-but`` (value, list of values, or ``{"prefix"|"suffix"|"contains"}``),
  ``numeric`` (operator/number pairs), ``cidr`` (IPv4 only, as documented) and
  ``exists``.

Patterns are validated up front by :func:`parse_pattern` so that a typo in a
rule fails loudly at deploy time instead of silently never matching.
"""
from __future__ import annotations

import ipaddress
import json
import math
from typing import Any, Callable, Dict, List

__all__ = ["PatternError", "parse_pattern", "matches"]

_MISSING = object()  # sentinel: the event does not contain the field

_NUMERIC_OPS: Dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}
_STRING_OPS: Dict[str, Callable[[str, str], bool]] = {
    "prefix": str.startswith,
    "suffix": str.endswith,
    "contains": lambda value, part: part in value,
}
_OPERATORS = ("prefix", "suffix", "contains", "anything-but", "numeric", "cidr", "exists")


class PatternError(ValueError):
    """The event pattern is not valid EventBridge syntax."""


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #

def parse_pattern(text_or_dict: Any) -> dict:
    """Parse (if JSON text) and validate a pattern; return it as a dict.

    Accepts the JSON string found in s.yaml ``eventRuleFilterPattern`` or an
    already-decoded dict. Raises :class:`PatternError` naming the offending
    path and operator.
    """
    pattern = text_or_dict
    if isinstance(text_or_dict, (str, bytes, bytearray)):
        try:
            pattern = json.loads(text_or_dict)
        except ValueError as exc:
            raise PatternError(f"event pattern is not valid JSON: {exc}") from None
    if not isinstance(pattern, dict):
        raise PatternError(
            f"event pattern must be a JSON object, got {type(pattern).__name__}")
    _validate_object(pattern, "")
    return pattern


def _validate_object(node: dict, path: str) -> None:
    for key, value in node.items():
        if not isinstance(key, str):
            raise PatternError(f"pattern key {key!r} at {path or '<root>'} must be a string")
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            _validate_object(value, where)
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"{where}: leaf must be a non-empty list of alternatives")
            for alternative in value:
                _validate_alternative(alternative, where)
        else:
            raise PatternError(
                f"{where}: leaf must be a list (e.g. [{json.dumps(value)}]), "
                f"got {type(value).__name__}")


def _is_number(value: Any) -> bool:
    """JSON number: int or float, but not bool (bool subclasses int in Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool)) or _is_number(value)


def _validate_alternative(alt: Any, where: str) -> None:
    if _is_scalar(alt):
        return
    if not isinstance(alt, dict):
        raise PatternError(
            f"{where}: alternative {json.dumps(alt)} must be a value or an operator object")
    if len(alt) != 1:
        raise PatternError(
            f"{where}: operator object {json.dumps(alt)} must have exactly one key")
    (op, arg), = alt.items()
    if op in _STRING_OPS:
        if not isinstance(arg, str):
            raise PatternError(f"{where}: '{op}' needs a string, got {json.dumps(arg)}")
    elif op == "anything-but":
        _validate_anything_but(arg, where)
    elif op == "numeric":
        _parse_numeric(arg, where)
    elif op == "cidr":
        _parse_cidr(arg, where)
    elif op == "exists":
        if not isinstance(arg, bool):
            raise PatternError(f"{where}: 'exists' needs true or false, got {json.dumps(arg)}")
    else:
        raise PatternError(
            f"{where}: unknown operator {op!r} (supported: {', '.join(_OPERATORS)})")


def _validate_anything_but(arg: Any, where: str) -> None:
    """anything-but takes a string/number, a non-empty list of them, or one string operator."""
    if isinstance(arg, str) or _is_number(arg):
        return
    if isinstance(arg, list):
        if not arg or not all(isinstance(v, str) or _is_number(v) for v in arg):
            raise PatternError(
                f"{where}: 'anything-but' list must be non-empty strings/numbers, "
                f"got {json.dumps(arg)}")
        return
    if isinstance(arg, dict) and len(arg) == 1:
        (inner, value), = arg.items()
        if inner in _STRING_OPS and isinstance(value, str):
            return
        raise PatternError(
            f"{where}: 'anything-but' supports only prefix/suffix/contains with a string, "
            f"got {json.dumps(arg)}")
    raise PatternError(f"{where}: invalid 'anything-but' value {json.dumps(arg)}")


def _parse_numeric(spec: Any, where: str) -> List[tuple]:
    """Turn [">", 0, "<=", 5] into [(">", 0), ("<=", 5)], rejecting malformed specs."""
    if not isinstance(spec, list) or not spec or len(spec) % 2:
        raise PatternError(
            f"{where}: 'numeric' needs a non-empty list of operator/number pairs, "
            f"got {json.dumps(spec)}")
    pairs = []
    for op, number in zip(spec[::2], spec[1::2]):
        if op not in _NUMERIC_OPS:
            raise PatternError(
                f"{where}: 'numeric' operator {op!r} is not one of {', '.join(_NUMERIC_OPS)}")
        if not _is_number(number) or not math.isfinite(number):
            raise PatternError(
                f"{where}: 'numeric' operand after {op!r} must be a number, "
                f"got {json.dumps(number)}")
        pairs.append((op, number))
    return pairs


def _parse_cidr(spec: Any, where: str) -> ipaddress.IPv4Network:
    """Only IPv4 blocks: the Alibaba docs state cidr matching is IPv4-only."""
    if not isinstance(spec, str):
        raise PatternError(f"{where}: 'cidr' needs a string, got {json.dumps(spec)}")
    try:
        network = ipaddress.ip_network(spec, strict=False)
    except ValueError as exc:
        raise PatternError(f"{where}: 'cidr' {spec!r} is not a valid CIDR block: {exc}") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise PatternError(f"{where}: 'cidr' {spec!r}: only IPv4 blocks are supported")
    return network


# --------------------------------------------------------------------------- #
# Matching
# --------------------------------------------------------------------------- #

def matches(pattern: dict, event: dict) -> bool:
    """True when ``event`` satisfies every key of ``pattern``.

    The pattern is validated first (cheap), so an invalid pattern raises
    PatternError rather than quietly returning False.
    """
    parse_pattern(pattern)
    return _match_object(pattern, event if isinstance(event, dict) else {})


def _match_object(pattern: dict, event: dict) -> bool:
    for key, sub in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(sub, dict):
            # Descend. A missing/non-object value is treated as an empty object,
            # so that only {"exists": false} leaves below it can still match.
            candidates = _as_objects(value)
            if not any(_match_object(sub, obj) for obj in candidates):
                return False
        elif not _match_leaf(sub, value):
            return False
    return True


def _as_objects(value: Any) -> List[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)] or [{}]
    return [{}]


def _match_leaf(alternatives: list, value: Any) -> bool:
    """OR over the alternatives; a list-valued field matches if any element does."""
    values = value if isinstance(value, list) else [value]
    for alt in alternatives:
        if isinstance(alt, dict) and "exists" in alt:
            # exists looks at presence of the field, not at its elements.
            present = value is not _MISSING and not isinstance(value, dict)
            if present == alt["exists"]:
                return True
            continue
        if value is _MISSING:
            continue
        if any(_match_one(alt, v) for v in values):
            return True
    return False


def _same(expected: Any, actual: Any) -> bool:
    """Type-aware equality: numbers compare by value, but never with bools/strings."""
    if _is_number(expected):
        return _is_number(actual) and expected == actual
    return type(expected) is type(actual) and expected == actual


def _match_one(alt: Any, value: Any) -> bool:
    if not isinstance(alt, dict):
        return _same(alt, value)
    (op, arg), = alt.items()
    if op in _STRING_OPS:
        return isinstance(value, str) and _STRING_OPS[op](value, arg)
    if op == "anything-but":
        if isinstance(arg, dict):
            (inner, part), = arg.items()
            return isinstance(value, str) and not _STRING_OPS[inner](value, part)
        excluded = arg if isinstance(arg, list) else [arg]
        return not any(_same(x, value) for x in excluded)
    if op == "numeric":
        return _is_number(value) and all(
            _NUMERIC_OPS[o](value, n) for o, n in _parse_numeric(arg, ""))
    if op == "cidr":
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address in _parse_cidr(arg, "")  # IPv6 addresses are never "in" an IPv4 net
    return False  # unreachable for validated patterns
