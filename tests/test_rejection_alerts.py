"""A rejection's alert (KmsKeyGuardEventRejected), where it is raised and what it holds. It is what tells a person
that a mutation went undecided, so one raised where no rule watches is as good as lost: it goes to the guard's own
region (FC_REGION), where its alert rules live, even for an event from another region, in the guard's alert group;
a guard run with no region of its own raises it in the event's region, or, with no region to raise it in at all,
says so in the record. The guard runs in-process against the local cloud, through the official SDKs."""
from __future__ import annotations

import copy
import json

from shared.config import GuardConfig
from shared.guard import KeyGuard
from tests.support.accounts import ACCOUNT_ID, REGION, ROOT, two_region_account
from tests.support.scanners import clients

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
