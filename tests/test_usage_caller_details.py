"""What the usage evidence says of each caller of the key (shared/audit/scanners/kms_usage.py, _dependent): the
dependent key-guard records and the pre-flight report lists (its JSON carries every detail field; its table shows
account, source IP, first and last use), so each field must be there, under its name, only when there is
something to say. ActionTrail LookupEvents through the official SDK, against the local cloud."""
from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta, timezone

from shared.audit.model import Dependent
from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from tests.conftest import ACCOUNT_ID, KEY, REGION, make_account
from tests.scanner_kit import clients


def now() -> datetime:
    # The scanner's window ends at the wall clock, so the local cloud runs on it too.
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def principal_id(user: str) -> str:
    return str(int(hashlib.sha256(f"{ACCOUNT_ID}/{user}".encode()).hexdigest(), 16) % 10**16).zfill(16)


def call(name: str, when: datetime | None, *, user: str, access_key: str = "LTAI5tCallerDetail0001", error: str = "") -> dict:
    """An ActionTrail record of a crypto call on the key by the RAM user `user` (no eventTime when `when` is None)."""
    record = {
        "eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
        "eventRW": "Read", "eventName": name, "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
        "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": "10.0.0.5", "userAgent": "billing/2.1",
        "requestParameters": {"KeyId": KEY},
        "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": principal_id(user), "accessKeyId": access_key,
                         "userName": user},
        "referencedResources": {"ACS::KMS::Key": [KEY]}, "isGlobal": False, "errorCode": error, "errorMessage": "",
    }
    if when is not None:
        record["eventTime"] = iso(when)
    return record


def callers(cloud) -> dict[str, Dependent]:
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id="")
    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),)).results
    assert result.complete, result.reason
    return {d.resource_id: d for d in result.dependents}


def test_each_caller_is_named_with_its_identity_keys_apis_and_failures(start_cloud):
    t = now()
    events = [
        *(call("Decrypt", t - timedelta(days=d), user="billing-app") for d in (1, 2, 3)),
        # The same user from the console: a temporary key of its own.
        call("GenerateDataKey", t - timedelta(days=4), user="billing-app", access_key="TMP.3KdRbGtFcTestConsole01"),
        call("Decrypt", t - timedelta(days=2), user="intruder", access_key="LTAI5tIntruder000000001", error="Forbidden.NoPermission"),
        call("Decrypt", t - timedelta(days=5), user="intruder", access_key="LTAI5tIntruder000000001", error="Rejected.Throttling"),
    ]
    cloud = start_cloud(make_account(actiontrail={"events": events}))

    found = callers(cloud)

    app = found["ram-user:billing-app"]
    assert app.name == "ram-user billing-app"
    assert app.usage == "Decrypt×3, GenerateDataKey×1 in the last 30 days"
    assert app.detail == {
        "account": ACCOUNT_ID, "cross_account": "false", "identity_type": "ram-user", "principal_id": principal_id("billing-app"),
        "access_keys": "LTAI****, TMP.****",  # masked, each kind once
        "source_ip": "10.0.0.5", "user_agent": "billing/2.1",
        "first_use": iso(t - timedelta(days=4)), "last_use": iso(t - timedelta(days=1)),
        "calls": "4", "apis": "Decrypt×3, GenerateDataKey×1", "evidence": "ActionTrail LookupEvents",
    }  # no failed_calls: none of its calls failed
    intruder = found["ram-user:intruder"]
    assert intruder.name == "ram-user intruder"
    assert intruder.usage == "Decrypt×2 in the last 30 days (2 failed: Forbidden.NoPermission, Rejected.Throttling)"
    assert intruder.detail["failed_calls"] == "2" and intruder.detail["apis"] == "Decrypt×2"
    assert intruder.detail["principal_id"] == principal_id("intruder") and intruder.detail["identity_type"] == "ram-user"


def test_a_call_whose_time_cannot_be_read_still_names_its_caller_and_claims_no_first_or_last_use(start_cloud):
    # An answer whose record has no eventTime: the call counts (the key is in use), and the report leaves the
    # caller's first and last use blank rather than inventing them.
    cloud = start_cloud(make_account())
    cloud.faults.respond("actiontrail:LookupEvents", {"Events": [call("Decrypt", None, user="legacy-job")]})

    found = callers(cloud)

    job = found["ram-user:legacy-job"]
    assert job.usage == "Decrypt×1 in the last 30 days" and job.detail["calls"] == "1"
    assert "first_use" not in job.detail and "last_use" not in job.detail and "failed_calls" not in job.detail
