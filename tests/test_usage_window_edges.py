"""The edges of the usage window (shared/audit/scanners/kms_usage.py): with no event time to anchor it, the window
is the `usage_window_days` before the audit, both ends included, to the second. A call made exactly that long
ago counts (LookupEvents), and so does a call logged in the very second the audit runs (the trail logstore,
whose GetLogs range ends one second past the window's end, since SLS's `to` is exclusive).

Event times are whole seconds and the window ends at the wall clock, so each test runs the audit right after
a second begins and checks that it ended within that second; a run that did not (a very slow machine) is
tried again, and after a few such runs the test is skipped: it proves nothing either way, and a failure there
would count as a kill of whatever mutant was under test. Official SDKs against the local cloud."""
from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from tests.conftest import ACCOUNT_ID, KEY, REGION, make_account
from tests.scanner_kit import clients

PROJECT = f"acs:log:{REGION}:{ACCOUNT_ID}:project/audit-logs"
LOGSTORE = "actiontrail_audit-trail"
ATTEMPTS = 5


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def call(when: datetime, user: str, *, in_request_only: bool = False) -> dict:
    """A Decrypt naming the key, by the RAM user `user`; `in_request_only`: no referencedResources, so only the
    trail logstore's full-text query on the key id finds it."""
    return {
        "eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
        "eventRW": "Read", "eventName": "Decrypt", "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
        "eventTime": iso(when), "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": "10.0.0.5", "userAgent": "app/1.0",
        "requestParameters": {"KeyId": KEY},
        "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "accessKeyId": "LTAI5tWindowEdge000001", "userName": user,
                         "principalId": str(int(hashlib.sha256(user.encode()).hexdigest(), 16) % 10**16).zfill(16)},
        "referencedResources": {} if in_request_only else {"ACS::KMS::Key": [KEY]},
        "isGlobal": False, "errorCode": "", "errorMessage": "",
    }


def callers_seen_within_one_second(cloud, event_at, **target) -> tuple[str, set[str]] | None:
    """Record a call made at `event_at(second the audit starts in)` by a new user, audit at once, and return
    (that user, the callers found); None if the audit did not end in the second it started in."""
    time.sleep(1.02 - datetime.now(timezone.utc).microsecond / 1e6)  # just after a second begins
    second = now()
    user = f"app-{uuid.uuid4().hex[:8]}"
    event = event_at(second, user)
    with cloud.account.lock:
        cloud.account.actiontrail.events.append(event)
    audit_target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION,
                               account_id=ACCOUNT_ID, kms_instance_id="", **target)
    [result] = run_audit(audit_target, clients(cloud), scanners=(KmsUsageScanner(),)).results
    if now() != second:
        return None
    assert result.complete, result.reason
    return user, {d.resource_id for d in result.dependents}


def test_a_call_made_exactly_the_window_length_before_the_audit_counts(start_cloud):
    cloud = start_cloud(make_account())
    for _ in range(ATTEMPTS):
        seen = callers_seen_within_one_second(cloud, lambda second, user: call(second - timedelta(days=30), user))
        if seen is not None:
            user, found = seen
            assert f"ram-user:{user}" in found
            return
    pytest.skip(f"no audit ended within the second it started in, in {ATTEMPTS} attempts: nothing to conclude")


def test_a_call_logged_in_the_second_the_audit_runs_is_seen_in_the_trail_logstore(start_cloud):
    t = now()
    trail = {"Name": "audit-trail", "HomeRegion": REGION, "EventRW": "All", "Status": "Enable", "TrailRegion": "All",
             "SlsProjectArn": PROJECT, "SlsWriteRoleArn": f"acs:ram::{ACCOUNT_ID}:role/aliyunserviceroleforactiontrail",
             "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    cloud = start_cloud(make_account(actiontrail={"events": [], "trails": [trail]}))
    for _ in range(ATTEMPTS):
        seen = callers_seen_within_one_second(cloud, lambda second, user: call(second, user, in_request_only=True),
                                              trail_project=PROJECT, trail_logstore=LOGSTORE)
        if seen is not None:
            user, found = seen
            assert f"ram-user:{user}" in found
            return
    pytest.skip(f"no audit ended within the second it started in, in {ATTEMPTS} attempts: nothing to conclude")
