"""Per-API rate limits (GCRA, the token bucket written as one timestamp per API), adaptive on the caller side.

The caller side paces itself to each API's quota (`RateLimiter.acquire` waits for the API's next
slot), so a fan-out of hundreds of describes runs at the quota instead of tripping it and paying
retry-afters. `QuotaSchedules` is the bookkeeping both sides of a quota need; the local cloud builds
its server-side enforcement on it (it answers "throttled, retry after N ms" instead of waiting).

A quota is the account's, not the process's: ten audits in ten function instances (no shared memory)
that each pace to the full quota ask for ten times it. So a throttled answer (`RateLimiter.throttled`)
lowers this process's rate for that quota multiplicatively and the rate climbs back while it is not
throttled, as the AWS SDKs' "adaptive" retry mode does with its client-side rate limiting ("Retry behavior",
AWS SDKs and Tools Reference Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html),
here with TCP CUBIC's rule applied to a request rate (RFC 8312, "CUBIC for Fast Long-Distance
Networks": decrease to beta = 0.7 of the rate, then W(t) = C (t - K)^3 + W_max, flat near the rate
that was throttled and faster away from it). A process alone is never throttled and keeps the full
quota, exactly as before.
"""
from __future__ import annotations

import random
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

    def _new_cell(self, qps: float) -> _Cell:
        return _Cell(qps, max(1.0, qps * self._burst_s))

    def _cell(self, api: str) -> _Cell | None:
        """The schedule of the quota `api` counts against (APIs in one quota group share it)."""
        group = self._group_of(api)
        cell = self._cells.get(group, False)
        if cell is False:
            qps = self._qps_of(api)
            cell = self._new_cell(qps) if qps else None
            self._cells[group] = cell
        return cell


# The adaptive rule's constants. BETA is CUBIC's (RFC 8312 section 4.5): a throttled process keeps 70%
# of what got through. CUBIC_C sets how fast the rate climbs back, as a share of the quota per s^3 (RFC
# 8312 section 5.1 sets C = 0.4 segments/s^3 for a window). Slow on purpose: with N instances on one
# quota each one's refusals are its cue to yield, and the share of calls refused is about
# N / (Q x the time between one instance's decreases), so that time must not be short
# (K = cbrt(W_max (1 - BETA) / (C Q)): ~5 s for ten instances on KMS's 40 QPS, W_max = Q / 10; ~11 s at
# the whole quota); past K the climb speeds up, so an instance whose neighbours finished regains the
# whole quota in ~20 s. Chosen with a simulation of ten callers on one GCRA quota refusing with a
# retry-after, as the local cloud's gate does (tests/test_adaptive_ratelimit.py: ~4% refused, none past
# the retries, within 1.1x of the quota bound), then checked with `kms-steward bench audit --concurrent 10`
# (~2% of calls refused, every audit complete, 1.24x to 1.34x of the concurrent quota bound on a loaded
# 2-core machine). A faster climb (C = 0.0005) measured 1.23x with 2.5% refused, but in the simulation it
# refused 6% and let a call run out of retries.
BETA = 0.7
CUBIC_C = 0.0002
MIN_SHARE = 0.01  # the floor: a hundredth of the quota (a hundred instances at once)
RATE_WINDOW_S = 0.5  # the send rate is measured over the last one to two windows of this length
WINDOW_CALLS = 10  # ... and at least this many calls of the quota long
HOLD_S = 0.25  # after a decrease, refusals of calls sent within this long (or one interval) were answered by it
LOOKAHEAD_S = 0.25  # an adapting limiter reserves slots at most this far ahead
NAP = -1  # reserve()'s epoch when it reserved nothing (the slot is further than LOOKAHEAD_S)


