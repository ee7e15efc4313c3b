"""key-guard beyond deletion: the other mutations that hurt. DeleteKeyMaterial takes effect at once, so
the guard can only raise the blast radius and say how to re-import; turning deletion protection off is
often the step before a deletion; turning automatic rotation off is recorded for the sweeps. Each runs
end to end: a person calls KMS with the official SDK, EventBridge delivers the ActionTrail event."""
from __future__ import annotations

from alibabacloud_kms20160120 import models as kms

from tests.support.accounts import KEY, make_account
from tests.support.clients import alice_kms
from tests.support.guard import alerts, decision_records, only_record
from tests.support.resources import disk


def arn(cloud, key_id=KEY) -> str:
    return alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata.arn


def set_protection_held(cloud, enabled: bool) -> None:
    """alice turns the key's deletion protection on or off; its event waits if the bus is held."""
    alice_kms(cloud).set_deletion_protection(kms.SetDeletionProtectionRequest(
        protected_resource_arn=arn(cloud), enable_deletion_protection=enabled,
        deletion_protection_description="guarded" if enabled else None))


def set_protection(cloud, enabled: bool) -> None:
    set_protection_held(cloud, enabled)
    assert cloud.bus.drain(timeout=60)


def test_turning_protection_off_a_key_with_dependents_alerts(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], protection="Enabled"))
    set_protection(cloud, False)

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionProtectionRemoved" and alert["severity"] == "WARN"
    assert alert["keyId"] == KEY and alert["dependents"]["ECS"]["ids"] == ["d-app1"]
    record = only_record(cloud, "SetDeletionProtection")
    assert record["status"] == "decided" and record["decision"] == "alert" and record["keyId"] == KEY


def test_turning_protection_off_a_key_nothing_uses_is_recorded_without_alert(start_cloud):
    cloud = start_cloud(make_account(protection="Enabled"))
    set_protection(cloud, False)

    assert alerts(cloud) == []
    assert only_record(cloud, "SetDeletionProtection")["decision"] == "allow"


def test_turning_protection_on_is_ignored_without_a_call(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    set_protection(cloud, True)

    record = only_record(cloud, "SetDeletionProtection")
    assert record["status"] == "ignored" and "turned on" in record["reason"]
    assert alerts(cloud) == [] and cloud.calls.get("ecs:DescribeDisks") == 0


def test_turning_automatic_rotation_off_is_recorded_for_the_sweeps(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    kms_client = alice_kms(cloud)
    kms_client.update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=KEY, enable_automatic_rotation=True,
                                                                      rotation_interval="365d"))
    kms_client.update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=KEY, enable_automatic_rotation=False))
    assert cloud.bus.drain(timeout=60)

    records = [r for r in decision_records(cloud)
               if r.get("eventName") == "UpdateRotationPolicy"]
    assert sorted(r["status"] for r in records) == ["ignored", "recorded"]
    [off] = [r for r in records if r["status"] == "recorded"]
    assert "rotation" in off["reason"] and off["keyId"] == KEY
    assert alerts(cloud) == [] and cloud.calls.get("ecs:DescribeDisks") == 0  # no audit for a record


def external_key_account(**kwargs):
    account = make_account(**kwargs)
    key = next(k for k in account.kms.keys if k.KeyId == KEY)
    key.Origin = "EXTERNAL"  # imported key material (BYOK), which DeleteKeyMaterial removes at once
    return account


def test_deleting_imported_key_material_raises_the_blast_radius_and_how_to_reimport(start_cloud):
    cloud = start_cloud(external_key_account(disks=[disk("d-app1")]))
    alice_kms(cloud).delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyMaterialDeleted" and alert["severity"] == "CRITICAL"
    assert alert["dependents"]["ECS"]["ids"] == ["d-app1"]
    assert any("ImportKeyMaterial" in reason and "SAME material" in reason for reason in alert["reasons"])
    record = only_record(cloud, "DeleteKeyMaterial")
    assert record["status"] == "decided" and record["keyStateBefore"] == "PendingImport"
    assert cloud.calls.get("kms:CancelKeyDeletion") == 0 and cloud.calls.get("kms:EnableKey") == 0  # nothing to undo


