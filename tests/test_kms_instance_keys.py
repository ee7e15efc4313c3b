"""Keys in a KMS instance: crypto calls through the instance's dedicated gateway are audited in SLS, not in
ActionTrail ("审计差异", KMS "阿里云SDK": shared gateway ActionTrail, dedicated gateway SLS), so the usage
evidence reads the instances' access log when KMS_INSTANCE_LOG_PROJECT/LOGSTORE name it, and is incomplete
for an instance key when they do not (shared/audit/scanners/kms_usage.py).

The local cloud serves every crypto call on a key with a DKMSInstanceId as through that instance's dedicated
gateway: logged to the instance's delivered logstore with the access log's fields, never to ActionTrail
(localcloud/actiontrail.py, KmsInstanceLog)."""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient

from localcloud.account import Credential
from localcloud.pop import Caller
from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.usage import instance_log_event, instance_log_is_use
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.clients import alice_kms, key_state, sdk_config
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.scanners import clients

INSTANCE = "kst-hzz65f176a0ogplgq0001"
PROJECT, LOGSTORE = "kms-instance-logs", "kms-access-log"
APP_AK, APP_SECRET = "LTAI5tPaymentsApp0000001", "payments-app-test-secret"
# LookupEvents is paced to its 2 calls a second; pacing is not what these tests are about.
FAST = {"AUDIT_QPS": "actiontrail:LookupEvents=1000"}
LOG_CONFIGURED = {**FAST, "KMS_INSTANCE_LOG_PROJECT": PROJECT, "KMS_INSTANCE_LOG_LOGSTORE": LOGSTORE}


def instance_account():
    """The base account with the audited key in a KMS instance, and an application's credential."""
    account = make_account()
    account.kms.keys[0].DKMSInstanceId = INSTANCE
    account.credentials.append(Credential(AccessKeyId=APP_AK, AccessKeySecret=APP_SECRET, UserName="payments-app"))
    return account


def app_principal(cloud) -> str:
    app = cloud.account.credential(APP_AK)
    return Caller(app, ACCOUNT_ID).user_identity()["principalId"]


def seal_and_open_records(cloud) -> None:
    """payments-app's envelope encryption through the instance: a data key, then its decryption."""
    app = KmsClient(sdk_config(cloud, access_key_id=APP_AK, secret=APP_SECRET))
    blob = app.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY)).body.ciphertext_blob
    app.decrypt(kms.DecryptRequest(ciphertext_blob=blob))


def instance_logs(cloud) -> list[dict]:
    return [log.contents for log in cloud.account.sls.logs if (log.projectName, log.logstoreName) == (PROJECT, LOGSTORE)]


# ------------------------------------------------------------------ the local cloud


def test_describe_key_names_the_instance_and_crypto_calls_go_to_its_log_not_actiontrail(start_cloud):
    cloud = start_cloud(instance_account())
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE)

    meta = alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
    seal_and_open_records(cloud)

    assert meta.dkmsinstance_id == INSTANCE
    assert not [e for e in cloud.account.actiontrail.events if e["eventName"] in ("GenerateDataKey", "Decrypt")]
    logs = instance_logs(cloud)
    assert [log["api_name"] for log in logs] == ["GenerateDataKey", "Decrypt"]
    assert {(log["instance_id"], log["resource_id"], log["gateway_type"], log["identity_type"], log["status_code"])
            for log in logs} == {(INSTANCE, KEY, "dedicated", "ram-user", "200")}
    assert {log["principal_id"] for log in logs} == {app_principal(cloud)}


def test_without_log_delivery_the_dedicated_gateway_leaves_no_trace(start_cloud):
    cloud = start_cloud(instance_account())
    seal_and_open_records(cloud)

    assert instance_logs(cloud) == []
    assert not [e for e in cloud.account.actiontrail.events if e["eventName"] in ("GenerateDataKey", "Decrypt")]


# ------------------------------------------------------------------ reading the log