class _AdaptiveCell(_Cell):
    """A caller's schedule whose rate adapts: `rate` calls a second (the quota until the first throttle)."""

    __slots__ = ("qps", "burst_s", "rate", "adaptive", "w_max", "k", "since", "window_start", "sent_now", "sent_before",
                 "before_valid", "refused_now", "refused_before", "throttles", "decreases", "epoch", "window", "hold")

    def __init__(self, qps: float, burst_s: float):
        super().__init__(qps, max(1.0, qps * burst_s))
        self.qps, self.burst_s, self.rate = qps, burst_s, qps
        self.adaptive = False  # no throttle seen yet: the full quota, as a process alone needs
        self.w_max = qps
        self.k = 0.0
        self.since = float("-inf")  # when the rate was last lowered
        self.window_start, self.sent_now, self.sent_before = None, 0, 0
        self.refused_now = self.refused_before = 0  # of the calls sent in those windows, those the quota refused
        self.before_valid = False  # whether `sent_before` counts a whole window of sending
        self.throttles = self.decreases = 0
        self.epoch = 0  # counts the decreases: a slot reserved in an earlier epoch is taken again at the new rate
        # A small quota (ActionTrail's 2 QPS) is measured over a longer window, so a window holds calls to count.
        self.window = max(RATE_WINDOW_S, WINDOW_CALLS / qps)
        self.hold = HOLD_S

    def set_rate(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = max(0.0, max(1.0, rate * self.burst_s) - 1) * self.interval

    def _roll(self, now: float) -> None:
        if self.window_start is None:
            self.window_start = now
        elif now - self.window_start >= self.window:
            if now - self.window_start < 2 * self.window:  # the window just ended becomes the previous one
                self.sent_before, self.refused_before = self.sent_now, self.refused_now
                self.window_start += self.window
            else:  # nothing sent for a whole window: the rate is measured afresh
                self.sent_before = self.refused_before = 0
                self.window_start = now
            self.before_valid = True
            self.sent_now = self.refused_now = 0

    def record_send(self, now: float) -> None:
        self._roll(now)
        self.sent_now += 1

    def record_refusal(self, now: float) -> None:
        self._roll(now)
        self.refused_now += 1

    def measured_rate(self, now: float, admitted: bool = False) -> float:
        """Calls sent (or, `admitted`, sent and not refused) per second over the current window and the one
        before it (over what there is of them when sending began less than a window ago)."""
        if self.window_start is None:
            return 0.0
        self._roll(now)
        span = (self.window if self.before_valid else 0.0) + max(0.0, now - self.window_start)
        calls = self.sent_before + self.sent_now
        if admitted:
            calls = max(0, calls - self.refused_before - self.refused_now)
        return calls / max(span, 0.25)

    def climb(self, now: float) -> None:
        """CUBIC's growth since the last decrease (RFC 8312 section 4.1), never past the quota."""
        if not self.adaptive or self.rate >= self.qps:
            return
        t = now - self.since
        target = CUBIC_C * self.qps * (t - self.k) ** 3 + self.w_max
        # Never more than twice what it sends: a process sending less than its rate, between phases,
        # would otherwise climb unchecked and burst at the whole quota later.
        cap = max(2 * self.measured_rate(now), self.rate)
        self.set_rate(min(self.qps, cap, max(self.qps * MIN_SHARE, target)))


class RateLimiter(QuotaSchedules):
    """Caller side: `acquire(api)` returns once the call may go (it reserves the slot, then sleeps
    outside the lock so other APIs are not held up). A small burst keeps it under the server's.
    `throttled(api, sent_at, retry_after_s)` tells it the quota refused a call: see the module's docstring."""

    def __init__(self, qps_of: Callable[[str], float | None], *, burst_s: float = 0.05,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 group_of: Callable[[str], str] | None = None, seed: int | None = None):
        super().__init__(qps_of, burst_s, clock, group_of)
        self._sleep = sleep
        self._random = random.Random(seed)

    def _new_cell(self, qps: float) -> _AdaptiveCell:
        return _AdaptiveCell(qps, self._burst_s)

    def now(self) -> float:
        return self._clock()

    def reserve(self, api: str) -> tuple[float, int | None]:
        """Reserve the API's next slot: (seconds to wait for it, the rate's epoch then; None: not limited).
        A slot further than LOOKAHEAD_S away is not reserved: the epoch is NAP, and the caller sleeps the
        seconds returned and asks again, so the rate is read afresh when the slot is near (a rate that
        climbed meanwhile is used at once, not after slots reserved at a low rate run out)."""
        with self._lock:
            cell = self._cell(api)
            if cell is None:
                return 0.0, None
            now = self._clock()
            cell.climb(now)
            tat = max(cell.tat, now)
            wait = tat - cell.tolerance - now
            if wait > LOOKAHEAD_S and cell.adaptive:
                return wait - LOOKAHEAD_S / 2, NAP
            cell.tat = tat + cell.interval
        return max(0.0, wait), cell.epoch

    def take(self, api: str, epoch: int | None) -> bool:
        """Take a slot reserved in `epoch` when it comes: False when the rate was lowered meanwhile (the
        slot is given up); True when it stands, and the call counts towards the measured send rate."""
        if epoch is None:
            return True
        with self._lock:
            cell = self._cell(api)
            if cell is None:
                return True
            if cell.epoch != epoch:
                return False
            cell.record_send(self._clock())
            return True

    def acquire(self, api: str) -> float:
        """Wait for the API's next slot. A slot reserved before the rate was lowered is given up and taken
        again at the new rate when it comes, so a decrease takes effect at once, not after the calls
        already queued at the old rate."""
        waited = 0.0
        while True:
            wait, epoch = self.reserve(api)
            if wait > 0:
                self._sleep(wait)
                waited += wait
            if epoch != NAP and self.take(api, epoch):
                return waited

    def throttled(self, api: str, sent_at: float | None = None, retry_after_s: float | None = None) -> None:
        """The quota refused a call of `api` sent at `sent_at` (this limiter's clock). Lower the rate once
        for every burst of refusals: refusals of calls sent before the last decrease were already answered
        by it (TCP NewReno, RFC 6582, likewise reduces once per window however many of its packets were
        lost); otherwise the calls in flight would each cut the rate again, down to the floor. A retry-after
        holds the whole quota group until then: the server said when it has room again."""
        with self._lock:
            cell = self._cell(api)
            if not isinstance(cell, _AdaptiveCell):
                return
            now = self._clock()
            cell.throttles += 1
            # Jittered by up to one of this process's intervals: the instances a refusal told the same
            # retry-after would otherwise all come back at that instant and collide again.
            hold_until = now + (retry_after_s or 0.0) + self._random.uniform(0, cell.interval)
            cell.tat = max(cell.tat, hold_until + cell.tolerance)
            cell.record_refusal(now)
            if sent_at is not None and sent_at < cell.since + cell.hold:
                return
            cell.climb(now)
            # What this process's calls got through at lately is its share of the quota as the others
            # leave it: the rate falls below that at once, instead of step by step while every call is refused
            # (yet to no less than BETA of what it sent: a caller of a few calls, refused once, is not sent
            # to the floor by a measure of nothing).
            sending = min(cell.rate, max(cell.measured_rate(now, admitted=True), BETA * cell.measured_rate(now)))
            # Fast convergence (RFC 8312 section 4.6): throttled below the last W_max, the others have grown;
            # yield a little more so they converge on fair shares sooner.
            cell.w_max = sending * (1 + BETA) / 2 if cell.adaptive and sending < cell.w_max else sending
            cell.set_rate(max(cell.qps * MIN_SHARE, sending * BETA))
            cell.k = ((cell.w_max - cell.rate) / (CUBIC_C * cell.qps)) ** (1 / 3) if cell.w_max > cell.rate else 0.0
            cell.since = now
            cell.adaptive = True
            cell.decreases += 1
            cell.epoch += 1
            # The slots reserved at the old rate are given up (acquire takes them again): the schedule
            # restarts from now, or from the retry-after.
            cell.tat = hold_until + cell.tolerance
            cell.hold = max(HOLD_S, min(cell.interval, cell.window))

    def rate(self, api: str) -> float | None:
        """The rate `api`'s quota group is paced to now (None: not limited)."""
        with self._lock:
            cell = self._cell(api)
            if cell is None:
                return None
            cell.climb(self._clock())
            return cell.rate

    def stats(self) -> dict[str, dict]:
        """Per quota group: its rate now, the throttled answers seen and the decreases they caused."""
        with self._lock:
            return {group: {"rate": round(cell.rate, 3), "quota": cell.qps, "throttled": cell.throttles,
                            "decreases": cell.decreases}
                    for group, cell in self._cells.items() if isinstance(cell, _AdaptiveCell)}
