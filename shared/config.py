"""Configuration from environment variables (set in s.yaml `environmentVariables`).

A bad value never switches protection off: it is reported (in the record and the alert) and the
safe default is used instead, because a typo in a deployment must not let a key be deleted.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from shared.events import is_region_id

DELETION_MODES = ("enforce", "alert")
DISABLE_MODES = ("alert", "enforce")
# ActionTrail's event history (LookupEvents) keeps 90 days: a longer usage window would look at days
# no source can show, and a report would read them as "no usage".
MAX_USAGE_WINDOW_DAYS = 90
# OSS bucket naming (OSS "Bucket naming conventions"): 3-63 characters, lower-case letters, digits and
# hyphens, starting and ending with a letter or digit. The SDK refuses any other name before sending.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class GuardConfig:
    # ScheduleKeyDeletion: enforce = cancel when dependents may exist; alert = alert only.
    deletion_mode: str = "enforce"
    # DisableKey: alert = blast-radius alert only (disabling is often incident response);
    # enforce = also re-enable the key. Re-enabling a possibly compromised key is an explicit opt-in.
    disable_mode: str = "alert"
    allow_key_ids: frozenset[str] = frozenset()
    # secret-guard: secrets whose deletion is intended, by name (GUARD_ALLOW_SECRET_NAMES, comma-separated).
    allow_secret_names: frozenset[str] = frozenset()
    # A tag on the key that marks its deletion as intended: (TagKey, TagValue); "*" value = any value.
    allow_tag: tuple[str, str] | None = ("kms-steward:intended-deletion", "true")
    alert_group_id: str = "0"
    records_project: str = ""
    records_logstore: str = "key-guard-decisions"
    state_bucket: str = ""
    region: str = ""
    # Regions whose keys the daily safety net re-decides (GUARD_REGIONS); empty: the function's own.
    regions: tuple[str, ...] = ()
    endpoint_override: str = ""
    # Usage evidence: how many days of crypto calls naming the key count as live use, and the trail's
    # SLS logstore (actiontrail_<trail>) read besides LookupEvents when both are set.
    usage_window_days: int = 30
    trail_project: str = ""
    trail_logstore: str = ""
    # The SLS project (name or ARN) and logstore the KMS instances' logs are delivered to. Crypto calls through
    # a KMS instance's dedicated gateway are audited there, not in ActionTrail (shared/audit/scanners/kms_usage.py);
    # unset, the usage of a key in a KMS instance cannot be seen whole and its audit is incomplete.
    kms_instance_log_project: str = ""
    kms_instance_log_logstore: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "GuardConfig":
        env = os.environ if env is None else env
        problems: list[str] = []

        def choice(name: str, allowed: tuple[str, ...]) -> str:
            raw = env.get(name, "").strip().lower()
            if not raw:
                return allowed[0]
            if raw not in allowed:
                problems.append(f"{name}={raw!r} is not one of {', '.join(allowed)}; using {allowed[0]}")
                return allowed[0]
            return raw

        allow_tag: tuple[str, str] | None = cls.allow_tag
        raw_tag = env.get("GUARD_ALLOW_TAG")
        if raw_tag is not None:
            raw_tag = raw_tag.strip()
            tag_key, sep, tag_value = raw_tag.partition("=")
            if raw_tag.lower() == "none":
                allow_tag = None
            elif sep and tag_key.strip() and tag_value.strip():
                allow_tag = (tag_key.strip(), tag_value.strip())
            else:
                # "key" alone or "key=" would allow-list the key whatever the tag says (even =false):
                # a value that loosens protection must be spelled out as key=* .
                problems.append(f"GUARD_ALLOW_TAG={raw_tag!r} is not key=value (or key=*, or none); using the default")
        usage_window_days = cls.usage_window_days
        raw_window = env.get("USAGE_WINDOW_DAYS", "").strip()
        if raw_window:
            if re.fullmatch(r"[0-9]{1,3}", raw_window) and 1 <= int(raw_window) <= MAX_USAGE_WINDOW_DAYS:
                usage_window_days = int(raw_window)
            else:
                problems.append(f"USAGE_WINDOW_DAYS={raw_window!r} is not a whole number of days from 1 to "
                                f"{MAX_USAGE_WINDOW_DAYS}; using {usage_window_days}")
        trail_project = env.get("TRAIL_SLS_PROJECT", "").strip()
        trail_logstore = env.get("TRAIL_SLS_LOGSTORE", "").strip()
        if bool(trail_project) != bool(trail_logstore):
            problems.append("TRAIL_SLS_PROJECT and TRAIL_SLS_LOGSTORE must be set together; "
                            "usage evidence comes from ActionTrail LookupEvents only")
            trail_project = trail_logstore = ""
        instance_log_project, instance_log_logstore = kms_instance_log(env, problems)
        state_bucket = env.get("STATE_BUCKET", "").strip()
        if not state_bucket:
            problems.append("STATE_BUCKET is not set: a duplicate delivery cannot be recognised and may alert twice")
        elif not _BUCKET_NAME.fullmatch(state_bucket):
            # Guarding without duplicate protection beats not guarding at all.
            problems.append(f"STATE_BUCKET={state_bucket[:70]!r} is not a valid OSS bucket name; acting without duplicate "
                            "protection (a duplicate delivery may alert twice)")
            state_bucket = ""
        regions: list[str] = []
        for raw_region in env.get("GUARD_REGIONS", "").split(","):
            raw_region = raw_region.strip()
            if not raw_region:
                continue
            if not is_region_id(raw_region):
                problems.append(f"GUARD_REGIONS names {raw_region[:40]!r}, which is not a region id; left out")
            elif raw_region not in regions:
                regions.append(raw_region)
        return cls(
            deletion_mode=choice("GUARD_DELETION_MODE", DELETION_MODES),
            disable_mode=choice("GUARD_DISABLE_MODE", DISABLE_MODES),
            allow_key_ids=frozenset(k.strip() for k in env.get("GUARD_ALLOW_KEY_IDS", "").split(",") if k.strip()),
            allow_secret_names=frozenset(n.strip() for n in env.get("GUARD_ALLOW_SECRET_NAMES", "").split(",") if n.strip()),
            allow_tag=allow_tag,
            alert_group_id=env.get("ALERT_GROUP_ID", "0").strip() or "0",
            records_project=env.get("RECORDS_PROJECT", "").strip(),
            records_logstore=env.get("RECORDS_LOGSTORE", "key-guard-decisions").strip(),
            state_bucket=state_bucket,
            region=(env.get("FC_REGION") or env.get("ALIBABA_CLOUD_REGION_ID") or "").strip(),
            regions=tuple(regions),
            endpoint_override=env.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", "").strip(),
            usage_window_days=usage_window_days,
            trail_project=trail_project,
            trail_logstore=trail_logstore,
            kms_instance_log_project=instance_log_project,
            kms_instance_log_logstore=instance_log_logstore,
            problems=tuple(problems),
        )


def kms_instance_log(env: Mapping[str, str] | None = None, problems: list[str] | None = None) -> tuple[str, str]:
    """(project, logstore) of KMS_INSTANCE_LOG_PROJECT / KMS_INSTANCE_LOG_LOGSTORE, both or neither. One without
    the other is reported and dropped: the usage of KMS instance keys is then not visible (their audit is
    incomplete, which blocks deletions), never half-read."""
    env = os.environ if env is None else env
    project = env.get("KMS_INSTANCE_LOG_PROJECT", "").strip()
    logstore = env.get("KMS_INSTANCE_LOG_LOGSTORE", "").strip()
    if bool(project) != bool(logstore):
        if problems is not None:
            problems.append("KMS_INSTANCE_LOG_PROJECT and KMS_INSTANCE_LOG_LOGSTORE must be set together; the use of keys "
                            "in a KMS instance through its dedicated gateway is not visible")
        return "", ""
    return project, logstore
