"""Reading a KMS instance's access log for a key's uses (shared/audit/scanners/kms_usage.py, _instance_log_events):
every page of the key's entries is read wherever the log's project lives, the newest ones are kept when there are
more than the cap (and the dependent says so), the entries are dated and windowed by their own time, management
calls neither count nor hide the uses after them, one call counts once (by its request id, within the log and
across ActionTrail), and a log that cannot be read whole makes the audit incomplete with a reason saying why.

Crypto calls through an instance's dedicated gateway are audited in SLS, not in ActionTrail ("审计差异", KMS
"阿里云SDK", https://help.aliyun.com/zh/kms/key-management-service/developer-reference/classic-kms-sdkclassic-kms-sdk/);
the entries' fields are those of "Log fields" (https://www.alibabacloud.com/help/en/kms/key-management-service/log-field-details).
The scanner runs as key-guard runs it (run_audit, under a deadline) with the official SDKs against the local cloud;
the log's entries are written into the local cloud's logstore as the delivery would write them.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from localcloud.account import Account
from localcloud.products.sls_state import SlsLog
from shared.audit.model import ScanResult
from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners import kms_usage
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.clients import Clients
from tests.support.accounts import ACCOUNT_ID, BASE_ACCOUNT, KEY, OTHER_KEY, REGION, make_account
from tests.support.scanners import clients

INSTANCE = "kst-hzz65f176a0ogplgq0001"
PROJECT, LOGSTORE = "kms-instance-logs", "kms-access-log"
APP_PRINCIPAL = "2049361782650001"  # payments-app's RAM user UID, as the log names a caller
# A read that never ends is reported incomplete at the deadline, as key-guard reports it, instead of hanging.
DEADLINE_S = 10


def now() -> datetime:
    # The scanner's window ends at the wall clock, so the local cloud runs on it too.
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def instance_account(**sections) -> Account:
    account = make_account(**sections)
    account.kms.keys[0].DKMSInstanceId = INSTANCE
    return account


def entry(when: datetime, api: str = "Decrypt", *, key: str = KEY, request_id: str | None = "new", stored: datetime | None = None,
          dated: bool = True, **fields: str) -> SlsLog:
    """An access-log entry of a call through the instance's dedicated gateway, as delivered to SLS. `stored`: its SLS
    __time__ when not the call's own time; `dated`: whether it has the `time` field."""
    contents = {"version": "V1.0", "level": "INFO", "gateway_type": "dedicated", "instance_id": INSTANCE, "region_id": REGION,
                "api_name": api, "api_version": "dkms-gcs-0.2", "resource_id": key,
                "resource_parameters": json.dumps({"key_id": "", "key_version_id": "", "index": ""}),
                "identity_type": "ram-user", "account_id": ACCOUNT_ID, "user_id": ACCOUNT_ID, "principal_id": APP_PRINCIPAL,
                "access_key_id": "LTAI5tPaymentsApp0000001", "client_ip": "10.0.1.15", "useragent": "payments/2.1",
                "status_code": "200", "error_message": "", "duration": "1.0"}
    if request_id:
        contents["request_id"] = str(uuid.uuid4()) if request_id == "new" else request_id
    if dated:
        contents["time"] = iso(when)
    contents.update(fields)
    return SlsLog(projectName=PROJECT, logstoreName=LOGSTORE, time=int((stored or when).timestamp()), contents=contents)


def deliver(cloud, entries: list[SlsLog], region: str | None = None) -> None:
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE, region=region)
    with cloud.account.lock:
        cloud.account.sls.logs.extend(entries)


def audit(cloud, project: str = PROJECT, **target) -> tuple[ScanResult, Clients]:
    """kms_usage as key-guard runs it, for a key in INSTANCE with the instances' log configured."""
    audit_target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                               kms_instance_id=INSTANCE, kms_instance_log_project=project, kms_instance_log_logstore=LOGSTORE,
                               **target)
    audit_clients = clients(cloud)
    [result] = run_audit(audit_target, audit_clients, scanners=(KmsUsageScanner(),), deadline_s=DEADLINE_S).results
    return result, audit_clients


def evidence(project: str = PROJECT, cut: str = "") -> str:
    return f"ActionTrail LookupEvents; KMS instance log {project}/{LOGSTORE} (instance {INSTANCE}, dedicated gateway){cut}"


APP = f"ram-user:{APP_PRINCIPAL}"


# ---------------------------------------------------------------- every page, and the cap


