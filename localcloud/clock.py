"""A controllable clock: pending deletions expire, certificates age and rotations fall due
when a test or the operator moves it, not when the wall clock does."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


def parse_time(value: str | datetime) -> datetime:
    """Parse the ISO 8601 forms Alibaba APIs and operators use (Z or offset); naive means UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime) -> str:
    """The UTC form Alibaba returns in Describe* responses: 2024-01-01T00:00:00Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Clock:
    """Wall time by default; frozen at a given instant once set, and movable by `advance`."""

    def __init__(self, now: str | datetime | None = None):
        self._lock = threading.Lock()
        self._frozen: datetime | None = parse_time(now) if now else None

    def now(self) -> datetime:
        with self._lock:
            return self._frozen or datetime.now(timezone.utc)

    def set(self, when: str | datetime) -> None:
        with self._lock:
            self._frozen = parse_time(when)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._frozen = (self._frozen or datetime.now(timezone.utc)) + delta
            return self._frozen
