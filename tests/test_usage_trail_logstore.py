"""Usage evidence from the trail's SLS logstore (shared/audit/scanners/kms_usage.py, _trail_events and
_trail_stream): the only source that sees a crypto call naming the key in its request alone (LookupEvents'
ResourceName does not), so each call it holds must be found, whether the key is quiet or busy, wherever the
trail's project lives; what it costs in GetLogs calls is what the decision record's apiCalls shows; and a
logstore that cannot be read whole makes the audit incomplete with a reason saying why.

The scanner runs as key-guard runs it (run_audit, under a deadline), with the official ActionTrail and SLS
SDKs against the local cloud, whose trail logstore answers from the recorded ActionTrail events.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

from localcloud.account import Account
from shared.audit.model import ScanResult
from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners import kms_usage
from shared.audit.scanners.kms_usage import CRYPTO_EVENT_NAMES, QUIET_SLS_PAGES, SLS_LINES, KmsUsageScanner
from shared.clients import Clients
from tests.conftest import ACCOUNT_ID, BASE_ACCOUNT, KEY, OTHER_KEY, REGION, make_account
from tests.scanner_kit import clients

LOGSTORE = "actiontrail_audit-trail"
# A loop that never ends is reported incomplete at the deadline, as key-guard reports it, instead of hanging.
DEADLINE_S = 20


def now() -> datetime:
    # The scanner's window ends at the wall clock, so the local cloud runs on it too.
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def project_arn(region: str = REGION) -> str:
    return f"acs:log:{region}:{ACCOUNT_ID}:project/audit-logs"


def principal_id(user: str) -> str:
    return str(int(hashlib.sha256(f"{ACCOUNT_ID}/{user}".encode()).hexdigest(), 16) % 10**16).zfill(16)


def call(name: str, when: datetime, *, user: str = "payments-api", key: str = KEY, in_request_only: bool = True) -> dict:
    """An ActionTrail record of a KMS call by `user`. `in_request_only`: the key is named in requestParameters.KeyId
    alone (no referencedResources), so only the trail logstore's full-text query on the key id finds it."""
    return {
        "eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
        "eventRW": "Read", "eventName": name, "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
        "eventTime": iso(when), "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": "10.0.1.15", "userAgent": "app/1.0",
        "requestParameters": {"KeyId": key},
        "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": principal_id(user),
                         "accessKeyId": "LTAI5tTrailTestApp00001", "userName": user},
        "referencedResources": {} if in_request_only else {"ACS::KMS::Key": [key]},
        "isGlobal": False, "errorCode": "", "errorMessage": "",
    }


def trail(project_region: str = REGION) -> dict:
    t = now()
    return {"Name": "audit-trail", "HomeRegion": REGION, "EventRW": "All", "Status": "Enable", "TrailRegion": "All",
            "SlsProjectArn": project_arn(project_region),
            "SlsWriteRoleArn": f"acs:ram::{ACCOUNT_ID}:role/aliyunserviceroleforactiontrail",
            "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}


def with_trail(events: list[dict]) -> Account:
    return make_account(actiontrail={"events": events, "trails": [trail()]})


def audit(cloud, project: str = project_arn()) -> tuple[ScanResult, Clients]:
    """kms_usage as key-guard runs it, with the trail logstore configured."""
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id="", trail_project=project, trail_logstore=LOGSTORE)
    audit_clients = clients(cloud)
    [result] = run_audit(target, audit_clients, scanners=(KmsUsageScanner(),), deadline_s=DEADLINE_S).results
    return result, audit_clients


def evidence(project: str = project_arn(), cut: str = "") -> str:
    return f"ActionTrail LookupEvents; trail logstore {project}/{LOGSTORE}{cut}"


# ---------------------------------------------------------------- quiet and busy keys


