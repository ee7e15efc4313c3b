"""Bad input reaches key-guard as FC would deliver it (bytes): each gets a clear rejection in the
result and in the decision record, never an exception (which FC would retry).

And the rejection's alert (KmsKeyGuardEventRejected), where it is raised and what it holds. It is what tells a
person that a mutation went undecided, so one raised where no rule watches is as good as lost: it goes to the
guard's own region (FC_REGION), where its alert rules live, even for an event from another region, in the guard's
alert group; a guard run with no region of its own raises it in the event's region, or, with no region to raise it
in at all, says so in the record."""
from __future__ import annotations

import copy
import json

import pytest

from shared.config import GuardConfig
from shared.guard import KeyGuard
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, ROOT, SHANGHAI_KEY, make_account, two_region_account
from tests.support.guard import alerts, decision_records
from tests.support.resources import disk
from tests.support.scanners import clients

SAMPLE = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())


def event_with(**changes) -> bytes:
    event = copy.deepcopy(SAMPLE)
    for path, value in changes.items():
        node = event
        *parents, leaf = path.split("__")
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return json.dumps(event).encode()


@pytest.mark.parametrize("payload, reason", [
    (b'{"id": "x", "type": "kms:Action', "malformed event"),
    (b'[1, 2]', "malformed event"),
    (event_with(data__requestParameters={"PendingWindowInDays": "7"}), "no KeyId"),
    (event_with(data__requestParameters={"KeyId": "ffffffff-0000-4000-8000-000000000000"}), "unknown key"),
    (event_with(aliyunaccountid="9999999999999999"), "for account '9999999999999999'"),
    (event_with(source="evil.kms"), "event source 'evil.kms' is not an Alibaba Cloud service (acs.*)"),
    (event_with(data__acsRegion="cn-hangzhou/../x"), "not an Alibaba Cloud region id"),
    (event_with(data__acsRegion="cn-hangzhou/../x", data__requestParameters={"KeyId": "key/../../x"}),
     "(such as cn-hangzhou); requestParameters.KeyId 'key/../../x' is not a KMS key id"),  # each problem said
    (event_with(data__serviceName="Ecs"), "event is from service 'Ecs', not Kms"),
    (b"[]", "holds no event"),
    (b'{"triggerTime": ["2026-12-02T03:00:00Z"], "triggerName": {"name": "safety-net"}}', "malformed timer event"),
])
def test_bad_input_is_rejected_and_recorded(start_cloud, payload, reason):
    cloud = start_cloud(make_account())
    invocation = cloud.fc.invoke("key-guard", payload)

    assert invocation.ok, invocation.error
    results = invocation.result["results"]  # one per event of the payload (an array's items each on their own)
    assert results and all(r["status"] == "rejected" and reason in r["reason"] for r in results)
    records = decision_records(cloud)
    assert len(records) == len(results) and all(r["status"] == "rejected" and reason in r["reason"] for r in records)
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0
    # A person learns of it: a rejected event may be a real mutation the guard could not read.
    raised = alerts(cloud)
    assert [a["Name"] for a in raised] == ["KmsKeyGuardEventRejected"] * len(results)
    assert all(a["severity"] == "WARN" and reason in a["reasons"][0] and "safety net" in a["actionResult"] for a in raised)
    assert all(r["alert"] == "KmsKeyGuardEventRejected" for r in records)


def test_a_rejection_whose_alert_is_refused_is_still_recorded_and_never_retried(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "cms:PutCustomEvent", "Code": "Forbidden.NoPermission"}]))
    invocation = cloud.fc.invoke("key-guard", event_with(data__requestParameters={"PendingWindowInDays": "7"}))

    assert invocation.ok, invocation.error  # a retry would only be rejected again
    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and "KmsKeyGuardEventRejected not raised" in record["alertError"]


