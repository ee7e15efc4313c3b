"""ECS cloud disks encrypted with the key: DescribeDisks has a server-side KMSKeyId filter, so one
paged call per region answers (dependency-apis.md §3).

An empty answer is checked before it is believed. Until ECS changed the authentication of its query
APIs, a RAM user or role without the permission got HTTP 200 and an empty list from DescribeDisks and
DescribeInstances, not an error: "Before the upgrade, the operation returns an empty resource list with
HttpCode:200 (OK). After the upgrade, the operation returns an error response with HttpCode:403
(Forbidden)" ("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS query API
operations", effective 2025-12-20,
https://www.alibabacloud.com/help/en/ecs/announcement-of-changes-to-the-authentication-mechanism-for-alibaba-cloud-ecs-query-type-apis).
An empty answer from such a service says "no disk on this key" and "not allowed to look" alike.

The check is an invariant of the region, asked only when the key's listing is empty:
1. DescribeDisks without the key filter, one page (MaxResults 10, the API's minimum): a disk there
   proves the listing can see the region's disks, and the empty filtered answer stands. One call.
2. Only when that is empty too: DescribeInstances, one page (MaxResults 10). Every ECS instance is
   created with a system disk, a cloud disk DescribeDisks lists (it lists system disks and data disks,
   `DiskType` all by default, SDK 7.11.8), so instances with not a single disk in the region cannot be:
   the disk listing is being silently denied, and the scanner raises (incomplete: "may have dependents").
   An empty region (no instance, no disk) stays complete and empty, at two calls.
So the check costs nothing when the key has disks, one call in a region with disks, two in an empty one.

Why the probe can stand for the filtered call: a RAM policy decides on the action (ecs:DescribeDisks) and
the resource (`acs:ecs:{#regionId}:{#accountId}:disk/{#diskId}` or `disk/*`, no condition key: "DescribeDisks
- 查询块存储", https://help.aliyun.com/document_detail/25514.html), never on a request filter such as
KMSKeyId. A denial that hides the key's disks (a policy for another region's disks, or none at all) hides
the unfiltered listing as well, and the probe meets it too.

What no invariant catches (said in the note): DescribeInstances silently denied as well, where a denied
region and an empty one look alike; an instance whose system disk was detached and released (AttachDisk
attaches a system disk to an instance "in the state of having no system disk",
https://help.aliyun.com/en/ecs/api-attachdisk) in a region with no other disk, which reads as a denial
(the safe way round); a policy that lets the role see some disks but not the key's (a partial view).
UNCONFIRMED: whether an instance still being created (Pending) is listed before its system disk is.
"""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.model import Dependent
from shared.audit.paging import items_by_token
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

PAGE_SIZE = 500  # the API's maximum MaxResults
PROBE_SIZE = 10  # the smallest MaxResults DescribeDisks and DescribeInstances take ("10 to 500", "less than 10: 10")


class SilentDenial(RuntimeError):
    """An empty answer the region's other answers show cannot be true: the service is most likely denying
    the caller silently (HTTP 200, empty list). Raised, so the scanner is incomplete ("may have dependents")."""

    code = "SilentDenial"  # how the runner's reason names it (shared.clients.describe_error)

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EcsDisksScanner:
    name = "ecs_disks"
    service = "ECS"
    note = ("an empty DescribeDisks answer is checked against the region: when the key's listing is empty, one "
            "unfiltered disk page (and, if that is empty, one DescribeInstances page) must agree; instances with no disk "
            "at all means DescribeDisks is silently denied (HTTP 200, empty list, as ECS answered a caller without "
            "permission before its query-API authentication change) and the scan is incomplete. Not caught: "
            "DescribeInstances silently denied as well (an empty region and a denied one then look alike), or a policy "
            "that shows some disks but not the key's.")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.ecs(target.region)
        found: list[Dependent] = []
        listed = 0

        def fetch(token):
            request = ecs.DescribeDisksRequest(region_id=target.region, kmskey_id=target.key_id, max_results=PAGE_SIZE, next_token=token)
            return clients.call("ecs:DescribeDisks", client.describe_disks, request).body

        for disk in items_by_token(fetch, lambda body: body.disks and body.disks.disk, api="DescribeDisks"):
            listed += 1
            if disk.kmskey_id != target.key_id:  # the filter is the API's; check it anyway
                continue
            attached = disk.status in ("In_use", "Attaching")
            found.append(Dependent(
                service=self.service, resource_type="ACS::ECS::Disk", resource_id=disk.disk_id, region=target.region,
                state="live" if attached else "inert", name=disk.disk_name or None,
                usage=f"{disk.type or 'data'} disk encryption" + (f", attached to {disk.instance_id}" if disk.instance_id else ""),
                detail={k: v for k, v in {"status": disk.status, "instance": disk.instance_id}.items() if v},
            ))
        if not listed:
            check_disks_visible(target, clients)
        return found


def check_disks_visible(target: AuditTarget, clients: Clients) -> None:
    """Raise SilentDenial when the region's answers show the disk listing cannot be true (module docstring)."""
    client = clients.ecs(target.region)
    probe = clients.call("ecs:DescribeDisks", client.describe_disks,
                         ecs.DescribeDisksRequest(region_id=target.region, max_results=PROBE_SIZE)).body
    if probe.disks and probe.disks.disk:
        return  # the listing sees the region's disks: the key has none
    instances = clients.call("ecs:DescribeInstances", client.describe_instances,
                             ecs.DescribeInstancesRequest(region_id=target.region, max_results=PROBE_SIZE)).body
    seen = len((instances.instances.instance if instances.instances else None) or [])
    if not seen:
        return  # no instance, no disk: an empty region
    # With MaxResults the answer's TotalCount is "meaningless" (DescribeInstancesResponseBody, SDK 7.11.8): the
    # page says how many were seen, and a next token that there are more.
    count = f"{seen}+" if instances.next_token else str(seen)
    raise SilentDenial(f"ECS answered an empty DescribeDisks although the region has {count} instance"
                       f"{'' if count == '1' else 's'}: silent denial? (every instance has a system disk)")
