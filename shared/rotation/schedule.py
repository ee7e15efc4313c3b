"""Which secrets a timer run rotates: those tagged `kms-steward:rotation-interval` whose last rotation plus
the interval is now or past, and every secret with a rotation left half done (it holds the pending stage).

The interval is written as Secrets Manager writes RotationInterval for the secrets it rotates itself:
"integer[unit]", unit d (days), h (hours), m (minutes) or s (seconds), from 6 hours to 8,760 hours
(API reference, CreateSecret, RotationInterval:
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-createsecret).

Last rotation: generic secrets have no LastRotationDate (DescribeSecret returns it for managed secrets
only), so it is the CreateTime of the version holding ACSCurrent (ListSecretVersionIds): the moment that
value was stored, by the last rotation or by whoever set it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.rotation.protocol import ACS_CURRENT, PENDING_STAGE
from shared.rotation.secret_store import SecretVersion

INTERVAL_TAG = "kms-steward:rotation-interval"
MIN_INTERVAL = timedelta(hours=6)
MAX_INTERVAL = timedelta(hours=8760)
_INTERVAL = re.compile(r"([0-9]{1,9})([dhms])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1), "s": timedelta(seconds=1)}


class BadInterval(ValueError):
    pass


def parse_interval(text: str) -> timedelta:
    match = _INTERVAL.fullmatch((text or "").strip().lower())
    if not match:
        raise BadInterval(f"tag {INTERVAL_TAG}={str(text)[:40]!r} is not integer[unit] (unit d, h, m or s), e.g. 30d")
    interval = int(match.group(1)) * _UNITS[match.group(2)]
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise BadInterval(f"tag {INTERVAL_TAG}={text.strip()!r} is outside 6 hours to 8,760 hours (365 days)")
    return interval


@dataclass(frozen=True)
class Due:
    due: bool
    why: str
    last_rotated: datetime | None = None


def is_due(versions: list[SecretVersion], interval: timedelta, now: datetime) -> Due:
    if any(PENDING_STAGE in v.stages for v in versions):
        return Due(True, "a rotation is under way: resume it")
    current = next((v for v in versions if ACS_CURRENT in v.stages), None)
    if current is None:
        return Due(False, "no version holds ACSCurrent: nothing to rotate from")
    last = current.created_at()
    if last is None:
        return Due(True, "the current version has no CreateTime: rotated to be sure")
    if last + interval <= now:
        return Due(True, f"last rotated {last:%Y-%m-%dT%H:%M:%SZ}, every {_show(interval)}", last)
    return Due(False, f"next rotation from {last + interval:%Y-%m-%dT%H:%M:%SZ}", last)


def _show(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
