"""ECS 2014-05-26: DescribeDisks and DescribeSnapshots with the server-side KMSKeyId filter and
NextToken/MaxResults paging, DescribeImages (PageNumber/PageSize, at most 100 a page), DescribeInstances
(both paging styles), and the region's account-level default encryption for new disks
(DescribeDiskDefaultKMSKeyId, DescribeDiskEncryptionByDefaultStatus). See dependency-apis.md §3.

DryRun (DescribeDisks, DescribeSnapshots, DescribeImages, DescribeInstances): "If the request passes the
dry run, the DryRunOperation error code is returned" (SDK 7.11.8 request models); nothing is listed. The
answer is 400 DryRunOperation "Request validation has been passed with DryRun flag set." (the status and
message as Alibaba Cloud's error-code pages give them for other POP products, e.g. VPC peering's;
UNCONFIRMED for ECS). A dry run that lacks the permission is refused by the gateway's faults
(`denied`, or `silent_denial`, whose dry run is loud: localcloud/fault_kinds.py).

Account file, section `ecs`:
- `disks`: DescribeDisks items; `snapshots`: DescribeSnapshots items; `images`: DescribeImages items
  (each with its RegionId). A snapshot without `Usage` is answered with the usage the account implies
  (image / disk / image_disk / none: whether an image's DiskDeviceMapping or a disk's SourceSnapshotId
  names it), as the real API derives it.
- `instances`: DescribeInstances items (InstanceId, RegionId, Status, any other field of the SDK's
  item model). Every ECS instance is created with a system disk, a disk record whose InstanceId names
  it; an instance listed without one is an instance whose system disk was detached and released (AttachDisk
  attaches a system disk only to an instance "in the state of having no system disk", AttachDisk,
  https://help.aliyun.com/en/ecs/api-attachdisk), which is rare: the audit reads a region with instances
  and no disk at all as a possibly silent denial of DescribeDisks (shared/audit/scanners/ecs_disks.py).
- `encryption_defaults`: one record per region that has account-level default encryption set up:
  `{RegionId, KMSKeyId, Encrypted}`, the fields of the two Describe answers. `Encrypted` is whether
  new disks are encrypted by default (DescribeDiskEncryptionByDefaultStatus); `KMSKeyId` the key
  they are encrypted with (DescribeDiskDefaultKMSKeyId). A region without a record answers
  Encrypted false and no KMSKeyId. UNCONFIRMED: what DescribeDiskDefaultKMSKeyId answers when the
  feature was never enabled (the docs say only that the service key is used when it is first enabled).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_ecs20140526 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers, paginate_token
from localcloud.records import AccountSection, Record, StrictRecord

SNAPSHOT_USAGES = ("image", "disk", "image_disk", "none")
IMAGE_STATUSES = ("Creating", "Waiting", "Available", "UnAvailable", "CreateFailed", "Deprecated")
IMAGE_OWNER_ALIASES = ("system", "self", "others", "marketplace")


# ---------------------------------------------------------------- records


class EcsDisk(Record):
    sdk_model: ClassVar[Any] = m.DescribeDisksResponseBodyDisksDisk
    DiskId: str
    RegionId: str
    Status: Literal["In_use", "Available", "Attaching", "Detaching", "Creating", "ReIniting"] = "In_use"
    Encrypted: bool = False
    KMSKeyId: Optional[str] = None
    InstanceId: Optional[str] = None


class EcsSnapshot(Record):
    sdk_model: ClassVar[Any] = m.DescribeSnapshotsResponseBodySnapshotsSnapshot
    SnapshotId: str
    RegionId: str
    Status: Literal["progressing", "accomplished", "failed", "all"] = "accomplished"
    Encrypted: bool = False
    KMSKeyId: Optional[str] = None
    SourceDiskId: Optional[str] = None
    Usage: Optional[Literal["image", "disk", "image_disk", "none"]] = None  # None: derived from images and disks


class EcsImageDiskDeviceMapping(Record):
    sdk_model: ClassVar[Any] = m.DescribeImagesResponseBodyImagesImageDiskDeviceMappingsDiskDeviceMapping
    extra_fields: ClassVar[frozenset] = frozenset()
    SnapshotId: Optional[str] = None
    Encrypted: Optional[bool] = None


class EcsImageDiskDeviceMappings(StrictRecord):
    DiskDeviceMapping: list[EcsImageDiskDeviceMapping] = Field(default_factory=list)


class EcsImage(Record):
    """A DescribeImages item, plus the region it lives in."""

    sdk_model: ClassVar[Any] = m.DescribeImagesResponseBodyImagesImage
    ImageId: str
    RegionId: str
    Status: Literal["Creating", "Waiting", "Available", "UnAvailable", "CreateFailed", "Deprecated"] = "Available"
    ImageOwnerAlias: Literal["system", "self", "others", "marketplace"] = "self"
    Usage: Literal["instance", "none"] = "none"
    DiskDeviceMappings: EcsImageDiskDeviceMappings = Field(default_factory=EcsImageDiskDeviceMappings)

    @property
    def snapshot_ids(self) -> set[str]:
        return {d.SnapshotId for d in self.DiskDeviceMappings.DiskDeviceMapping if d.SnapshotId}


class EcsInstance(Record):
    """A DescribeInstances item (RegionId is the item's own field)."""

    sdk_model: ClassVar[Any] = m.DescribeInstancesResponseBodyInstancesInstance
    InstanceId: str
    RegionId: str
    # DescribeInstances' Status values (SDK 7.11.8 DescribeInstancesRequest).
    Status: Literal["Pending", "Running", "Starting", "Stopping", "Stopped"] = "Running"


class EcsEncryptionDefault(StrictRecord):
    """A region's account-level default encryption for new disks: the DescribeDiskDefaultKMSKeyId and
    DescribeDiskEncryptionByDefaultStatus answers for RegionId."""

    RegionId: str
    KMSKeyId: Optional[str] = None
    Encrypted: bool = False


class EcsSection(AccountSection):
    section: ClassVar[str] = "ecs"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {
        "disks": ("DiskId",), "snapshots": ("SnapshotId",), "images": ("ImageId",), "instances": ("InstanceId",),
        "encryption_defaults": ("RegionId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("DiskId", "SnapshotId", "ImageId", "InstanceId")

    disks: list[EcsDisk] = Field(default_factory=list)
    snapshots: list[EcsSnapshot] = Field(default_factory=list)
    images: list[EcsImage] = Field(default_factory=list)
    instances: list[EcsInstance] = Field(default_factory=list)
    encryption_defaults: list[EcsEncryptionDefault] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_default_per_region(self):
        regions = [d.RegionId for d in self.encryption_defaults]
        if len(regions) != len(set(regions)):
            raise ValueError("encryption_defaults holds one record per RegionId")
        return self


# ---------------------------------------------------------------- API


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

    # The Describe APIs whose request takes DryRun (SDK 7.11.8 request models).
    DRY_RUN_APIS = frozenset({"DescribeDisks", "DescribeSnapshots", "DescribeImages", "DescribeInstances"})

    def _region(self, call: Call) -> str:
        return self.known_region(call.require("RegionId"))

    def handle(self, call: Call) -> dict:
        if call.action in self.DRY_RUN_APIS and call.bool("DryRun"):
            self._region(call)  # a dry run checks the required parameters too
            raise errors.ApiError("DryRunOperation", "Request validation has been passed with DryRun flag set.", 400)
        return super().handle(call)

    @api("DescribeRegions")
    def describe_regions(self, call: Call) -> dict:
        """The regions the account has ("DescribeRegions",
        https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeregions: Regions.Region[]
        with RegionId, LocalName, RegionEndpoint, Status "available"; not paged). RegionEndpoint is the public
        ecs.<region>.aliyuncs.com (ecs-cn-hangzhou for some China regions in the real answer: UNCONFIRMED which)."""
        regions = [m.DescribeRegionsResponseBodyRegionsRegion(region_id=r.RegionId, local_name=r.LocalName or r.RegionId,
                                                              region_endpoint=f"ecs.{r.RegionId}.aliyuncs.com", status="available")
                   for r in self.account.regions]
        return m.DescribeRegionsResponseBody(regions=m.DescribeRegionsResponseBodyRegions(region=regions)).to_map()

    @api("DescribeInstances")
    def describe_instances(self, call: Call) -> dict:
        """DescribeInstances with the filters the audit may use (InstanceIds, Status). With MaxResults or
        NextToken it pages by token (MaxResults "Maximum value: 100 ... less than 10, the default value is 10
        ... greater than 100, the default value is 100", SDK 7.11.8; "the returned TotalCount parameter value is
        meaningless": it is still answered here, with the total), else by PageNumber/PageSize (at most 100)."""
        region = self._region(call)
        instances = [i for i in self.account.ecs.instances if i.RegionId == region]
        if (ids := _ids(call, "InstanceIds")) is not None:
            instances = [i for i in instances if i.InstanceId in ids]
        if (status := call.get("Status")) is not None:
            instances = [i for i in instances if i.Status == status]
        items = [i.wire() for i in instances]
        if call.get("MaxResults") is None and call.get("NextToken") is None:
            return self._paged_numbers(call, items, m.DescribeInstancesResponseBody, "instances",
                                       m.DescribeInstancesResponseBodyInstances, m.DescribeInstancesResponseBodyInstancesInstance)
        page, token = paginate_token(items, call, default_size=10, max_size=100, min_size=10, clamp=True)
        return m.DescribeInstancesResponseBody(
            instances=m.DescribeInstancesResponseBodyInstances(
                instance=[m.DescribeInstancesResponseBodyInstancesInstance().from_map(i) for i in page]),
            next_token=token, total_count=len(items)).to_map()

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
        items = [d.wire() for d in disks]
        # The legacy PageNumber/PageSize parameters still answer, capped at 100 as documented.
        if call.get("PageNumber") or call.get("PageSize"):
            return self._paged_numbers(call, items, m.DescribeDisksResponseBody, "disks", m.DescribeDisksResponseBodyDisks,
                                       m.DescribeDisksResponseBodyDisksDisk)
        # MaxResults 10 to 500, a value outside clamped, not refused (DescribeDisks API reference; see paginate_token).
        page, token = paginate_token(items, call, default_size=10, max_size=500, min_size=10, clamp=True)
        disk_items = [m.DescribeDisksResponseBodyDisksDisk().from_map(d) for d in page]
        return m.DescribeDisksResponseBody(disks=m.DescribeDisksResponseBodyDisks(disk=disk_items), next_token=token).to_map()

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
        usage_of = self._snapshot_usage(region)
        items = [{**s.wire(), "Usage": s.Usage or usage_of(s.SnapshotId)} for s in snaps]
        if (usage := call.get("Usage")) is not None:
            if usage not in SNAPSHOT_USAGES:
                raise errors.ApiError("InvalidUsage", "The specifed Usage is not valid", 404)  # sic, the documented message
            items = [s for s in items if s["Usage"] == usage]
        if call.get("PageNumber") or call.get("PageSize"):
            return self._paged_numbers(call, items, m.DescribeSnapshotsResponseBody, "snapshots",
                                       m.DescribeSnapshotsResponseBodySnapshots, m.DescribeSnapshotsResponseBodySnapshotsSnapshot)
        page, token = paginate_token(items, call, default_size=10, max_size=100, min_size=1)
        snap_items = [m.DescribeSnapshotsResponseBodySnapshotsSnapshot().from_map(s) for s in page]
        return m.DescribeSnapshotsResponseBody(snapshots=m.DescribeSnapshotsResponseBodySnapshots(snapshot=snap_items),
                                               next_token=token).to_map()

    def _snapshot_usage(self, region: str):
        """snapshot id -> what it is used by, as DescribeSnapshots derives it: images and/or disks made from it."""
        by_image = {sid for i in self.account.ecs.images if i.RegionId == region for sid in i.snapshot_ids}
        by_disk = {getattr(d, "SourceSnapshotId", None) for d in self.account.ecs.disks if d.RegionId == region}
        usages = {(True, True): "image_disk", (True, False): "image", (False, True): "disk", (False, False): "none"}
        return lambda snapshot_id: usages[(snapshot_id in by_image, snapshot_id in by_disk)]

    @api("DescribeImages")
    def describe_images(self, call: Call) -> dict:
        region = self._region(call)
        images = [i for i in self.account.ecs.images if i.RegionId == region]
        alias = call.get("ImageOwnerAlias")
        if alias is not None and alias not in IMAGE_OWNER_ALIASES:
            raise errors.ApiError("InvalidImageOwnerAlias.ValueNotSupported",
                                  "The specified ImageOwnerAlias value is not supported.", 400)
        # No alias answers system, self and others (marketplace images only when asked for).
        owners = {alias} if alias else {"system", "self", "others"}
        images = [i for i in images if i.ImageOwnerAlias in owners]
        statuses = self._image_statuses(call)
        images = [i for i in images if i.Status in statuses]
        if (ids := call.get("ImageId")) is not None:
            wanted = {s.strip() for s in ids.split(",")}
            images = [i for i in images if i.ImageId in wanted]
        if (snapshot := call.get("SnapshotId")) is not None:
            images = [i for i in images if snapshot in i.snapshot_ids]
        if (usage := call.get("Usage")) is not None:
            if usage not in ("instance", "none"):
                raise errors.ApiError("InvalidUsage", "The specifed Usage is not valid", 404)
            images = [i for i in images if i.Usage == usage]
        page, total, number, size = paginate_numbers(images, call, default_size=10, max_size=100)
        items = [m.DescribeImagesResponseBodyImagesImage().from_map(i.wire()) for i in page]
        return m.DescribeImagesResponseBody(images=m.DescribeImagesResponseBodyImages(image=items), region_id=region,
                                            page_number=number, page_size=size, total_count=total).to_map()

    @staticmethod
    def _image_statuses(call: Call) -> set[str]:
        """Status: Available by default; several values comma-separated, or ALL alone (SDK 7.11.8's
        DescribeImagesRequest docs). A value outside the list is refused (the code is UNCONFIRMED)."""
        raw = call.get("Status", "Available")
        if raw == "ALL":
            return set(IMAGE_STATUSES)
        wanted = {s.strip() for s in raw.split(",")}
        if not wanted <= set(IMAGE_STATUSES):
            raise errors.invalid_parameter("Status", f"Valid values: ALL or any of {', '.join(IMAGE_STATUSES)}.")
        return wanted

    # ------------------------------------------------------------ account-level default encryption

    def _encryption_default(self, call: Call) -> EcsEncryptionDefault:
        region = call.require("RegionId")
        if region not in self.account.region_ids:
            # The code these two APIs document for an unknown region (not InvalidRegionId.NotFound).
            raise errors.ApiError("InvalidParameter.RegionIdNotExists", "The specified region does not exists.", 403)
        found = next((d for d in self.account.ecs.encryption_defaults if d.RegionId == region), None)
        return found or EcsEncryptionDefault(RegionId=region)

    @api("DescribeDiskDefaultKMSKeyId")
    def describe_disk_default_kms_key_id(self, call: Call) -> dict:
        default = self._encryption_default(call)
        return m.DescribeDiskDefaultKMSKeyIdResponseBody(kmskey_id=default.KMSKeyId).to_map()

    @api("DescribeDiskEncryptionByDefaultStatus")
    def describe_disk_encryption_by_default_status(self, call: Call) -> dict:
        default = self._encryption_default(call)
        return m.DescribeDiskEncryptionByDefaultStatusResponseBody(encrypted=default.Encrypted).to_map()

    # ------------------------------------------------------------ helpers

    def _paged_numbers(self, call: Call, items: list[dict], body_cls, field: str, list_cls, item_cls) -> dict:
        page, total, number, size = paginate_numbers(items, call, default_size=10, max_size=100)
        wrapper = list_cls(**{field[:-1]: [item_cls().from_map(r) for r in page]})
        return body_cls(**{field: wrapper, "page_number": number, "page_size": size, "total_count": total}).to_map()
