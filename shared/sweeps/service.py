"""A sweep function (compliance-sweep, cert-sweep): one invocation covers the planned targets, regions × accounts
(shared/sweeps/targets.py), and tells people once (shared/sweeps/notify.py).

Three ways an invocation runs (SWEEP_FANOUT):
- in-process (`off`; `auto` with a single target; or when fan-out cannot be coordinated: no STATE_BUCKET or no
  function name to invoke): every target here, one after the other, then the summary;
- coordinator (`on`; `auto` with several targets): the timer's invocation plans the run and invokes one worker per
  target, asynchronously, on this same function (shared/sweeps/fanout.py);
- worker: an invocation whose payload names a target of a planned run (`{"task", "sweep": {...}}`).

Bad input never stops the sweep: the request's rejections (shared/sweeps/runner.py), the listings that failed, the
accounts whose role could not be entered are recorded and summarised, and whatever is valid runs. Only a failure to
reach this account's own services raises (FC retries the invocation).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from shared.clients import Credentials
from shared.sweeps.accounts import AccountClients, RoleNotEntered
from shared.sweeps.findings import CheckResult, SweepTarget
from shared.sweeps.notify import SweepPublisher
from shared.sweeps.runner import TASK, Rejection, parse_request, run_checks, select_checks
from shared.sweeps.settings import SweepSettings
from shared.sweeps.targets import plan


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class SweepFunction:
    def __init__(self, settings: SweepSettings, *, task: str = TASK, default_checks: tuple[str, ...] = (),
                 account_id: str, credentials: Credentials, function_name: str = ""):
        self.settings = settings
        self.task = task
        self.default_checks = default_checks
        self.account_id = account_id
        self.function_name = function_name
        self.home_region = settings.region or (settings.regions[0] if settings.regions else "")
        self.accounts = AccountClients(credentials, account_id, self.home_region, settings.role_name,
                                       endpoint_override=settings.endpoint_override)

    def handle(self, event: Any, invocation_id: str = "") -> dict[str, Any]:
        from shared.sweeps import fanout

        doc = _decoded(event)
        if fanout.is_worker_payload(doc):
            return fanout.Worker(self).run(doc, invocation_id)
        request = parse_request(event, self.task)
        checks, unknown = self.checks_to_run(request.checks)
        rejections = request.rejections + unknown
        now = request.as_of or utc_now()
        the_plan = plan(self.settings, request.regions, own_account=self.account_id, home_region=self.home_region,
                        home=self.accounts.home())
        rejections += the_plan.rejections + self.cas_region_unswept(checks, the_plan.targets)
        if self.fans_out(len(the_plan.targets)):
            return fanout.Coordinator(self).run(the_plan, checks, rejections, now, attempt=invocation_id,
                                                run_id=fanout.run_id(self.task, request, invocation_id))
        if request.as_of:
            # A timer's run, named by its triggerTime as a fanned-out run is: a second delivery of the same event is
            # the same run, and publishes nothing (in_process's claim).
            return self.in_process(the_plan.targets, checks, rejections, now,
                                   fanout.run_id(self.task, request, invocation_id), attempt=invocation_id or now)
        return self.in_process(the_plan.targets, checks, rejections, now, invocation_id or f"sweep-{now}")

    def checks_to_run(self, requested: tuple[str, ...]) -> tuple[list, list[Rejection]]:
        """The checks the request names, else SWEEP_CHECKS', else the function's default; a list in which no name is a
        check falls through to the next one (its names rejected, saying so). Without this, a timer payload or a
        SWEEP_CHECKS with a typo in its only name ran no check at all and summarised 0 findings, 0 incomplete: a clean
        sweep that never looked (tests/test_sweep_adversarial.py)."""
        rejections: list[Rejection] = []
        for names in (requested, self.settings.checks, self.default_checks):
            if not names:
                continue
            checks, unknown = select_checks(names)
            if checks:
                return checks, rejections + unknown
            rejections += [Rejection(r.what, f"{r.reason}; no check named is known, the configured checks run")
                           for r in unknown]
        checks, unknown = select_checks(())
        return checks, rejections + unknown

    def cas_region_unswept(self, checks, targets: list[tuple[str, str]]) -> list[Rejection]:
        """cert_expiry reads an account's CAS certificates in the run of SWEEP_CERT_CAS_REGION only: a sweep that does
        not cover that region would judge none of them and say nothing, so it is said."""
        if not any(c.name == "cert_expiry" for c in checks) or not targets:
            return []
        region = self.settings.cert_cas_region
        if any(r == region for _a, r in targets):
            return []
        return [Rejection("SWEEP_CERT_CAS_REGION", f"{region} is not among the swept regions: CAS certificates are not "
                                                   "judged in this run (SWEEP_REGIONS must include it)")]

    def fans_out(self, targets: int) -> bool:
        if self.settings.fanout == "off" or not self.settings.state_bucket or not self.function_name:
            return False
        return self.settings.fanout == "on" or targets > 1

    def in_process(self, targets: list[tuple[str, str]], checks, rejections: list[Rejection], now: str,
                   run_id: str, *, attempt: str | None = None) -> dict[str, Any]:
        """Every target here, then the summary. With `attempt` (a timer's run) the run is claimed first, as a fanned-out
        run's publisher claims it: FC executes an asynchronous request "at least once" ("Overview" of asynchronous
        invocations, https://www.alibabacloud.com/help/doc-detail/181866.htm), and a second delivery of the timer's
        event published a second summary, or, running alongside the first, alerted each new CRITICAL finding twice
        (tests/test_sweep_adversarial.py). A claim that cannot be made (the state bucket unreachable) does not stop
        the summary: two are better than none."""
        sweep_targets = [self.target(account, region, now, swept_regions(targets, account)) for account, region in targets]
        results = run_checks(checks, sweep_targets, lambda t: self.accounts.clients(t.account, t.region))
        rejections = rejections + [role_rejection(e) for e in self.accounts.not_entered()]
        state = None
        if attempt is not None and self.settings.state_bucket:
            # Claimed after the checks, right before publishing: an attempt that fails earlier leaves the claim to FC's
            # retry of it (a new request id).
            from shared.sweeps.run_state import RunState

            state = RunState(self.accounts.home(), self.settings.state_bucket, self.home_region, self.task, run_id)
            try:
                if not state.claim("in-process", attempt):
                    return {"task": self.task, "runId": run_id, "duplicate": "this run's summary is published by another "
                                                                            "delivery of the same timer event"}
            except Exception:  # noqa: BLE001 - see the docstring
                state = None
        published = self.publish(results, [r.as_dict() for r in rejections], now, run_id)
        if state is not None:
            try:
                state.put_summary({k: published[k] for k in ("runId", "totals", "incomplete") if k in published})
            except Exception:  # noqa: BLE001 - published already; the claim alone keeps duplicates out
                pass
        return published

    def target(self, account: str, region: str, now: str, swept: tuple[str, ...] = ()) -> SweepTarget:
        """`swept`: the regions the run sweeps in `account` (cert_expiry looks for a CAS certificate's listeners in
        all of them, whichever worker runs it)."""
        settings = self.settings.check_settings(swept)
        # The function's own account: only its facts are remembered in STATE_BUCKET (deletion_protection), the
        # account whose key-guard reads them; a member account's worker never writes the home bucket.
        settings["home_account"] = self.account_id
        return SweepTarget(account=account, region=region, now=now, settings=settings)

    def publish(self, results: list[CheckResult], rejections: list[dict], now: str, run_id: str) -> dict[str, Any]:
        publisher = SweepPublisher(self.accounts.home(), self.settings, account=self.account_id, region=self.home_region,
                                   now=now, run_id=run_id)
        published = publisher.publish(results, _distinct(rejections), self.settings.problems)
        return {"task": self.task, **published.summary, "alerted": published.alerts_sent,
                "resolvedFindings": published.resolved}


def swept_regions(targets, account: str) -> tuple[str, ...]:
    """The regions of the planned targets ((account, region) pairs or {"account", "region"}) in `account`, in order."""
    out: list[str] = []
    for t in targets:
        a, r = (t["account"], t["region"]) if isinstance(t, dict) else t
        if a == account and r not in out:
            out.append(r)
    return tuple(out)


def role_rejection(exc: RoleNotEntered) -> Rejection:
    return Rejection(f"account {exc.account}", f"{exc}; the account is not swept, the others are")


def _distinct(rejections: list[dict]) -> list[dict]:
    out: list[dict] = []
    for r in rejections:
        if r not in out:
            out.append(r)
    return out


def _decoded(event: Any) -> Any:
    try:
        return json.loads(event) if isinstance(event, (bytes, bytearray, str)) else event
    except (ValueError, UnicodeDecodeError):
        return None


# The name the compliance-sweep handler has always imported.
ComplianceSweep = SweepFunction
