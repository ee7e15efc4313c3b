"""secret_rotation: every secret is rotated in time.

- Managed secrets (SecretType Rds, RAMCredentials, ECS: Secrets Manager rotates them itself) must have
  AutomaticRotation Enabled (DescribeSecret API reference,
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-describesecret).
  Finding rotation_off: WARN; CRITICAL once the last rotation (LastRotationDate, else CreateTime) is older than twice
  the policy. Redis and PolarDB secrets are not judged: whether they rotate automatically is UNCONFIRMED.
- Generic secrets (Secrets Manager does not rotate them) are rotated by kms-steward's secret-rotation function when
  tagged `kms-steward:rotation-interval` (shared/rotation/schedule.py). Tagged: a tag that is not a valid interval is
  bad_rotation_tag (WARN: the function skips the secret); a current version older than the interval plus a day (the
  function runs hourly) is rotation_overdue (WARN: the function is failing on it). Untagged: the ACSCurrent version
  (its CreateTime in ListSecretVersionIds) must be younger than the policy (SWEEP_SECRET_ROTATION_DAYS, default 90),
  else stale: WARN, CRITICAL past twice the policy.
Secrets scheduled for deletion (PlannedDeleteTime) are left out. A secret whose versions cannot be read is a gap:
the result is incomplete, naming it, and the other secrets are still judged.
"""
from __future__ import annotations

from datetime import timedelta

from shared.rotation.protocol import ACS_CURRENT
from shared.rotation.schedule import INTERVAL_TAG, BadInterval, parse_interval
from shared.sweeps.check_kit import add_gap, days_since, failed, setting, severity_for_age, sweep_now
from shared.sweeps.findings import CheckResult, Finding, SweepTarget
from shared.sweeps.kms_reads import secret_metadata, secret_tags, secret_versions

DEFAULT_DAYS = 90
MANAGED = ("Rds", "RAMCredentials", "ECS")
NOT_JUDGED = ("Redis", "PolarDB")
OVERDUE_GRACE = timedelta(days=1)
RESOURCE = "ACS::KMS::Secret"


class SecretRotationCheck:
    name = "secret_rotation"

    def run(self, target: SweepTarget, clients) -> CheckResult:
        try:
            secrets = secret_metadata(clients, target.region)
        except Exception as exc:
            return failed(self.name, target, exc, "listing the secrets")
        policy_days = int(setting(target, "secret_rotation_days", DEFAULT_DAYS))
        now = sweep_now(target)
        result = CheckResult(check=self.name, account=target.account, region=target.region)
        for body in secrets:
            if body.planned_delete_time:
                continue
            kind = body.secret_type or "Generic"
            try:
                finding = (self._managed(body, target, policy_days, now) if kind in MANAGED else
                           None if kind in NOT_JUDGED else self._generic(body, clients, target, policy_days, now))
            except Exception as exc:  # one secret not judged: said, the others still are
                add_gap(result, f"secret {body.secret_name}", exc)
                continue
            if finding is not None:
                result.findings.append(finding)
        return result

    def _finding(self, body, target: SweepTarget, kind: str, severity: str, message: str, **detail) -> Finding:
        return Finding(check=self.name, kind=kind, severity=severity, account=target.account, region=target.region,
                       resource_type=RESOURCE, resource_id=body.secret_name, message=message,
                       detail={"secretType": body.secret_type or "Generic", **{k: v for k, v in detail.items() if v is not None}})

    def _managed(self, body, target: SweepTarget, policy_days: int, now) -> Finding | None:
        if body.automatic_rotation == "Enabled":
            return None
        since = body.last_rotation_date or body.create_time
        age = days_since(since, now)
        return self._finding(body, target, "rotation_off", severity_for_age(age, policy_days),
                             f"{body.secret_type} secret {body.secret_name}: automatic rotation is "
                             f"{body.automatic_rotation or 'off'}; last rotated {age if age is not None else '?'} days ago "
                             f"(policy: {policy_days} days)", automaticRotation=body.automatic_rotation, ageDays=age,
                             policyDays=policy_days)

    def _generic(self, body, clients, target: SweepTarget, policy_days: int, now) -> Finding | None:
        tag = secret_tags(body).get(INTERVAL_TAG)
        interval = None
        if tag is not None:
            try:
                interval = parse_interval(tag)
            except BadInterval as exc:
                return self._finding(body, target, "bad_rotation_tag", "WARN",
                                     f"secret {body.secret_name}: {exc}; secret-rotation skips it", tag=tag[:40])
        versions = secret_versions(clients, target.region, body.secret_name)
        current = next((v for v in versions if ACS_CURRENT in v.stages), None)
        if current is None:
            return None  # no value stored yet: nothing to rotate
        created = current.created_at()
        age = days_since(current.create_time, now)
        if interval is not None:
            if created is not None and created + interval + OVERDUE_GRACE <= now:
                return self._finding(body, target, "rotation_overdue", "WARN",
                                     f"secret {body.secret_name}: tagged to rotate every {tag}, but its current value is "
                                     f"{age} days old: secret-rotation is not rotating it (see its records)",
                                     tag=tag, ageDays=age)
            return None
        if age is None or age <= policy_days:
            return None
        return self._finding(body, target, "stale", severity_for_age(age, policy_days),
                             f"secret {body.secret_name}: its current value is {age} days old (policy: {policy_days} days) "
                             f"and nothing rotates it (tag it {INTERVAL_TAG})", ageDays=age, policyDays=policy_days)


CHECK = SecretRotationCheck()
