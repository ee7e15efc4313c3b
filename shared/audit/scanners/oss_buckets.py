"""OSS buckets whose default encryption names the key.

OSS has no reverse lookup. ListBuckets lists every bucket of the account, whatever its region (1,000 a
page); the listing is fetched once per run and shared with oss_replication. Each bucket of the key's
region is asked GetBucketInfo, concurrently: it carries the bucket's ServerSideEncryptionRule
(SSEAlgorithm, KMSMasterKeyID) and answers a bucket without a rule with SSEAlgorithm "None" where
GetBucketEncryption answers 404, so one call per bucket either way. `SSEAlgorithm=KMS` with an empty key
id uses the OSS-managed key, not this one (dependency-apis.md §2).

Objects uploaded with their own x-oss-server-side-encryption-key-id are not seen: ListObjects carries no
per-object encryption and a HEAD per object is no audit. The result's note says so.

Not remembered by the warm audit (shared/audit/facts.py): a bucket's default encryption can be set, changed or removed
at any time ("Object Storage Service: PutBucketEncryption", https://www.alibabacloud.com/help/doc-detail/117914.html,
and DeleteBucketEncryption). GetBucketInfo is read fresh every time.
"""
from __future__ import annotations

import oss2

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import IncompleteListing, items_by_token
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

LIST_PAGE = 1000  # ListBuckets max-keys maximum


def all_buckets(clients: Clients, region: str) -> list[oss2.models.SimplifiedBucketInfo]:
    """Every bucket of the account (ListBuckets answers all regions from any endpoint), once per run."""
    def fetch():
        service = clients.oss_service(region)

        def page(marker: str | None):
            return clients.call("oss:ListBuckets", service.list_buckets, marker=marker or "", max_keys=LIST_PAGE)

        return list(items_by_token(page, lambda result: result.buckets, next_marker, api="ListBuckets"))

    return clients.once(("oss:ListBuckets",), fetch)


def next_marker(result) -> str | None:
    """Where the next page starts; None at the end. A truncated page without a marker cannot be followed."""
    if not result.is_truncated:
        return None
    if not result.next_marker:
        raise IncompleteListing("ListBuckets answered a truncated page without a NextMarker: the remaining buckets cannot be listed")
    return result.next_marker


def bucket_region(bucket: oss2.models.SimplifiedBucketInfo) -> str:
    return bucket.region or bucket.location.removeprefix("oss-")


class OssBucketsScanner:
    name = "oss_buckets"
    service = "OSS"
    note = ("objects uploaded with their own x-oss-server-side-encryption-key-id cannot be listed cheaply "
            "(no listing carries per-object encryption); only bucket default encryption is audited")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        buckets = [b for b in all_buckets(clients, target.region) if bucket_region(b) == target.region]
        return [d for d in fan_out(lambda b: self._dependent(b, target, clients), buckets) if d is not None]

    def _dependent(self, bucket, target: AuditTarget, clients: Clients) -> Dependent | None:
        """GetBucketInfo, reduced at once to the dependent (or nothing): thousands of infos are not kept."""
        client = clients.oss_bucket(bucket.name, target.region)
        try:
            info = clients.call("oss:GetBucketInfo", client.get_bucket_info)
        except oss2.exceptions.NoSuchBucket:  # deleted since the listing
            return None
        rule = info.bucket_encryption_rule
        if rule is None or rule.sse_algorithm != "KMS" or not target.names_key(rule.kms_master_keyid):
            return None
        return Dependent(
            service=self.service, resource_type="ACS::OSS::Bucket", resource_id=bucket.name, region=target.region,
            state="live", usage="bucket default encryption (SSE-KMS)",
            detail={k: v for k, v in {"storage_class": bucket.storage_class, "data_encryption": rule.kms_data_encryption,
                                      "cross_region_replication": info.cross_region_replication}.items() if v},
        )
