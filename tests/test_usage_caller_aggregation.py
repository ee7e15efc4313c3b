"""Who used the key, from ActionTrail-shaped records (shared/usage.py): which records are crypto uses of the key
(is_crypto_use), when they happened (parse_utc), and how they fold into callers (aggregate_callers) -- one per
account, identity type and principal, busiest first, each with its first and last use -- and what an unreadable
record makes the scanner say. Pure functions: no cloud needed.

Record fields as ActionTrail writes them ("ActionTrail event structure",
https://www.alibabacloud.com/help/en/actiontrail/user-guide/actiontrail-event-structure): eventName, serviceName
("Kms" for KMS), eventTime (UTC, ISO 8601), userIdentity (type, accountId, principalId, userName, accessKeyId),
referencedResources, requestParameters.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.usage import EvidenceUnreadable, aggregate_callers, event_time, is_crypto_use, parse_event, parse_utc

KEY = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
ACCOUNT, OTHER_ACCOUNT = "1234567890123456", "9876543210987654"
T0 = datetime(2026, 11, 20, 8, 30, 0, tzinfo=timezone.utc)


def names(value: str | None) -> bool:
    return value == KEY


def event(name: str = "Decrypt", *, when: datetime | None = T0, service: str | None = "Kms", identity: dict | None = None,
          in_request: bool = False, key: str = KEY) -> object:
    raw = {"eventName": name, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None,
           "requestParameters": {"KeyId": key} if in_request else {},
           "referencedResources": {} if in_request else {"ACS::KMS::Key": [key]}}
    if service is not None:
        raw["serviceName"] = service
    if identity is not None:
        raw["userIdentity"] = identity
    return parse_event(raw)


def user(name: str | None = "payments-api", *, account: str | None = ACCOUNT, kind: str | None = "ram-user",
         principal_id: str | None = "203456789012345678") -> dict:
    return {k: v for k, v in (("type", kind), ("accountId", account), ("principalId", principal_id), ("userName", name)) if v is not None}


# ---------------------------------------------------------------- which records are uses of the key


@pytest.mark.parametrize("service", ["Kms", "", None], ids=["Kms", "empty", "absent"])
def test_a_crypto_call_of_kms_naming_the_key_is_a_use(service):
    # An SLS trail log's event may omit serviceName or leave it empty; the call is still KMS's when it names the key.
    assert is_crypto_use(event("Decrypt", service=service), names)
    assert is_crypto_use(event("GenerateDataKey", service=service, in_request=True), names)


@pytest.mark.parametrize("spelling", ["kms", "KMS", "Ecs"])
def test_a_call_of_another_service_is_not_a_use_of_the_key(spelling):
    # ActionTrail spells KMS's service name "Kms" exactly; anything else is another service's call of the same name.
    assert not is_crypto_use(event("Decrypt", service=spelling), names)


def test_a_read_of_the_key_or_a_crypto_call_on_another_key_is_not_a_use():
    assert not is_crypto_use(event("DescribeKey"), names)
    assert not is_crypto_use(event("Decrypt", key="7c1d9e20-4b3a-4f5e-9d8c-1a2b3c4d5e6f"), names)
    assert not is_crypto_use(event("DescribeKey", service="Ecs"), names)


# ---------------------------------------------------------------- when


@pytest.mark.parametrize("text, instant", [
    ("2026-11-20T08:30:00Z", T0),
    ("  2026-11-20T08:30:00Z ", T0),
    ("2026-11-20T16:30:00+08:00", T0),  # an offset is kept, not overwritten with UTC
    ("2026-11-20T08:30:00", T0),  # naive: UTC
    ("2026-11-20T08:30:00.250Z", T0 + timedelta(milliseconds=250)),
], ids=["Z", "padded", "offset", "naive", "fraction"])
def test_an_event_time_is_read_as_an_aware_utc_instant(text, instant):
    parsed = parse_utc(text)
    assert parsed.tzinfo is not None and parsed == instant


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-11-20T08:30:00z", "2026-11-20T08:30:0Z"])
def test_an_absent_or_unreadable_time_is_none(text):
    assert parse_utc(text) is None


# ---------------------------------------------------------------- callers


def test_calls_fold_into_one_caller_per_account_type_and_principal():
    callers = aggregate_callers([
        event("Decrypt", when=T0 - timedelta(days=3), identity=user()),
        event("Decrypt", when=T0 - timedelta(days=1), identity=user()),
        event("GenerateDataKey", when=T0 - timedelta(days=2), identity=user()),
    ], event_time)

    [caller] = callers
    assert (caller.account_id, caller.identity_type, caller.principal, caller.principal_id) == \
        (ACCOUNT, "ram-user", "payments-api", "203456789012345678")
    assert caller.apis_text() == "Decrypt×2, GenerateDataKey×1"
    assert (caller.first_use, caller.last_use) == (T0 - timedelta(days=3), T0 - timedelta(days=1))


def test_a_caller_is_named_by_user_name_else_principal_id_else_unknown():
    by_name = aggregate_callers([event(identity=user("payments-api", principal_id="203456789012345678"))], event_time)
    by_id = aggregate_callers([event(identity=user(None, principal_id="203456789012345678"))], event_time)
    nobody = aggregate_callers([event(identity={"type": "ram-user", "accountId": ACCOUNT})], event_time)
    assert [c.principal for c in by_name + by_id + nobody] == ["payments-api", "203456789012345678", "unknown caller"]
    assert [c.principal_id for c in by_name + by_id + nobody] == ["203456789012345678", "203456789012345678", ""]


def test_a_record_without_an_identity_is_one_unknown_caller():
    [caller] = aggregate_callers([event(identity=None), event(identity=None, when=T0 - timedelta(hours=1))], event_time)
    assert (caller.account_id, caller.identity_type, caller.principal, caller.principal_id) == ("", "unknown", "unknown caller", "")
    assert caller.calls == 2


def test_an_identity_without_type_or_account_reads_unknown_type_and_no_account():
    [caller] = aggregate_callers([event(identity={"userName": "payments-api"})], event_time)
    assert (caller.account_id, caller.identity_type, caller.principal) == ("", "unknown", "payments-api")


def test_the_same_name_in_another_account_or_of_another_type_is_another_caller():
    callers = aggregate_callers([event(identity=user()), event(identity=user(account=OTHER_ACCOUNT)),
                                 event(identity=user(kind="assumed-role"))], event_time)
    assert sorted((c.account_id, c.identity_type) for c in callers) == \
        [(ACCOUNT, "assumed-role"), (ACCOUNT, "ram-user"), (OTHER_ACCOUNT, "ram-user")]


def test_callers_are_listed_busiest_first_then_by_account_then_principal():
    events = [event(identity=user("zeta")),
              event(identity=user("beta", account=OTHER_ACCOUNT)), event(identity=user("beta", account=OTHER_ACCOUNT)),
              event(identity=user("alpha", account=OTHER_ACCOUNT)),
              event(identity=user("gamma")), event(identity=user("gamma")), event(identity=user("gamma"))]
    assert [(c.principal, c.calls) for c in aggregate_callers(events, event_time)] == \
        [("gamma", 3), ("beta", 2), ("zeta", 1), ("alpha", 1)]


def test_an_undated_call_counts_without_moving_first_or_last_use():
    [caller] = aggregate_callers([event(identity=user(), when=None), event(identity=user(), when=T0)], event_time)
    assert caller.calls == 2 and caller.first_use == caller.last_use == T0


# ---------------------------------------------------------------- an unreadable record


def test_an_unreadable_record_says_so_and_counts_its_field_errors():
    with pytest.raises(EvidenceUnreadable) as caught:
        parse_event({"eventName": ["Decrypt"], "userIdentity": "alice"})
    assert str(caught.value) == "an ActionTrail event could not be read (2 field error(s))"
