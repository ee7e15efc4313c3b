"""Per-API rate limits (GCRA, the token bucket written as one timestamp per API).

The caller side paces itself to each API's quota (`RateLimiter.acquire` waits for the API's next
slot), so a fan-out of hundreds of describes runs at the quota instead of tripping it and paying
retry-afters. `QuotaSchedules` is the bookkeeping both sides of a quota need; the local cloud builds
its server-side enforcement on it (it answers "throttled, retry after N ms" instead of waiting).
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class _Cell:
    """One API's schedule: `tat` is the theoretical arrival time of its next call."""

    __slots__ = ("interval", "tolerance", "tat")

    def __init__(self, qps: float, burst: float):
        self.interval = 1.0 / qps
        self.tolerance = max(0.0, burst - 1) * self.interval  # how far ahead of schedule a call may come
        self.tat = 0.0


class QuotaSchedules:
    """One GCRA schedule per quota (APIs of a quota group share one). Subclasses decide what a call that
    comes early does (wait for its slot, or be refused), reading `_cell(api)` while holding `_lock`."""

    def __init__(self, qps_of: Callable[[str], float | None], burst_s: float, clock: Callable[[], float],
                 group_of: Callable[[str], str] | None = None):
        self._qps_of = qps_of
        self._group_of = group_of or (lambda api: api)
        self._burst_s = burst_s
        self._clock = clock
        self._cells: dict[str, _Cell | None] = {}
        self._lock = threading.Lock()

    def _cell(self, api: str) -> _Cell | None:
        """The schedule of the quota `api` counts against (APIs in one quota group share it)."""
        group = self._group_of(api)
        cell = self._cells.get(group, False)
        if cell is False:
            qps = self._qps_of(api)
            cell = _Cell(qps, max(1.0, qps * self._burst_s)) if qps else None
            self._cells[group] = cell
        return cell


class RateLimiter(QuotaSchedules):
    """Caller side: `acquire(api)` returns once the call may go (it reserves the slot, then sleeps
    outside the lock so other APIs are not held up). A small burst keeps it under the server's."""

    def __init__(self, qps_of: Callable[[str], float | None], *, burst_s: float = 0.05,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 group_of: Callable[[str], str] | None = None):
        super().__init__(qps_of, burst_s, clock, group_of)
        self._sleep = sleep

    def acquire(self, api: str) -> float:
        with self._lock:
            cell = self._cell(api)
            if cell is None:
                return 0.0
            now = self._clock()
            tat = max(cell.tat, now)
            wait = tat - cell.tolerance - now
            cell.tat = tat + cell.interval
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0