def test_every_page_of_the_keys_entries_is_read_and_what_it_cost_is_counted(start_cloud):
    # 250 Decrypts: three GetLogs pages of 100, each one read once.
    t = now()
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(t - timedelta(hours=i + 1)) for i in range(250)])

    result, used = audit(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert (app.resource_id, app.usage) == (APP, "Decrypt×250 in the last 30 days")
    assert app.detail["calls"] == "250" and app.detail["evidence"] == evidence()  # nothing cut
    assert app.detail["last_use"] == iso(t - timedelta(hours=1)) and app.detail["first_use"] == iso(t - timedelta(hours=250))
    assert used.calls.counts == {"actiontrail:LookupEvents": 1, "sls:GetLogs": 3}


def test_more_uses_than_the_cap_keep_the_newest_and_say_so(start_cloud, monkeypatch):
    # The cap (1,000 in production) lowered so the log stays small: the newest uses are kept, the older ones are past
    # the cut, and the dependent says the evidence was cut.
    monkeypatch.setattr(kms_usage, "MAX_EVENTS", 10)
    t = now()
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(t - timedelta(minutes=i + 1)) for i in range(15)])

    result, _ = audit(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.usage == "Decrypt×10 in the last 30 days"
    assert app.detail["last_use"] == iso(t - timedelta(minutes=1)) and app.detail["first_use"] == iso(t - timedelta(minutes=10))
    assert app.detail["evidence"] == evidence(cut=" (newest 10 events)")


def test_the_log_is_searched_for_the_key_however_much_else_it_holds(start_cloud):
    # The instances' log is shared by every key of every instance: 150 newer calls on another key are not read.
    t = now()
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(t - timedelta(minutes=i + 1), key=OTHER_KEY) for i in range(150)] + [entry(t - timedelta(days=2))])

    result, used = audit(cloud)

    assert result.complete, result.reason
    assert [(d.resource_id, d.usage) for d in result.dependents] == [(APP, "Decrypt×1 in the last 30 days")]
    assert used.calls.counts["sls:GetLogs"] == 1


def test_a_log_project_in_another_region_is_read_in_that_region(start_cloud):
    # KMS_INSTANCE_LOG_PROJECT given as the project's ARN names its region.
    data = json.loads(json.dumps(BASE_ACCOUNT))
    data["regions"].append({"RegionId": "cn-shanghai"})
    account = Account.from_data(data)
    account.kms.keys[0].DKMSInstanceId = INSTANCE
    cloud = start_cloud(account)
    deliver(cloud, [entry(now() - timedelta(days=3))], region="cn-shanghai")
    arn = f"acs:log:cn-shanghai:{ACCOUNT_ID}:project/{PROJECT}"

    result, _ = audit(cloud, project=arn)

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.usage == "Decrypt×1 in the last 30 days" and app.detail["evidence"] == evidence(arn)


def get_logs_answer(rows: list[dict], progress: str = "Complete") -> dict:
    """A GetLogs answer (the SDK's default v2 shape) holding `rows`."""
    return {"meta": {"progress": progress, "count": len(rows), "processedRows": len(rows), "elapsedMillisecond": 1,
                     "hasSQL": False, "whereQuery": "", "aggQuery": "", "keys": sorted({k for r in rows for k in r}),
                     "isAccurate": True}, "data": rows}


def test_a_query_sls_did_not_complete_makes_the_audit_incomplete_and_says_so(start_cloud):
    cloud = start_cloud(instance_account())
    deliver(cloud, [])
    cloud.faults.respond("sls:GetLogs", get_logs_answer([], progress="Incomplete"))

    result, _ = audit(cloud)

    assert not result.complete and result.dependents == []
    assert result.reason == "EvidenceUnreadable: SLS GetLogs on the KMS instance log did not complete (progress Incomplete)"


# ---------------------------------------------------------------- which entries are uses, and when


def test_an_entry_without_its_own_time_is_dated_by_its_sls_time(start_cloud):
    t = now() - timedelta(days=3)
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(t, dated=False)])

    result, _ = audit(cloud)

    [app] = result.dependents
    assert app.detail["first_use"] == app.detail["last_use"] == iso(t)


def test_management_calls_on_the_key_are_not_uses_and_hide_none_of_the_uses_after_them(start_cloud):
    t = now()
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(t - timedelta(hours=1), "DescribeKey", principal_id="9876543210980001"),
                    entry(t - timedelta(hours=2), "ListKeyVersions", principal_id="9876543210980001"),
                    entry(t - timedelta(hours=3), "Decrypt")])

    result, _ = audit(cloud)

    assert result.complete, result.reason
    assert [(d.resource_id, d.usage) for d in result.dependents] == [(APP, "Decrypt×1 in the last 30 days")]


def test_the_window_is_the_calls_own_time_whenever_the_entry_was_stored(start_cloud):
    # The window ends at the audited change (as_of) and starts 30 days before. An entry is stored in SLS at or after the
    # call: one stored inside the window for a call made before it is not a use in the window, and does not stop the
    # reading of the entries after it; a call made at the window's very start is in it.
    t = now() - timedelta(minutes=5)
    start = t - timedelta(days=30)
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(start - timedelta(minutes=1), stored=t - timedelta(minutes=1), principal_id="1111111111110001"),
                    entry(t - timedelta(hours=1)),
                    entry(start, stored=start + timedelta(minutes=2))])

    result, _ = audit(cloud, as_of=iso(t))

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.resource_id == APP and app.detail["calls"] == "2"
    assert app.detail["first_use"] == iso(start) and app.detail["last_use"] == iso(t - timedelta(hours=1))


# ---------------------------------------------------------------- one call counts once


