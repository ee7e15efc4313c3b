"""ECS custom images built from snapshots encrypted with the key. An image names no key (DescribeImages'
DiskDeviceMapping carries SnapshotId and Encrypted only), so the key is reached through its snapshots
(dependency-apis.md §3):

1. the key's snapshots: DescribeSnapshots(KMSKeyId), the same listing ecs_snapshots reads, fetched
   once per run (shared/audit/scanners/ecs_snapshots.py);
2. DescribeImages(SnapshotId, ImageOwnerAlias=self, Status=ALL), 100 a page, concurrently, only for the
   snapshots whose Usage says an image was made from them (image, image_disk).

Status ALL, because the default answers Available images only, and an image still being created holds
the key's data too.

An empty DescribeImages for a snapshot whose Usage says an image was built from it cannot be true (the
image is the account's own, in the same region, and Status ALL lists it whatever its state): ECS would be
denying the listing silently (HTTP 200, empty list), which it did for its query APIs until it changed their
authentication ("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS query API
operations", which names DescribeInstances and DescribeDisks only; whether DescribeImages still answers
that way is not published). The scanner then raises (incomplete), at no extra call. UNCONFIRMED: that
Usage stops saying `image` as soon as the image is deleted; if it lags, the scanner is incomplete for a
while, which only adds a reason to a deletion the key's snapshot already blocks. An image is live: new instances (and system-disk replacements) launch from it and
fail once the key is gone. UnAvailable, CreateFailed and Deprecated images launch nothing: inert.
"""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.ecs_disks import SilentDenial
from shared.audit.scanners.ecs_snapshots import snapshots_on_key
from shared.clients import Clients

PAGE_SIZE = 100  # the API's maximum PageSize
MADE_INTO_IMAGE = ("image", "image_disk")  # DescribeSnapshots Usage values that mean an image was built from it
LAUNCHES_NOTHING = ("UnAvailable", "CreateFailed", "Deprecated")


class EcsImagesScanner:
    name = "ecs_images"
    service = "ECS"
    note = ("images are reached through the key's snapshots; an empty DescribeImages for a snapshot whose Usage says an image "
            "was built from it is taken for a silent denial (incomplete). A region where no snapshot of the key was made "
            "into an image asks DescribeImages nothing, so a silent denial of it cannot show there (nor matter).")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.ecs(target.region)
        snapshots = [s.snapshot_id for s in snapshots_on_key(target, clients) if s.usage in MADE_INTO_IMAGE]

        def images_of(snapshot_id: str) -> list:
            def fetch(number: int):
                request = ecs.DescribeImagesRequest(region_id=target.region, snapshot_id=snapshot_id, image_owner_alias="self",
                                                    status="ALL", page_number=number, page_size=PAGE_SIZE)
                return clients.call("ecs:DescribeImages", client.describe_images, request).body

            return items_by_number(fetch, lambda body: body.images and body.images.image, lambda body: body.total_count, PAGE_SIZE,
                                   size_of=lambda body: body.page_size, key=lambda image: image.image_id,
                                   api=f"DescribeImages (snapshot {snapshot_id})", noun="images")

        images: dict[str, ecs.DescribeImagesResponseBodyImagesImage] = {}
        from_snapshots: dict[str, set[str]] = {}
        for snapshot_id, found in zip(snapshots, fan_out(images_of, snapshots)):
            if not found:
                raise SilentDenial(f"ECS answered an empty DescribeImages for snapshot {snapshot_id} although its Usage says an "
                                   "image was built from it: silent denial?")
            for image in found:
                images.setdefault(image.image_id, image)
                from_snapshots.setdefault(image.image_id, set()).add(snapshot_id)
        return [self._dependent(image, sorted(from_snapshots[image_id]), target) for image_id, image in images.items()]

    def _dependent(self, image, snapshots: list[str], target: AuditTarget) -> Dependent:
        live = image.status not in LAUNCHES_NOTHING
        usage = f"image built from snapshot {', '.join(snapshots)} encrypted with the key: "
        usage += "new instances launch from it" if live else f"{image.status}, launches nothing but holds the data"
        if image.usage == "instance":
            usage += "; instances were created from it"
        return Dependent(
            service=self.service, resource_type="ACS::ECS::Image", resource_id=image.image_id, region=target.region,
            state="live" if live else "inert", usage=usage, name=image.image_name or None,
            detail={k: v for k, v in {"status": image.status, "snapshots": ", ".join(snapshots), "image_usage": image.usage,
                                      "os": image.osname_en or image.osname, "family": image.image_family}.items() if v},
        )
