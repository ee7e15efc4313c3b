"""OSS buckets whose default encryption names the key (GetBucketEncryption `KMSMasterKeyID`).

OSS has no reverse lookup: ListBuckets once (every bucket of the account), keep the key's region,
then one GetBucketEncryption per bucket, concurrently. A bucket with no rule is not a dependent;
`SSEAlgorithm=KMS` with an empty key id uses the OSS-managed key, not this one (§2)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import oss2

from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients

LIST_PAGE = 1000  # ListBuckets max-keys maximum
CONCURRENCY = 16


def _names_key(key_id: str, value: str | None) -> bool:
    # The rule may hold the key id or its ARN (acs:kms:<region>:<uid>:key/<id>).
    return bool(value) and (value == key_id or value.rsplit("/", 1)[-1] == key_id)


class OssBucketsScanner:
    name = "oss_buckets"
    service = "OSS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        buckets = self._buckets_in_region(target, clients)
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="oss") as pool:
            rules = list(pool.map(lambda b: (b, self._encryption(b, target, clients)), buckets))
        found = []
        for bucket, rule in rules:
            if rule is not None and rule.sse_algorithm == "KMS" and _names_key(target.key_id, rule.kms_master_keyid):
                found.append(Dependent(
                    service=self.service, resource_type="ACS::OSS::Bucket", resource_id=bucket.name, region=target.region,
                    state="live", usage="bucket default encryption (SSE-KMS)",
                    detail={"storage_class": bucket.storage_class or ""},
                ))
        return found

    def _buckets_in_region(self, target: AuditTarget, clients: Clients):
        service = clients.oss_service(target.region)
        buckets, marker = [], ""
        while True:
            result = clients.call("oss:ListBuckets", service.list_buckets, marker=marker, max_keys=LIST_PAGE)
            buckets += [b for b in result.buckets if (b.region or b.location.removeprefix("oss-")) == target.region]
            if not result.is_truncated:
                return buckets
            marker = result.next_marker

    def _encryption(self, bucket, target: AuditTarget, clients: Clients):
        client = clients.oss_bucket(bucket.name, target.region)
        try:
            return clients.call("oss:GetBucketEncryption", client.get_bucket_encryption)
        except oss2.exceptions.NoSuchServerSideEncryptionRule:
            return None