def test_a_bad_item_beside_a_good_one_costs_only_itself(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    invocation = cloud.fc.invoke("key-guard", b"[1, " + event_with() + b"]")

    assert invocation.ok, invocation.error
    assert [r["status"] for r in invocation.result["results"]] == ["rejected", "acted"]


def test_a_bare_actiontrail_record_is_decided_as_its_event(start_cloud):
    # A rule delivering only $.data (eventSchema RawData) sends the record without its envelope.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    invocation = cloud.fc.invoke("key-guard", json.dumps(json.loads(event_with())["data"]).encode())

    assert invocation.ok, invocation.error
    [result] = invocation.result["results"]
    assert result["status"] == "acted" and result["alert"] == "KmsKeyDeletionBlocked"


def test_a_bare_record_names_its_account_only_in_its_caller_and_is_rejected_for_another_account(start_cloud):
    # Without the envelope's aliyunaccountid, the caller's userIdentity.accountId says whose key it is.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    record = json.loads(event_with())["data"]
    foreign = {**record, "userIdentity": {**record["userIdentity"], "accountId": "9999999999999999"}}
    anonymous = {k: v for k, v in record.items() if k != "userIdentity"}

    results = [cloud.fc.invoke("key-guard", json.dumps(r).encode()).result["results"][0] for r in (foreign, anonymous)]

    assert results[0]["status"] == "rejected" and "for account '9999999999999999'" in results[0]["reason"]
    assert results[1]["status"] == "acted"  # no account named anywhere: decided in this guard's account


@pytest.mark.parametrize("event_name, recorded", [("TagResource", "TagResource"), (None, "")])
def test_an_event_for_another_action_is_recorded_and_ignored(start_cloud, event_name, recorded):
    cloud = start_cloud(make_account())
    invocation = cloud.fc.invoke("key-guard", event_with(data__eventName=event_name))
    [result] = invocation.result["results"]
    assert result["status"] == "ignored"
    [record] = decision_records(cloud)
    # The record names the API as the event did, and none when the event named none.
    assert record["status"] == "ignored" and record["eventName"] == recorded
    assert record["reason"] == f"{recorded!r} is not a mutation key-guard acts on"


def test_a_batch_of_events_is_handled_one_by_one(start_cloud):
    cloud = start_cloud(make_account(key_state="PendingDeletion"))
    second = json.loads(event_with(id="second-event-id"))
    payload = json.dumps([SAMPLE, second]).encode()
    results = cloud.fc.invoke("key-guard", payload).result["results"]
    # two distinct events (no dependents, so both allowed): each decided and recorded on its own
    assert [(r["eventId"], r["decision"]) for r in results] == [(SAMPLE["id"], "allow"), ("second-event-id", "allow")]
    assert [r["eventId"] for r in decision_records(cloud)] == [SAMPLE["id"], "second-event-id"]


@pytest.mark.parametrize("name, status, decision", [
    ("schedule_key_deletion.json", "decided", "allow"),  # pending, nothing depends on it: proceeds
    ("schedule_key_deletion_console.json", "decided", "allow"),
    ("disable_key.json", "no_action", "no_action"),  # the key is not Disabled: never trust the event alone
])
def test_the_sample_events_run_through_the_handler(start_cloud, name, status, decision):
    cloud = start_cloud(make_account(key_state="PendingDeletion"))
    inv = cloud.fc.invoke("key-guard", (ROOT / "events" / name).read_bytes())
    assert inv.ok, inv.error
    [result] = inv.result["results"]
    assert (result["status"], result["decision"]) == (status, decision)


KEY_ID_100K = "a" * 100_000


def test_a_huge_key_id_is_rejected_before_any_call(start_cloud):
    """A 100,000-character KeyId makes every API call carrying it answer HTTP 414 (URI too long), which the SDK
    raises as an UnretryableException, taken for a transient failure: FC would retry the event forever."""
    cloud = start_cloud(make_account())
    invocation = cloud.fc.invoke("key-guard", event_with(data__requestParameters={"KeyId": KEY_ID_100K}))

    assert invocation.ok, invocation.error
    [result] = invocation.result["results"]
    assert result["status"] == "rejected" and "KeyId" in result["reason"] and len(result["reason"]) < 1_000
    [record] = decision_records(cloud)
    assert record["status"] == "rejected" and KEY_ID_100K not in json.dumps(record)
    assert not any(api.startswith(("kms:", "oss:")) for api in cloud.calls.snapshot())
    assert not any(api.startswith("kms:") for api in record.get("apiCalls") or {})


@pytest.mark.parametrize("payload", [
    b"1" * 5_000,  # more digits than int() converts: json.loads raises a bare ValueError
    (ROOT / "events" / "schedule_key_deletion.json").read_bytes().replace(b'"eventVersion": 1',
                                                                          b'"eventVersion": ' + b"7" * 5_000),
])
def test_a_number_too_long_to_read_is_a_malformed_event(start_cloud, payload):
    cloud = start_cloud(make_account())
    invocation = cloud.fc.invoke("key-guard", payload)
    assert invocation.ok, invocation.error
    [result] = invocation.result["results"]
    assert result["status"] == "rejected" and "malformed event" in result["reason"]
    assert decision_records(cloud)[0]["status"] == "rejected"


# Needs guard.py to reject on CloudEvent.problems() (shared/events.py), whose messages name the field.
@pytest.mark.parametrize("changes, field", [
    ({"data__requestParameters": {"KeyId": KEY_ID_100K}}, "requestParameters.KeyId"),
    ({"data__requestParameters": {"KeyId": f"acs:kms:cn-hangzhou:1234567890123456:key/{'b' * 5_000}"}},
     "requestParameters.KeyId"),
    ({"data__requestParameters": {"KeyId": "not a key id"}}, "requestParameters.KeyId"),
    ({"data__requestParameters": {"KeyId": 12345}}, "requestParameters.KeyId"),
    ({"data__acsRegion": "r" * 100_000}, "acsRegion"),
    ({"data__acsRegion": None, "aliyunregionid": "cn-hangzhou\r\nX-Injected: 1"}, "aliyunregionid"),
])
def test_an_impossible_identifier_is_rejected_naming_its_field(start_cloud, changes, field):
    cloud = start_cloud(make_account())
    invocation = cloud.fc.invoke("key-guard", event_with(**changes))
    assert invocation.ok, invocation.error
    [result] = invocation.result["results"]
    assert result["status"] == "rejected" and field in result["reason"], result
    assert len(result["reason"]) < 1_000
    assert decision_records(cloud)[0]["status"] == "rejected"
    assert not any(api.startswith(("kms:", "oss:")) for api in cloud.calls.snapshot())


# ---------------------------------------------------------------- the rejection's alert

SHANGHAI = "cn-shanghai"
UNKNOWN_KEY = "9f9f9f9f-0000-4000-8000-000000000000"


def event_for_an_unknown_key_in(region: str) -> dict:
    event = copy.deepcopy(json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text()))
    event["aliyunregionid"] = event["data"]["acsRegion"] = region
    event["data"]["eventSource"] = f"kms.{region}.aliyuncs.com"
    event["data"]["requestParameters"]["KeyId"] = UNKNOWN_KEY
    event["subject"] = f"acs:kms:{region}:{event['aliyunaccountid']}:key/{UNKNOWN_KEY}"
    event["aliyunaccountid"] = event["aliyunoriginalaccountid"] = event["data"]["userIdentity"]["accountId"] = ACCOUNT_ID
    return event


