"""deletion_protection on the local cloud: dependents come from a one-pass region inventory (each product listed once,
not once per key), an unprotected key with dependents is found, and an incomplete product listing makes the check
incomplete rather than "unprotected is fine"."""
from __future__ import annotations

from shared.sweeps.checks.deletion_protection import CHECK
from shared.sweeps.inventory import build_inventory
from tests.support.accounts import REGION
from tests.support.scanners import clients
from tests.support.sweeps import NOW, by_resource, key, run, secret, sweep_account

USED = "22222222-0000-4000-8000-000000000001"
PROTECTED = "22222222-0000-4000-8000-000000000002"
UNUSED = "22222222-0000-4000-8000-000000000003"
AT_REST = "22222222-0000-4000-8000-000000000004"
KEYS = [key(USED), key(PROTECTED, DeletionProtection="Enabled"), key(UNUSED), key(AT_REST)]
DISKS = [
    {"DiskId": "d-live", "RegionId": REGION, "Status": "In_use", "Encrypted": True, "KMSKeyId": USED, "InstanceId": "i-1", "Type": "data"},
    {"DiskId": "d-prot", "RegionId": REGION, "Status": "In_use", "Encrypted": True, "KMSKeyId": PROTECTED, "InstanceId": "i-1", "Type": "data"},
]
SNAPSHOTS = [{"SnapshotId": "s-rest", "RegionId": REGION, "Encrypted": True, "KMSKeyId": AT_REST, "Status": "accomplished"}]
BUCKETS = [{"Name": "invoices", "Location": f"oss-{REGION}",
            "ServerSideEncryptionRule": {"SSEAlgorithm": "KMS", "KMSMasterKeyID": f"acs:kms:{REGION}:1234567890123456:key/{USED}"}}]
SECRETS = [secret("db/app", created=NOW, EncryptionKeyId=USED)]


def account(**extra):
    return sweep_account(keys=KEYS, secrets=SECRETS, disks=DISKS, snapshots=SNAPSHOTS, buckets=BUCKETS, **extra)


def test_unprotected_keys_with_dependents_are_found(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    result = run(cloud, CHECK)
    assert result.complete, result.reason
    found = by_resource(result)
    assert set(found) == {USED, AT_REST}
    assert found[USED].severity == "WARN" and found[USED].detail["dependents"] == {"ECS": 1, "OSS": 1, "Secrets Manager": 1}
    assert found[AT_REST].severity == "INFO"  # only a snapshot: data at rest
    assert "RDS" in result.note  # what the inventory does not cover is said


def test_each_product_is_listed_once_for_all_keys(start_cloud):
    cloud = start_cloud(account(), now=NOW)
    region_clients = clients(cloud)
    inventory = build_inventory(region_clients, REGION)
    assert inventory.complete
    assert {d.resource_id for d in inventory.dependents_of(USED)} == {"d-live", "invoices", "db/app"}
    calls = region_clients.calls.counts
    assert calls["ecs:DescribeDisks"] == 1 and calls["ecs:DescribeSnapshots"] == 1 and calls["oss:ListBuckets"] == 1
    assert calls["kms:ListSecrets"] == 1 and calls["kms:DescribeSecret"] == 1


def test_a_denied_product_listing_makes_the_check_incomplete(start_cloud):
    cloud = start_cloud(account(faults=[{"Api": "ecs:DescribeSnapshots", "Code": "Forbidden.RAM", "Status": 403}]), now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete
    assert "ECS snapshots" in result.reason and "access denied" in result.reason
    assert AT_REST not in by_resource(result)  # not reported fine: the result says it could not look
    assert USED in by_resource(result)  # what was seen still counts


def test_silently_denied_disks_are_incomplete(start_cloud):
    instances = {"instances": [{"InstanceId": "i-1", "RegionId": REGION, "Status": "Running"}]}
    cloud = start_cloud(account(ecs=instances, faults=[{"Api": "ecs:DescribeDisks", "Kind": "silent_denial"}]), now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete and "ECS disks" in result.reason and "silent denial" in result.reason
