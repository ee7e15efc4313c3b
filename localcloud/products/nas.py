"""NAS 2017-06-26: DescribeFileSystems, PageNumber/PageSize paged, with the encryption fields the
audit reads (dependency-apis.md §7).

The API has no key filter, so a caller lists every file system of the region. Each item names its key
in `KMSKeyId` and how it is encrypted in `EncryptType` (0 none, 1 NAS-managed key, 2 a KMS key the
user chose). The request carries no RegionId: the regional endpoint decides the region.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_nas20170626 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.records import AccountSection, Record

FILE_SYSTEM_TYPES = ("standard", "extreme", "cpfs", "cpfsse")


class NasFileSystem(Record):
    """A DescribeFileSystems item (its RegionId is part of the item)."""

    sdk_model: ClassVar[Any] = m.DescribeFileSystemsResponseBodyFileSystemsFileSystem

    FileSystemId: str
    RegionId: str
    FileSystemType: Literal["standard", "extreme", "cpfs", "cpfsse"] = "standard"
    Status: Literal["Pending", "Running", "Stopped", "Extending", "Stopping", "Deleting"] = "Running"
    EncryptType: Literal[0, 1, 2] = 0
    KMSKeyId: Optional[str] = None
    VpcId: Optional[str] = None
    ResourceGroupId: Optional[str] = None

    @model_validator(mode="after")
    def _key_matches_encryption(self):
        if self.EncryptType == 2 and not self.KMSKeyId:
            raise ValueError("EncryptType 2 (a KMS key) needs the KMSKeyId it encrypts with")
        if self.EncryptType == 0 and self.KMSKeyId:
            raise ValueError("KMSKeyId is set but EncryptType is 0 (not encrypted)")
        return self


class NasSection(AccountSection):
    section: ClassVar[str] = "nas"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"file_systems": ("FileSystemId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("FileSystemId",)

    file_systems: list[NasFileSystem] = Field(default_factory=list)


class Nas(RpcProduct):
    code = "nas"
    service_name = "NAS"
    version = "2017-06-26"
    endpoint_prefix = "nas"

    @api("DescribeFileSystems")
    def describe_file_systems(self, call: Call) -> dict:
        systems = [fs for fs in self.account.nas.file_systems if fs.RegionId == call.region]
        # "all" is the documented default; older docs said "standard" (UNCONFIRMED which one holds).
        types = call.get("FileSystemType", "all")
        if types != "all":
            wanted = {t.strip() for t in types.split(",")}
            if not wanted <= set(FILE_SYSTEM_TYPES):
                raise errors.invalid_parameter("FileSystemType", f"Valid values: all, {', '.join(FILE_SYSTEM_TYPES)}.")
            systems = [fs for fs in systems if fs.FileSystemType in wanted]
        # An id that matches nothing answers an empty page (UNCONFIRMED: the product's error list
        # has InvalidFileSystem.NotFound, but not which APIs answer it).
        for name in ("FileSystemId", "VpcId", "ResourceGroupId"):
            if (value := call.get(name)) is not None:
                systems = [fs for fs in systems if getattr(fs, name) == value]
        page, total, number, size = paginate_numbers(systems, call, default_size=10, max_size=100)
        items = [m.DescribeFileSystemsResponseBodyFileSystemsFileSystem().from_map(fs.wire()) for fs in page]
        return m.DescribeFileSystemsResponseBody(
            file_systems=m.DescribeFileSystemsResponseBodyFileSystems(file_system=items),
            page_number=number, page_size=size, total_count=total,
        ).to_map()
