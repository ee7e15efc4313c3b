"""compliance-sweep: one invocation sweeps the configured checks over the configured regions of the function's own
account (SWEEP_REGIONS, default the function's region), in-process, then tells people once (shared/sweeps/notify.py).

Bad input never stops the sweep: the request's rejections (shared/sweeps/runner.py) are recorded and summarised, and
whatever is valid runs. Only a failure to build the home region's clients raises (FC retries the invocation).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from shared.clients import Clients
from shared.sweeps.findings import SweepTarget
from shared.sweeps.notify import SweepPublisher
from shared.sweeps.runner import parse_request, run_checks, select_checks
from shared.sweeps.settings import SweepSettings


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ComplianceSweep:
    def __init__(self, settings: SweepSettings, *, account_id: str, clients_for: Callable[[str], Clients]):
        self.settings = settings
        self.account_id = account_id
        self._clients_for = clients_for
        self._clients: dict[str, Clients] = {}

    def clients(self, region: str) -> Clients:
        """One Clients per region for the whole run: what several checks read there is fetched once."""
        if region not in self._clients:
            self._clients[region] = self._clients_for(region)
        return self._clients[region]

    def handle(self, event: Any, invocation_id: str = "") -> dict[str, Any]:
        request = parse_request(event)
        checks, unknown = select_checks(request.checks or self.settings.checks)
        rejections = [r.as_dict() for r in request.rejections + unknown]
        home = self.settings.region or (self.settings.regions[0] if self.settings.regions else "")
        regions = request.regions or self.settings.regions or (home,)
        now = request.as_of or _utc_now()
        targets = [SweepTarget(account=self.account_id, region=region, now=now, settings=self.settings.check_settings())
                   for region in regions]
        results = run_checks(checks, targets, lambda target: self.clients(target.region))
        publisher = SweepPublisher(self.clients(home), self.settings, account=self.account_id, region=home, now=now,
                                   run_id=invocation_id or f"sweep-{now}")
        published = publisher.publish(results, rejections, self.settings.problems)
        return {"task": "compliance-sweep", **published.summary, "alerted": published.alerts_sent,
                "resolvedFindings": published.resolved}