def test_deleting_material_nothing_uses_is_recorded_without_alert(start_cloud):
    cloud = start_cloud(external_key_account())
    alice_kms(cloud).delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)

    assert alerts(cloud) == []
    assert only_record(cloud, "DeleteKeyMaterial")["decision"] == "allow"


def test_a_deletion_cancelled_on_a_key_without_its_material_is_blocked_and_the_key_back_to_pending_import(start_cloud):
    # Material deleted, then the key scheduled for deletion: the cancel brings it back to PendingImport, not
    # Enabled (it has no material to be enabled with). That is the guard's cancel done, not someone else's.
    cloud = start_cloud(external_key_account(disks=[disk("d-app1")]))
    alice_kms(cloud).delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))
    assert cloud.bus.drain(timeout=60)
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60)

    record = only_record(cloud, "ScheduleKeyDeletion")
    assert record["status"] == "acted" and record["actionDone"] is True
    assert (record["keyStateBefore"], record["keyStateAfter"]) == ("PendingDeletion", "PendingImport")
    assert record["actionResult"] == "PendingDeletion -> PendingImport"
    assert [a["Name"] for a in alerts(cloud)] == ["KmsKeyMaterialDeleted", "KmsKeyDeletionBlocked"]


def test_protection_turned_off_and_on_again_before_the_guard_reads_the_key_is_no_alert(start_cloud):
    # The guard decides on the key as it is, not as the event left it: protection back on by the time it reads
    # the key (a person corrected a slip) is nothing at risk, and no one is paged; the record says the key's
    # protection as read.
    cloud = start_cloud(make_account(disks=[disk("d-app1")], protection="Enabled"))
    cloud.bus.hold()
    set_protection_held(cloud, False)
    set_protection_held(cloud, True)
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    assert alerts(cloud) == []
    off = next(r for r in decision_records(cloud) if r.get("eventName") == "SetDeletionProtection" and r["status"] != "ignored")
    assert off["status"] == "no_action" and off["reason"] == "deletion protection is on again"
    assert off["deletionProtection"] == "Enabled"


def test_rotation_turned_off_and_on_again_before_the_guard_reads_the_key_is_nothing_to_record(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    kms_client = alice_kms(cloud)
    cloud.bus.hold()
    for enabled in (True, False, True):
        kms_client.update_rotation_policy(kms.UpdateRotationPolicyRequest(
            key_id=KEY, enable_automatic_rotation=enabled, rotation_interval="365d" if enabled else None))
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    [off] = [r for r in decision_records(cloud) if r.get("eventName") == "UpdateRotationPolicy" and r["status"] != "ignored"]
    assert off["status"] == "no_action" and off["reason"] == "automatic rotation is on again"


def test_material_deleted_then_the_key_scheduled_before_the_guard_reads_it_is_still_told(start_cloud):
    # The key shows PendingDeletion when the guard reads it for the DeleteKeyMaterial event: that state hides
    # whether the material is there, so the event is taken at its word. The material alert (with how to re-import)
    # is raised as well as the deletion's own decision; neither record says the material is in place.
    cloud = start_cloud(external_key_account(disks=[disk("d-app1")]))
    cloud.bus.hold()
    alice_kms(cloud).delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    cloud.bus.release()
    assert cloud.bus.drain(timeout=60)

    assert sorted(a["Name"] for a in alerts(cloud)) == ["KmsKeyDeletionBlocked", "KmsKeyMaterialDeleted"]
    material = only_record(cloud, "DeleteKeyMaterial")
    assert material["status"] == "decided" and material["decision"] == "alert"
    assert material["keyStateBefore"] == "PendingDeletion"
    assert not any("in place" in reason for reason in material["reasons"])
    assert only_record(cloud, "ScheduleKeyDeletion")["status"] == "acted"