def test_a_busy_key_is_asked_per_crypto_api_and_every_call_it_holds_is_read(start_cloud):
    # 210 Encrypts by one application, more than the quiet read's two pages: each crypto API is then asked for
    # by name, and the Encrypt answer takes three pages, every one of them read.
    t = now()
    cloud = start_cloud(with_trail([call("Encrypt", t - timedelta(hours=i + 1)) for i in range(2 * SLS_LINES + 10)]))

    result, used = audit(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert (app.resource_id, app.usage) == ("ram-user:payments-api", "Encrypt×210 in the last 30 days")
    assert app.detail["calls"] == "210" and app.detail["evidence"] == evidence()  # nothing cut
    assert app.detail["last_use"] == iso(t - timedelta(hours=1)) and app.detail["first_use"] == iso(t - timedelta(hours=210))
    # Two pages to learn the key is busy, three pages of Encrypt, one (short) page for every other crypto API.
    assert used.calls.counts == {"actiontrail:LookupEvents": 1,
                                 "sls:GetLogs": QUIET_SLS_PAGES + 3 + len(CRYPTO_EVENT_NAMES) - 1}


def test_a_quiet_key_is_read_with_one_query_however_much_else_the_logstore_holds(start_cloud):
    # 150 calls of the key (two pages of the quiet query), among 250 calls of another key by another application.
    t = now()
    mine = [call("Encrypt", t - timedelta(hours=i + 1)) for i in range(150)]
    others = [call("Decrypt", t - timedelta(minutes=i + 1), user="other-app", key=OTHER_KEY, in_request_only=False)
              for i in range(250)]
    cloud = start_cloud(with_trail(mine + others))

    result, used = audit(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert (app.resource_id, app.usage) == ("ram-user:payments-api", "Encrypt×150 in the last 30 days")
    assert used.calls.counts == {"actiontrail:LookupEvents": 1, "sls:GetLogs": 2}


def test_more_calls_than_the_cap_keep_the_newest_and_say_so(start_cloud, monkeypatch):
    # The cap (1,000 in production) lowered so the logstore stays small: the newest calls are kept, so the
    # monthly report, older than all of them, is past the cut, and the dependent says the evidence was cut.
    monkeypatch.setattr(kms_usage, "MAX_EVENTS", 10)
    t = now()
    batch = [call("Encrypt", t - timedelta(minutes=i + 1), user="batch-job") for i in range(15)]
    early = call("GenerateDataKey", t - timedelta(days=20), user="monthly-report")
    cloud = start_cloud(with_trail(batch + [early]))

    result, _ = audit(cloud)

    assert result.complete, result.reason
    [job] = result.dependents
    assert (job.resource_id, job.usage) == ("ram-user:batch-job", "Encrypt×10 in the last 30 days")
    assert job.detail["last_use"] == iso(t - timedelta(minutes=1)) and job.detail["first_use"] == iso(t - timedelta(minutes=10))
    assert job.detail["evidence"] == evidence(cut=" (newest 10 events)")


# ---------------------------------------------------------------- where the trail's project lives


def test_a_trail_delivering_to_a_project_in_another_region_is_read_in_that_region(start_cloud):
    data = json.loads(json.dumps(BASE_ACCOUNT))
    data["regions"].append({"RegionId": "cn-shanghai"})
    data["actiontrail"] = {"events": [call("Encrypt", now() - timedelta(days=3))], "trails": [trail("cn-shanghai")]}
    cloud = start_cloud(Account.from_data(data))

    result, used = audit(cloud, project=project_arn("cn-shanghai"))

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.usage == "Encrypt×1 in the last 30 days" and app.detail["evidence"] == evidence(project_arn("cn-shanghai"))


# ---------------------------------------------------------------- a logstore that cannot be read whole


def get_logs_answer(rows: list[dict], progress: str = "Complete") -> dict:
    """A GetLogs answer (the SDK's default v2 shape) holding `rows`."""
    return {"meta": {"progress": progress, "count": len(rows), "processedRows": len(rows), "elapsedMillisecond": 1,
                     "hasSQL": False, "whereQuery": "", "aggQuery": "", "keys": sorted({k for r in rows for k in r}),
                     "isAccurate": True}, "data": rows}


def row(when: datetime, **contents) -> dict:
    return {"__time__": int(when.timestamp()), "__topic__": "actiontrail_audit_event", "__source__": "", **contents}


def test_a_query_sls_did_not_complete_makes_the_audit_incomplete_and_says_so(start_cloud):
    cloud = start_cloud(with_trail([]))
    cloud.faults.respond("sls:GetLogs", get_logs_answer([], progress="Incomplete"))

    result, _ = audit(cloud)

    assert not result.complete and result.dependents == []
    assert result.reason == "EvidenceUnreadable: SLS GetLogs on the trail logstore did not complete (progress Incomplete)"


def test_an_event_field_that_is_not_json_makes_the_audit_incomplete_and_says_so(start_cloud):
    cloud = start_cloud(with_trail([]))
    t = now() - timedelta(days=1)
    cloud.faults.respond("sls:GetLogs", get_logs_answer([row(t, event='{"eventId": "cut short', owner_id=ACCOUNT_ID)]))

    result, _ = audit(cloud)

    assert not result.complete and result.dependents == []
    assert result.reason == "EvidenceUnreadable: a trail log's event field is not JSON"


def test_a_log_without_an_event_field_does_not_hide_the_calls_after_it(start_cloud):
    cloud = start_cloud(with_trail([]))
    t = now()
    use = call("Encrypt", t - timedelta(days=2))
    cloud.faults.respond("sls:GetLogs", get_logs_answer([row(t - timedelta(days=1), owner_id=ACCOUNT_ID),
                                                         row(t - timedelta(days=2), event=json.dumps(use), owner_id=ACCOUNT_ID)]))

    result, _ = audit(cloud)

    assert result.complete, result.reason
    assert [d.resource_id for d in result.dependents] == ["ram-user:payments-api"]