def guard(cloud, home: str, **env_vars) -> KeyGuard:
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": home, **env_vars}
    env.pop("ALIBABA_CLOUD_REGION_ID", None)
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))


def rejection_alerts(cloud) -> list[tuple[str, str]]:
    return [(e.Name, e.RegionId) for e in cloud.account.cms.events]


def test_a_rejection_from_another_region_is_alerted_in_the_guards_own_region(start_cloud):
    cloud = start_cloud(two_region_account())

    [result] = guard(cloud, home=REGION).handle(event_for_an_unknown_key_in(SHANGHAI), "inv-1")["results"]

    assert result["status"] == "rejected" and UNKNOWN_KEY in result["reason"]
    assert rejection_alerts(cloud) == [("KmsKeyGuardEventRejected", REGION)]


def test_a_rejection_naming_a_key_alerts_with_that_key_and_in_the_guards_alert_group(start_cloud):
    cloud = start_cloud(two_region_account())

    [result] = guard(cloud, home=REGION, ALERT_GROUP_ID="4242").handle(event_for_an_unknown_key_in(SHANGHAI), "inv-1")["results"]

    [event] = cloud.account.cms.events
    assert event.GroupId == "4242"
    assert json.loads(event.Content) == {
        "severity": "WARN", "keyId": UNKNOWN_KEY, "region": SHANGHAI, "account": ACCOUNT_ID,
        "mutation": "ScheduleKeyDeletion", "caller": "ram-user alice (uid 2034567890123456, AK LTAI****)",
        "eventId": "7d3c1e52-9a4b-4f61-8e2d-5b0a6c9f1e34", "decision": "rejected", "action": "none",
        "actionResult": "nothing done; the daily safety net re-decides every key pending deletion",
        "dependents": {}, "auditIncomplete": [], "reasons": [result["reason"]],
    }


