"""RDS instances that use the key for TDE or cloud-disk encryption.

RDS has a reverse lookup: DescribeKmsAssociateResources answers "which instances use key X" for both
uses in one call per region (dependency-apis.md §4). Each instance it names is then verified with
DescribeDBInstanceEncryptionKey, whose EncryptionKeyList lists every key the instance uses and what
for (TDE and DiskEncryption) in one call. An instance the lookup names is reported even when the
verification disagrees (fail safe: the lookup may know of a use the verification does not show).
"""
from __future__ import annotations

from alibabacloud_rds20140815 import models as rds

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

GONE = "InvalidDBInstanceId.NotFound"  # released between the lookup and the verification
INERT_STATUSES = {"Stopped", "Deleting", "Released"}  # data at rest, nothing serving it now


class RdsInstancesScanner:
    name = "rds_instances"
    service = "RDS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.rds(target.region)
        body = clients.call("rds:DescribeKmsAssociateResources", client.describe_kms_associate_resources,
                            rds.DescribeKmsAssociateResourcesRequest(region_id=target.region, kms_resource_type="key",
                                                                     kms_resource_id=target.key_id,
                                                                     kms_resource_user=target.account_id,
                                                                     kms_resource_region_id=target.region)).body
        uses: dict[str, dict] = {}
        for item in body.associate_dbinstances or []:
            entry = uses.setdefault(item.dbinstance_name, {"engine": item.engine, "status": item.status, "used_by": []})
            if item.key_used_by and item.key_used_by not in entry["used_by"]:
                entry["used_by"].append(item.key_used_by)

        def verify(instance_id: str):
            try:
                return clients.call("rds:DescribeDBInstanceEncryptionKey", client.describe_dbinstance_encryption_key,
                                    rds.DescribeDBInstanceEncryptionKeyRequest(dbinstance_id=instance_id)).body
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                raise

        found = []
        for instance_id, key_info in zip(uses, fan_out(verify, list(uses))):
            if key_info is None:
                continue
            entry = uses[instance_id]
            verified = sorted({k.used_by for k in key_info.encryption_key_list or [] if target.names_key(k.encryption_key)})
            used_by = sorted(set(entry["used_by"]) | set(verified))
            detail = {"engine": entry["engine"] or "", "status": entry["status"] or ""}
            if set(entry["used_by"]) - set(verified):
                detail["verification"] = "DescribeDBInstanceEncryptionKey does not list this use; reported as the lookup says"
            found.append(Dependent(
                service=self.service, resource_type="ACS::RDS::DBInstance", resource_id=instance_id, region=target.region,
                state="inert" if entry["status"] in INERT_STATUSES else "live",
                usage=" and ".join({"TDE": "TDE (transparent data encryption)",
                                    "DiskEncryption": "cloud disk encryption"}.get(u, u) for u in used_by),
                detail={k: v for k, v in detail.items() if v},
            ))
        return found
