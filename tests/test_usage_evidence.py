"""Usage evidence (shared/audit/scanners/kms_usage.py): crypto calls naming the key, per caller, from
ActionTrail LookupEvents and a trail's SLS logstore, against the local cloud over HTTP; and through
key-guard, where a key used in the window is not deleted even with no resource on it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.clients import Clients, Credentials
from shared.config import GuardConfig
from shared.guard import KeyGuard
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, ROOT, make_account
from tests.support.clients import alice_kms, key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import TRAIL, crypto_event, iso
from tests.support.scanners import clients as sdk_clients, now, scan_usage as scan

SAMPLES = Path(__file__).parent / "contract" / "samples" / "actiontrail"
PARTNER = "9876543210987654"


def usage_events() -> list[dict]:
    t = now()
    return [
        *(crypto_event("Decrypt", when=t - timedelta(days=d)) for d in (1, 2, 3)),
        crypto_event("Decrypt", when=t - timedelta(days=4), ip="10.0.0.6"),
        *(crypto_event("GenerateDataKey", when=t - timedelta(days=d)) for d in (5, 10)),
        crypto_event("Decrypt", when=t - timedelta(days=6), user="etl-role:job-7", identity="assumed-role", account=PARTNER,
                     ip="47.100.1.2", agent="etl/0.9", access_key="STS.NTestPartnerToken0001"),
        crypto_event("Decrypt", when=t - timedelta(days=2), user="intruder", error="Forbidden.NoPermission",
                     access_key="LTAI5tIntruder000000001"),
        crypto_event("Decrypt", when=t - timedelta(days=40), user="old-app"),  # outside a 30-day window
        crypto_event("Decrypt", when=t - timedelta(days=1), key=OTHER_KEY, user="other-app"),  # another key
        crypto_event("DescribeKey", when=t - timedelta(days=1), user="admin"),  # not a crypto call
    ]


def test_scanner_names_each_caller_with_counts_first_and_last_use(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": usage_events()}))
    found, clients = scan(cloud)

    assert set(found) == {"ram-user:billing-app", f"assumed-role:etl-role:job-7@{PARTNER}", "ram-user:intruder"}
    app = found["ram-user:billing-app"]
    assert (app.service, app.resource_type, app.state, app.region) == ("KMS usage", "ACS::RAM::Principal", "live", REGION)
    assert app.usage == "Decrypt×4, GenerateDataKey×2 in the last 30 days"
    t = now()
    assert app.detail["first_use"][:10] == iso(t - timedelta(days=10))[:10]
    assert app.detail["last_use"][:10] == iso(t - timedelta(days=1))[:10]
    assert app.detail["calls"] == "6" and app.detail["source_ip"] == "10.0.0.5, 10.0.0.6"
    assert app.detail["user_agent"] == "billing/2.1" and app.detail["cross_account"] == "false"
    assert app.detail["access_keys"] == "LTAI****" and app.detail["account"] == ACCOUNT_ID
    intruder = found["ram-user:intruder"]
    assert intruder.usage == "Decrypt×1 in the last 30 days (1 failed: Forbidden.NoPermission)"
    assert clients.calls.counts == {"actiontrail:LookupEvents": 1}  # a quiet key: one query holds all its events
    # Nothing secret: AccessKey ids are masked, request parameters are never copied.
    text = json.dumps([d.model_dump() for d in found.values()])
    assert "LTAI5t" not in text and "STS.NTest" not in text and "CiphertextBlob" not in text


def test_a_caller_from_another_account_is_flagged_cross_account(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": usage_events()}))
    found, _ = scan(cloud)
    partner = found[f"assumed-role:etl-role:job-7@{PARTNER}"]
    assert partner.usage == f"cross-account caller (account {PARTNER}): Decrypt×1 in the last 30 days"
    assert partner.detail["cross_account"] == "true" and partner.detail["account"] == PARTNER
    assert partner.detail["access_keys"] == "STS.****" and partner.detail["source_ip"] == "47.100.1.2"
    assert "only here" in KmsUsageScanner.note and "other accounts" in KmsUsageScanner.note


def test_the_window_is_configurable_and_asked_for_in_one_range(start_cloud):
    cloud = start_cloud(make_account(actiontrail={"events": usage_events()}))
    found, clients = scan(cloud, usage_window_days=60)
    assert "ram-user:old-app" in found and found["ram-user:old-app"].usage == "Decrypt×1 in the last 60 days"
    assert clients.calls.counts == {"actiontrail:LookupEvents": 1}  # 2020-07-06 takes up to 90 days in one range


def test_the_trail_logstore_adds_evidence_and_duplicates_count_once(start_cloud):
    t = now()
    # Encrypt naming the key only in its request (no referencedResources): LookupEvents' ResourceName
    # filter cannot see it, the trail logstore's query on the key id can.
    request_only = {**crypto_event("Encrypt", when=t - timedelta(days=3), user="report-job"), "referencedResources": {}}
    events = [crypto_event("Decrypt", when=t - timedelta(days=d)) for d in (1, 2)] + [request_only]
    trail = {**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    cloud = start_cloud(make_account(actiontrail={"events": events, "trails": [trail]}))
    found, clients = scan(cloud, trail_project=TRAIL["SlsProjectArn"], trail_logstore="actiontrail_audit-trail")

    assert found["ram-user:billing-app"].detail["calls"] == "2"  # both sources saw these two: counted once
    assert found["ram-user:report-job"].usage == "Encrypt×1 in the last 30 days"
    assert "trail logstore" in found["ram-user:report-job"].detail["evidence"]
    assert clients.calls.counts == {"actiontrail:LookupEvents": 1, "sls:GetLogs": 1}


def test_real_sdk_calls_count_only_when_they_are_crypto(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    client.describe_key(kms.DescribeKeyRequest(key_id=KEY))  # recorded by ActionTrail, but not a use of the key
    assert scan(cloud)[0] == {}
    if "Encrypt" not in cloud.products["kms"].handlers:
        pytest.skip("the local KMS does not serve Encrypt/Decrypt yet")
    blob = client.encrypt(kms.EncryptRequest(key_id=KEY, plaintext="aGVsbG8=")).body.ciphertext_blob
    client.decrypt(kms.DecryptRequest(ciphertext_blob=blob))
    [alice] = scan(cloud)[0].values()
    assert alice.resource_id == "ram-user:alice" and alice.usage == "Decrypt×1, Encrypt×1 in the last 30 days"


# ---------------------------------------------------------------- through key-guard


def test_a_key_in_use_with_no_resources_is_not_deleted_and_the_caller_is_named(start_cloud):
    t = now()
    events = [crypto_event("Decrypt", when=t - timedelta(days=d)) for d in (1, 2, 3)]
    cloud = start_cloud(make_account(actiontrail={"events": events}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["dependents"]["KMS usage"]["ids"] == ["ram-user:billing-app"]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True
    assert record["dependents"]["KMS usage"] == ["ram-user:billing-app (live, Decrypt×3 in the last 30 days)"]


def test_usage_of_another_key_or_outside_the_window_lets_the_deletion_proceed(start_cloud):
    t = now()
    events = [crypto_event("Decrypt", when=t - timedelta(days=1), key=OTHER_KEY),
              crypto_event("Decrypt", when=t - timedelta(days=45)),
              crypto_event("DescribeKey", when=t - timedelta(days=1))]
    cloud = start_cloud(make_account(actiontrail={"events": events}))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    assert only_record(cloud)["decision"] == "allow"


def test_lookup_events_access_denied_makes_the_audit_incomplete_and_the_deletion_is_cancelled(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "actiontrail:LookupEvents", "Code": "Forbidden.RAM"}]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [part["part"] for part in alert["auditIncomplete"]] == ["kms_usage"]
    assert "access denied" in alert["auditIncomplete"][0]["reason"] and "Forbidden.RAM" in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["dependentCount"] == 0 and record["decision"] == "block"
    # The record never says "no usage" when the usage could not be read: it says it is incomplete, and why.
    assert record["usageEvidence"] == {"complete": False, "reason": alert["auditIncomplete"][0]["reason"]}


# ---------------------------------------------------------------- contract


def test_contract_lookup_events_sample_names_its_caller(start_cloud):
    sample = json.loads((SAMPLES / "LookupEvents-kms-decrypt.json").read_text())
    [event] = sample["response"]["Events"]
    key_id = event["referencedResources"]["ACS::KMS::Key"][0]
    cloud = start_cloud(make_account())
    cloud.faults.respond("actiontrail:LookupEvents", sample["response"])
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url())
    sample_target = AuditTarget(key_id=key_id, key_arn=f"acs:kms:cn-hangzhou:506899367883****:key/{key_id}", region=REGION,
                                account_id="506899367883****", usage_window_days=(now() - datetime(2021, 8, 1, tzinfo=timezone.utc)).days,
                                kms_instance_id="")

    [dep] = KmsUsageScanner().scan(sample_target, clients)
    assert (dep.resource_id, dep.state, dep.resource_type) == ("root-account:root", "live", "ACS::RAM::Principal")
    assert dep.usage.startswith("Decrypt×1 in the last ") and dep.detail["cross_account"] == "false"
    assert dep.detail["last_use"] == "2021-08-05T09:21:32Z" and dep.detail["source_ip"] == "Internal"
    assert dep.detail["user_agent"] == "AliyunConsole"


# ---------------------------------------------------------------- the window


def test_an_event_time_in_the_future_does_not_move_the_window_past_recent_use(start_cloud):
    # A skewed or forged eventTime a year ahead: a window ending there would hold none of the key's calls.
    t = now()
    cloud = start_cloud(make_account(actiontrail={"events": [crypto_event("Decrypt", when=t - timedelta(days=5))]}))
    found, _ = scan(cloud, as_of=iso(t + timedelta(days=365)))
    assert list(found) == ["ram-user:billing-app"]


def test_the_window_reaches_back_from_the_event(start_cloud):
    # Decided late (a failure destination, hours on): the window is the 30 days before the event.
    t = now()
    event_time = t - timedelta(days=6)
    events = [crypto_event("Decrypt", when=event_time - timedelta(days=29), user="before-the-event"),
              crypto_event("Decrypt", when=event_time - timedelta(days=31), user="too-old")]
    cloud = start_cloud(make_account(actiontrail={"events": events}))
    found, _ = scan(cloud, as_of=iso(event_time))
    assert set(found) == {"ram-user:before-the-event"}


def test_an_event_decided_days_late_is_audited_over_the_window_before_the_event(start_cloud):
    # An event decided late (FC's retries, the failure destination, a replay): the application that decrypted 29
    # days before the deletion was scheduled is a dependent, though its call is now more than 30 days old.
    scheduled = now() - timedelta(days=6)
    cloud = start_cloud(make_account(key_state="PendingDeletion", actiontrail={"events": [
        crypto_event("Decrypt", when=scheduled - timedelta(days=29), user="monthly-report")]}))
    event = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
    event["time"] = event["data"]["eventTime"] = iso(scheduled)

    [result] = guard_with(cloud).handle(event, "inv-late")["results"]

    assert result["decision"] == "block" and key_state(cloud) == "Enabled"
    assert result["dependents"]["KMS usage"] == ["ram-user:monthly-report (live, Decrypt×1 in the last 30 days)"]


def guard_with(cloud, **env_vars) -> KeyGuard:
    """key-guard as the handler builds it from s.yaml's environment, with `env_vars` set as a deployer would."""
    env = {**cloud.project.function("key-guard").environment, "FC_REGION": REGION, **env_vars}
    return KeyGuard(GuardConfig.from_env(env), account_id=ACCOUNT_ID, clients_for=lambda region: sdk_clients(cloud, region))


