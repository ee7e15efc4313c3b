"""ECS cloud disks encrypted with the key: DescribeDisks has a server-side KMSKeyId filter, so one
paged call per region answers (dependency-apis.md §3)."""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.paging import items_by_token
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

PAGE_SIZE = 500  # the API's maximum MaxResults


class EcsDisksScanner:
    name = "ecs_disks"
    service = "ECS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.ecs(target.region)
        found: list[Dependent] = []

        def fetch(token):
            request = ecs.DescribeDisksRequest(region_id=target.region, kmskey_id=target.key_id, max_results=PAGE_SIZE, next_token=token)
            return clients.call("ecs:DescribeDisks", client.describe_disks, request).body

        for disk in items_by_token(fetch, lambda body: body.disks and body.disks.disk, api="DescribeDisks"):
            if disk.kmskey_id != target.key_id:  # the filter is the API's; check it anyway
                continue
            attached = disk.status in ("In_use", "Attaching")
            found.append(Dependent(
                service=self.service, resource_type="ACS::ECS::Disk", resource_id=disk.disk_id, region=target.region,
                state="live" if attached else "inert", name=disk.disk_name or None,
                usage=f"{disk.type or 'data'} disk encryption" + (f", attached to {disk.instance_id}" if disk.instance_id else ""),
                detail={k: v for k, v in {"status": disk.status, "instance": disk.instance_id}.items() if v},
            ))
        return found
