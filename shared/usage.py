"""Usage evidence: who used a KMS key for cryptography, read from ActionTrail records (LookupEvents
answers, or the `event` of a trail's SLS logs) and from the access log of KMS instances (their dedicated
gateway's calls, which ActionTrail never sees), one entry per distinct caller.

Applications doing envelope encryption keep encrypted data keys in their own stores, where no
resource inventory sees them; their Decrypt / GenerateDataKey calls are the only trace they leave.
A caller is an identity in an account (userIdentity.accountId + principal); the source IPs and user
agents it called from are listed with it. Nothing secret is kept: AccessKey ids are masked, request
parameters (ciphertexts, plaintexts) are never copied.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

from pydantic import ValidationError

from shared.events import ActionTrailRecord, mask_access_key_id

# KMS 2016-01-20 operations that use a key's material (alibabacloud_kms20160120 client methods).
CRYPTO_APIS = frozenset({
    "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateAndExportDataKey",
    "ExportDataKey", "AsymmetricSign", "AsymmetricVerify", "AsymmetricEncrypt", "AsymmetricDecrypt", "GenerateMac",
    "VerifyMac",
})
KEY_RESOURCE_TYPE = "ACS::KMS::Key"
_SLS_PROJECT_ARN = re.compile(r"acs:log:(?P<region>[^:]+):[^:]*:project/(?P<project>[^/]+)")
_MAX_LISTED = 3  # source IPs / user agents named per caller; the rest are counted


class EvidenceUnreadable(ValueError):
    """The evidence could not be read completely (an unreadable event, a paging loop, an incomplete
    query): the scanner raises it, and the audit counts as incomplete rather than "no usage"."""


class EvidenceNotVisible(EvidenceUnreadable):
    """A source that must be read is not configured (a KMS instance key's dedicated-gateway log): the
    evidence cannot be complete, so the scanner is incomplete rather than "no usage"."""

    code = "EvidenceNotVisible"  # how records name it (shared.clients.describe_error)

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_event(raw: Any) -> ActionTrailRecord:
    try:
        return ActionTrailRecord.model_validate(raw)
    except ValidationError as exc:
        raise EvidenceUnreadable(f"an ActionTrail event could not be read ({exc.error_count()} field error(s))") from None


def names_key(event: ActionTrailRecord, names: Callable[[str], bool]) -> bool:
    """Whether the event names the key: in referencedResources (where ActionTrail puts the key a
    call resolved, also for Decrypt, whose request names no key) or in requestParameters.KeyId."""
    for values in (event.referencedResources or {}).values():
        for value in values if isinstance(values, list) else str(values).split(","):
            if names(str(value).strip()):
                return True
    key_param = event.requestParameters.get("KeyId")
    return isinstance(key_param, str) and names(key_param.strip())


def is_crypto_use(event: ActionTrailRecord, names: Callable[[str], bool]) -> bool:
    return event.eventName in CRYPTO_APIS and event.serviceName in (None, "", "Kms") and names_key(event, names)


def parse_utc(text: Optional[str]) -> Optional[datetime]:
    """An ISO 8601 instant (Z, offset or naive UTC) as an aware datetime; None when absent or unreadable."""
    text = (text or "").strip()
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def event_time(event: ActionTrailRecord) -> Optional[datetime]:
    """eventTime (UTC, ISO 8601) as an aware datetime; None when absent or unreadable."""
    return parse_utc(event.eventTime)


def trail_project_location(project: str, default_region: str) -> tuple[str, str]:
    """(region, project) of a trail's SLS project given as a name or as DescribeTrails' SlsProjectArn."""
    match = _SLS_PROJECT_ARN.fullmatch(project)
    return (match["region"], match["project"]) if match else (default_region, project)


@dataclass
class CallerUsage:
    account_id: str
    identity_type: str
    principal: str  # userName where the record has one (alice, role:session), else principalId
    principal_id: str = ""
    apis: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)  # error codes of calls that failed
    source_ips: Counter = field(default_factory=Counter)
    user_agents: Counter = field(default_factory=Counter)
    access_keys: set[str] = field(default_factory=set)  # masked
    first_use: Optional[datetime] = None
    last_use: Optional[datetime] = None

    @property
    def calls(self) -> int:
        return sum(self.apis.values())

    def add(self, event: ActionTrailRecord, when: Optional[datetime]) -> None:
        self.apis[event.eventName] += 1
        if event.failed:
            self.failed[event.errorCode] += 1
        if event.sourceIpAddress:
            self.source_ips[event.sourceIpAddress] += 1
        if event.userAgent:
            self.user_agents[event.userAgent[:200]] += 1
        ident = event.userIdentity
        if ident and ident.accessKeyId:
            self.access_keys.add(mask_access_key_id(ident.accessKeyId))
        if when is not None:
            self.first_use = when if self.first_use is None else min(self.first_use, when)
            self.last_use = when if self.last_use is None else max(self.last_use, when)

    def apis_text(self) -> str:
        """Decrypt×12, GenerateDataKey×3 (most used first)."""
        return ", ".join(f"{api}×{n}" for api, n in sorted(self.apis.items(), key=lambda p: (-p[1], p[0])))

    @staticmethod
    def listed(counter: Counter) -> str:
        names = [name for name, _ in counter.most_common(_MAX_LISTED)]
        more = len(counter) - len(names)
        return ", ".join(names) + (f" (+{more} more)" if more > 0 else "")


def aggregate_callers(events: Iterable[ActionTrailRecord],
                      when_of: Callable[[ActionTrailRecord], Optional[datetime]]) -> list[CallerUsage]:
    """One CallerUsage per (account, principal), busiest first. `when_of(event)` is its time or None."""
    callers: dict[tuple[str, str, str], CallerUsage] = {}
    for event in events:
        ident = event.userIdentity
        account = (ident.accountId if ident else None) or ""
        kind = (ident.type if ident else None) or "unknown"
        principal = (ident.userName or ident.principalId if ident else None) or "unknown caller"
        caller = callers.get((account, kind, principal))
        if caller is None:
            caller = callers[(account, kind, principal)] = CallerUsage(
                account_id=account, identity_type=kind, principal=principal, principal_id=(ident.principalId if ident else None) or "")
        caller.add(event, when_of(event))
    return sorted(callers.values(), key=lambda c: (-c.calls, c.account_id, c.principal))


# ---------------------------------------------------------------- the KMS instances' access log
#
# Crypto calls through a KMS instance's dedicated gateway (<instance id>.cryptoservice.kms.aliyuncs.com) are
# audited in SLS, not in ActionTrail: "审计差异: 共享网关 通过操作审计(ActionTrail),审计操作日志; 专属网关
# 通过日志服务 SLS(Simple Log Service),审计操作日志" (KMS "阿里云SDK", the shared and dedicated gateways
# compared, https://help.aliyun.com/zh/kms/key-management-service/developer-reference/classic-kms-sdkclassic-kms-sdk/).
# The log's fields ("Log fields" / "日志字段详情",
# https://www.alibabacloud.com/help/en/kms/key-management-service/log-field-details and its Chinese edition
# https://www.alibabacloud.com/help/zh/kms/key-management-service/log-field-details): api_name (the instance API
# operation, e.g. GenerateDataKey), share_gateway_api_name (the OpenAPI name, only for calls through the KMS
# service endpoint), resource_id (the key id, or a secret's name), resource_parameters (JSON: key_id -- the key
# encrypting a secret --, key_version_id, index), cmkid (shared gateway), instance_id, gateway_type (dedicated
# or shared, newer edition), identity_type (cloud-account, ram-user, ram-role, aap), account_id, principal_id
# (the RAM identity's UID, or the AAP's name), access_key_id (the AccessKey ID or the AAP client key id),
# client_ip, useragent, request_id, time ("2023-07-04T01:52:55Z"), status_code, error_code (shared gateway),
# error_message. No user name: a caller is named by its principal id.
# UNCONFIRMED, so parsed leniently: which fields a given log version carries (any may be missing; an entry
# naming the key in resource_id, cmkid or resource_parameters.key_id is the key's), whether management calls
# through the shared gateway appear (names that manage or read a key are not counted as use), and the exact
# spelling of the instance API names (any other name naming the key counts as use: the safe side).

# ActionTrail userIdentity.type for the log's identity_type, so one caller reads alike from both sources.
_INSTANCE_IDENTITY_TYPES = {"cloud-account": "root-account", "ram-user": "ram-user", "ram-role": "assumed-role", "aap": "aap"}
_KEY_MANAGEMENT_PREFIXES = ("Describe", "List", "Create", "Update", "Enable", "Disable", "Schedule", "Cancel", "Tag", "Untag",
                            "Set", "Delete", "Import", "Open", "Connect", "Get")
# Reads that are uses: a secret's value is decrypted with its key; a public key is fetched to verify or encrypt with it.
_USE_READS = frozenset({"GetSecretValue", "GetPublicKey"})


def instance_log_is_use(name: str) -> bool:
    """Whether an instance log entry's operation uses the key (lenient: an unknown name does)."""
    if not name or name in _USE_READS:
        return True
    return not name.startswith(_KEY_MANAGEMENT_PREFIXES)


def instance_log_event(contents: dict[str, Any], log_time: Optional[int] = None) -> dict[str, Any]:
    """An access-log entry of a KMS instance as an ActionTrail-shaped record (eventName, userIdentity,
    referencedResources, ...), so callers aggregate the same way whichever source saw them. Nothing secret is
    copied (the log holds no plaintext or ciphertext; the access key id is masked when reported)."""
    def text(name: str) -> str:
        value = contents.get(name)
        return "" if value is None else str(value).strip()

    name = text("share_gateway_api_name") or text("api_name")
    keys = [k for k in (text("resource_id"), text("cmkid")) if k]
    try:
        parameters = json.loads(text("resource_parameters") or "{}")
    except ValueError:
        parameters = {}
    if isinstance(parameters, dict) and str(parameters.get("key_id") or "").strip():
        keys.append(str(parameters["key_id"]).strip())
    when = text("time")
    if not when and log_time:
        when = datetime.fromtimestamp(int(log_time), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = text("status_code")
    error = text("error_code") or ("" if status in ("", "200") else f"HTTP{status}")
    request_id = text("request_id")
    identity = text("identity_type")
    return {
        "eventId": f"kms-instance-log:{request_id}" if request_id else None,
        "requestId": request_id or None,
        "eventName": name or "unknown",
        "serviceName": "Kms",
        "acsRegion": text("region_id") or None,  # the call's region: a secret's name names a secret of one region only
        "eventTime": when or None,
        "sourceIpAddress": text("client_ip") or None,
        "userAgent": text("useragent") or None,
        "errorCode": error,
        "errorMessage": text("error_message") if error else "",
        "userIdentity": {"type": _INSTANCE_IDENTITY_TYPES.get(identity, identity or "unknown"), "accountId": text("account_id") or None,
                         "principalId": text("principal_id") or None, "accessKeyId": text("access_key_id") or None},
        "referencedResources": {KEY_RESOURCE_TYPE: keys},
        "requestParameters": {},
        "additionalEventData": {"source": "kms-instance-log", "instanceId": text("instance_id"),
                                "gateway": text("gateway_type") or "dedicated"},
    }
