"""The emulated ActionTrail through the official SDK (alibabacloud_actiontrail20200706): LookupEvents'
window, conditions, paging and errors, DescribeTrails, and a trail's delivery to its SLS logstore
read with the real aliyun-log SDK."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alibabacloud_actiontrail20200706 import models as at
from alibabacloud_actiontrail20200706.client import Client as ActionTrailClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyun.log import GetLogsRequest, ListLogstoresRequest

from localcloud.account import AccountError, Region
from shared.log_client import make_log_client
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import actiontrail_client as client, alice_kms, lookup_events as lookup, sdk_config
from tests.support.resources import TRAIL, crypto_event, iso

NOW = datetime(2030, 1, 1, tzinfo=timezone.utc)
SAMPLES = Path(__file__).parent / "contract" / "samples" / "actiontrail"


def all_events(cloud, *conditions, **kwargs) -> tuple[list[dict], int]:
    events, token, pages = [], None, 0
    while True:
        body = lookup(cloud, *conditions, next_token=token, **kwargs)
        pages += 1
        events += body.events or []
        token = body.next_token
        if not token:
            return events, pages


def test_lookup_events_filters_pages_at_most_50_newest_first(start_cloud):
    mine = [crypto_event(when=NOW - timedelta(minutes=i)) for i in range(120)]
    other_key = [crypto_event(when=NOW - timedelta(minutes=i), key=OTHER_KEY) for i in range(5)]
    not_kms = [{**crypto_event(when=NOW - timedelta(minutes=3)), "serviceName": "Ecs", "eventName": "CreateDisk"}]
    cloud = start_cloud(make_account(actiontrail={"events": mine + other_key + not_kms}), now=iso(NOW))

    events, pages = all_events(cloud, ("ResourceName", KEY), ("ServiceName", "Kms"), max_results="50",
                               start_time=iso(NOW - timedelta(days=1)), end_time=iso(NOW))
    assert pages == 3 and len(events) == 120
    assert [e["eventId"] for e in events] == [e["eventId"] for e in mine]  # newest first, as BACKWARD answers
    forward, _ = all_events(cloud, ("ResourceName", KEY), ("ServiceName", "Kms"), max_results="50", direction="FORWARD",
                            start_time=iso(NOW - timedelta(days=1)), end_time=iso(NOW))
    assert [e["eventId"] for e in forward] == [e["eventId"] for e in reversed(mine)]
    last = lookup(cloud, ("ResourceName", OTHER_KEY), max_results="50", start_time=iso(NOW - timedelta(days=1)), end_time=iso(NOW))
    assert len(last.events) == 5 and last.next_token is None
    assert (last.start_time, last.end_time) == (iso(NOW - timedelta(days=1)), iso(NOW))


def test_lookup_events_window_defaults_to_7_days_and_history_keeps_90(start_cloud):
    days = {d: crypto_event(when=NOW - timedelta(days=d)) for d in (1, 8, 100)}
    cloud = start_cloud(make_account(actiontrail={"events": list(days.values())}), now=iso(NOW))

    default = lookup(cloud, ("ResourceName", KEY))
    assert [e["eventId"] for e in default.events] == [days[1]["eventId"]]
    assert (default.start_time, default.end_time) == (iso(NOW - timedelta(days=7)), iso(NOW))
    wide = lookup(cloud, ("ResourceName", KEY), start_time=iso(NOW - timedelta(days=120)), end_time=iso(NOW))
    assert [e["eventId"] for e in wide.events] == [days[1]["eventId"], days[8]["eventId"]]  # day 100 is gone
    past = lookup(cloud, ("ResourceName", KEY), start_time=iso(NOW - timedelta(days=9)), end_time=iso(NOW - timedelta(days=2)))
    assert [e["eventId"] for e in past.events] == [days[8]["eventId"]]


def test_lookup_attribute_semantics(start_cloud):
    t = NOW - timedelta(hours=1)
    app = crypto_event("Decrypt", when=t)
    bob = crypto_event("GenerateDataKey", when=t, user="bob", ip="192.168.1.9", access_key="LTAI5tBob00000000000001")
    admin = {**crypto_event("ScheduleKeyDeletion", when=t, user="admin", rw="Write"), "eventType": "ConsoleOperation"}
    cloud = start_cloud(make_account(actiontrail={"events": [app, bob, admin]}), now=iso(NOW))

    def ids(*conditions):
        return {e["eventId"] for e in lookup(cloud, *conditions).events}

    assert ids(("EventName", "Decrypt")) == {app["eventId"]}
    assert ids(("ResourceName", KEY), ("User", "bob")) == {bob["eventId"]}  # two conditions: AND
    assert ids(("EventRW", "Write")) == {admin["eventId"]}
    assert ids(("EventAccessKeyId", "LTAI5tBob00000000000001")) == {bob["eventId"]}
    assert ids(("SourceIpAddress", "192.168.1.9")) == {bob["eventId"]}
    assert ids(("EventType", "ConsoleOperation")) == {admin["eventId"]}
    assert ids(("ResourceType", "ACS::KMS::Key")) == {app["eventId"], bob["eventId"], admin["eventId"]}
    assert ids(("EventName", "decrypt")) == set()  # exact and case-sensitive
    assert ids(("User", "admin"), ("User", "bob")) == {bob["eventId"]}  # the same key twice: the second counts
    assert ids(("ServiceName", "Kms"), ("User", "bob"), ("EventName", "Decrypt")) == {bob["eventId"]}  # only the first two


@pytest.mark.parametrize("kwargs, conditions, code", [
    ({"max_results": "51"}, (), "InvalidQueryParameter"),
    ({"max_results": "0"}, (), "InvalidQueryParameter"),
    ({"max_results": "many"}, (), "InvalidQueryParameter"),
    ({"start_time": "2029-12-01 00:00:00"}, (), "InvalidParameterStartTime"),
    ({"end_time": "yesterday"}, (), "InvalidParameterEndTime"),
    ({"start_time": "2029-12-31T00:00:00Z", "end_time": "2029-12-30T00:00:00Z"}, (), "InvalidParameterCombination"),
    ({"direction": "SIDEWAYS"}, (), "InvalidQueryParameter"),
    ({}, (("KeyId", KEY),), "InvalidQueryParameter"),
    ({}, (("User", "bob"), ("EventRW", "Read")), "InvalidQueryParameter"),  # not a documented pair
    ({"next_token": "not-a-token"}, (), "InvalidQueryParameter"),
])
def test_bad_parameters_are_refused_with_the_documented_codes(start_cloud, kwargs, conditions, code):
    cloud = start_cloud(make_account(), now=iso(NOW))
    with pytest.raises(ClientException) as refused:
        lookup(cloud, *conditions, **kwargs)
    assert (refused.value.code, refused.value.status_code) == (code, 400)


def test_a_next_token_only_continues_its_own_query(start_cloud):
    events = [crypto_event(when=NOW - timedelta(minutes=i)) for i in range(3)]
    cloud = start_cloud(make_account(actiontrail={"events": events}), now=iso(NOW))
    first = lookup(cloud, ("ResourceName", KEY), max_results="1")
    assert first.next_token and lookup(cloud, ("ResourceName", KEY), max_results="1", next_token=first.next_token).events == [events[1]]
    with pytest.raises(ClientException) as refused:
        lookup(cloud, ("ResourceName", OTHER_KEY), max_results="1", next_token=first.next_token)
    assert refused.value.code == "InvalidQueryParameter"


def test_lookup_events_is_regional_and_sees_real_kms_calls(start_cloud):
    account = make_account(actiontrail={"events": [crypto_event(when=NOW - timedelta(hours=1), region="cn-shanghai")]})
    account.regions.append(Region(RegionId="cn-shanghai"))
    cloud = start_cloud(account, now=iso(NOW))
    alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY))  # recorded by the local ActionTrail

    [event] = lookup(cloud, ("ResourceName", KEY)).events
    assert event["eventName"] == "DescribeKey" and event["userIdentity"]["userName"] == "alice"
    assert event["referencedResources"] == {"ACS::KMS::Key": [KEY]} and event["acsRegion"] == REGION
    config = sdk_config(cloud)
    config.endpoint, config.region_id = cloud.endpoint("cn-shanghai"), "cn-shanghai"
    shanghai = ActionTrailClient(config)
    [there] = shanghai.lookup_events(at.LookupEventsRequest(lookup_attribute=[
        at.LookupEventsRequestLookupAttribute(key="ResourceName", value=KEY)])).body.events
    assert there["acsRegion"] == "cn-shanghai"


def test_describe_trails_answers_the_account_trails(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"trails": [TRAIL]}), now=iso(NOW))
    [trail] = client(cloud).describe_trails(at.DescribeTrailsRequest()).body.trail_list
    assert (trail.name, trail.sls_project_arn, trail.event_rw, trail.status) == ("audit-trail", TRAIL["SlsProjectArn"], "All", "Enable")
    assert trail.trail_arn == f"acs:actiontrail:{REGION}:{ACCOUNT_ID}:trail/audit-trail"
    assert client(cloud).describe_trails(at.DescribeTrailsRequest(name_list="other-trail")).body.trail_list == []


def test_a_trail_delivers_its_events_to_its_sls_logstore(start_cloud):
    decrypt = crypto_event("Decrypt", when=NOW - timedelta(hours=2))
    schedule = crypto_event("ScheduleKeyDeletion", when=NOW - timedelta(hours=1), rw="Write")
    write_only = {**TRAIL, "Name": "write-trail", "EventRW": "Write", "SlsProjectArn": TRAIL["SlsProjectArn"]}
    cloud = start_cloud(make_account(actiontrail={"events": [decrypt, schedule], "trails": [TRAIL, write_only]}), now=iso(NOW))
    logs = make_log_client(cloud.endpoint(REGION), ALICE_AK, ALICE_SECRET)
    assert sorted(logs.list_logstores(ListLogstoresRequest("audit-logs")).get_logstores()) == ["actiontrail_audit-trail",
                                                                                                 "actiontrail_write-trail"]
    t0, t1 = int((NOW - timedelta(days=1)).timestamp()), int(NOW.timestamp())

    def query(store, q="*"):
        return logs.get_logs(GetLogsRequest("audit-logs", store, t0, t1, query=q)).get_logs()

    everything = query("actiontrail_audit-trail")
    assert [json.loads(log.get_contents()["event"])["eventId"] for log in everything] == [decrypt["eventId"], schedule["eventId"]]
    first = everything[0]
    assert first.get_contents()["owner_id"] == ACCOUNT_ID and first.get_contents()["__topic__"] == "actiontrail_event"
    assert first.get_time() == int(NOW.timestamp()) - 7200
    [found] = query("actiontrail_audit-trail", "event.eventName: Decrypt and event.userIdentity.userName: billing-app")
    assert json.loads(found.get_contents()["event"])["eventId"] == decrypt["eventId"]
    assert len(query("actiontrail_audit-trail", f'"{KEY}" and event.serviceName: Kms')) == 2
    # A Write-only trail (the default) never delivers the Read events crypto calls are.
    assert [json.loads(log.get_contents()["event"])["eventName"] for log in query("actiontrail_write-trail")] == ["ScheduleKeyDeletion"]


def test_account_file_refuses_events_without_id_or_time_and_bad_trails():
    with pytest.raises(AccountError, match="eventTime"):
        make_account(actiontrail={"events": [{"eventId": "e-1", "eventName": "Decrypt"}]})
    with pytest.raises(AccountError, match="SlsProjectArn"):
        make_account(actiontrail={"trails": [{**TRAIL, "SlsProjectArn": "audit-logs"}]})
    with pytest.raises(AccountError, match="SlsProject"):
        make_account(actiontrail={"trails": [{**TRAIL, "SlsProject": "audit-logs"}]})  # not a DescribeTrails field


def test_the_doc_sample_response_reads_through_the_sdk_model(start_cloud):
    sample = json.loads((SAMPLES / "LookupEvents.json").read_text())
    cloud = start_cloud(make_account(), now=iso(NOW))
    cloud.faults.respond("actiontrail:LookupEvents", sample["response"])
    body = lookup(cloud)
    assert body.events == sample["response"]["Events"] and body.next_token == sample["response"]["NextToken"]
    assert (body.start_time, body.end_time) == ("2020-07-15T14:00:00Z", "2020-07-22T14:00:00Z")


def test_bucket_and_logstore_management_calls_are_recorded_but_not_data_events(start_cloud):
    import oss2

    from shared.log_client import make_log_client
    from tests.support.accounts import ALICE_AK, ALICE_SECRET, make_account

    cloud = start_cloud(make_account())
    before = len(cloud.account.actiontrail.events)
    bucket = oss2.Bucket(oss2.Auth(ALICE_AK, ALICE_SECRET), cloud.endpoint_url(), "kms-steward-state")
    bucket.get_bucket_info()
    bucket.put_object("claims/x", b"{}")  # a data event: not a management event
    make_log_client(cloud.endpoint_url(), ALICE_AK, ALICE_SECRET).list_project(0, 10)
    recorded = [(e["serviceName"], e["eventName"], e["eventRW"]) for e in cloud.account.actiontrail.events[before:]]
    assert recorded == [("Oss", "GetBucketInfo", "Read"), ("Sls", "ListProject", "Read")]
    assert cloud.account.actiontrail.events[-2]["requestParameters"] == {"BucketName": "kms-steward-state"}
    assert cloud.account.actiontrail.events[-1]["userIdentity"]["userName"] == "alice"


def test_get_trail_status_says_whether_a_trail_logs_and_when_it_last_delivered(start_cloud):
    decrypt = crypto_event("Decrypt", when=NOW - timedelta(hours=2))
    stopped = {**TRAIL, "Name": "stopped-trail", "Status": "Disable", "StopLoggingTime": "2029-06-01T00:00:00Z"}
    cloud = start_cloud(make_account(actiontrail={"events": [decrypt], "trails": [TRAIL, stopped]}), now=iso(NOW))
    status = client(cloud).get_trail_status(at.GetTrailStatusRequest(name="audit-trail")).body
    assert status.is_logging is True and status.start_logging_time == TRAIL["StartLoggingTime"]
    assert status.latest_delivery_time == str(int((NOW - timedelta(hours=2)).timestamp() * 1000))
    assert status.latest_delivery_error == "" and status.latest_delivery_log_service_time == iso(NOW - timedelta(hours=2))
    off = client(cloud).get_trail_status(at.GetTrailStatusRequest(name="stopped-trail")).body
    assert off.is_logging is False and off.stop_logging_time == "2029-06-01T00:00:00Z"
    with pytest.raises(ClientException) as err:
        client(cloud).get_trail_status(at.GetTrailStatusRequest(name="no-such-trail"))
    assert (err.value.code, err.value.status_code) == ("TrailNotFoundException", 404)
