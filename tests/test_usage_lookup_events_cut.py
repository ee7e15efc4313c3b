"""A key with more crypto calls in ActionTrail than the usage scanner keeps (shared/audit/scanners/kms_usage.py,
MAX_EVENTS, the newest calls per source): the dependent's evidence says the LookupEvents answer was cut to its
newest events, so a reader knows an older caller may be missing from the list (the key counts as used either way).
LookupEvents (ActionTrail 2020-07-06, "LookupEvents",
https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents) is
answered by the local cloud from the recorded events, to the official SDK."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners import kms_usage
from shared.audit.scanners.kms_usage import KmsUsageScanner
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.scanners import clients


TARGET = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                     kms_instance_id="")


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def decrypt(when: datetime) -> dict:
    return {"eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
            "eventRW": "Read", "eventName": "Decrypt", "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
            "eventTime": iso(when), "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": "10.0.1.15", "userAgent": "batch/1.0",
            "requestParameters": {}, "referencedResources": {"ACS::KMS::Key": [KEY]},
            "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": "2049361782650002",
                             "accessKeyId": "LTAI5tBatchJob000000001", "userName": "batch-job"},
            "isGlobal": False, "errorCode": "", "errorMessage": ""}


def test_more_calls_than_the_cap_in_actiontrail_keep_the_newest_and_say_so(start_cloud, monkeypatch):
    monkeypatch.setattr(kms_usage, "MAX_EVENTS", 10)  # 1,000 in production; lowered so the account stays small
    t = datetime.now(timezone.utc).replace(microsecond=0)
    cloud = start_cloud(make_account(actiontrail={"events": [decrypt(t - timedelta(minutes=i + 1)) for i in range(15)]}))

    [result] = run_audit(TARGET, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=20).results

    assert result.complete, result.reason
    [job] = result.dependents
    assert job.usage == "Decrypt×10 in the last 30 days"
    assert job.detail["evidence"] == "ActionTrail LookupEvents (newest 10 events)"
    assert job.detail["last_use"] == iso(t - timedelta(minutes=1)) and job.detail["first_use"] == iso(t - timedelta(minutes=10))


PRINCIPALS = {"web": "2049361782650011", "etl": "2049361782650012", "batch-job": "2049361782650002"}


def crypto_call(name: str, when: datetime, user: str) -> dict:
    return {**decrypt(when), "eventName": name,
            "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": PRINCIPALS[user],
                             "accessKeyId": "LTAI5tBatchJob000000001", "userName": user}}


def test_a_busy_key_keeps_the_newest_calls_across_every_crypto_api_not_the_first_api_s(start_cloud, monkeypatch):
    # A busy key is asked for its crypto calls API by API (Decrypt's answer comes before Encrypt's); the cut keeps
    # the newest calls of all of them together, so the web service that encrypted a minute ago is never pushed
    # out by a batch job's hour of Decrypts. Two calls in the same second, from two APIs, are both kept.
    monkeypatch.setattr(kms_usage, "MAX_EVENTS", 10)
    monkeypatch.setattr(kms_usage, "QUIET_PAGES", 1)  # over 50 KMS events: busy (200 in production)
    t = datetime.now(timezone.utc).replace(microsecond=0)
    events = ([crypto_call("Encrypt", t - timedelta(minutes=m), "web") for m in (1, 2, 3)]
              + [crypto_call("GenerateDataKey", t - timedelta(minutes=m), "etl") for m in (10, 11)]
              + [crypto_call("Decrypt", t - timedelta(minutes=m), "batch-job") for m in range(10, 65)])
    cloud = start_cloud(make_account(actiontrail={"events": events}))

    [result] = run_audit(TARGET, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=20).results

    assert result.complete, result.reason
    assert sorted(d.usage for d in result.dependents) == ["Decrypt×5 in the last 30 days", "Encrypt×3 in the last 30 days",
                                                          "GenerateDataKey×2 in the last 30 days"]


def test_a_call_two_sources_both_answer_is_kept_once_and_the_older_calls_after_it_still_count():
    t = datetime.now(timezone.utc).replace(microsecond=0)
    shared, older = crypto_call("Decrypt", t - timedelta(minutes=1), "web"), crypto_call("Decrypt", t - timedelta(minutes=5), "etl")

    kept, cut = kms_usage._newest_uses([iter([shared, older]), iter([shared])], kms_usage.key_subject(TARGET), t - timedelta(days=30), t)

    assert [e["eventId"] for e in kept] == [shared["eventId"], older["eventId"]] and not cut


def test_a_call_outside_the_window_at_the_head_of_a_source_does_not_hide_the_calls_after_it():
    # A trail logstore is queried by the time each log arrived, which can trail the call's own eventTime: a call
    # made just after the window's end (the deletion) can head the answer. It is skipped, and the calls after it count.
    t = datetime.now(timezone.utc).replace(microsecond=0)
    after_end, inside = crypto_call("Decrypt", t + timedelta(seconds=30), "web"), crypto_call("Decrypt", t - timedelta(minutes=5), "etl")

    kept, _ = kms_usage._newest_uses([iter([after_end, inside])], kms_usage.key_subject(TARGET), t - timedelta(days=30), t)

    assert [e["eventId"] for e in kept] == [inside["eventId"]]


def one_encrypt_among_reads(start_cloud, reads: int):
    """The usage scanner's result, and the clients it used, for a key encrypted with once (3 days ago, by "web") and
    read `reads` times (DescribeKey, a second apart, in the last minutes)."""
    t = datetime.now(timezone.utc).replace(microsecond=0)
    described = [{**crypto_call("DescribeKey", t - timedelta(minutes=1, seconds=s), "batch-job"), "requestParameters": {"KeyId": KEY}}
                 for s in range(reads)]
    cloud = start_cloud(make_account(actiontrail={"events": [crypto_call("Encrypt", t - timedelta(days=3), "web"), *described]}))
    sdk = clients(cloud)
    [result] = run_audit(TARGET, sdk, scanners=(KmsUsageScanner(),), deadline_s=20).results
    return result, sdk


def test_a_key_read_a_thousand_times_costs_the_same_few_queries_as_one_read_a_few_hundred(start_cloud):
    # The quiet query (every KMS event of the key) stops after QUIET_PAGES pages: past that, the key's crypto calls are
    # asked for by name, so its reads (DescribeKey, ListResourceTags...) never cost a page each, at ActionTrail's 2 calls
    # a second, and never push the audit past its deadline.
    result, sdk = one_encrypt_among_reads(start_cloud, 1000)

    assert [d.usage for d in result.dependents] == ["Encrypt×1 in the last 30 days"]
    assert sdk.calls.counts["actiontrail:LookupEvents"] == kms_usage.QUIET_PAGES + len(kms_usage.CRYPTO_EVENT_NAMES) == 4 + 13


def test_the_window_is_asked_in_utc_whatever_the_machine_s_time_zone(start_cloud, monkeypatch):
    # An operator's laptop 14 hours ahead of UTC runs the pre-flight: a call 29 days and 20 hours ago is in the window.
    monkeypatch.setenv("TZ", "Etc/GMT-14")
    time.tzset()
    try:
        t = datetime.now(timezone.utc).replace(microsecond=0)
        cloud = start_cloud(make_account(actiontrail={"events": [crypto_call("Decrypt", t - timedelta(days=29, hours=20), "etl")]}))
        [result] = run_audit(TARGET, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=20).results
    finally:  # the machine's own zone back, for the tests after this one
        monkeypatch.undo()
        time.tzset()

    assert [d.resource_id for d in result.dependents] == ["ram-user:etl"]


def test_a_key_whose_events_fill_the_quiet_pages_exactly_is_read_in_those_pages_alone(start_cloud):
    # 181 KMS events: four pages of LookupEvents' 50 (its maximum), newest first, each page asking for the next by
    # its NextToken. That is still a quiet key: one query, four calls, no per-API queries after it.
    result, sdk = one_encrypt_among_reads(start_cloud, 180)

    assert result.complete, result.reason
    assert [d.usage for d in result.dependents] == ["Encrypt×1 in the last 30 days"]
    assert sdk.calls.counts["actiontrail:LookupEvents"] == kms_usage.QUIET_PAGES == 4


def test_lookup_events_answering_the_same_next_token_again_is_an_unreadable_source_at_the_second_page(start_cloud):
    # A server handing back the token it was given would page forever: the second sight of it ends the listing, and
    # the audit says so (incomplete: a deletion is cancelled), rather than waiting for its deadline.
    t = datetime.now(timezone.utc).replace(microsecond=0)
    cloud = start_cloud(make_account())
    cloud.faults.respond("actiontrail:LookupEvents", {"Events": [crypto_call("Decrypt", t - timedelta(days=1), "web")],
                                                      "NextToken": "c2FtZQ==", "RequestId": "4D8C1A7E-1B0F-4C7E-9E55-0A3C3E2B7D11"})
    sdk = clients(cloud)

    [result] = run_audit(TARGET, sdk, scanners=(KmsUsageScanner(),), deadline_s=20).results

    assert not result.complete and result.reason.endswith(": LookupEvents returned the same NextToken twice"), result.reason
    assert sdk.calls.counts["actiontrail:LookupEvents"] == 2
