"""The secret-rotation function's work for one invocation: a rotation asked for by an event, one step of
it, the timer's sweep of the secrets due, or the last word on an invocation that failed every retry.

Every rotation ends in exactly one SLS record (shared/records.py): rotated, failed or refused, with the
step, the reason, the version and the API calls; never a value. A failure or a refusal also raises the
CloudMonitor custom event SecretRotationFailed (shared/alerts.py), naming the secret, the step and why.
ACSCurrent has not moved (only finish_secret moves it, after a successful login), but in a single-user
rotation stopped after set_secret the database may already take only the pending value; the next run (the
timer lists every secret tagged kms-steward:rotation-pending, interval tag or not) resumes the version left
pending.

Retries: a failed rotation is recorded and alerted, and the invocation returns. It is not raised to FC:
an asynchronous retry would repeat the same failure (and alert) at once, while the next timer run, or an
operator once the cause is fixed, resumes it. A payload the function cannot take is rejected the same way
(recorded, alerted, returned), never retried. The invocation raises (for FC to retry it, and in the end
for the failure destination, secret-rotation-failures, to alert) only when a failure could not be
alerted, or the secrets due could not even be listed for a transient reason.
"""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

from shared import alerts
from shared.clients import ApiCalls, Clients, Credentials, TransientError, describe_error, is_transient
from shared.events import EventParseError, TimerEvent, is_timer_payload, parse_timer_event
from shared.ratelimit import RateLimiter
from shared.quotas import Quotas
from shared.rotation.config import RotationConfig
from shared.rotation.driver import RotationHooks, rotate, run_one_step
from shared.rotation.errors import Redactor, RotationError, RotationRefused
from shared.rotation.protocol import PENDING_STAGE, PENDING_TAG, RotationEventRejected, RotationRequest, parse_request
from shared.rotation.schedule import INTERVAL_TAG, BadInterval, is_due, parse_interval
from shared.rotation.secret_store import SecretStore, parse_time

RECORD_TOPIC = "secret-rotation"


