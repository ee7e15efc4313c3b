"""ECS snapshots encrypted with the key (DescribeSnapshots, server-side KMSKeyId filter, NextToken
paging with at most 100 a page). A snapshot is data at rest: inert, and lost with the key.

The listing is fetched once per run and shared: ecs_images reads each snapshot's Usage from it to
find the images built from the key's snapshots."""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.paging import items_by_token
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

PAGE_SIZE = 100  # the API's maximum MaxResults


def snapshots_on_key(target: AuditTarget, clients: Clients) -> list[ecs.DescribeSnapshotsResponseBodySnapshotsSnapshot]:
    """Every snapshot of the key's region encrypted with the key, fetched at most once per run."""
    client = clients.ecs(target.region)

    def fetch_page(token):
        request = ecs.DescribeSnapshotsRequest(region_id=target.region, kmskey_id=target.key_id, max_results=PAGE_SIZE, next_token=token)
        return clients.call("ecs:DescribeSnapshots", client.describe_snapshots, request).body

    def fetch():
        listed = items_by_token(fetch_page, lambda body: body.snapshots and body.snapshots.snapshot, api="DescribeSnapshots")
        return [s for s in listed if s.kmskey_id == target.key_id]  # the filter is the API's; check it anyway

    return clients.once(("ecs:DescribeSnapshots", target.region, target.key_id), fetch)


class EcsSnapshotsScanner:
    name = "ecs_snapshots"
    service = "ECS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        return [Dependent(
            service=self.service, resource_type="ACS::ECS::Snapshot", resource_id=snap.snapshot_id,
            region=target.region, state="inert", name=snap.snapshot_name or None,
            usage="snapshot encryption" + (f" (of disk {snap.source_disk_id})" if snap.source_disk_id else ""),
            detail={k: v for k, v in {"status": snap.status, "usage": snap.usage}.items() if v},
        ) for snap in snapshots_on_key(target, clients)]
