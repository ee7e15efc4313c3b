"""A key with more crypto calls in ActionTrail than the usage scanner keeps (shared/audit/scanners/kms_usage.py,
MAX_EVENTS, the newest calls per source): the dependent's evidence says the LookupEvents answer was cut to its
newest events, so a reader knows an older caller may be missing from the list (the key counts as used either way).
LookupEvents (ActionTrail 2020-07-06, "LookupEvents",
https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents) is
answered by the local cloud from the recorded events, to the official SDK."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners import kms_usage
from shared.audit.scanners.kms_usage import KmsUsageScanner
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.scanners import clients


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
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id="")

    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=20).results

    assert result.complete, result.reason
    [job] = result.dependents
    assert job.usage == "Decrypt×10 in the last 30 days"
    assert job.detail["evidence"] == "ActionTrail LookupEvents (newest 10 events)"
    assert job.detail["last_use"] == iso(t - timedelta(minutes=1)) and job.detail["first_use"] == iso(t - timedelta(minutes=10))
