"""Who reads a secret: the GetSecretValue calls naming it in the usage window, one reader per caller, with its
first and last read and how many (failed reads too: an application still trying to read a secret pending
deletion depends on it). Read from the same sources, in the same way, as a key's usage evidence
(shared/audit/scanners/kms_usage.py, read_usage): ActionTrail LookupEvents, the trail's SLS logstore when one is
configured, and, for a secret in a KMS instance, the instances' access log.

Facts relied on:
- "Query the usage records of keys and secrets"
  (https://www.alibabacloud.com/help/en/kms/key-management-service/use-cases/query-usage-records-for-kms-keys-and-secrets):
  a secret value retrieved through the KMS endpoint is recorded by ActionTrail (or a trail's Simple Log Service
  logstore); through a KMS instance endpoint, only in Simple Log Service (the instance's access log). So a secret
  of a KMS instance whose log is not configured has readers no one can see: the evidence is incomplete.
- GetSecretValue's request names the secret in SecretName, as a name or an ARN
  (acs:kms:<region>:<account>:secret/<name>) ("GetSecretValue",
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getsecretvalue).
- The access log's resource_id is "the key ID or secret name" ("Log fields",
  https://www.alibabacloud.com/help/en/kms/key-management-service/log-field-details).
UNCONFIRMED, as for keys: that ActionTrail fills the resource name LookupEvents' ResourceName condition matches
with the secret's name for GetSecretValue. So when LookupEvents finds no read by the name, every GetSecretValue call
of the region in the window is read and checked by requestParameters.SecretName (kms_usage._unnamed_uses), up to
1,000 calls; more than that cannot be checked whole and the readers count as unknown, unless the trail's logstore
is configured: it is searched by the name in full text, and then LookupEvents is asked by the name only.

A managed secret (RDS, Redis, PolarDB, RAM, ECS) is used by the service that owns it, whether or not anyone reads it
here: it counts as read by that service. Nothing secret is kept: request parameters are never copied, AccessKey ids
are masked, and the value is never asked for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from shared.audit.scanners.kms_usage import UsageSubject, read_usage
from shared.clients import Clients
from shared.events import ActionTrailRecord
from shared.usage import CallerUsage, aggregate_callers, event_time

READ_APIS: tuple[str, ...] = ("GetSecretValue",)
SECRET_RESOURCE_TYPE = "ACS::KMS::Secret"
# SecretType values of the secrets a cloud service owns and rotates (CreateSecret: Rds, Redis, PolarDB,
# RAMCredentials, ECS; DescribeSecret spells the first Rds, ListSecrets' filter RDS): compared case-insensitively.
MANAGED_TYPES = frozenset({"rds", "redis", "polardb", "ramcredentials", "ecs"})


@dataclass(frozen=True)
class SecretTarget:
    """The secret whose readers are looked for, and where the evidence lies (the fields read_usage reads)."""

    name: str
    region: str
    account_id: str
    arn: str = ""
    usage_window_days: int = 30
    trail_project: Optional[str] = None
    trail_logstore: Optional[str] = None
    kms_instance_log_project: Optional[str] = None
    kms_instance_log_logstore: Optional[str] = None
    kms_instance_id: str = ""  # DescribeSecret's DKMSInstanceId: "" for a secret in no KMS instance
    as_of: Optional[str] = None  # the instant the window ends (the deletion's time; None: now)

    def names_secret(self, value: Optional[str]) -> bool:
        """A secret's name, or its ARN (acs:kms:<region>:<account>:secret/<name>) in this secret's region and account,
        naming this secret."""
        value = (value or "").strip()
        if not value:
            return False
        if value == self.name or value == self.arn:
            return True
        match = _SECRET_ARN.fullmatch(value)
        return bool(match) and match["name"] == self.name and match["region"] == self.region \
            and (not self.account_id or match["account"] == self.account_id)


_SECRET_ARN = re.compile(r"acs:kms:(?P<region>[^:]*):(?P<account>[^:]*):secret/(?P<name>.+)")


def names_the_secret(event: ActionTrailRecord, target: SecretTarget) -> bool:
    """Whether the event names the secret: among its referenced resources (the instance log's resource_id lands there
    too, shared/usage.py instance_log_event) or in requestParameters.SecretName. Secrets are regional (each region's
    KMS endpoint holds its own; the ARN names the region), so one name may be two secrets in two regions, and a
    trail's logstore holds every region's calls: a call made in another region names another secret."""
    if event.acsRegion and event.acsRegion != target.region:
        return False
    for values in (event.referencedResources or {}).values():
        for value in values if isinstance(values, list) else str(values).split(","):
            if target.names_secret(str(value)):
                return True
    name = event.requestParameters.get("SecretName")
    return isinstance(name, str) and target.names_secret(name)


def secret_subject(target: SecretTarget) -> UsageSubject:
    def is_read(event: ActionTrailRecord) -> bool:
        return event.eventName in READ_APIS and event.serviceName in (None, "", "Kms") and names_the_secret(event, target)
    return UsageSubject(target.name, READ_APIS, is_read, is_read, unnamed_uses=True)


@dataclass(frozen=True)
class Readers:
    callers: list[CallerUsage]  # busiest first
    sources: list[str]  # what was read, each saying when it was cut


def read_readers(target: SecretTarget, clients: Clients) -> Readers:
    """The secret's readers in the window. Raises when the evidence cannot be read whole (an API error, an unreadable
    event, a KMS instance whose log is not configured): readers not known are never "no readers"."""
    found = read_usage(secret_subject(target), target, clients, target.kms_instance_id)
    return Readers(aggregate_callers(found.events.values(), event_time), found.sources)


def is_managed(secret_type: Optional[str]) -> bool:
    return (secret_type or "").strip().lower() in MANAGED_TYPES


def reader_summary(caller: CallerUsage, window_days: int) -> dict:
    """A reader as records, alerts and the pre-flight report show it: who, first and last read, how many."""
    failed = sum(caller.failed.values())
    return {k: v for k, v in {
        "caller": f"{caller.identity_type}:{caller.principal}",
        "account": caller.account_id or None,
        "reads": caller.calls,
        "failedReads": failed or None,
        "firstRead": caller.first_use.strftime("%Y-%m-%dT%H:%M:%SZ") if caller.first_use else None,
        "lastRead": caller.last_use.strftime("%Y-%m-%dT%H:%M:%SZ") if caller.last_use else None,
        "sourceIps": CallerUsage.listed(caller.source_ips) or None,
        "accessKeys": ", ".join(sorted(caller.access_keys)) or None,  # masked
        "window": f"{window_days} days",
    }.items() if v is not None}