def test_a_guard_with_no_region_of_its_own_alerts_a_rejection_in_the_events_region(start_cloud):
    cloud = start_cloud(two_region_account())

    [result] = guard(cloud, home="").handle(event_for_an_unknown_key_in(SHANGHAI), "inv-1")["results"]

    assert result["status"] == "rejected"
    assert rejection_alerts(cloud) == [("KmsKeyGuardEventRejected", SHANGHAI)]


def test_a_guard_with_no_region_at_all_records_that_an_unreadable_payloads_alert_had_nowhere_to_go(start_cloud):
    cloud = start_cloud(two_region_account())

    [result] = guard(cloud, home="").handle(b"{not json", "inv-1")["results"]

    assert result["status"] == "rejected"
    assert result["alertError"] == "KmsKeyGuardEventRejected not raised: no client for the home region"
    assert rejection_alerts(cloud) == []


# ---------------------------------------------------------------- a decision's alert


def test_a_deletion_blocked_in_another_region_is_alerted_in_the_guards_region_and_alert_group(start_cloud):
    # The operator's CloudMonitor alert rules live in the guard's own region: every alert goes there, whichever
    # region the key is in, and to the alert group the guard is configured with.
    cloud = start_cloud(two_region_account())
    with cloud.account.lock:
        key = next(k for k in cloud.account.kms.keys if k.KeyId == SHANGHAI_KEY)
        key.KeyState, key.DeleteDate = "PendingDeletion", "2099-01-01T00:00:00Z"
    event = event_for_an_unknown_key_in(SHANGHAI)
    event["data"]["requestParameters"]["KeyId"] = SHANGHAI_KEY

    [result] = guard(cloud, home=REGION, ALERT_GROUP_ID="4242").handle(event, "inv-1")["results"]

    assert result["status"] == "acted" and result["alert"] == "KmsKeyDeletionBlocked" and result["region"] == SHANGHAI
    assert [(e.Name, e.RegionId, e.GroupId) for e in cloud.account.cms.events] == [("KmsKeyDeletionBlocked", REGION, "4242")]


def test_an_alert_for_an_event_naming_the_key_by_its_alias_names_both(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], key_state="PendingDeletion"))
    invocation = cloud.fc.invoke("key-guard", event_with(data__requestParameters={"KeyId": "alias/payments", "PendingWindowInDays": "7"}))

    assert invocation.ok, invocation.error
    [alert] = alerts(cloud)
    assert (alert["Name"], alert["keyId"], alert["keyRef"]) == ("KmsKeyDeletionBlocked", KEY, "alias/payments")
    # The record too: the key by its id (an alias can be moved to another key later), and the alias the event named.
    [record] = decision_records(cloud)
    assert (record["keyId"], record["keyRef"]) == (KEY, "alias/payments")


# An event naming no region, delivered to a guard with no region of its own: nowhere to raise the rejection's alert,
# so the record is the only account of why the event went undecided.
def _event_with_no_region() -> bytes:
    event = copy.deepcopy(json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text()))
    event.pop("aliyunregionid", None)
    event["data"].pop("acsRegion", None)
    event["aliyunaccountid"] = event["aliyunoriginalaccountid"] = event["data"]["userIdentity"]["accountId"] = ACCOUNT_ID
    return json.dumps(event).encode()


def test_an_event_naming_no_region_to_a_guard_with_none_is_rejected_with_the_reason_said(start_cloud):
    cloud = start_cloud(two_region_account())
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": ""}
    env.pop("ALIBABA_CLOUD_REGION_ID", None)
    guard = KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))

    [result] = guard.handle(_event_with_no_region(), "inv-1")["results"]

    assert result["status"] == "rejected"
    assert result["reason"] == "event names region '', which is not an Alibaba Cloud region id"
