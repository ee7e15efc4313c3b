"""Silent denial: an ECS query API that answers a caller without permission with HTTP 200 and an empty list,
as DescribeInstances and DescribeDisks did until ECS changed the authentication of its query APIs
("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS query API operations";
localcloud/fault_kinds.py cites it). The local cloud models it as the fault kind `silent_denial`; the audit
must not take such an answer for "no dependents" (shared/audit/scanners/ecs_disks.py, ecs_snapshots.py,
ecs_images.py say how each tells them apart, and what none can).

What a real denial looks like: a RAM policy decides on the action and the resource (ECS disks:
`acs:ecs:{region}:{account}:disk/{id}`, no condition key), never on a request filter such as KMSKeyId. A
role whose policy grants ecs:DescribeDisks on another region's disks only (or not at all) gets the empty
answer for every DescribeDisks call in this region, filtered or not, while DescribeInstances, granted,
still answers. So the faults here match the region's calls (`Params: {RegionId}`), not the key filter.
"""
from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient

from localcloud.account import Account, AccountError
from shared.audit.runner import run_audit
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_images import EcsImagesScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from tests.support.accounts import ACCOUNT_ID, OTHER_KEY, REGION, make_account
from tests.support.clients import error_of, key_state, sdk_config
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import disk, snapshot
from tests.support.scanners import clients, target

# LookupEvents is paced to its 2 calls a second; pacing is not what these tests are about.
FAST = {"AUDIT_QPS": "actiontrail:LookupEvents=1000"}
DISKS_DENIED_HERE = {"Api": "ecs:DescribeDisks", "Kind": "silent_denial", "Params": {"RegionId": REGION}}


def instance(instance_id: str, status: str = "Running") -> dict:
    return {"InstanceId": instance_id, "RegionId": REGION, "Status": status}


def system_disk(disk_id: str, instance_id: str, key: str | None = None) -> dict:
    return disk(disk_id, key=key, InstanceId=instance_id, Type="system")


def payments_region(faults=()) -> Account:
    """Two instances with their system disks (not on the key) and one data disk each encrypted with the key:
    the key's only dependents are ECS disks."""
    return make_account(
        disks=[system_disk("d-sys1", "i-app1"), system_disk("d-sys2", "i-app2"),
               disk("d-app1", InstanceId="i-app1"), disk("d-app2", InstanceId="i-app2")],
        ecs={"instances": [instance("i-app1"), instance("i-app2")]}, faults=faults)


# ------------------------------------------------------------------ the fault, through the official SDK


def test_a_silently_denied_listing_is_200_and_empty_as_the_announcement_shows_it(start_cloud):
    cloud = start_cloud(make_account(ecs={"instances": [instance("i-app1")]},
                                     faults=[{"Api": "ecs:DescribeInstances", "Kind": "silent_denial"}]))
    client = EcsClient(sdk_config(cloud))

    body = client.describe_instances(ecs.DescribeInstancesRequest(region_id=REGION))

    # The announcement's "before the upgrade" sample, field for field.
    assert body.status_code == 200
    assert body.body.to_map() == {"RequestId": body.body.request_id, "Instances": {"Instance": []}, "NextToken": "",
                                  "PageNumber": 1, "PageSize": 10, "TotalCount": 0}


def test_a_dry_run_of_a_silently_denied_call_is_refused_loudly_and_passes_otherwise(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeSnapshots", "Kind": "silent_denial"}]))
    client = EcsClient(sdk_config(cloud))

    denied = error_of(lambda: client.describe_snapshots(ecs.DescribeSnapshotsRequest(region_id=REGION, dry_run=True)))
    passed = error_of(lambda: client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, dry_run=True)))

    assert (denied.code, denied.status_code) == ("Forbidden.RAM", 403)
    assert (passed.code, passed.status_code) == ("DryRunOperation", 400)


def test_the_kind_is_accepted_in_account_files_and_refused_where_no_silent_listing_is_modelled(start_cloud):
    account = Account.from_data({"account_id": ACCOUNT_ID, "faults": [DISKS_DENIED_HERE]})
    assert account.faults[0].Kind == "silent_denial"
    with pytest.raises(AccountError, match="Kind"):
        Account.from_data({"account_id": ACCOUNT_ID, "faults": [{"Api": "ecs:DescribeDisks", "Kind": "silent"}]})
    cloud = start_cloud(make_account())
    with pytest.raises(ValueError, match="POP products"):
        cloud.faults.add("oss:ListBuckets", kind="silent_denial")


# ------------------------------------------------------------------ the scanners


def test_an_empty_region_is_complete_and_empty_at_two_calls(start_cloud):
    cloud = start_cloud(make_account())

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert result.complete and result.dependents == []
    assert cloud.calls.get("ecs:DescribeDisks") == 2 and cloud.calls.get("ecs:DescribeInstances") == 1


def test_a_region_with_disks_on_other_keys_costs_one_extra_call(start_cloud):
    cloud = start_cloud(make_account(disks=[system_disk("d-sys1", "i-app1"), disk("d-other", key=OTHER_KEY)],
                                     ecs={"instances": [instance("i-app1")]}))

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert result.complete and result.dependents == []
    assert cloud.calls.get("ecs:DescribeDisks") == 2 and cloud.calls.get("ecs:DescribeInstances") == 0


