"""The local cloud's flow control: per-API QPS quotas enforced as Alibaba Cloud's gateways enforce them,
refusing a call that comes too early with a retry-after instead of making it wait.

The schedules are the GCRA ones the functions pace themselves with (`shared.ratelimit.QuotaSchedules`),
so the emulated quota and the caller's pacing count calls the same way; the enforcement itself belongs
to the emulator and is not part of what is deployed to Function Compute.
"""
from __future__ import annotations

import time
from typing import Callable

from shared.ratelimit import QuotaSchedules


class QuotaGate(QuotaSchedules):
    """Server side: admit a call or say how many milliseconds until the API has room again."""

    def __init__(self, qps_of: Callable[[str], float | None], *, burst_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 group_of: Callable[[str], str] | None = None):
        super().__init__(qps_of, burst_s, clock, group_of)

    def admit(self, api: str) -> int | None:
        """None when admitted; else the retry-after in milliseconds (at least 1)."""
        with self._lock:
            cell = self._cell(api)
            if cell is None:
                return None
            now = self._clock()
            tat = max(cell.tat, now)
            early = tat - cell.tolerance - now
            if early > 1e-9:  # float noise must not refuse a call that is on schedule
                return max(1, int(early * 1000 + 0.999))
            cell.tat = tat + cell.interval
            return None