def test_an_entry_written_twice_counts_once_and_hides_none_of_the_calls_after_it(start_cloud):
    t = now()
    cloud = start_cloud(instance_account())
    twice = entry(t - timedelta(hours=1), request_id="2753f2f4-efb8-49c8-9817-c60cfe286c2d")
    deliver(cloud, [twice, twice.model_copy(deep=True), entry(t - timedelta(hours=2), "Encrypt")])

    result, _ = audit(cloud)

    [app] = result.dependents
    assert app.usage == "Decrypt×1, Encrypt×1 in the last 30 days"


def test_an_entry_written_twice_takes_one_place_under_the_cap(start_cloud, monkeypatch):
    # The cap lowered to 3: a call written twice is still one of the 3 newest calls, so the three calls fit and
    # nothing is said to be cut.
    monkeypatch.setattr(kms_usage, "MAX_EVENTS", 3)
    t = now()
    cloud = start_cloud(instance_account())
    twice = entry(t - timedelta(hours=1))
    deliver(cloud, [twice, twice.model_copy(deep=True), entry(t - timedelta(hours=2), "Encrypt"),
                    entry(t - timedelta(hours=3), "GenerateDataKey")])

    result, _ = audit(cloud)

    [app] = result.dependents
    assert app.usage == "Decrypt×1, Encrypt×1, GenerateDataKey×1 in the last 30 days"
    assert app.detail["evidence"] == evidence()


def test_entries_without_a_request_id_are_as_many_calls_as_they_differ(start_cloud):
    # Without a request id nothing names the call: entries alike in every field are one call written twice, any two
    # that differ are two calls.
    t = now()
    cloud = start_cloud(instance_account())
    copy = entry(t - timedelta(hours=1), request_id=None)
    deliver(cloud, [copy, copy.model_copy(deep=True), entry(t - timedelta(hours=2), request_id=None),
                    entry(t - timedelta(hours=3), "Encrypt", request_id=None)])

    result, _ = audit(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.usage == "Decrypt×2, Encrypt×1 in the last 30 days"


def trail_event(when: datetime, request_id: str) -> dict:
    """ActionTrail's record of a Decrypt of the key by payments-app, sent to the KMS service endpoint."""
    return {"eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
            "eventRW": "Read", "eventName": "Decrypt", "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
            "eventTime": iso(when), "requestId": request_id, "sourceIpAddress": "10.0.1.15", "userAgent": "payments/2.1",
            "requestParameters": {}, "referencedResources": {"ACS::KMS::Key": [KEY]},
            "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": APP_PRINCIPAL,
                             "accessKeyId": "LTAI5tPaymentsApp0000001", "userName": "payments-app"},
            "isGlobal": False, "errorCode": "", "errorMessage": ""}


def test_a_call_both_actiontrail_and_the_log_recorded_counts_once(start_cloud):
    # A shared-gateway call the access log records as well: the same request id in both sources.
    t = now() - timedelta(days=1)
    request_id = "2753F2F4-EFB8-49C8-9817-C60CFE286C2D"
    cloud = start_cloud(instance_account(actiontrail={"events": [trail_event(t, request_id)]}))
    # Then a call through the dedicated gateway, which only the log has. (The log names no user, so the same RAM
    # user reads as its principal id there: "No user name" in "Log fields".)
    deliver(cloud, [entry(t, request_id=request_id, gateway_type="shared", share_gateway_api_name="Decrypt", cmkid=KEY),
                    entry(t - timedelta(hours=1), "Encrypt")])

    result, _ = audit(cloud)

    assert result.complete, result.reason
    assert [(d.resource_id, d.usage) for d in result.dependents] == [
        (APP, "Encrypt×1 in the last 30 days"), ("ram-user:payments-app", "Decrypt×1 in the last 30 days")]


# ---------------------------------------------------------------- which keys need the log


def test_a_key_in_no_instance_needs_no_instance_log_even_when_the_target_does_not_say(start_cloud):
    # The target does not say whether the key is in a KMS instance (kms_instance_id None): the scanner asks
    # DescribeKey, which names none, and reads ActionTrail alone, complete, without the instances' log.
    cloud = start_cloud(make_account())
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id=None)

    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=DEADLINE_S).results

    assert result.complete, result.reason
    assert cloud.calls.get("kms:DescribeKey") == 1 and not cloud.calls.get("sls:GetLogs")


def test_half_a_log_configuration_is_no_configuration_and_says_what_to_set(start_cloud):
    # KMS_INSTANCE_LOG_PROJECT without KMS_INSTANCE_LOG_LOGSTORE names no logstore to read.
    cloud = start_cloud(instance_account())
    deliver(cloud, [entry(now() - timedelta(days=1))])
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id=INSTANCE, kms_instance_log_project=PROJECT, kms_instance_log_logstore=None)

    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=DEADLINE_S).results

    assert not result.complete and result.dependents == []
    assert result.reason == (f"EvidenceNotVisible: dedicated-gateway use not visible (KMS instance {INSTANCE}; "
                             "set KMS_INSTANCE_LOG_PROJECT/LOGSTORE)")
