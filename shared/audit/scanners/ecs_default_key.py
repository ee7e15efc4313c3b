"""The key as the region's default key for new disks (ECS account-level EBS default encryption).

DescribeDiskDefaultKMSKeyId(RegionId) names the key new encrypted disks get; only when that is this key
is DescribeDiskEncryptionByDefaultStatus asked whether new disks are encrypted by default at all, so a
region where the key is not the default costs one call. The setting holds no data: what breaks when
the key goes is creating disks (and launching instances) in the region, so it is live.

The feature is offered in some regions only. Where it is not, ECS answers
Abs.InvalidAction.RegionNotSupport (documented for Modify/ResetDiskDefaultKMSKeyId; UNCONFIRMED for the
two Describe APIs): no default key can be set there, so that answer means no dependent.

Silent denial: ECS answered a caller without permission with HTTP 200 and an empty answer until it changed
the authentication of its query APIs, a change that names DescribeInstances and DescribeDisks only
("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS query API operations",
https://www.alibabacloud.com/help/en/ecs/announcement-of-changes-to-the-authentication-mechanism-for-alibaba-cloud-ecs-query-type-apis).
Whether DescribeDiskDefaultKMSKeyId still does is not published. Its silent answer would carry no
KMSKeyId, which is also the answer of a region whose default key is not set; its request has no DryRun
(SDK 7.11.8), and what it answers when encryption by default uses the service key is UNCONFIRMED, so
DescribeDiskEncryptionByDefaultStatus cannot tell the two apart either. Nothing here can catch it: the
note says so.
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
    note = ("not checked for silent denial: an answer without a default key is what a region without one answers, and "
            "what DescribeDiskDefaultKMSKeyId would answer if it denied the caller silently (HTTP 200) as ECS query APIs "
            "did before their authentication change; it has no dry run to ask.")

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
