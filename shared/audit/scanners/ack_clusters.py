"""ACK (Container Service for Kubernetes) clusters whose Kubernetes Secrets are encrypted at rest with the
key (dependency-apis.md §7). If the key is deleted, the cluster's API server can no longer decrypt its
Secrets and service accounts, and the workloads that need them break ("Use KMS to encrypt Kubernetes
Secrets": do not disable or delete the key, https://www.alibabacloud.com/help/doc-detail/177372.htm).

How: DescribeClustersV1 (`GET /api/v1/clusters`, region_id = the key's region: a Secrets key must be in
the cluster's region), the largest page, the remaining pages concurrently. Each listed cluster carries
`meta_data`, a JSON *string* whose `Capabilities.EncryptionKMSKeyId` names the key and
`Capabilities.DisableEncryption` says whether the encryption is off: that is where
aliyun/terraform-provider-alicloud reads `encryption_provider_key` (`fetchClusterCapabilities`). The
listing item carries it (SDK 7.2.3 `DescribeClustersV1ResponseBodyClusters.meta_data`, and the API
reference's response), so DescribeClusterDetail (`GET /clusters/{ClusterId}`) is asked only for a
cluster that could encrypt Secrets but whose listing item lacks meta_data.

Secret encryption exists only on ACK Pro clusters (Pro, Serverless Pro, Edge Pro: an `ack.pro.*`
cluster_spec). For a cluster that could use it (Pro, or a spec the listing does not say), a meta_data
that does not parse, or none at all, stops the scanner: the audit is incomplete, never "no dependent".
A dedicated cluster's (cluster_type Kubernetes) own KMS plugin on its masters is configured on the
masters, not in meta_data, and cannot be seen through the API.

A cluster with DisableEncryption true that still names the key is reported too (inert): whether turning
the encryption off rewrites every Secret in plaintext is UNCONFIRMED, so it is left to the operator.

Not scanned here: node pool data disks encrypted with a key (`DataDisk.kms_key_id` in
DescribeClusterNodePools) are ECS disks, and `ecs_disks` finds them with DescribeDisks' KMSKeyId filter.

Errors: ErrorClusterNotFound on DescribeClusterDetail (the cluster was deleted after the listing) skips
the cluster; any other error stops the scanner (incomplete).
"""
from __future__ import annotations

import json
from typing import Any, Optional

from alibabacloud_cs20151215 import models as cs

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

# UNCONFIRMED: the API reference publishes no maximum page_size. 50 is what public tools page at
# (steampipe-plugin-alicloud, cloudsploit), so it is known to be accepted; a larger size refused would
# make every audit incomplete. The listing is checked against page_info (shared/audit/paging.py): a
# server that pages by fewer than asked is followed page by page, and one that returns fewer than its
# total_count makes the audit incomplete, never silently short.
PAGE_SIZE = 50
VANISHED = "ErrorClusterNotFound"  # deleted between the listing and the describe
USAGE = "Kubernetes Secrets encryption at rest"
# Not serving: stopped, deleted, or never created (creation failed). The rest counts as live.
AT_REST = ("stopped", "deleted", "failed")
# Cluster types that cannot use ACK's Secret encryption whatever their spec: dedicated and registered.
_NO_SECRET_ENCRYPTION = ("Kubernetes", "ExternalKubernetes")


class AckAuditError(RuntimeError):
    """What stops the scanner other than an API error: the message is the reason the audit records."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def may_encrypt_secrets(cluster) -> bool:
    """An ACK Pro cluster, or one whose listing does not say which it is (fail safe)."""
    if cluster.cluster_spec:
        return cluster.cluster_spec.startswith("ack.pro")
    return cluster.cluster_type not in _NO_SECRET_ENCRYPTION


def secrets_encryption(cluster_id: str, meta_data: Optional[str]) -> dict[str, Any]:
    """meta_data's Capabilities; AckAuditError when it does not parse (its content is never quoted)."""
    try:
        parsed = json.loads(meta_data or "")
    except ValueError:
        raise AckAuditError("MalformedMetaData", f"cluster {cluster_id}: meta_data is not valid JSON, so its Secrets "
                                                 "encryption key cannot be read") from None
    caps = parsed.get("Capabilities") if isinstance(parsed, dict) else None
    if not isinstance(parsed, dict) or not isinstance(caps, (dict, type(None))):
        raise AckAuditError("MalformedMetaData", f"cluster {cluster_id}: meta_data is not a JSON object with a Capabilities "
                                                 "object, so its Secrets encryption key cannot be read")
    return caps or {}


class AckClustersScanner:
    name = "ack_clusters"
    service = "ACK"
    note = ("Secret encryption is an ACK Pro feature; node pool data disks encrypted with the key are ECS disks, "
            "reported by ecs_disks")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.cs(target.region)

        def fetch(number: int):
            request = cs.DescribeClustersV1Request(region_id=target.region, page_number=number, page_size=PAGE_SIZE)
            return clients.call("cs:DescribeClustersV1", client.describe_clusters_v1, request).body

        listed = items_by_number(fetch, lambda body: body.clusters, lambda body: body.page_info and body.page_info.total_count,
                                 PAGE_SIZE, size_of=lambda body: body.page_info and body.page_info.page_size,
                                 key=lambda c: c.cluster_id, api="DescribeClustersV1", noun="clusters")
        # The region's own clusters, each once (the filter is the key's region; a cluster of another
        # region cannot use the key).
        clusters = list({c.cluster_id: c for c in listed if c.region_id in (None, target.region)}.values())

        def detail(cluster) -> Optional[cs.DescribeClusterDetailResponseBody]:
            try:
                return clients.call("cs:DescribeClusterDetail", client.describe_cluster_detail, cluster.cluster_id).body
            except Exception as exc:
                if error_code(exc) == VANISHED:
                    return None
                raise

        unread = [c for c in clusters if not c.meta_data and may_encrypt_secrets(c)]
        details = dict(zip((c.cluster_id for c in unread), fan_out(detail, unread)))

        found = []
        for cluster in clusters:
            view = cluster
            if cluster.cluster_id in details:
                view = details[cluster.cluster_id]
                if view is None:  # gone since the listing
                    continue
                if not view.meta_data:
                    raise AckAuditError("MissingMetaData", f"cluster {cluster.cluster_id}: neither DescribeClustersV1 nor "
                                                           "DescribeClusterDetail returned meta_data, so its Secrets "
                                                           "encryption key cannot be read")
            if not view.meta_data:
                continue  # cannot encrypt Secrets (not ACK Pro) and says nothing
            try:
                caps = secrets_encryption(cluster.cluster_id, view.meta_data)
            except AckAuditError:
                if may_encrypt_secrets(view):
                    raise
                continue  # a cluster that cannot encrypt Secrets: its metadata is not needed
            key = caps.get("EncryptionKMSKeyId")
            if not isinstance(key, str) or not target.names_key(key):
                continue
            disabled = caps.get("DisableEncryption") is True
            state = view.state or cluster.state
            found.append(Dependent(
                service=self.service, resource_type="ACS::ACK::Cluster", resource_id=cluster.cluster_id,
                region=view.region_id or cluster.region_id or target.region,
                state="inert" if state in AT_REST or disabled else "live", usage=USAGE, name=view.name or cluster.name or None,
                detail={k: v for k, v in {
                    "state": state, "type": view.cluster_type, "spec": view.cluster_spec, "profile": view.profile,
                    "version": view.current_version, "encryption": "disabled (DisableEncryption true)" if disabled else None,
                }.items() if v},
            ))
        return found
