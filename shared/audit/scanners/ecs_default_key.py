"""The key as the region's default key for new disks (ECS account-level EBS default encryption).

DescribeDiskDefaultKMSKeyId(RegionId) names the key new encrypted disks get; only when that is this key
is DescribeDiskEncryptionByDefaultStatus asked whether new disks are encrypted by default at all, so a
region where the key is not the default costs one call. The setting holds no data: what breaks when
the key goes is creating disks (and launching instances) in the region, so it is live.

The feature is offered in some regions only. Where it is not, ECS answers
Abs.InvalidAction.RegionNotSupport (documented for Modify/ResetDiskDefaultKMSKeyId; UNCONFIRMED for the
two Describe APIs): no default key can be set there, so that answer means no dependent.
"""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

NOT_OFFERED = "Abs.InvalidAction.RegionNotSupport"


class EcsDefaultKeyScanner:
    name = "ecs_default_key"
    service = "ECS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.ecs(target.region)
        try:
            default = clients.call("ecs:DescribeDiskDefaultKMSKeyId", client.describe_disk_default_kmskey_id,
                                   ecs.DescribeDiskDefaultKMSKeyIdRequest(region_id=target.region)).body
        except Exception as exc:
            if error_code(exc) == NOT_OFFERED:
                return []
            raise
        if not target.names_key(default.kmskey_id):
            return []
        status = clients.call("ecs:DescribeDiskEncryptionByDefaultStatus", client.describe_disk_encryption_by_default_status,
                              ecs.DescribeDiskEncryptionByDefaultStatusRequest(region_id=target.region)).body
        on = "on" if status.encrypted else "off"
        return [Dependent(
            service=self.service, resource_type="ACS::ECS::DiskEncryptionDefault", resource_id=f"disk-encryption-default/{target.region}",
            region=target.region, state="live", name=f"default disk encryption key of {target.region}",
            usage=f"default key for new encrypted disks (encryption by default: {on})",
            detail={"encryption_by_default": on, "kms_key_id": default.kmskey_id},
        )]
