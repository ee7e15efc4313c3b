"""Rules of the domain the decision path keeps, one test each.

Plain unit tests for the pure parts (the policy's decisions, the audit report's summary, the usage
evidence, the fan-out); the official SDKs against the local cloud where a rule is about what a person
sees (the key's state, the alert, the record) or about the claim protocol on the state bucket.
Written against the survivors of `make mutation` (MUTATION.md lists those judged equivalent): every
assertion is one an operator relies on, such as the exact reasons a record and an alert carry.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import oss2
import pytest
from alibabacloud_kms20160120 import models as kms

from shared.audit.fanout import fan_out
from shared.audit.model import AuditReport, Dependent, ScanResult
from shared.config import GuardConfig
from shared.idempotency import PREFIX, STALE_AFTER, ClaimBusy, EventClaims
from shared.policy import (Decision, KeyView, allow_listed, decide_deletion, decide_disable, decide_material_deleted,
                           decide_protection_removed, decide_rotation_off)
from shared.usage import (CallerUsage, EvidenceUnreadable, aggregate_callers, event_time, is_crypto_use, names_key,
                          parse_event, parse_utc, trail_project_location)
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account, two_region_account
from tests.support.clients import alice_kms, key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import crypto_event, disk
from tests.support.scanners import clients

# key-guard paces LookupEvents to 2 calls a second (about 6 s a run); these rules are not about pacing.
FAST = {"AUDIT_QPS": "actiontrail:LookupEvents=1000"}
ARN = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
INTENDED = {"kms-steward:intended-deletion": "true"}  # the default allow tag (GuardConfig.allow_tag)
STATE_BUCKET = "kms-steward-state"  # in tests.conftest.BASE_ACCOUNT


# ------------------------------------------------------------------ the decision (shared/policy.py)


def _dependent(resource_id: str, service: str = "ECS") -> Dependent:
    return Dependent(service=service, resource_type=f"ACS::{service}::Thing", resource_id=resource_id, region=REGION,
                     state="live", usage="encryption")


def _result(scanner: str, service: str = "ECS", *found: str, complete: bool = True, reason: str | None = None) -> ScanResult:
    return ScanResult(scanner=scanner, service=service, complete=complete, reason=reason,
                      dependents=[_dependent(r, service) for r in found])


def _audit(*results: ScanResult) -> AuditReport:
    return AuditReport(key_id=KEY, region=REGION, results=list(results))


NOTHING = _audit(_result("ecs_disks"), _result("oss_buckets", "OSS"))
FOUND = _audit(_result("ecs_disks", "ECS", "d-app1"), _result("oss_buckets", "OSS"))
BLIND = _audit(_result("ecs_disks", complete=False, reason="access denied (Forbidden.RAM)"), _result("oss_buckets", "OSS"))
BLIND_TWICE = _audit(_result("ecs_disks", complete=False, reason="access denied (Forbidden.RAM)"),
                     _result("oss_buckets", "OSS", complete=False, reason="throttled past retries (Throttling.User)"))
# What the record and the alert say about each audit: the count and where, and which part could not look.
FOUND_SAYS = ["1 dependent(s): ECS: 1"]
BLIND_SAYS = ["audit incomplete, counted as dependents: ecs_disks (access denied (Forbidden.RAM))"]
TAGGED_SAYS = "key carries the tag kms-steward:intended-deletion=true"


def _key(state: str = "PendingDeletion", **fields) -> KeyView:
    return KeyView(key_id=KEY, arn=ARN, state=state, **fields)


DELETION_RULES = {
    "a key no longer pending deletion is left alone": (
        _key("Enabled"), FOUND, GuardConfig(),
        Decision(verdict="no_action", mode="enforce", reasons=["key is Enabled now, not PendingDeletion: nothing to cancel"])),
    "a complete audit without dependents lets the deletion proceed": (
        _key(), NOTHING, GuardConfig(), Decision(verdict="allow", mode="enforce", reasons=["audit complete: no dependents found"])),
    "a key with dependents has its deletion cancelled": (
        _key(), FOUND, GuardConfig(),
        Decision(verdict="block", action="cancel_deletion", alert=True, severity="CRITICAL", mode="enforce", reasons=FOUND_SAYS)),
    "fail safe: an audit that could not look everywhere cancels the deletion": (
        _key(), BLIND, GuardConfig(),
        Decision(verdict="block", action="cancel_deletion", alert=True, severity="CRITICAL", mode="enforce", reasons=BLIND_SAYS)),
    "fail safe: every part that could not look is named": (
        _key(), BLIND_TWICE, GuardConfig(),
        Decision(verdict="block", action="cancel_deletion", alert=True, severity="CRITICAL", mode="enforce",
                 reasons=["audit incomplete, counted as dependents: ecs_disks (access denied (Forbidden.RAM)), "
                          "oss_buckets (throttled past retries (Throttling.User))"])),
    "mode alert leaves the deletion scheduled and says so, CRITICAL": (
        _key(), FOUND, GuardConfig(deletion_mode="alert"),
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="alert",
                 reasons=FOUND_SAYS + ["mode alert: deletion left scheduled"])),
    "an allow-listed key with dependents proceeds, still alerted WARN": (
        _key(tags=INTENDED), FOUND, GuardConfig(),
        Decision(verdict="allow", mode="enforce", allow_listed=True, alert=True, severity="WARN",
                 reasons=[f"intended deletion: {TAGGED_SAYS}"] + FOUND_SAYS)),
    "an allow-listed key whose audit is incomplete is alerted WARN too": (
        _key(tags=INTENDED), BLIND, GuardConfig(),
        Decision(verdict="allow", mode="enforce", allow_listed=True, alert=True, severity="WARN",
                 reasons=[f"intended deletion: {TAGGED_SAYS}"] + BLIND_SAYS)),
    "an allow-listed key without dependents proceeds quietly": (
        _key(), NOTHING, GuardConfig(allow_key_ids=frozenset({KEY})),
        Decision(verdict="allow", mode="enforce", allow_listed=True, alert=False, severity="INFO",
                 reasons=["intended deletion: key id is in GUARD_ALLOW_KEY_IDS"])),
}


@pytest.mark.parametrize("rule", DELETION_RULES)
def test_schedule_key_deletion(rule):
    key, audit, config, expected = DELETION_RULES[rule]
    assert decide_deletion(key, audit, config) == expected


DISABLE_RULES = {
    "a key enabled again is left alone": (
        _key("Enabled"), FOUND, GuardConfig(), Decision(verdict="no_action", mode="alert", reasons=["key is Enabled now, not Disabled"])),
    "a disabled key without dependents is fine": (
        _key("Disabled"), NOTHING, GuardConfig(), Decision(verdict="allow", mode="alert", reasons=["audit complete: no dependents found"])),
    "mode alert (the default): the key stays disabled, the blast radius is alerted": (
        _key("Disabled"), FOUND, GuardConfig(),
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="alert",
                 reasons=FOUND_SAYS + ["mode alert: key left disabled (it may be incident response)"])),
    "mode enforce re-enables a key that may have dependents (fail safe included)": (
        _key("Disabled"), BLIND, GuardConfig(disable_mode="enforce"),
        Decision(verdict="block", action="enable_key", alert=True, severity="CRITICAL", mode="enforce",
                 reasons=BLIND_SAYS + ["mode enforce: re-enabling the key"])),
    "mode enforce never re-enables an allow-listed key": (
        _key("Disabled", tags=INTENDED), FOUND, GuardConfig(disable_mode="enforce"),
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="enforce", allow_listed=True,
                 reasons=FOUND_SAYS + [f"intended: {TAGGED_SAYS}"])),
    "mode alert names the intent of an allow-listed key": (
        _key("Disabled", tags=INTENDED), FOUND, GuardConfig(),
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="alert", allow_listed=True,
                 reasons=FOUND_SAYS + [f"intended: {TAGGED_SAYS}"])),
}


@pytest.mark.parametrize("rule", DISABLE_RULES)
def test_disable_key(rule):
    key, audit, config, expected = DISABLE_RULES[rule]
    assert decide_disable(key, audit, config) == expected


MATERIAL_SAYS = ("the key material is deleted: every dependent is unreadable until the SAME material is imported again "
                 "(GetParametersForImport, then ImportKeyMaterial with the backed-up material)")
MATERIAL_RULES = {
    "material imported again: nothing to say": (
        _key("Enabled"), FOUND, Decision(verdict="no_action", mode="enforce", reasons=["key is Enabled now: its material is in place"])),
    "material imported again, key disabled since: nothing to say": (
        _key("Disabled"), FOUND, Decision(verdict="no_action", mode="enforce", reasons=["key is Disabled now: its material is in place"])),
    "scheduled for deletion since: the state hides the material, taken as deleted": (
        _key("PendingDeletion"), FOUND,
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="enforce", reasons=FOUND_SAYS + [
            "the key is PendingDeletion now, which does not show whether its material is there: taken as deleted, as the event says",
            MATERIAL_SAYS])),
    "no dependents: nothing is unreadable": (
        _key("PendingImport"), NOTHING, Decision(verdict="allow", mode="enforce", reasons=["audit complete: no dependents found"])),
    "dependents: CRITICAL, with how to restore them": (
        _key("PendingImport"), FOUND,
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="enforce", reasons=FOUND_SAYS + [MATERIAL_SAYS])),
    "fail safe: an incomplete audit counts as dependents": (
        _key("PendingImport"), BLIND,
        Decision(verdict="alert", alert=True, severity="CRITICAL", mode="enforce", reasons=BLIND_SAYS + [MATERIAL_SAYS])),
}


@pytest.mark.parametrize("rule", MATERIAL_RULES)
def test_delete_key_material(rule):
    key, audit, expected = MATERIAL_RULES[rule]
    assert decide_material_deleted(key, audit, GuardConfig()) == expected


PROTECTION_SAYS = "deletion protection removed from a key that data depends on"
PROTECTION_RULES = {
    "protection on again: nothing to say": (
        _key("Enabled", deletion_protection="Enabled"), FOUND,
        Decision(verdict="no_action", mode="enforce", reasons=["deletion protection is on again"])),
    "a key pending deletion is its deletion's event's to decide": (
        _key("PendingDeletion"), FOUND,
        Decision(verdict="no_action", mode="enforce", reasons=["key is PendingDeletion: its ScheduleKeyDeletion event decides it"])),
    "no dependents: nothing to say": (
        _key("Enabled"), NOTHING, Decision(verdict="allow", mode="enforce", reasons=["audit complete: no dependents found"])),
    "dependents: WARN, the step before a deletion": (
        _key("Enabled"), FOUND, Decision(verdict="alert", alert=True, severity="WARN", mode="enforce",
                                         reasons=FOUND_SAYS + [PROTECTION_SAYS])),
    "fail safe: an incomplete audit counts as dependents": (
        _key("Disabled"), BLIND, Decision(verdict="alert", alert=True, severity="WARN", mode="enforce",
                                          reasons=BLIND_SAYS + [PROTECTION_SAYS])),
}


@pytest.mark.parametrize("rule", PROTECTION_RULES)
def test_deletion_protection_removed(rule):
    key, audit, expected = PROTECTION_RULES[rule]
    assert decide_protection_removed(key, audit, GuardConfig()) == expected


@pytest.mark.parametrize("rotation, expected", [
    ("Enabled", Decision(verdict="no_action", mode="record", reasons=["automatic rotation is on again"])),
    ("Disabled", Decision(verdict="record", mode="record",
                          reasons=["automatic rotation turned off (now Disabled): recorded for the rotation sweep"])),
    (None, Decision(verdict="record", mode="record",
                    reasons=["automatic rotation turned off (now unknown): recorded for the rotation sweep"])),
])
def test_rotation_turned_off_is_recorded_never_alerted(rotation, expected):
    assert decide_rotation_off(_key("Enabled", automatic_rotation=rotation), None, GuardConfig()) == expected


@pytest.mark.parametrize("tags, config, expected", [
    (INTENDED, GuardConfig(), TAGGED_SAYS),
    ({"kms-steward:intended-deletion": "false"}, GuardConfig(), None),  # the tag's value is part of the intent
    ({}, GuardConfig(), None),
    ({"owner": "team-a"}, GuardConfig(allow_tag=("owner", "*")), "key carries the tag owner=team-a"),  # key=* : any value
    ({}, GuardConfig(allow_tag=("owner", "*")), None),  # ... but the tag itself is still required
    (INTENDED, GuardConfig(allow_tag=None), None),  # GUARD_ALLOW_TAG=none: tags allow nothing
    ({}, GuardConfig(allow_key_ids=frozenset({KEY})), "key id is in GUARD_ALLOW_KEY_IDS"),
    ({}, GuardConfig(allow_key_ids=frozenset({OTHER_KEY})), None),
])
def test_only_an_explicit_intent_allow_lists_a_key(tags, config, expected):
    assert allow_listed(_key(tags=tags), config) == expected


# ------------------------------------------------------------------ the audit report (shared/audit/model.py)


def test_the_summary_counts_dependents_per_service_and_names_every_incomplete_part():
    report = _audit(_result("ecs_disks", "ECS", "d-1", "d-2"), _result("oss_buckets", "OSS", "b-1"),
                    _result("ecs_images", complete=False, reason="access denied (Forbidden.RAM)"),
                    _result("kms_usage", "KMS usage", complete=False, reason="timeout"))
    assert report.summary() == "ECS: 2, OSS: 1; INCOMPLETE: ecs_images (access denied (Forbidden.RAM)), kms_usage (timeout)"
    assert {svc: [d.resource_id for d in deps] for svc, deps in report.by_service().items()} == {"ECS": ["d-1", "d-2"],
                                                                                                  "OSS": ["b-1"]}
    assert NOTHING.summary() == "no dependents found" and NOTHING.by_service() == {}
    assert BLIND.summary() == "no dependents found; INCOMPLETE: ecs_disks (access denied (Forbidden.RAM))"


# ------------------------------------------------------------------ usage evidence (shared/usage.py)


def _names(value: str) -> bool:
    return value == KEY


def _event(name: str = "Decrypt", **fields):
    raw = {"eventName": name, "serviceName": "Kms", **fields}
    return parse_event(raw)


@pytest.mark.parametrize("text, expected", [
    ("2030-05-01T10:00:00Z", datetime(2030, 5, 1, 10, tzinfo=timezone.utc)),
    ("2030-05-01T12:00:00+02:00", datetime(2030, 5, 1, 10, tzinfo=timezone.utc)),
    ("2030-05-01T10:00:00", datetime(2030, 5, 1, 10, tzinfo=timezone.utc)),  # naive ActionTrail times are UTC
    (" 2030-05-01T10:00:00Z ", datetime(2030, 5, 1, 10, tzinfo=timezone.utc)),
    ("", None), (None, None), ("yesterday", None),
])
def test_event_times_are_read_as_utc_instants(text, expected):
    parsed = parse_utc(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None  # comparable with the window's aware bounds


def test_a_crypto_call_counts_only_when_it_is_kms_and_names_the_key():
    referenced = {"referencedResources": {"ACS::KMS::Key": [f"acs:kms:{REGION}:{ACCOUNT_ID}:key/other", KEY]}}
    assert is_crypto_use(_event(**referenced), _names)
    assert is_crypto_use(_event(serviceName=None, **referenced), _names)
    assert is_crypto_use(_event(serviceName="", **referenced), _names)
    assert not is_crypto_use(_event(serviceName="Ecs", **referenced), _names)
    assert not is_crypto_use(_event("DescribeKey", **referenced), _names)  # a read is not a use
    assert not is_crypto_use(_event(referencedResources={"ACS::KMS::Key": [OTHER_KEY]}), _names)


@pytest.mark.parametrize("fields, expected", [
    ({"referencedResources": {"ACS::KMS::Key": [OTHER_KEY, KEY]}}, True),
    ({"referencedResources": {"ACS::KMS::Key": f"{OTHER_KEY},{KEY}"}}, True),  # a comma-separated string
    ({"referencedResources": {"ACS::KMS::Key": f"{OTHER_KEY}, {KEY}"}}, True),
    ({"referencedResources": {"ACS::KMS::Key": OTHER_KEY}}, False),
    ({"requestParameters": {"KeyId": f" {KEY} "}}, True),  # named in the request only (Encrypt, GenerateDataKey)
    ({"requestParameters": {"KeyId": OTHER_KEY}}, False),
    ({"requestParameters": {"KeyId": [KEY]}}, False),  # not a key id
    ({}, False),
])
def test_the_key_is_named_in_referenced_resources_or_the_request(fields, expected):
    assert names_key(_event(**fields), _names) is expected


def test_an_unreadable_event_makes_the_evidence_unreadable_not_empty():
    with pytest.raises(EvidenceUnreadable, match=r"could not be read \(1 field error"):
        parse_event({"eventName": "Decrypt", "userIdentity": "not an object"})


def test_a_trail_project_is_found_by_name_or_by_its_arn():
    assert trail_project_location("acs:log:cn-shanghai:123:project/trail-logs", REGION) == ("cn-shanghai", "trail-logs")
    assert trail_project_location("trail-logs", REGION) == (REGION, "trail-logs")


def test_callers_are_one_per_identity_busiest_first_with_what_they_did_and_from_where():
    t = datetime(2030, 5, 10, tzinfo=timezone.utc)
    app = dict(user="billing-app", access_key="LTAI5tBillingApp0000001")
    events = [parse_event(e) for e in (
        crypto_event("GenerateDataKey", when=t - timedelta(days=2), **app),
        crypto_event("Decrypt", when=t - timedelta(days=1), ip="10.0.0.6", agent="x" * 300, **app),
        crypto_event("Decrypt", when=t - timedelta(days=5), error="Forbidden.NoPermission", **app),  # older, seen later
        crypto_event("Encrypt", when=t - timedelta(days=4), error="Forbidden.NoPermission", **app),
        crypto_event("GenerateDataKey", when=t - timedelta(days=3), **app),
        crypto_event("Decrypt", when=t - timedelta(days=4), user="etl", access_key="STS.NPartner0001"),
        {**crypto_event("Encrypt", when=t), "userIdentity": None},
        {**crypto_event("Encrypt", when=t), "userIdentity": {"type": "ram-user", "accountId": "42", "principalId": "p-7"}},
    )]
    callers = aggregate_callers(events, event_time)

    assert [(c.account_id, c.identity_type, c.principal, c.calls) for c in callers] == [
        (ACCOUNT_ID, "ram-user", "billing-app", 5),
        ("", "unknown", "unknown caller", 1),  # no identity at all: still a caller, never dropped
        (ACCOUNT_ID, "ram-user", "etl", 1),
        ("42", "ram-user", "p-7", 1),  # no user name: the principal id names it
    ]
    app_usage, no_identity, by_id = callers[0], callers[1], callers[3]
    assert app_usage.apis_text() == "Decrypt×2, GenerateDataKey×2, Encrypt×1"  # most used first, ties by name
    assert app_usage.failed == {"Forbidden.NoPermission": 2}  # even a refused call shows who holds ciphertexts
    assert app_usage.source_ips == {"10.0.0.5": 4, "10.0.0.6": 1}
    assert app_usage.user_agents == {"billing/2.1": 4, "x" * 200: 1}  # capped, never the whole header
    assert app_usage.access_keys == {"LTAI****"}  # masked
    assert (app_usage.first_use, app_usage.last_use) == (t - timedelta(days=5), t - timedelta(days=1))
    assert app_usage.principal_id and by_id.principal_id == "p-7" and no_identity.principal_id == ""
    assert no_identity.access_keys == set() and by_id.access_keys == set()


def test_a_caller_s_apis_read_most_used_first():
    usage = CallerUsage(account_id=ACCOUNT_ID, identity_type="ram-user", principal="app",
                        apis=Counter({"Decrypt": 1, "GenerateDataKey": 3, "Encrypt": 3}))
    assert usage.apis_text() == "Encrypt×3, GenerateDataKey×3, Decrypt×1"


def test_a_caller_lists_at_most_three_sources_and_counts_the_rest():
    assert CallerUsage.listed(Counter(a=3, b=2, c=1)) == "a, b, c"
    assert CallerUsage.listed(Counter(a=3, b=2, c=1, d=1)) == "a, b, c (+1 more)"
    assert CallerUsage.listed(Counter(a=1, b=1, c=1, d=1, e=1)) == "a, b, c (+2 more)"
    assert CallerUsage.listed(Counter()) == ""


# ------------------------------------------------------------------ the fan-out (shared/audit/fanout.py)


def test_the_fan_out_returns_one_result_per_item_in_order_and_calls_nothing_for_no_items():
    called = []
    assert fan_out(called.append, []) == [] and called == []
    assert fan_out(lambda n: n * 10, [7]) == [70]
    assert fan_out(lambda n: n * 10, [1, 2]) == [10, 20]


def test_fan_out_workers_are_named_so_a_thread_dump_of_a_stuck_audit_shows_them():
    names = fan_out(lambda _: threading.current_thread().name, range(4), concurrency=2)
    assert all(name.startswith("fan-out") for name in names), names


# ------------------------------------------------------------------ the claim on the state bucket (shared/idempotency.py)


@pytest.fixture
def claims_cloud(start_cloud):
    cloud = start_cloud(make_account())
    return cloud, clients(cloud)


def _stored(bucket, dedupe_key: str) -> dict:
    name = PREFIX + hashlib.sha256(dedupe_key.encode()).hexdigest() + ".json"
    return json.loads(bucket.get_object(name).read())


def test_one_claim_per_event_until_it_is_done_then_every_delivery_is_a_duplicate(claims_cloud):
    cloud, api = claims_cloud
    claims = EventClaims(api, STATE_BUCKET, REGION)
    bucket = api.oss_bucket(STATE_BUCKET, REGION)

    outcome, body = claims.claim("evt-1", "inv-A")
    assert outcome == "claimed" and body == _stored(bucket, "evt-1")
    assert {k: body[k] for k in ("event", "status", "invocation")} == {"event": "evt-1", "status": "in_progress", "invocation": "inv-A"}
    # started is compared across function instances: an absolute UTC instant
    assert datetime.fromisoformat(body["started"]).utcoffset() == timedelta(0)

    with pytest.raises(ClaimBusy, match=re.escape(f"inv-A since {body['started']}")):  # another delivery, meanwhile
        claims.claim("evt-1", "inv-B")
    assert claims.claim("evt-1", "inv-A")[0] == "claimed"  # FC's retry of the same invocation takes it over

    claims.complete("evt-1", {"decision": "block", "action": "cancel_deletion"})
    done = _stored(bucket, "evt-1")
    assert {k: done[k] for k in ("event", "status", "decision", "action")} == {
        "event": "evt-1", "status": "done", "decision": "block", "action": "cancel_deletion"}
    assert datetime.fromisoformat(done["finished"]).utcoffset() == timedelta(0)
    assert claims.claim("evt-1", "inv-C") == ("duplicate", done)
    # the calls are counted under their API names (the record's apiCalls, the pacing, the RAM policy)
    assert set(api.calls.counts) == {"oss:PutObject", "oss:GetObject"}


def test_a_released_claim_lets_the_retry_claim_the_event_again(claims_cloud):
    cloud, api = claims_cloud
    claims = EventClaims(api, STATE_BUCKET, REGION)
    claims.claim("evt-2", "inv-A")
    claims.release("evt-2")

    with pytest.raises(oss2.exceptions.NoSuchKey):
        _stored(api.oss_bucket(STATE_BUCKET, REGION), "evt-2")
    assert claims.claim("evt-2", "inv-B")[0] == "claimed"
    assert api.calls.counts["oss:DeleteObject"] == 1


@pytest.mark.parametrize("age, taken_over", [
    (STALE_AFTER + timedelta(minutes=5), True),  # its holder died
    (None, True),  # no start time: treated as stale rather than blocking the event for ever
    (STALE_AFTER - timedelta(minutes=5), False),  # its holder may still be running
], ids=["stale", "no-start", "fresh"])
def test_a_claim_in_progress_is_taken_over_only_once_stale(claims_cloud, age, taken_over):
    cloud, api = claims_cloud
    claims = EventClaims(api, STATE_BUCKET, REGION)
    left = {"event": "evt-3", "status": "in_progress", "invocation": "inv-dead"}
    if age is not None:
        left["started"] = (datetime.now(timezone.utc) - age).isoformat()
    api.oss_bucket(STATE_BUCKET, REGION).put_object(EventClaims.object_key("evt-3"), json.dumps(left))

    if taken_over:
        assert claims.claim("evt-3", "inv-new")[0] == "claimed"
        assert _stored(api.oss_bucket(STATE_BUCKET, REGION), "evt-3")["invocation"] == "inv-new"
    else:
        with pytest.raises(ClaimBusy):
            claims.claim("evt-3", "inv-new")


def test_the_claim_is_made_in_the_state_bucket_s_region_whatever_region_the_key_is_in(start_cloud):
    # key-guard decides a cn-shanghai key with cn-shanghai clients; its state bucket stays in its own region
    cloud = start_cloud(two_region_account())
    shanghai = clients(cloud, "cn-shanghai")
    assert EventClaims(shanghai, STATE_BUCKET, REGION).claim("evt-5", "inv-A")[0] == "claimed"
    assert _stored(clients(cloud).oss_bucket(STATE_BUCKET, REGION), "evt-5")["invocation"] == "inv-A"


def test_a_claim_store_that_refuses_the_write_is_not_taken_for_a_claim_held_elsewhere(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "oss:PutObject", "Code": "AccessDenied"}]))
    with pytest.raises(oss2.exceptions.OssError) as raised:
        EventClaims(clients(cloud), STATE_BUCKET, REGION).claim("evt-4", "inv-A")
    assert raised.value.status == 403 and not isinstance(raised.value, ClaimBusy)


# ------------------------------------------------------------------ end to end: the official SDKs, key-guard in FC


def test_an_intended_deletion_whose_audit_is_incomplete_proceeds_but_is_alerted_warn(start_cloud):
    cloud = start_cloud(make_account(key_tags=INTENDED, faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}]), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    [alert] = alerts(cloud)
    assert (alert["Name"], alert["severity"]) == ("KmsKeyDeletionIntendedWithDependents", "WARN")
    assert [p["part"] for p in alert["auditIncomplete"]] == ["ecs_disks"]
    assert alert["reasons"][0] == f"intended deletion: {TAGGED_SAYS}"
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["allowListed"] is True


def test_an_intended_deletion_without_dependents_proceeds_without_an_alert(start_cloud):
    cloud = start_cloud(make_account(), env={**FAST, "GUARD_ALLOW_KEY_IDS": KEY})
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["allowListed"] is True
    assert record["reasons"] == ["intended deletion: key id is in GUARD_ALLOW_KEY_IDS"]


def test_a_bad_allow_tag_setting_does_not_loosen_protection(start_cloud):
    # "key" alone must not allow-list any key carrying the tag, whatever its value (here: false)
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_tags={"kms-steward:intended-deletion": "false"}),
                        env={**FAST, "GUARD_ALLOW_TAG": "kms-steward:intended-deletion"})
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    record = only_record(cloud)
    assert record["decision"] == "block" and record["allowListed"] is False
    assert any("GUARD_ALLOW_TAG" in problem for problem in record["configProblems"])
    assert alerts(cloud)[0]["Name"] == "KmsKeyDeletionBlocked"


def test_an_allow_listed_key_disabled_in_mode_enforce_is_not_re_enabled(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_tags=INTENDED), env={**FAST, "GUARD_DISABLE_MODE": "enforce"})
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    assert key_state(cloud) == "Disabled" and cloud.calls.get("kms:EnableKey") == 0
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDisabledWithDependents" and f"intended: {TAGGED_SAYS}" in alert["reasons"]
    assert only_record(cloud, "DisableKey")["allowListed"] is True


def test_mode_enforce_re_enables_a_disabled_key_whose_audit_is_incomplete(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "oss:ListBuckets", "Code": "Forbidden.RAM"}]),
                        env={**FAST, "GUARD_DISABLE_MODE": "enforce"})
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyReenabled" and {p["part"] for p in alert["auditIncomplete"]} == {"oss_buckets", "oss_replication"}


def test_usage_evidence_not_looked_at_is_said_so_never_taken_for_none():
    # An audit that did not run the usage scanner (a rule that audits only the resources) records "not collected",
    # never an empty list a person would read as "nobody uses the key".
    from shared.audit.model import AuditReport
    from shared.guard import usage_evidence

    assert usage_evidence(AuditReport(key_id="k", region="cn-hangzhou")) == "not collected"
