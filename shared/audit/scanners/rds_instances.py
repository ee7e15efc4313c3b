"""RDS instances that use the key for TDE or cloud-disk encryption (dependency-apis.md §4).

RDS has a reverse lookup: one DescribeKmsAssociateResources in the key's region names every instance
that uses the key, once per use (KeyUsedBy TDE | DiskEncryption). Each instance it names is then
verified with DescribeDBInstanceEncryptionKey, the one per-instance call that covers both uses: its
EncryptionKeyList names every key the instance uses and what for (UsedBy TDE | DiskEncryption), where
DescribeDBInstanceTDE would confirm only TDE. An instance the lookup names is reported even when the
verification does not confirm it (fail safe: either answer may lag the other), with a detail saying so.

Not remembered by the warm audit (shared/audit/facts.py): the lookup is one call per key, and TDE can be enabled on an
existing instance (RDS API reference: ModifyDBInstanceTDE), so both are read fresh every time.
"""
from __future__ import annotations

from alibabacloud_rds20140815 import models as rds

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

GONE = "InvalidDBInstanceId.NotFound"  # released between the lookup and the verification
# Answers third-party code reads as "no customer key to show for this instance" (UNCONFIRMED in the
# docs): the verification then confirms nothing, and the lookup's word stands.
NOTHING_LISTED = ("NoActiveBYOK", "Api.NotSupport")
# The lookup's Status has its own vocabulary (CREATING, ACTIVATION, DELETING, RESTARTING, CLASS_CHANGING,
# INS_MAINTAINING, BACKUP_RECOVERING, NET_MODIFYING), not DescribeDBInstances' DBInstanceStatus. Of those
# only DELETING is data with nothing serving it; a paused instance (StopDBInstance) is assumed to read
# STOPPED (UNCONFIRMED). A locked instance cannot be told apart here (the lookup has no lock state). The
# rest, unknown spellings included, counts as live: the more urgent reading.
AT_REST = ("DELETING", "STOPPED")
USES = {"TDE": "TDE (transparent data encryption)", "DiskEncryption": "cloud disk encryption"}


class RdsInstancesScanner:
    name = "rds_instances"
    service = "RDS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.rds(target.region)
        request = rds.DescribeKmsAssociateResourcesRequest(
            region_id=target.region, kms_resource_region_id=target.region, kms_resource_type="key",
            kms_resource_id=target.key_id, kms_resource_user=target.account_id)
        body = clients.call("rds:DescribeKmsAssociateResources", client.describe_kms_associate_resources, request).body

        claimed: dict[str, dict] = {}  # instance id -> what the lookup says of it, its uses merged
        for item in body.associate_dbinstances or []:
            entry = claimed.setdefault(item.dbinstance_name, {"engine": item.engine, "status": item.status, "uses": set()})
            if item.key_used_by:
                entry["uses"].add(item.key_used_by)
        if body.associate_status and not claimed:
            raise RuntimeError("DescribeKmsAssociateResources says the key is associated with RDS instances but names none")

        def verified(instance_id: str) -> Dependent | None:
            lookup = claimed[instance_id]
            try:
                keys = clients.call("rds:DescribeDBInstanceEncryptionKey", client.describe_dbinstance_encryption_key,
                                    rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id=instance_id, region_id=target.region)).body
                listed = {k.used_by for k in keys.encryption_key_list or [] if target.names_key(k.encryption_key) and k.used_by}
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                if error_code(exc) not in NOTHING_LISTED:
                    raise
                listed = set()
            detail = {"engine": lookup["engine"], "status": lookup["status"]}
            if unconfirmed := sorted(lookup["uses"] - listed):
                detail["verification"] = (f"DescribeDBInstanceEncryptionKey does not list {' or '.join(unconfirmed)} with this key; "
                                          "reported as DescribeKmsAssociateResources says")
            uses = sorted(lookup["uses"] | listed)
            return Dependent(
                service=self.service, resource_type="ACS::RDS::DBInstance", resource_id=instance_id, region=target.region,
                state="inert" if lookup["status"] in AT_REST else "live",
                usage=" and ".join(USES.get(u, u) for u in uses) or "associated with the key (use not stated)",
                detail={k: v for k, v in detail.items() if v},
            )

        return [d for d in fan_out(verified, list(claimed)) if d is not None]