def test_an_entry_is_read_leniently_and_reads_of_the_key_are_not_uses():
    # The "Log fields" doc's example values, an AAP caller, no time field (the SLS __time__ stands in).
    event = instance_log_event({"api_name": "AdvanceDecrypt", "resource_id": "key-hzz62f1cb66fa42qo0001",
                                "identity_type": "aap", "principal_id": "payments-aap", "access_key_id": "KAAP.38742edd-1992",
                                "client_ip": "192.168.0.7", "request_id": "2753f2f4", "status_code": "200"}, log_time=1688435575)
    assert event["eventName"] == "AdvanceDecrypt" and event["eventTime"] == "2023-07-04T01:52:55Z"
    assert event["userIdentity"] == {"type": "aap", "accountId": None, "principalId": "payments-aap", "accessKeyId": "KAAP.38742edd-1992"}
    assert event["referencedResources"] == {"ACS::KMS::Key": ["key-hzz62f1cb66fa42qo0001"]}
    secret = instance_log_event({"api_name": "GetSecretValue", "resource_id": "payments/db",
                                 "resource_parameters": json.dumps({"key_id": KEY, "key_version_id": "", "index": ""})})
    assert KEY in secret["referencedResources"]["ACS::KMS::Key"]
    assert instance_log_is_use("GetSecretValue") and instance_log_is_use("Sign") and instance_log_is_use("")
    assert not instance_log_is_use("DescribeKey") and not instance_log_is_use("ListKeyVersions")


def test_the_scanner_names_the_caller_from_the_instance_log_and_says_where_it_looked(start_cloud):
    cloud = start_cloud(instance_account())
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE)
    seal_and_open_records(cloud)
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id=None, kms_instance_log_project=PROJECT, kms_instance_log_logstore=LOGSTORE)

    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),)).results

    assert result.complete
    [app] = result.dependents
    assert app.resource_id == f"ram-user:{app_principal(cloud)}" and app.state == "live"
    assert app.usage == "Decrypt×1, GenerateDataKey×1 in the last 30 days"
    assert app.detail["access_keys"] == "LTAI****"  # masked
    assert f"KMS instance log {PROJECT}/{LOGSTORE} (instance {INSTANCE}, dedicated gateway)" in app.detail["evidence"]
    assert cloud.calls.get("kms:DescribeKey") == 1 and cloud.calls.get("sls:GetLogs") == 1


# ------------------------------------------------------------------ key-guard, end to end


def test_used_through_the_dedicated_gateway_with_the_log_configured_the_deletion_is_cancelled_naming_the_caller(start_cloud):
    cloud = start_cloud(instance_account(), env=LOG_CONFIGURED)
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE)
    seal_and_open_records(cloud)
    schedule_deletion(cloud)

    caller = f"ram-user:{app_principal(cloud)}"
    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["dependents"]["KMS usage"]["ids"] == [caller]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True
    assert record["dependents"]["KMS usage"] == [f"{caller} (live, Decrypt×1, GenerateDataKey×1 in the last 30 days)"]


def test_without_the_log_configured_the_audit_is_incomplete_and_says_dedicated_gateway_use_is_not_visible(start_cloud):
    cloud = start_cloud(instance_account(), env=FAST)
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE)  # delivered, but key-guard is not told where
    seal_and_open_records(cloud)
    schedule_deletion(cloud)

    reason = f"dedicated-gateway use not visible (KMS instance {INSTANCE}; set KMS_INSTANCE_LOG_PROJECT/LOGSTORE)"
    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [p["part"] for p in alert["auditIncomplete"]] == ["kms_usage"] and reason in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is False and record["dependentCount"] == 0
    assert reason in record["usageEvidence"]["reason"]
    assert "actiontrail:LookupEvents" not in record["apiCalls"]  # nothing read that could not settle it


def test_an_unused_instance_key_with_the_log_configured_is_deleted(start_cloud):
    cloud = start_cloud(instance_account(), env=LOG_CONFIGURED)
    cloud.trail.kms_instance_log.deliver(INSTANCE, PROJECT, LOGSTORE)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["auditComplete"] is True and record["dependentCount"] == 0
    assert record["scanners"]["kms_usage"]["complete"] is True


def test_a_key_outside_any_instance_needs_no_instance_log(start_cloud):
    cloud = start_cloud(make_account(), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    assert only_record(cloud)["auditComplete"] is True