class SecretRotationService:
    def __init__(self, config: RotationConfig, *, credentials: Credentials, account_id: str = "",
                 time_limit_s: float | None = None, hooks: RotationHooks | None = None):
        if not config.region:
            raise ValueError("the function's region is unknown (FC_REGION)")
        self.config = config
        self.credentials = credentials
        self.account_id = account_id
        self.time_limit_s = time_limit_s
        self.hooks = hooks or RotationHooks()
        self._started = time.monotonic()
        quotas = Quotas.from_env()
        # One pacing for the whole invocation, whichever secret a call is for.
        self._limiter = RateLimiter(quotas.qps, group_of=quotas.group)
        self._unalerted: list[str] = []

    def _clients(self) -> Clients:
        """Clients with their own call count (each record states its rotation's calls), paced together."""
        return Clients(self.credentials, self.config.region, endpoint_override=self.config.endpoint_override,
                       calls=ApiCalls(), limiter=self._limiter)

    def _seconds_left(self) -> float | None:
        return None if self.time_limit_s is None else self.time_limit_s - (time.monotonic() - self._started)

    # ------------------------------------------------------------ entry points

    def handle(self, raw_event: Any, invocation_id: str = "") -> dict[str, Any]:
        invocation_id = invocation_id or str(uuid.uuid4())
        if is_timer_payload(raw_event):
            try:
                timer = parse_timer_event(raw_event)
            except EventParseError as exc:
                return {"results": [self.reject(f"malformed timer event: {exc}", invocation_id)]}
            result = self.sweep(timer, invocation_id)
        else:
            try:
                request = parse_request(raw_event)
            except RotationEventRejected as exc:
                return {"results": [self.reject(str(exc), invocation_id)]}
            result = {"results": [self.rotate_one(request, "on-demand", invocation_id)]}
        self._raise_if_unalerted()
        return result

    def handle_failed_invocation(self, original: Any, failure: str, invocation_id: str = "") -> dict[str, Any]:
        """The failure destination: an invocation failed every retry (or aged out). Alerted, not rotated again:
        the stages are as the last attempt left them and the next timer run resumes from there."""
        invocation_id = invocation_id or str(uuid.uuid4())
        if is_timer_payload(original):
            secret_name, what = None, "the scheduled rotation run"
        else:
            try:
                secret_name = parse_request(original).secret_name
                what = f"the rotation of {secret_name!r}"
            except RotationEventRejected as exc:
                return {"results": [self.reject(f"failed invocation with an event it could not take ({failure}): {exc}",
                                                invocation_id)]}
        reason = Redactor().reason(f"{what} failed every attempt: {failure}")
        record = {"status": "failed", "secretName": secret_name, "step": "invocation", "reason": reason,
                  "trigger": "failure-destination", "region": self.config.region, "account": self.account_id,
                  "invocation": invocation_id}
        clients = self._clients()
        self._alert(clients, alerts.SECRET_ROTATION_FAILED, record, severity="CRITICAL")
        self._record(record, clients)
        self._raise_if_unalerted()
        return {"results": [record]}

    # ------------------------------------------------------------ one secret

    def rotate_one(self, request: RotationRequest, trigger: str, invocation_id: str) -> dict[str, Any]:
        started = time.monotonic()
        clients = self._clients()
        store = SecretStore(clients, self.config.region, Redactor())
        record: dict[str, Any] = {"status": "", "secretName": request.secret_name, "region": self.config.region,
                                  "account": self.account_id, "trigger": trigger, "invocation": invocation_id}
        if request.step is not None:
            record.update(requestedStep=request.step.value, versionId=request.version_id)
        running: list = []
        try:
            if not self.config.rotates(request.secret_name):  # before any call: the role may not touch it
                raise RotationRefused("scope", f"{request.secret_name} is not among the secrets this function rotates "
                                               f"(ROTATION_SECRETS={self.config.secret_names!r}), and its role may not "
                                               "read or write it")
            if request.step is None:
                outcome = rotate(store, request.secret_name, timeout_s=self.config.db_timeout_s, hooks=self.hooks,
                                 current_step=running)
            else:
                outcome = run_one_step(store, request, timeout_s=self.config.db_timeout_s, hooks=self.hooks)
            record.update(status="rotated" if request.step is None else "step-done", versionId=outcome.version_id,
                          resumed=outcome.resumed, strategy=outcome.strategy, steps=outcome.steps)
        except RotationError as exc:
            record.update(status="refused" if isinstance(exc, RotationRefused) else "failed", step=exc.step,
                          reason=exc.reason)
            if running:
                record["versionId"] = running[1]
            record["apiCalls"] = dict(clients.calls.counts)
            self._alert(clients, alerts.SECRET_ROTATION_FAILED, record, severity="CRITICAL")
        record.setdefault("apiCalls", dict(clients.calls.counts))
        record["durationMs"] = int((time.monotonic() - started) * 1000)
        self._record(record, clients)
        return record

    # ------------------------------------------------------------ the timer

    def sweep(self, timer: TimerEvent, invocation_id: str) -> dict[str, Any]:
        """Rotate every tagged secret that is due, and finish every rotation left half done."""
        started = time.monotonic()
        now = parse_time(timer.triggerTime) or datetime.now(timezone.utc)
        clients = self._clients()
        store = SecretStore(clients, self.config.region, Redactor())
        summary: dict[str, Any] = {"status": "sweep", "trigger": f"timer:{timer.triggerName}", "triggerTime": timer.triggerTime,
                                   "region": self.config.region, "account": self.account_id, "invocation": invocation_id}
        try:
            # The secrets with a schedule, and those marked while a rotation of theirs is in flight (a half-done
            # rotation of a secret rotated on demand only is resumed too).
            tagged = list(store.tagged(INTERVAL_TAG, PENDING_TAG))
        except Exception as exc:
            reason = f"listing the secrets tagged {INTERVAL_TAG} or {PENDING_TAG}: {describe_error(exc)}"
            if is_transient(exc):
                raise TransientError(f"secret rotation sweep: {reason}") from None
            summary.update(status="failed", step="schedule", reason=reason)
            self._alert(clients, alerts.SECRET_ROTATION_FAILED, summary, severity="CRITICAL")
            self._record(summary, clients)
            return {"sweep": summary, "results": []}
        results: list[dict] = []
        due: list[str] = []
        not_due = 0
        # Tagged secrets outside ROTATION_SECRETS are not this function's: named in the summary, never read (their
        # versions included), never alerted run after run.
        out_of_scope = sorted(info.name for info in tagged if not self.config.rotates(info.name))
        for info in (info for info in tagged if self.config.rotates(info.name)):
            try:
                scheduled = INTERVAL_TAG in info.tags
                interval = parse_interval(info.tags.get(INTERVAL_TAG, "")) if scheduled else None
                versions = store.versions(info.name, "schedule")
            except (BadInterval, RotationError) as exc:
                results.append(self._unschedulable(info.name, str(exc), timer, invocation_id))
                continue
            if interval is None:
                # Only the in-flight tag: resumed while a version is pending, else left alone (never rotated unasked).
                in_flight = any(PENDING_STAGE in v.stages for v in versions)
            if (interval is None and in_flight) or (interval is not None and is_due(versions, interval, now).due):
                due.append(info.name)
            else:
                not_due += 1
        deferred: list[str] = []

        def one(name: str) -> dict | None:
            left = self._seconds_left()
            if left is not None and left < self.config.seconds_per_secret:
                deferred.append(name)  # still due: the next run takes it
                return None
            return self.rotate_one(RotationRequest(name), f"timer:{timer.triggerName}", invocation_id)

        with ThreadPoolExecutor(max_workers=max(1, self.config.concurrency)) as pool:
            results += [r for r in pool.map(one, due) if r is not None]
        api_calls = ApiCalls()
        for counts in [clients.calls.counts] + [r.get("apiCalls") or {} for r in results]:
            for api, count in counts.items():
                api_calls.counts[api] = api_calls.counts.get(api, 0) + count
        summary.update(tagged=len(tagged), due=len(due), notDue=not_due, outOfScope=out_of_scope or None,
                       rotated=sum(r["status"] == "rotated" for r in results),
                       failed=sum(r["status"] in ("failed", "refused") for r in results), deferred=deferred or None,
                       apiCalls=api_calls.counts, apiCallsTotal=api_calls.total,
                       durationMs=int((time.monotonic() - started) * 1000))
        if self.config.problems:
            summary["configProblems"] = list(self.config.problems)
        self._record(summary, clients)
        return {"sweep": {k: v for k, v in summary.items() if v is not None}, "results": results}

    def _unschedulable(self, name: str, reason: str, timer: TimerEvent, invocation_id: str) -> dict:
        clients = self._clients()
        record = {"status": "refused", "secretName": name, "step": "schedule", "reason": reason[:300],
                  "trigger": f"timer:{timer.triggerName}", "region": self.config.region, "account": self.account_id,
                  "invocation": invocation_id}
        self._alert(clients, alerts.SECRET_ROTATION_FAILED, record, severity="CRITICAL")
        self._record(record, clients)
        return record

    # ------------------------------------------------------------ rejections, alerts, records

    def reject(self, reason: str, invocation_id: str) -> dict:
        """A payload naming no rotation this function runs: recorded and alerted, never retried."""
        reason = Redactor().reason(reason)
        record = {"status": "rejected", "reason": reason, "region": self.config.region, "account": self.account_id,
                  "invocation": invocation_id}
        clients = self._clients()
        try:
            alerts.raise_alert(clients, self.config.region, alerts.SECRET_ROTATION_EVENT_REJECTED,
                               _content(record, "WARN"), self.config.alert_group_id)
        except Exception as exc:  # a bad payload is never retried, alert or not: the record says so
            record["alertError"] = describe_error(exc)
        self._record(record, clients)
        return record

    def _alert(self, clients: Clients, name: str, record: dict, *, severity: str) -> None:
        try:
            alerts.raise_alert(clients, self.config.region, name, _content(record, severity), self.config.alert_group_id)
            record["alert"] = name
        except Exception as exc:
            record["alertError"] = describe_error(exc)
            self._unalerted.append(str(record.get("secretName") or "the sweep"))

    def _raise_if_unalerted(self) -> None:
        if self._unalerted:
            # FC retries the invocation (the rotations are idempotent); its last failure reaches the failure destination.
            raise TransientError(f"rotation failure(s) not alerted for {', '.join(self._unalerted[:10])}: "
                                 "retrying so the alert is not lost")

    def _record(self, record: dict, clients: Clients | None) -> None:
        from shared.records import write_record

        record["recordedTo"] = write_record(record, clients=clients, project=self.config.records_project,
                                            logstore=self.config.records_logstore, region=self.config.region,
                                            topic=RECORD_TOPIC)