def test_a_key_with_disks_costs_no_extra_call(start_cloud):
    cloud = start_cloud(payments_region())

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert result.complete and {d.resource_id for d in result.dependents} == {"d-app1", "d-app2"}
    assert cloud.calls.get("ecs:DescribeDisks") == 1 and cloud.calls.get("ecs:DescribeInstances") == 0


def test_instances_without_a_single_visible_disk_make_the_disk_scan_incomplete(start_cloud):
    cloud = start_cloud(payments_region(faults=[DISKS_DENIED_HERE]))

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert not result.complete
    assert result.reason.startswith("SilentDenial: ECS answered an empty DescribeDisks although the region has 2 instances: "
                                    "silent denial?")
    assert "DescribeInstances silently denied as well" in EcsDisksScanner.note  # what it cannot catch, said


def test_the_checks_own_calls_fail_safe_when_they_are_refused(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": "ecs:DescribeInstances", "Code": "Forbidden.RAM"}]))

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert not result.complete and result.reason.startswith("access denied (Forbidden.RAM")


def test_a_refused_dry_run_makes_an_empty_snapshot_listing_incomplete(start_cloud):
    cloud = start_cloud(make_account(snapshots=[snapshot("s-app1")],
                                     faults=[{"Api": "ecs:DescribeSnapshots", "Kind": "silent_denial"}]))

    [result] = run_audit(target(), clients(cloud), scanners=(EcsSnapshotsScanner(),)).results

    assert not result.complete
    assert result.reason == "SilentDenial: ECS answered an empty DescribeSnapshots but refused its dry run (Forbidden.RAM): silent denial?"
    assert cloud.calls.get("ecs:DescribeSnapshots") == 2  # the listing, then its dry run


def test_a_region_without_snapshots_is_complete_after_one_dry_run(start_cloud):
    cloud = start_cloud(make_account(snapshots=[snapshot("s-other", key=OTHER_KEY)]))

    [result] = run_audit(target(), clients(cloud), scanners=(EcsSnapshotsScanner(),)).results

    assert result.complete and result.dependents == []
    assert cloud.calls.get("ecs:DescribeSnapshots") == 2
    assert "cannot be told from a denied one" in result.note


def test_an_image_snapshot_without_its_image_means_describe_images_is_denied(start_cloud):
    cloud = start_cloud(make_account(snapshots=[{**snapshot("s-golden"), "Usage": "image"}],
                                     faults=[{"Api": "ecs:DescribeImages", "Kind": "silent_denial"}]))

    report = run_audit(target(), clients(cloud), scanners=(EcsSnapshotsScanner(), EcsImagesScanner()))
    snapshots, images = report.results

    assert snapshots.complete and [d.resource_id for d in snapshots.dependents] == ["s-golden"]
    assert not images.complete
    assert "empty DescribeImages for snapshot s-golden although its Usage says an image was built from it" in images.reason


# ------------------------------------------------------------------ key-guard, end to end


def test_key_guard_cancels_the_deletion_when_describe_disks_is_silently_denied(start_cloud):
    cloud = start_cloud(payments_region(faults=[DISKS_DENIED_HERE]), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [part["part"] for part in alert["auditIncomplete"]] == ["ecs_disks"]
    assert "empty DescribeDisks although the region has 2 instances: silent denial?" in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is False and record["dependentCount"] == 0
    assert record["auditIncomplete"] == [{"part": "ecs_disks", "reason": alert["auditIncomplete"][0]["reason"]}]
    assert record["apiCalls"]["ecs:DescribeDisks"] == 2 and record["apiCalls"]["ecs:DescribeInstances"] == 1


def test_key_guard_cancels_when_snapshots_are_silently_denied(start_cloud):
    cloud = start_cloud(make_account(snapshots=[snapshot("s-app1")],
                                     faults=[{"Api": "ecs:DescribeSnapshots", "Kind": "silent_denial", "Params": {"RegionId": REGION}}]),
                        env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    record = only_record(cloud)
    assert record["decision"] == "block" and record["dependentCount"] == 0
    assert [p["part"] for p in record["auditIncomplete"]] == ["ecs_snapshots"]
    assert "refused its dry run" in record["auditIncomplete"][0]["reason"]


def test_an_empty_region_stays_complete_and_the_deletion_of_an_unused_key_proceeds(start_cloud):
    cloud = start_cloud(make_account(), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["auditComplete"] is True and record["dependentCount"] == 0
    assert record["scanners"]["ecs_disks"]["complete"] is True and record["scanners"]["ecs_snapshots"]["complete"] is True
    assert record["apiCalls"]["ecs:DescribeDisks"] == 2 and record["apiCalls"]["ecs:DescribeInstances"] == 1


def test_a_region_with_instances_and_disks_on_other_keys_lets_an_unused_key_go(start_cloud):
    cloud = start_cloud(make_account(disks=[system_disk("d-sys1", "i-app1")], ecs={"instances": [instance("i-app1")]}), env=FAST)
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion"
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["auditComplete"] is True
    assert "ecs:DescribeInstances" not in record["apiCalls"]  # the region's disks were visible: no instance check
