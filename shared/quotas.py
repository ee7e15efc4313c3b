"""Per-API QPS quotas (flow control) as Alibaba Cloud publishes them, per account.

The audit paces each API to these figures (shared/ratelimit.py) and the local cloud enforces them
when asked to (the benchmark does). Where no figure is published, DEFAULT_QPS is used. An operator
whose account has raised quotas can override any figure with AUDIT_QPS ("ecs:DescribeDisks=200,...").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_QPS = 100.0  # no published figure: the default, conservative for most POP APIs


@dataclass(frozen=True)
class Quota:
    qps: float
    source: str  # where the figure is published, or why it is the default
    # APIs that share one quota (KMS groups its APIs): calls to any of them count against it.
    group: str | None = None


_DEFAULT = "none published: default"
_KMS_PERF = "KMS performance data (help.aliyun.com/zh/kms/product-overview/performance-data), per account per region"
_KMS_KEY_READ = Quota(50, f"{_KMS_PERF}: key management (read), shared by DescribeKey, ListKeys, ListAliasesByKeyId, ...",
                      "kms:key-read")
_KMS_SECRET_META = Quota(40, f"{_KMS_PERF}: low-frequency secret operations (list secrets, secret metadata), shared",
                         "kms:secret-metadata")
_KMS_CRYPTO = Quota(1000, "KMS GenerateDataKey / Decrypt API docs: 1,000 QPS per account on the shared gateway, shared by "
                          "symmetric cryptographic operations", "kms:crypto")

PUBLISHED: dict[str, Quota] = {
    **{f"kms:{api}": _KMS_KEY_READ for api in ("DescribeKey", "ListKeys", "ListAliasesByKeyId", "ListAliases",
                                                "ListTagResources", "ListResourceTags", "DescribeRegions")},
    **{f"kms:{api}": _KMS_SECRET_META for api in ("ListSecrets", "DescribeSecret", "ListSecretVersionIds")},
    **{f"kms:{api}": _KMS_CRYPTO for api in ("Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                                              "ReEncrypt")},
    "actiontrail:LookupEvents": Quota(2, "ActionTrail limits (help.aliyun.com/en/actiontrail/product-overview/limits): "
                                         "LookupEvents at most 2 per second"),
    "cas:ListUserCertificateOrder": Quota(10, "Certificate Management Service ListUserCertificateOrder (api-cas-2020-04-07-"
                                               "listusercertificateorder): 10 calls per second per user"),
    "cms:PutCustomEvent": Quota(20, "CloudMonitor PutCustomEvent (doc-detail/60196): 20 report requests per second per account"),
}


def quota_of(api: str) -> Quota:
    return PUBLISHED.get(api) or Quota(DEFAULT_QPS, _DEFAULT)


def parse_overrides(raw: str) -> dict[str, float]:
    """`api=qps,api=qps` -> {api: qps}; a malformed entry raises ValueError naming it."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        api, sep, value = part.partition("=")
        try:
            qps = float(value)
        except ValueError:
            qps = 0.0
        if not sep or ":" not in api or qps <= 0:
            raise ValueError(f"{part!r} is not product:Action=qps")
        out[api.strip()] = qps
    return out


class Quotas:
    """The QPS to hold each API to: published figures, then overrides."""

    def __init__(self, overrides: Mapping[str, float] | None = None):
        self.overrides = dict(overrides or {})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Quotas":
        env = os.environ if env is None else env
        raw = env.get("AUDIT_QPS", "")
        try:
            return cls(parse_overrides(raw))
        except ValueError:
            return cls()  # a bad override must not stop the audit: the published figures stand

    def qps(self, api: str) -> float:
        return self.overrides.get(api) or quota_of(api).qps

    def group(self, api: str) -> str:
        """The quota an API's calls count against: a shared group, or the API itself (an override
        on one API gives it a quota of its own)."""
        if api in self.overrides:
            return api
        return quota_of(api).group or api
