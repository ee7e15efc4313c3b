"""key_rotation: every customer-managed, Enabled key that can rotate has automatic rotation on, at an interval no
longer than the policy (SWEEP_KEY_ROTATION_DAYS, default 365).

Keys that cannot rotate are left out, as UpdateRotationPolicy refuses them: service keys (created and managed by a
cloud service; not listed: ListKeys' CreatorType=User filter), keys with imported material (Origin EXTERNAL), asymmetric
keys (a KeySpec other than Aliyun_AES_256/128/192 and Aliyun_SM4) and keys that are not Enabled (UpdateRotationPolicy
API reference, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-updaterotationpolicy).

Findings (ACS::KMS::Key):
- rotation_off: AutomaticRotation is not Enabled. WARN; CRITICAL once the key material (LastRotationDate, else
  CreationDate) is older than twice the policy.
- rotation_interval_too_long: rotation on, RotationInterval longer than the policy (WARN).
- rotation_interval_unknown: rotation on, RotationInterval missing or unreadable (WARN: it cannot be shown in policy).
RotationInterval is integer[unit] in seconds as DescribeKey answers it ("604800s"; UpdateRotationPolicy takes d, h, m, s).
"""
from __future__ import annotations

import re
from datetime import timedelta

from shared.sweeps.check_kit import days_since, failed, setting, severity_for_age, sweep_now
from shared.sweeps.findings import CheckResult, Finding, SweepTarget
from shared.sweeps.kms_reads import SYMMETRIC_SPECS, customer_keys, is_service_key

DEFAULT_DAYS = 365
_INTERVAL = re.compile(r"([0-9]{1,12})([dhms]?)")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}
RESOURCE = "ACS::KMS::Key"


def rotation_interval(text: str | None) -> timedelta | None:
    match = _INTERVAL.fullmatch((text or "").strip().lower())
    return timedelta(seconds=int(match.group(1)) * _UNIT[match.group(2)]) if match else None


def why_not_judged(meta) -> str | None:
    """Why the key cannot have automatic rotation (so is not judged), or None."""
    if is_service_key(meta):
        return "service key"
    if meta.key_state != "Enabled":
        return f"key is {meta.key_state}"
    if (meta.origin or "Aliyun_KMS") == "EXTERNAL":
        return "imported key material"
    if (meta.key_spec or "Aliyun_AES_256") not in SYMMETRIC_SPECS:
        return f"asymmetric key ({meta.key_spec})"
    return None


class KeyRotationCheck:
    name = "key_rotation"

    def run(self, target: SweepTarget, clients) -> CheckResult:
        try:
            keys = customer_keys(clients, target.region)
        except Exception as exc:
            return failed(self.name, target, exc, "listing the keys")
        policy_days = int(setting(target, "key_rotation_days", DEFAULT_DAYS))
        now = sweep_now(target)
        result = CheckResult(check=self.name, account=target.account, region=target.region)
        judged = 0
        for meta in keys:
            if why_not_judged(meta):
                continue
            judged += 1
            finding = self._judge(meta, target, policy_days, now)
            if finding is not None:
                result.findings.append(finding)
        result.metrics.append({"name": "KmsStewardKeysJudged", "value": judged})
        return result

    def _judge(self, meta, target: SweepTarget, policy_days: int, now) -> Finding | None:
        def finding(kind: str, severity: str, message: str, **detail) -> Finding:
            return Finding(check=self.name, kind=kind, severity=severity, account=target.account, region=target.region,
                           resource_type=RESOURCE, resource_id=meta.key_id, message=message,
                           detail={"policyDays": policy_days, **{k: v for k, v in detail.items() if v is not None}})

        if meta.automatic_rotation != "Enabled":
            since = meta.last_rotation_date or meta.creation_date
            age = days_since(since, now)
            aged = f"its material is {age} days old" if age is not None else "the age of its material is unknown"
            return finding("rotation_off", severity_for_age(age, policy_days),
                           f"key {meta.key_id}: automatic rotation is {meta.automatic_rotation or 'off'}; {aged} "
                           f"(policy: rotate at least every {policy_days} days)",
                           automaticRotation=meta.automatic_rotation, materialAgeDays=age, lastRotation=since)
        interval = rotation_interval(meta.rotation_interval)
        if interval is None:
            return finding("rotation_interval_unknown", "WARN",
                           f"key {meta.key_id}: automatic rotation is on but its interval ({meta.rotation_interval!r}) "
                           f"cannot be read, so it cannot be shown to be within {policy_days} days",
                           rotationInterval=meta.rotation_interval)
        interval_days = interval.total_seconds() / 86400
        if interval_days > policy_days:
            return finding("rotation_interval_too_long", "WARN",
                           f"key {meta.key_id}: rotates every {interval_days:g} days, longer than the policy's {policy_days}",
                           rotationIntervalDays=interval_days)
        return None


CHECK = KeyRotationCheck()
