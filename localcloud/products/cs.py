"""Container Service for Kubernetes (ACK; product code CS) 2015-12-15, an ROA product: DescribeClustersV1
(`GET /api/v1/clusters`, page_number/page_size with `page_info`) and DescribeClusterDetail
(`GET /clusters/{ClusterId}`), as the ACK Secrets-encryption scanner reads them (dependency-apis.md §7).

The section is `cs`, the product's own code: the SDK's endpoint rule (`cs.<region>.aliyuncs.com`), the
RAM actions (`cs:DescribeClustersV1`, ...) and the call counts all spell it so; "ACK" is the marketing
name. Its `clusters` hold DescribeClusterDetail's wire fields (a superset of a DescribeClustersV1
item's): `cluster_id`, `region_id`, `name`, `state`, `cluster_type`, `cluster_spec`, `profile`,
`current_version`, `meta_data`, ... Any other field is refused.

`meta_data` is a JSON *string*, as the API returns it. Its `Capabilities.EncryptionKMSKeyId` names the
KMS key Secrets are encrypted with and `Capabilities.DisableEncryption` whether that encryption is off
(aliyun/terraform-provider-alicloud reads `encryption_provider_key` and `disable_encryption` there,
resource_alicloud_cs_kubernetes.go `fetchClusterCapabilities`). A record's meta_data must parse to a
JSON object; Secret encryption on a key needs an ACK Pro cluster ("Secret encryption is supported only
on ACK Pro clusters and ACK Serverless Pro clusters", "Use KMS to encrypt Kubernetes Secrets",
https://www.alibabacloud.com/help/doc-detail/177372.htm; ACK Edge Pro too): cluster_type
ManagedKubernetes (or the older Ask) with an `ack.pro.*` cluster_spec.

UNCONFIRMED (no published figure): DescribeClustersV1's default page_size (10 here) and maximum (100
here; public tools page at 50: turbot/steampipe-plugin-alicloud, aquasecurity/cloudsploit); what an
unknown region_id answers (nothing matches the filter here); that a listing without region_id spans
every region of the account (the doc: "Specify this parameter to filter clusters by region"); the
not-found message and the product's error body keys beyond code/message/requestId.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar, Literal, Optional

from alibabacloud_cs20151215 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.records import AccountSection, Record, find
from localcloud.roa import RoaCall, RoaProduct, roa_api

# DescribeClusterDetail / DescribeClustersV1 `state` (SDK 7.2.3 model docs; `updating_failed` and
# `stopped` from the older API reference).
CLUSTER_STATES = ("initial", "failed", "running", "updating", "updating_failed", "upgrading", "removing", "draining", "scaling",
                  "inactive", "unavailable", "stopped", "deleting", "deleted", "delete_failed", "waiting", "disconnected")
# `cluster_type`: dedicated, managed (Pro/Basic, Serverless, Edge, Lingjun), registered; `Ask` is the
# older type of serverless clusters (API reference of 2020).
CLUSTER_TYPES = ("Kubernetes", "ManagedKubernetes", "ExternalKubernetes", "Ask")
DEFAULT_PAGE_SIZE = 10  # UNCONFIRMED
MAX_PAGE_SIZE = 100  # UNCONFIRMED
# DescribeClustersV1 filters that match a cluster field of the same name (`name` is a fuzzy match).
_EQUALITY_FILTERS = ("cluster_id", "cluster_type", "cluster_spec", "profile")


def capabilities(meta_data: Optional[str]) -> dict[str, Any]:
    """`Capabilities` of a cluster's meta_data string; ValueError when the string is not a JSON object
    or Capabilities is not one (an empty or absent meta_data has none)."""
    if not meta_data:
        return {}
    try:
        parsed = json.loads(meta_data)
    except ValueError:
        raise ValueError("meta_data is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ValueError("meta_data is not a JSON object")
    caps = parsed.get("Capabilities")
    if caps in (None, "", {}):
        return {}
    if not isinstance(caps, dict):
        raise ValueError("meta_data Capabilities is not a JSON object")
    return caps


def is_pro(cluster_type: Optional[str], cluster_spec: Optional[str]) -> bool:
    return cluster_type in ("ManagedKubernetes", "Ask") and (cluster_spec or "").startswith("ack.pro.")


class CsCluster(Record):
    """A DescribeClusterDetail answer: the cluster as the API names it (module docstring)."""

    sdk_model: ClassVar[Any] = m.DescribeClusterDetailResponseBody
    extra_fields: ClassVar[frozenset] = frozenset()  # the item names its region itself (region_id)

    cluster_id: str
    region_id: str
    name: Optional[str] = None
    state: Literal[CLUSTER_STATES] = "running"  # type: ignore[valid-type]
    cluster_type: Literal[CLUSTER_TYPES] = "ManagedKubernetes"  # type: ignore[valid-type]
    cluster_spec: Optional[str] = None
    profile: Optional[str] = None
    meta_data: Optional[str] = None

    @model_validator(mode="after")
    def _meta_data_consistent(self):
        caps = capabilities(self.meta_data)  # ValueError names what is wrong
        key = caps.get("EncryptionKMSKeyId")
        if key is not None and not isinstance(key, str):
            raise ValueError("meta_data Capabilities.EncryptionKMSKeyId must be a string (a KMS key id)")
        disabled = caps.get("DisableEncryption")
        if disabled is not None and not isinstance(disabled, bool):
            raise ValueError("meta_data Capabilities.DisableEncryption must be true or false")
        if key and not disabled and not is_pro(self.cluster_type, self.cluster_spec):
            raise ValueError("Secrets are encrypted with a KMS key (meta_data Capabilities.EncryptionKMSKeyId) but the cluster "
                             "is not ACK Pro: Secret encryption needs cluster_type ManagedKubernetes and an ack.pro.* cluster_spec")
        return self

    @property
    def encryption_key(self) -> Optional[str]:
        return capabilities(self.meta_data).get("EncryptionKMSKeyId") or None


class CsSection(AccountSection):
    section: ClassVar[str] = "cs"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"clusters": ("cluster_id",)}
    id_fields: ClassVar[tuple[str, ...]] = ("cluster_id",)

    clusters: list[CsCluster] = Field(default_factory=list)


def cluster_not_found(cluster_id: str) -> errors.ApiError:
    # The code and status: aliyun/terraform-provider-alicloud treats ErrorClusterNotFound as "gone";
    # 404 and the message are UNCONFIRMED (the message as a public client's test quotes it).
    return errors.ApiError("ErrorClusterNotFound", f"cluster ({cluster_id}) not found in our records", 404)


class Cs(RoaProduct):
    code = "cs"
    service_name = "CS"  # ActionTrail serviceName: UNCONFIRMED
    version = "2015-12-15"
    endpoint_prefix = "cs"
    regional_param = "region_id"

    @roa_api("DescribeClustersV1", "GET", "/api/v1/clusters")
    def describe_clusters_v1(self, call: RoaCall) -> dict:
        clusters = list(self.account.cs.clusters)
        if (region := call.get("region_id")) is not None:
            clusters = [c for c in clusters if c.region_id == region]
        for name in _EQUALITY_FILTERS:
            if (value := call.get(name)) is not None:
                clusters = [c for c in clusters if getattr(c, name, None) == value]
        if (name := call.get("name")) is not None:  # "Fuzzy match is supported"
            clusters = [c for c in clusters if name in (c.name or "")]
        size = call.int("page_size", DEFAULT_PAGE_SIZE, lo=1, hi=MAX_PAGE_SIZE)
        number = call.int("page_number", 1, lo=1)
        page = clusters[(number - 1) * size:number * size]
        return m.DescribeClustersV1ResponseBody(
            clusters=[m.DescribeClustersV1ResponseBodyClusters().from_map(c.wire()) for c in page],
            page_info=m.DescribeClustersV1ResponseBodyPageInfo(page_number=number, page_size=size, total_count=len(clusters)),
        ).to_map()

    @roa_api("DescribeClusterDetail", "GET", "/clusters/{ClusterId}")
    def describe_cluster_detail(self, call: RoaCall) -> dict:
        cluster_id = call.require("ClusterId")
        found = find(self.account.cs.clusters, cluster_id=cluster_id)
        if found is None:
            raise cluster_not_found(cluster_id)
        call.refer("ACS::ACK::Cluster", cluster_id)
        return m.DescribeClusterDetailResponseBody().from_map(found.wire()).to_map()