def _content(record: dict, severity: str) -> dict:
    """The alert's content: the record's ids and reasons (no value ever reaches a record)."""
    keys = ("status", "secretName", "step", "reason", "versionId", "requestedStep", "trigger", "region", "account",
            "invocation")
    content = {"severity": severity, **{k: record[k] for k in keys if record.get(k) is not None}}
    if record.get("status") in ("failed", "refused") and record.get("secretName"):
        # Only finish_secret moves ACSCurrent, and only to a value that has just logged in. That says nothing of
        # whether the ACSCurrent value still logs in: in a single-user rotation stopped after set_secret the
        # database already takes only the pending password.
        content["acsCurrent"] = "not moved in Secrets Manager" if record.get("step") != "finish_secret" else \
            "as finish_secret left it: promoted only after the new value logged in"
        if record.get("versionId"):
            content["database"] = ("may already accept only the pending value (a single-user rotation stopped after "
                                   "set_secret): clients using ACSCurrent can fail until the rotation is finished")
            content["next"] = "the next run (the hourly timer, or an event with only SecretName) resumes the pending version"
        else:
            content["next"] = "fix the cause; the next run tries again"
    return content


def build_service(config: RotationConfig, context: Any, *, account_id: str = "",
                  time_limit_s: float | None = None, hooks: RotationHooks | None = None) -> SecretRotationService:
    return SecretRotationService(config, credentials=Credentials.resolve(context), account_id=account_id,
                                 time_limit_s=time_limit_s, hooks=hooks)

