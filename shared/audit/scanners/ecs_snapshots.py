"""ECS snapshots encrypted with the key (DescribeSnapshots, server-side KMSKeyId filter, NextToken
paging with at most 100 a page). A snapshot is data at rest: inert, and lost with the key."""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.paging import items_by_token
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

PAGE_SIZE = 100  # the API's maximum MaxResults


class EcsSnapshotsScanner:
    name = "ecs_snapshots"
    service = "ECS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.ecs(target.region)
        found: list[Dependent] = []

        def fetch(token):
            request = ecs.DescribeSnapshotsRequest(region_id=target.region, kmskey_id=target.key_id, max_results=PAGE_SIZE, next_token=token)
            return clients.call("ecs:DescribeSnapshots", client.describe_snapshots, request).body

        for snap in items_by_token(fetch, lambda body: body.snapshots and body.snapshots.snapshot):
            if snap.kmskey_id != target.key_id:  # the filter is the API's; check it anyway
                continue
            found.append(Dependent(
                service=self.service, resource_type="ACS::ECS::Snapshot", resource_id=snap.snapshot_id,
                region=target.region, state="inert", name=snap.snapshot_name or None,
                usage="snapshot encryption" + (f" (of disk {snap.source_disk_id})" if snap.source_disk_id else ""),
                detail={k: v for k, v in {"status": snap.status, "usage": snap.usage}.items() if v},
            ))
        return found
