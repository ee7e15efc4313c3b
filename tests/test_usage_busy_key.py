"""A busy key never hides the application that decrypts with it.

A key read often (DescribeKey, ListResourceTags... by monitoring) has thousands of ActionTrail events
that are not uses. The usage evidence (shared/audit/scanners/kms_usage.py) must still find the one
Decrypt an application made days before: the cap on the evidence counts crypto calls naming the key,
never reads, and the scan either searches the whole window or raises (incomplete, which the guard
treats as "may have dependents"). Against the local cloud over HTTP, and end to end through key-guard.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from shared.audit.scanners.kms_usage import CRYPTO_EVENT_NAMES, MAX_EVENTS, PAGE_SIZE, QUIET_PAGES, QUIET_SLS_PAGES
from shared.usage import parse_utc
from tests.support.accounts import KEY, make_account
from tests.support.clients import key_state, lookup_events as lookup
from tests.support.guard import only_record, schedule_deletion
from tests.support.resources import TRAIL, crypto_event, iso
from tests.support.scanners import now, scan_usage as scan

READS = 3000
# The client paces LookupEvents to its published quota, 2 calls a second (shared/quotas.py); the local
# cloud enforces no quota, so the tests lift the client's pacing to run in seconds. What is asked, and
# how often, is asserted on the call counts instead.
FAST = {"AUDIT_QPS": "actiontrail:LookupEvents=1000"}


@pytest.fixture(autouse=True)
def _fast_pacing(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


def busy_key_events(*, reads: int = READS, named_in_request_only: bool = False) -> list[dict]:
    """`reads` reads of the key by monitoring tools, all newer than one Decrypt by payments-api five days ago
    (an Encrypt naming the key only in its request, when `named_in_request_only`)."""
    t = now()
    use = crypto_event("Decrypt", when=t - timedelta(days=5), user="payments-api", ip="10.0.1.15", agent="payments/3.2",
                       access_key="LTAI5tPaymentsApi000001")
    if named_in_request_only:
        # No referencedResources: LookupEvents' ResourceName cannot see it, the trail logstore's query on the key id can.
        use = {**crypto_event("Encrypt", when=t - timedelta(days=5), user="payments-api", ip="10.0.1.15",
                              agent="payments/3.2"), "referencedResources": {}}
    return [use] + [crypto_event(("DescribeKey", "ListResourceTags")[i % 2], when=t - timedelta(minutes=i + 1),
                                 user="monitoring", agent="cloudmonitor-agent/1.4", ip="10.0.9.9") for i in range(reads)]


def test_thousands_of_reads_never_hide_the_application_that_decrypted_days_ago(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": busy_key_events()}))
    found, clients = scan(cloud)

    assert set(found) == {"ram-user:payments-api"}  # the reads are not uses, and they hide nothing
    app = found["ram-user:payments-api"]
    assert (app.state, app.usage) == ("live", "Decrypt×1 in the last 30 days")
    assert app.detail["last_use"][:10] == iso(now() - timedelta(days=5))[:10] and app.detail["source_ip"] == "10.0.1.15"
    assert app.detail["evidence"] == "ActionTrail LookupEvents"  # the whole window was searched: nothing was cut
    # Efficient: the quiet-key query gives up after QUIET_PAGES pages of reads, then one query per crypto API
    # (ResourceName + EventName), none of them ever answering a read.
    assert clients.calls.counts == {"actiontrail:LookupEvents": QUIET_PAGES + len(CRYPTO_EVENT_NAMES)}


def test_a_busy_key_scheduled_for_deletion_is_cancelled_and_the_application_named(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": busy_key_events()}), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"  # the deletion was cancelled
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True
    assert record["dependents"]["KMS usage"] == ["ram-user:payments-api (live, Decrypt×1 in the last 30 days)"]


def test_the_trail_logstore_is_not_filled_by_reads_either(start_cloud):
    trail = {**TRAIL, "StartLoggingTime": iso(now() - timedelta(days=60)), "CreateTime": iso(now() - timedelta(days=60))}
    # More reads than the 1,000 lines that used to be read (the local logstore is slow to query, so not 3,000).
    events = busy_key_events(reads=MAX_EVENTS + 200, named_in_request_only=True)
    cloud = start_cloud(make_account(actiontrail={"events": events, "trails": [trail]}))
    found, clients = scan(cloud, trail_project=TRAIL["SlsProjectArn"], trail_logstore="actiontrail_audit-trail")

    app = found["ram-user:payments-api"]
    assert app.usage == "Encrypt×1 in the last 30 days"
    assert app.detail["evidence"] == "ActionTrail LookupEvents; trail logstore " \
                                     f"{TRAIL['SlsProjectArn']}/actiontrail_audit-trail"  # nothing cut in either source
    assert clients.calls.counts == {"actiontrail:LookupEvents": QUIET_PAGES + len(CRYPTO_EVENT_NAMES),
                                    "sls:GetLogs": QUIET_SLS_PAGES + len(CRYPTO_EVENT_NAMES)}


def test_more_crypto_calls_than_the_cap_keep_the_newest_and_say_so(start_cloud):
    t = now()
    batch = [crypto_event("Decrypt", when=t - timedelta(minutes=i + 1), user="batch-job") for i in range(MAX_EVENTS + 50)]
    early = crypto_event("GenerateDataKey", when=t - timedelta(days=20), user="monthly-report")
    reads = [crypto_event("DescribeKey", when=t - timedelta(seconds=i + 1), user="monitoring") for i in range(50)]
    trail = {**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    cloud = start_cloud(make_account(actiontrail={"events": batch + [early] + reads, "trails": [trail]}))
    found, clients = scan(cloud, trail_project=TRAIL["SlsProjectArn"], trail_logstore="actiontrail_audit-trail")

    # The cut keeps the newest crypto calls (the reads, newer still, take no place in it): the early
    # caller is past it, and the dependent says the evidence was cut.
    assert set(found) == {"ram-user:batch-job"}
    job = found["ram-user:batch-job"]
    assert job.detail["calls"] == str(MAX_EVENTS) and job.usage == f"Decrypt×{MAX_EVENTS} in the last 30 days"
    assert job.detail["evidence"] == (f"ActionTrail LookupEvents (newest {MAX_EVENTS} events); trail logstore "
                                      f"{TRAIL['SlsProjectArn']}/actiontrail_audit-trail (newest {MAX_EVENTS} events)")
    # Pages are fetched only as the cut needs them: QUIET_PAGES to learn the key is busy, then the Decrypt
    # calls' first MAX_EVENTS and one page more, to learn there were more; one page for every other crypto API.
    assert clients.calls.counts["actiontrail:LookupEvents"] == \
        QUIET_PAGES + MAX_EVENTS // PAGE_SIZE + 1 + len(CRYPTO_EVENT_NAMES) - 1


def test_a_failure_part_way_makes_the_scan_raise_instead_of_answering_what_it_saw(start_cloud):
    # Only the Encrypt query fails; the Decrypt one would have found payments-api. A partial answer
    # must not pass for a complete one: the scanner raises, and the audit is incomplete.
    cloud = start_cloud(make_account(actiontrail={"events": busy_key_events()},
                                     faults=[{"Api": "actiontrail:LookupEvents", "Code": "Forbidden.RAM",
                                              "Params": {"LookupAttribute.2.Value": "Encrypt"}}]))
    with pytest.raises(ClientException) as raised:
        scan(cloud)
    assert raised.value.code == "Forbidden.RAM"


# ---------------------------------------------------------------- the local cloud keeps to the docs


def test_local_lookup_events_answers_the_pair_the_scanner_uses_and_refuses_the_rest(start_cloud):
    t = now()
    events = busy_key_events()[:3]  # the Decrypt and two reads
    cloud = start_cloud(make_account(actiontrail={"events": events}), now=iso(t))
    window = {"start_time": iso(t - timedelta(days=30)), "end_time": iso(t)}

    # ResourceName + EventName (a documented pair), no EventRW condition: the Decrypt, a Read event, is answered.
    [decrypt] = lookup(cloud, ("ResourceName", KEY), ("EventName", "Decrypt"), **window).events
    assert decrypt["eventId"] == events[0]["eventId"] and decrypt["eventRW"] == "Read"
    assert lookup(cloud, ("ResourceName", KEY), ("EventName", "decrypt"), **window).events == []  # exact, case-sensitive
    assert {e["eventName"] for e in lookup(cloud, ("ServiceName", "Kms"), ("EventRW", "Read"), **window).events} \
        == {"Decrypt", "DescribeKey", "ListResourceTags"}
    # No pair holds a key id and a read/write type: the local cloud refuses it as it refuses every undocumented pair.
    with pytest.raises(ClientException) as refused:
        lookup(cloud, ("ResourceName", KEY), ("EventRW", "Read"), **window)
    assert (refused.value.code, refused.value.status_code) == ("InvalidQueryParameter", 400)


def test_the_scanner_asks_each_crypto_api_newest_first_over_the_whole_window(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": busy_key_events()}))
    scan(cloud, usage_window_days=90)

    # What the scanner asked, as the local cloud recorded its calls in ActionTrail.
    asked = [e["requestParameters"] for e in cloud.account.actiontrail.events if e["eventName"] == "LookupEvents"]
    conditions = [{p[f"LookupAttribute.{n}.Key"]: p[f"LookupAttribute.{n}.Value"] for n in (1, 2)} for p in asked]
    assert conditions == [{"ResourceName": KEY, "ServiceName": "Kms"}] * QUIET_PAGES \
        + [{"ResourceName": KEY, "EventName": name} for name in CRYPTO_EVENT_NAMES]
    # MaxResults recorded as the number it is ("numbers where the service puts numbers", localcloud/actiontrail.py).
    assert {(p["Direction"], p["MaxResults"]) for p in asked} == {("BACKWARD", 50)}
    [(start, end)] = {(p["StartTime"], p["EndTime"]) for p in asked}  # one 90-day range, not 30-day spans
    assert iso(parse_utc(end) - timedelta(days=90)) == start
