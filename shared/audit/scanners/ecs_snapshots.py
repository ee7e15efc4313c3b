"""ECS snapshots encrypted with the key (DescribeSnapshots, server-side KMSKeyId filter, NextToken
paging with at most 100 a page). A snapshot is data at rest: inert, and lost with the key.

The listing is fetched once per run and shared: ecs_images reads each snapshot's Usage from it to
find the images built from the key's snapshots.

An empty listing is checked with a dry run. ECS answered a caller without permission with HTTP 200 and an
empty list until it changed the authentication of its query APIs, and that change names DescribeInstances
and DescribeDisks only ("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS
query API operations",
https://www.alibabacloud.com/help/en/ecs/announcement-of-changes-to-the-authentication-mechanism-for-alibaba-cloud-ecs-query-type-apis):
whether DescribeSnapshots still denies silently is not published. No invariant ties snapshots to anything
else cheaply (a region may well have none), so the scanner asks the permission itself: DescribeSnapshots
with the same parameters and DryRun=true, one call, only when the key's listing is empty. "If the dry run
fails, the system returns an error. If the dry run succeeds, the system returns the error code
DryRunOperation", the check covering "the authorization of the Resource Access Management (RAM) user"
(DescribeSnapshotsRequest.dry_run, alibabacloud_ecs20140526 7.11.8); DescribeInstances documents the same
dry run as the way "to check whether the empty list is caused by lack of permissions"
(https://www.alibabacloud.com/help/doc-detail/25506.html). A refused dry run makes the scanner raise
(incomplete); DryRunOperation, or an answer that ignores DryRun, leaves the empty listing believed.
UNCONFIRMED: that DescribeSnapshots' dry run is refused while its real call answers silently. Where it is
not, a region without snapshots and a silently denied one look alike (said in the note).
"""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.paging import items_by_token
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.ecs_disks import SilentDenial
from shared.clients import Clients, error_code, is_access_denied, is_transient

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


DRY_RUN_PASSED = "DryRunOperation"


def check_snapshots_visible(target: AuditTarget, clients: Clients) -> None:
    """Raise SilentDenial when the dry run of the key's snapshot listing is refused (module docstring)."""
    client = clients.ecs(target.region)
    request = ecs.DescribeSnapshotsRequest(region_id=target.region, kmskey_id=target.key_id, max_results=PAGE_SIZE, dry_run=True)
    try:
        clients.call("ecs:DescribeSnapshots", client.describe_snapshots, request)
    except Exception as exc:
        if error_code(exc) == DRY_RUN_PASSED:
            return
        if is_access_denied(exc):
            raise SilentDenial(f"ECS answered an empty DescribeSnapshots but refused its dry run ({error_code(exc)}): "
                               "silent denial?") from None
        if is_transient(exc):
            raise  # the check could not be made: incomplete, as any call that fails
        return  # refused for a reason that is not permission: the check says nothing either way
    # 200: DryRun was not honoured (the listing it may have carried was looked at already): nothing to conclude


class EcsSnapshotsScanner:
    name = "ecs_snapshots"
    service = "ECS"
    note = ("an empty DescribeSnapshots answer is checked with a dry run of the same call (one call): a refused dry run "
            "means the listing is silently denied (HTTP 200, empty list) and the scan is incomplete. Whether ECS still "
            "denies DescribeSnapshots silently, and whether its dry run then says so, is not published: if the dry run "
            "passes while the listing is denied, a region with no snapshot of the key cannot be told from a denied one.")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        snapshots = snapshots_on_key(target, clients)
        if not snapshots:
            check_snapshots_visible(target, clients)
        return [Dependent(
            service=self.service, resource_type="ACS::ECS::Snapshot", resource_id=snap.snapshot_id,
            region=target.region, state="inert", name=snap.snapshot_name or None,
            usage="snapshot encryption" + (f" (of disk {snap.source_disk_id})" if snap.source_disk_id else ""),
            detail={k: v for k, v in {"status": snap.status, "usage": snap.usage}.items() if v},
        ) for snap in snapshots]
