"""secret-guard on the local cloud: a person deletes a secret with the official SDK, ActionTrail records it,
EventBridge delivers it to secret-guard as s.yaml wires it, and the secret is restored when applications still read
it. The reader is an application with its own credentials, reading the secret's value with GetSecretValue before
the deletion. A canary value stands in for the secret: it must appear in no record, alert or result."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.clients import TransientError
from shared.config import GuardConfig
from shared.secret_guard import SecretGuard
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, ROOT, make_account
from tests.support.clients import alice_kms
from tests.support.guard import alerts, decision_records
from tests.support.scanners import clients

SECRET = "payments/db-password"
CANARY = "canary-5f1c0b2e-db-password-never-printed"
APP_AK, APP_SECRET = "LTAI5tPaymentsApi0000001", "payments-api-test-secret"
APP = {"AccessKeyId": APP_AK, "AccessKeySecret": APP_SECRET, "UserName": "payments-api", "IdentityType": "ram-user"}
DELETE_EVENT = json.loads((ROOT / "events" / "delete_secret.json").read_text())


def secret(name: str = SECRET, **fields) -> dict:
    return {"SecretName": name, "RegionId": REGION, "EncryptionKeyId": KEY,
            "Versions": [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY}], **fields}


RECORDS = {"projectName": "kms-steward-logs", "logstoreName": "secret-guard-decisions", "RegionId": REGION}


def account(*secrets: dict, faults=()):
    return make_account(kms={"secrets": list(secrets or [secret()])}, sls={"logstores": [RECORDS]}, credentials=[APP],
                        faults=list(faults))


def records(cloud) -> list[dict]:
    return decision_records(cloud, "secret-guard-decisions")


def app_reads(cloud, name: str = SECRET, times: int = 1) -> None:
    app = alice_kms(cloud, access_key_id=APP_AK, secret=APP_SECRET)
    for _ in range(times):
        app.get_secret_value(kms.GetSecretValueRequest(secret_name=name))


def alice_deletes(cloud, name: str = SECRET, **params) -> None:
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=name, **params))
    assert cloud.bus.drain(timeout=60)


def planned_delete_time(cloud, name: str = SECRET) -> str | None:
    return alice_kms(cloud).describe_secret(kms.DescribeSecretRequest(secret_name=name)).body.planned_delete_time or None


def guard(cloud, **env) -> SecretGuard:
    environment = {**cloud.project.function("secret-guard").environment, "FC_REGION": REGION, **env}
    return SecretGuard(GuardConfig.from_env(environment), account_id=ACCOUNT_ID, clients_for=lambda region: clients(cloud, region))


def nothing_shows_the_canary(cloud) -> None:
    everything = json.dumps([log.contents for log in cloud.account.sls.logs]) + json.dumps(alerts(cloud)) \
        + json.dumps([d.__dict__ for d in cloud.bus.deliveries], default=str)
    assert CANARY not in everything


def test_a_secret_read_an_hour_ago_is_restored_with_an_alert_naming_the_reader(start_cloud):
    cloud = start_cloud(account())
    app_reads(cloud, times=3)

    alice_deletes(cloud, recovery_window_in_days="7")

    assert planned_delete_time(cloud) is None  # restored
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretDeletionBlocked" and alert["severity"] == "CRITICAL"
    assert alert["secretName"] == SECRET and alert["caller"].startswith("ram-user alice ") and alert["readerCount"] == 1
    assert alert["readers"][0].startswith("ram-user:payments-api: 3 read(s), last 20")
    [record] = records(cloud)
    assert record["status"] == "acted" and record["action"] == "restore_secret" and record["secretStateAfter"] == "Normal"
    assert record["readers"][0]["caller"] == "ram-user:payments-api" and record["readers"][0]["reads"] == 3
    assert record["recoveryWindowDays"] == 7 and "keyId" not in record
    # What the function returns (FC's invocation log shows it): the same readers, said whole
    [invocation] = [inv for inv in cloud.fc.invocations if inv.function == "secret-guard"]
    [result] = invocation.result["results"]
    assert (result["readerCount"], result["readersComplete"]) == (1, True)
    assert result["readers"] == record["readers"]
    assert (result["secretStateBefore"], result["secretStateAfter"]) == (record["secretStateBefore"], "Normal")
    nothing_shows_the_canary(cloud)


def test_a_secret_no_one_read_is_deleted_as_asked_and_recorded(start_cloud):
    cloud = start_cloud(account())

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is not None and alerts(cloud) == []
    [record] = records(cloud)
    assert record["status"] == "decided" and record["decision"] == "allow" and record["readerCount"] == 0
    assert record["reasons"] == ["no reads in the usage window: deleted as asked"] and record["readersComplete"] is True


def test_a_forced_deletion_of_a_read_secret_raises_a_critical_alert_naming_the_readers_about_to_break(start_cloud):
    cloud = start_cloud(account())
    app_reads(cloud)

    alice_deletes(cloud, force_delete_without_recovery="true")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretForceDeletedWithReaders" and alert["severity"] == "CRITICAL"
    assert alert["forceDeleted"] is True and alert["readers"][0].startswith("ram-user:payments-api: 1 read(s)")
    assert any("cannot be restored" in r for r in alert["reasons"])
    [record] = records(cloud)
    assert record["status"] == "decided" and record["secretStateBefore"] == "Deleted" and record["action"] == "none"


def test_a_forced_deletion_no_one_read_is_recorded_without_an_alert(start_cloud):
    # Gone, the secret no longer says whether it was in a KMS instance: the instances' log is read too.
    cloud = start_cloud(account(), env={"KMS_INSTANCE_LOG_PROJECT": "kms-logs", "KMS_INSTANCE_LOG_LOGSTORE": "kms_audit_log"})
    cloud.trail.kms_instance_log.deliver("kst-hzz65f1e2d3c4b5a6", "kms-logs", "kms_audit_log")

    alice_deletes(cloud, force_delete_without_recovery="true")

    assert alerts(cloud) == []
    [record] = records(cloud)
    assert record["decision"] == "allow" and record["forceDeleted"] is True


def test_when_actiontrail_refuses_the_lookup_the_secret_is_restored_and_the_alert_names_the_failure(start_cloud):
    cloud = start_cloud(account(faults=[{"Api": "actiontrail:LookupEvents", "Code": "Forbidden.RAM", "Status": 403}]))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretDeletionBlocked"
    assert alert["readersIncomplete"].startswith("Forbidden.RAM")
    assert alert["reasons"][0].startswith("readers could not be determined: Forbidden.RAM")
    [invocation] = [inv for inv in cloud.fc.invocations if inv.function == "secret-guard"]
    [result] = invocation.result["results"]
    assert result["readersComplete"] is False and result["readersIncomplete"] == alert["readersIncomplete"]


def test_the_same_event_delivered_twice_restores_once_and_alerts_once(start_cloud):
    cloud = start_cloud(account(), duplicate_delivery=True)
    app_reads(cloud)

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    assert [a["Name"] for a in alerts(cloud)] == ["KmsSecretDeletionBlocked"]
    assert sorted(r["status"] for r in records(cloud)) == ["acted", "duplicate"]
    assert cloud.calls.get("kms:RestoreSecret") == 1


def test_in_alert_mode_a_read_secret_is_left_pending_and_alerted(start_cloud):
    cloud = start_cloud(account(), env={"SECRET_GUARD_MODE": "alert"})
    app_reads(cloud)

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is not None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretDeletionAtRisk" and alert["action"] == "none"


@pytest.mark.parametrize("how", ["name", "tag"])
def test_an_allow_listed_secret_is_deleted_and_still_alerted_when_read(start_cloud, how):
    tagged = secret(Tags=[{"TagKey": "kms-steward:intended-deletion", "TagValue": "true"}]) if how == "tag" else secret()
    cloud = start_cloud(account(tagged), env={"GUARD_ALLOW_SECRET_NAMES": SECRET} if how == "name" else {})
    app_reads(cloud)

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is not None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretDeletionIntendedWithReaders" and alert["severity"] == "WARN"
    assert records(cloud)[0]["allowListed"] is True


def test_a_managed_secret_counts_as_read_by_its_service(start_cloud):
    managed = secret("rds-payments", SecretType="Rds", AutomaticRotation="Enabled")
    cloud = start_cloud(account(managed))

    alice_deletes(cloud, "rds-payments")

    assert planned_delete_time(cloud, "rds-payments") is None
    [record] = records(cloud)
    assert record["status"] == "acted" and record["managedBy"] == "Rds"
    assert "a managed secret: used by Rds" in record["reasons"]


def test_a_secret_of_a_kms_instance_whose_log_is_not_configured_is_restored_as_its_readers_cannot_be_seen(start_cloud):
    cloud = start_cloud(account(secret(DKMSInstanceId="kst-hzz65f1e2d3c4b5a6")))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [record] = records(cloud)
    assert record["readersComplete"] is False and "dedicated-gateway use not visible" in record["readersIncomplete"]


def test_a_secret_of_a_kms_instance_read_through_its_endpoint_is_found_in_the_instances_log(start_cloud):
    instance = "kst-hzz65f1e2d3c4b5a6"
    cloud = start_cloud(account(secret(DKMSInstanceId=instance)),
                        env={"KMS_INSTANCE_LOG_PROJECT": "kms-log-instances", "KMS_INSTANCE_LOG_LOGSTORE": "kms_audit_log"})
    cloud.trail.kms_instance_log.deliver(instance, "kms-log-instances", "kms_audit_log")
    app_reads(cloud, times=2)

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [record] = records(cloud)
    assert record["readersComplete"] is True and record["readers"][0]["reads"] == 2
    assert "KMS instance log kms-log-instances/kms_audit_log" in record["readerEvidence"]
    nothing_shows_the_canary(cloud)


def test_an_event_for_an_unknown_secret_is_rejected_and_recorded_not_retried(start_cloud):
    cloud = start_cloud(account())

    result = guard(cloud).handle(json.loads(json.dumps(DELETE_EVENT).replace(SECRET, "no/such-secret")), "inv-1")

    [outcome] = result["results"]
    assert outcome["status"] == "rejected" and outcome["reason"].startswith("unknown secret: secret no/such-secret not found")
    assert [a["Name"] for a in alerts(cloud)] == ["KmsSecretGuardEventRejected"]
    assert records(cloud)[0]["secretName"] == "no/such-secret"


@pytest.mark.parametrize("name, reason", [
    (None, "DeleteSecret event has no SecretName"),
    ("payments db password", "requestParameters.SecretName 'payments db password' is not a secret name or secret ARN"),
])
def test_a_malformed_event_is_rejected_with_a_clear_reason(start_cloud, name, reason):
    cloud = start_cloud(account())
    event = json.loads(json.dumps(DELETE_EVENT))
    event["data"]["requestParameters"]["SecretName"] = name

    [outcome] = guard(cloud).handle(event, "inv-1")["results"]

    assert outcome["status"] == "rejected" and outcome["reason"] == reason
    assert cloud.calls.get("kms:RestoreSecret") == 0


def test_a_secret_restored_before_the_guard_reads_it_needs_nothing(start_cloud):
    cloud = start_cloud(account())
    app_reads(cloud)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    alice_kms(cloud).restore_secret(kms.RestoreSecretRequest(secret_name=SECRET))
    assert cloud.bus.drain(timeout=60)

    [record] = records(cloud)
    assert record["status"] == "no_action" and record["reasons"] == ["secret is Normal, not pending deletion now: nothing to restore"]
    assert alerts(cloud) == []


def test_the_safety_net_restores_a_read_secret_whose_event_was_lost(start_cloud):
    cloud = start_cloud(account(secret(), secret("billing/api-token")))
    cloud.bus.hold()  # the deletions' events never reach the guard
    app_reads(cloud, "billing/api-token")
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name="billing/api-token"))

    result = guard(cloud).handle({"triggerTime": "2026-12-02T03:30:00Z", "triggerName": "secret-safety-net",
                                  "payload": '{"task":"safety-net"}'}, "inv-timer")

    assert result["safetyNet"]["secretsPendingDeletion"] == 2
    assert planned_delete_time(cloud, "billing/api-token") is None and planned_delete_time(cloud) is not None
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretDeletionBlocked" and alert["secretName"] == "billing/api-token"


def test_the_failure_destination_restores_fail_safe_when_it_cannot_decide(start_cloud):
    cloud = start_cloud(account(faults=[{"Api": "kms:DescribeSecret", "Kind": "server_error"}]))
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    keeper = guard(cloud)
    event = json.loads(json.dumps(DELETE_EVENT))
    with pytest.raises(TransientError, match=r"retry later \(read secret\)"):
        keeper.handle(event, "inv-1")

    keeper.handle_failed_invocation(event, "MaxRetriesExceeded", "inv-destination")

    # DescribeSecret still fails: the restore went out, and the record says only what the guard could see.
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretGuardFailed" and alert["actionResult"] == "fail-safe restore sent; the secret is unreadable now"
    assert alert["reasons"][0].startswith("guard failed at read secret: InternalError")
    cloud.faults.clear()
    assert planned_delete_time(cloud) is None


def test_local_invoke_runs_secret_guard_on_the_sample_event(start_cloud):
    cloud = start_cloud(account())
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))

    invocation = cloud.fc.invoke("secret-guard", (ROOT / "events" / "delete_secret.json").read_bytes())

    assert invocation.ok, invocation.error
    [outcome] = invocation.result["results"]
    assert outcome["secretName"] == SECRET and outcome["decision"] == "allow"


def test_a_forced_deletion_whose_readers_cannot_be_known_is_alerted(start_cloud):
    # Gone, the secret no longer says whether it was in a KMS instance, and no instance log is configured: readers
    # through an instance's endpoint could not be seen, so they are not taken for none.
    cloud = start_cloud(account())

    alice_deletes(cloud, force_delete_without_recovery="true")

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsSecretForceDeletedWithReaders"
    assert alert["readersIncomplete"].startswith("the secret is gone, so whether it was in a KMS instance")


def test_a_failed_deletion_and_a_key_event_are_ignored_and_recorded(start_cloud):
    cloud = start_cloud(account())
    failed = json.loads(json.dumps(DELETE_EVENT))
    failed["data"]["errorCode"] = "Rejected.ResourceInDeleteWindow"
    key_event = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())

    results = [guard(cloud).handle(event, "inv-1")["results"][0] for event in (failed, key_event)]

    assert [r["status"] for r in results] == ["ignored", "ignored"]
    assert results[0]["reason"] == "the call failed ('Rejected.ResourceInDeleteWindow'): nothing changed"
    assert results[1]["reason"] == "'ScheduleKeyDeletion' is not a mutation secret-guard acts on"
    assert len(records(cloud)) == 2 and alerts(cloud) == [] and cloud.calls.get("kms:RestoreSecret") == 0


def test_a_forced_deletion_of_a_name_created_again_since_is_a_warning_not_a_loss(start_cloud):
    # The readers read by name: a secret of that name exists again, so they read the new one. Told as a WARN.
    cloud = start_cloud(account())
    app_reads(cloud)
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET, force_delete_without_recovery="true"))
    alice_kms(cloud).create_secret(kms.CreateSecretRequest(secret_name=SECRET, secret_data=CANARY + "-new", version_id="v1",
                                                           encryption_key_id=KEY))
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    [alert] = [a for a in alerts(cloud) if a["mutation"] == "DeleteSecret"]
    assert alert["Name"] == "KmsSecretForceDeletedWithReaders" and alert["severity"] == "WARN"
    assert any("a secret of that name exists again" in r for r in alert["reasons"])
    nothing_shows_the_canary(cloud)


def test_a_recovery_window_of_any_length_is_recorded_cut_to_ten_characters(start_cloud):
    cloud = start_cloud(account())
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    event = json.loads(json.dumps(DELETE_EVENT))
    event["data"]["requestParameters"]["RecoveryWindowInDays"] = "x" * 5000  # a forged event never fills a record

    guard(cloud).handle(event, "inv-1")

    assert records(cloud)[0]["recoveryWindowDays"] == "x" * 10
