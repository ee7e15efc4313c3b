"""ECS 2014-05-26: DescribeDisks and DescribeSnapshots, with the server-side KMSKeyId filter and
NextToken/MaxResults paging (see ../shared/reference/dependency-apis.md §3)."""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as m

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_token


def _ids(call: Call, name: str) -> set[str] | None:
    value = call.json(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise errors.invalid_parameter(name, "It must be a JSON array of ids.")
    return set(value)


class Ecs(RpcProduct):
    code = "ecs"
    service_name = "Ecs"
    version = "2014-05-26"
    endpoint_prefix = "ecs"

    def _region(self, call: Call) -> str:
        region = call.require("RegionId")
        if region not in self.account.region_ids:
            raise errors.ApiError("InvalidRegionId.NotFound", f"The specified RegionId does not exist. ({region})", 404)
        return region

    @api("DescribeDisks")
    def describe_disks(self, call: Call) -> dict:
        region = self._region(call)
        disks = [d for d in self.account.ecs.disks if d.RegionId == region]
        if (key := call.get("KMSKeyId")) is not None:
            disks = [d for d in disks if d.KMSKeyId == key]
        if (enc := call.bool("Encrypted")) is not None:
            disks = [d for d in disks if d.Encrypted == enc]
        if (ids := _ids(call, "DiskIds")) is not None:
            disks = [d for d in disks if d.DiskId in ids]
        if (status := call.get("Status")) not in (None, "All"):
            disks = [d for d in disks if d.Status == status]
        if (instance := call.get("InstanceId")) is not None:
            disks = [d for d in disks if d.InstanceId == instance]
        # The legacy PageNumber/PageSize parameters still answer, capped at 100 as documented.
        if call.get("PageNumber") or call.get("PageSize"):
            return self._paged_numbers(call, disks, m.DescribeDisksResponseBody, "disks", m.DescribeDisksResponseBodyDisks,
                                       m.DescribeDisksResponseBodyDisksDisk)
        page, token = paginate_token(disks, call, default_size=10, max_size=500, min_size=1)
        items = [m.DescribeDisksResponseBodyDisksDisk().from_map(d.wire()) for d in page]
        return m.DescribeDisksResponseBody(disks=m.DescribeDisksResponseBodyDisks(disk=items), next_token=token).to_map()

    @api("DescribeSnapshots")
    def describe_snapshots(self, call: Call) -> dict:
        region = self._region(call)
        snaps = [s for s in self.account.ecs.snapshots if s.RegionId == region]
        if (key := call.get("KMSKeyId")) is not None:
            snaps = [s for s in snaps if s.KMSKeyId == key]
        if (enc := call.bool("Encrypted")) is not None:
            snaps = [s for s in snaps if s.Encrypted == enc]
        if (ids := _ids(call, "SnapshotIds")) is not None:
            snaps = [s for s in snaps if s.SnapshotId in ids]
        if (disk := call.get("DiskId")) is not None:
            snaps = [s for s in snaps if s.SourceDiskId == disk]
        if (status := call.get("Status")) not in (None, "all"):
            snaps = [s for s in snaps if s.Status == status]
        if call.get("PageNumber") or call.get("PageSize"):
            return self._paged_numbers(call, snaps, m.DescribeSnapshotsResponseBody, "snapshots",
                                       m.DescribeSnapshotsResponseBodySnapshots, m.DescribeSnapshotsResponseBodySnapshotsSnapshot)
        page, token = paginate_token(snaps, call, default_size=10, max_size=100, min_size=1)
        items = [m.DescribeSnapshotsResponseBodySnapshotsSnapshot().from_map(s.wire()) for s in page]
        return m.DescribeSnapshotsResponseBody(snapshots=m.DescribeSnapshotsResponseBodySnapshots(snapshot=items), next_token=token).to_map()

    def _paged_numbers(self, call: Call, records, body_cls, field: str, list_cls, item_cls) -> dict:
        from localcloud.products.base import paginate_numbers

        page, total, number, size = paginate_numbers(records, call, default_size=10, max_size=100)
        wrapper = list_cls(**{field[:-1]: [item_cls().from_map(r.wire()) for r in page]})
        return body_cls(**{field: wrapper, "page_number": number, "page_size": size, "total_count": total}).to_map()