def schedule_event_now() -> dict:
    event = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
    event["time"] = event["data"]["eventTime"] = iso(now())
    return event


def test_a_configured_trail_logstore_is_read_by_the_guard(start_cloud):
    # The report job's Encrypt names the key only in its request: LookupEvents' ResourceName condition cannot see it,
    # the trail logstore the deployer configured (TRAIL_SLS_PROJECT/LOGSTORE) can, and the deletion is cancelled.
    t = now()
    request_only = {**crypto_event("Encrypt", when=t - timedelta(days=3), user="report-job"), "referencedResources": {}}
    trail = {**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    cloud = start_cloud(make_account(key_state="PendingDeletion", actiontrail={"events": [request_only], "trails": [trail]}))
    guard = guard_with(cloud, TRAIL_SLS_PROJECT=TRAIL["SlsProjectArn"], TRAIL_SLS_LOGSTORE="actiontrail_audit-trail")

    [result] = guard.handle(schedule_event_now(), "inv-1")["results"]

    assert result["decision"] == "block" and key_state(cloud) == "Enabled"
    assert result["dependents"]["KMS usage"] == ["ram-user:report-job (live, Encrypt×1 in the last 30 days)"]


def test_the_configured_usage_window_is_the_guards(start_cloud):
    # USAGE_WINDOW_DAYS=60: a monthly-close job that decrypted 45 days ago still depends on the key.
    cloud = start_cloud(make_account(key_state="PendingDeletion", actiontrail={"events": [
        crypto_event("Decrypt", when=now() - timedelta(days=45), user="month-end-close")]}))

    [result] = guard_with(cloud, USAGE_WINDOW_DAYS="60").handle(schedule_event_now(), "inv-1")["results"]

    assert result["decision"] == "block" and key_state(cloud) == "Enabled"
    assert result["dependents"]["KMS usage"] == ["ram-user:month-end-close (live, Decrypt×1 in the last 60 days)"]
