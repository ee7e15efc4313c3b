"""NAS file systems encrypted with the key. DescribeFileSystems has no key filter, so every file system
of the region is listed (the largest page, 100; the remaining pages concurrently) and each item's
KMSKeyId is compared (dependency-apis.md §7).

EncryptType 2 means a KMS key the user chose; EncryptType 1 a NAS-managed key, reported too when its
KMSKeyId names the key under audit (a file system is lost with whatever key encrypts it).
"""
from __future__ import annotations

from alibabacloud_nas20170626 import models as nas

from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

PAGE_SIZE = 100  # the API's maximum PageSize
USAGE = {1: "file system encryption (NAS-managed key)", 2: "file system encryption (KMS key)"}
# Not serving data: the rest (Running, Extending, Pending: being created or modified) counts as live.
AT_REST = ("Stopped", "Stopping", "Deleting")


class NasFileSystemsScanner:
    name = "nas_file_systems"
    service = "NAS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.nas(target.region)

        def fetch(number: int):
            # "all" explicitly: older docs give "standard" as the default FileSystemType.
            request = nas.DescribeFileSystemsRequest(file_system_type="all", page_number=number, page_size=PAGE_SIZE)
            return clients.call("nas:DescribeFileSystems", client.describe_file_systems, request).body

        systems = items_by_number(fetch, lambda body: body.file_systems and body.file_systems.file_system,
                                  lambda body: body.total_count, PAGE_SIZE, size_of=lambda body: body.page_size,
                                  key=lambda fs: fs.file_system_id, api="DescribeFileSystems", noun="file systems")
        found: dict[str, Dependent] = {}
        for fs in systems:
            if fs.encrypt_type not in USAGE or not target.names_key(fs.kmskey_id):
                continue
            found[fs.file_system_id] = Dependent(
                service=self.service, resource_type="ACS::NAS::FileSystem", resource_id=fs.file_system_id,
                region=fs.region_id or target.region, state="inert" if fs.status in AT_REST else "live",
                usage=USAGE[fs.encrypt_type], name=fs.description or None,
                detail={k: v for k, v in {"status": fs.status, "type": fs.file_system_type, "protocol": fs.protocol_type,
                                          "storage": fs.storage_type, "zone": fs.zone_id}.items() if v},
            )
        return list(found.values())
