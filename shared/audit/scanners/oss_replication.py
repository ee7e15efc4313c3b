"""Replicas encrypted with the key: OSS data replication rules whose EncryptionConfiguration/
ReplicaKmsKeyID names it. The replicas are in the rule's destination bucket, which is the dependent
(with the rule and its source bucket): once the key is gone they cannot be read, and new replicas
cannot be written.

A rule lives on its source bucket only; the destination shows nothing. Such a rule can sit on a bucket
of another region replicating into the key's region (cross-region replication, CRR), or on a bucket of
the key's region replicating to another bucket there (same-region replication, SRR). So the sources to
read are all the account's buckets, from the ListBuckets listing shared with oss_buckets (once per run).

Cheapest correct reading: one GetBucketReplication per bucket, concurrently, at the bucket's own
regional endpoint (NoSuchReplicationConfiguration: no rules). GetBucketInfo's CrossRegionReplication
flag cannot make it cheaper:
- it is documented for CRR only (oss2 and oss-v2 BucketInfo; no GetBucketInfo field reports SRR), so it
  cannot rule out an SRR rule on a bucket of the key's region, where the key's replicas would be;
- for a bucket elsewhere, GetBucketInfo plus GetBucketReplication when flagged is one call per bucket
  plus one per replicating bucket: never fewer than GetBucketReplication alone.
A rule naming the key is reported whatever region its destination names (a KMS key encrypts in its own
region, so it should be the key's; the report does not depend on that).

Each bucket is asked at its own region's endpoint. An ALIBABA_CLOUD_ENDPOINT_OVERRIDE that names one
endpoint for every region sends them all there, and a bucket of another region answers AccessDenied
(the scanner is then incomplete, never silently empty); name each region's endpoint instead.

Not remembered by the warm audit (shared/audit/facts.py): replication rules are added and removed at any time
(OSS API reference: PutBucketReplication, DeleteBucketReplication). Read fresh every time.
"""
from __future__ import annotations

import oss2

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.oss_buckets import all_buckets, bucket_region
from shared.clients import Clients


class OssReplicationScanner:
    name = "oss_replication"
    service = "OSS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        buckets = all_buckets(clients, target.region)
        found = []
        for bucket, rules in zip(buckets, fan_out(lambda b: self._rules(b, clients), buckets)):
            for rule in rules:
                if target.names_key(rule.replica_kms_keyid):
                    found.append(self._dependent(bucket, rule, target))
        return found

    @staticmethod
    def _rules(bucket, clients: Clients) -> list[oss2.models.ReplicationRule]:
        client = clients.oss_bucket(bucket.name, bucket_region(bucket))
        try:
            return clients.call("oss:GetBucketReplication", client.get_bucket_replication).rule_list
        except oss2.exceptions.ServerError as exc:
            # No rules; or the bucket was deleted since the listing.
            if exc.code in ("NoSuchReplicationConfiguration", "NoSuchBucket"):
                return []
            raise

    def _dependent(self, source, rule: oss2.models.ReplicationRule, target: AuditTarget) -> Dependent:
        source_region = bucket_region(source)
        dest_region = (rule.target_bucket_location or "").removeprefix("oss-") or target.region
        kind = "same-region" if dest_region == source_region else "cross-region"
        sse_objects = rule.sse_kms_encrypted_objects_status
        return Dependent(
            service=self.service, resource_type="ACS::OSS::Bucket", resource_id=rule.target_bucket_name, region=dest_region,
            state="live", name=rule.target_bucket_name,
            usage=f"replica encryption (SSE-KMS) of {kind} replication from {source.name} (rule {rule.rule_id}, {rule.status})",
            detail={k: v for k, v in {
                "source_bucket": source.name, "source_region": source_region, "rule_id": rule.rule_id, "rule_status": rule.status,
                "replicates_sse_kms_objects": sse_objects, "prefixes": ", ".join(rule.prefix_list or []),
                "action": ",".join(rule.action_list or []), "sync_role": rule.sync_role_name,
                "historical_objects": "enabled" if rule.is_enable_historical_object_replication else "disabled",
            }.items() if v},
        )
