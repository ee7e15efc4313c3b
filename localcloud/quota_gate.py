"""The local cloud's flow control: per-API QPS quotas enforced as Alibaba Cloud's gateways enforce them,
refusing a call that comes too early with a retry-after instead of making it wait.

The schedules are the GCRA ones the functions pace themselves with (`shared.ratelimit.QuotaSchedules`),
so the emulated quota and the caller's pacing count calls the same way; the enforcement itself belongs
to the emulator and is not part of what is deployed to Function Compute.
"""
from __future__ import annotations

import threading
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


# Quota scope. Alibaba Cloud publishes its API quotas per account, and for regional services per account and
# region: KMS "Limits" (https://www.alibabacloud.com/help/en/kms/support/limits) gives "the KMS request quotas
# for each Alibaba Cloud account in a region"; shared/quotas.py names each figure's page. Certificate Management
# Service (not a regional service; ListUserCertificateOrder "10 calls per second per user"), RAM and Resource
# Manager (global) and CloudMonitor's PutCustomEvent ("Report custom events": 20 reports a second per account)
# count per account whatever the endpoint.
ACCOUNT_WIDE = ("cas:", "ram:", "resourcemanager:", "cms:PutCustomEvent")


def quota_scope(api: str, account_id: str, region: str) -> tuple[str, str]:
    """(account, region) whose schedules a call counts against; region "" for an account-wide quota."""
    return account_id, "" if api.startswith(ACCOUNT_WIDE) else region


class ScopedQuotaGate:
    """One QuotaGate (one set of per-API schedules) per quota scope: each account, and each region of the
    account for a regional API. Counts the calls it refused per API (`refused`)."""

    def __init__(self, qps_of: Callable[[str], float | None], *, burst_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 group_of: Callable[[str], str] | None = None):
        self._make = lambda: QuotaGate(qps_of, burst_s=burst_s, clock=clock, group_of=group_of)
        self._gates: dict[tuple[str, str], QuotaGate] = {}
        self._lock = threading.Lock()
        self.refused: dict[str, int] = {}

    def admit(self, api: str, *, account: str = "", region: str = "") -> int | None:
        scope = quota_scope(api, account, region)
        with self._lock:
            gate = self._gates.get(scope)
            if gate is None:
                gate = self._gates[scope] = self._make()
        retry = gate.admit(api)
        if retry is not None:
            with self._lock:
                self.refused[api] = self.refused.get(api, 0) + 1
        return retry
