"""key-guard: from a KMS key mutation to a recorded decision.

    mutation -> validate -> claim (idempotency) -> re-read key -> audit -> decide -> act -> alert -> record

A mutation comes from an ActionTrail event (EventBridge), from the daily safety net (every key still
pending deletion, re-decided as if its event had just arrived), or from FC's failure destination
(an event whose invocation failed every retry: decided one last time, never raised again).

Every mutation ends in one of: the deletion is cancelled; FC retries the invocation (only while
nothing was done); or a person is told, by an alert named for what happened. Only genuinely
transient failures raise; malformed input, another account's event, an unknown key get a clear
rejection in the result and the record, so a bad event never turns into a retry storm.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from alibabacloud_kms20160120 import models as kms

from shared import alerts
from shared.audit.facts import FactsPlace
from shared.audit.model import AuditReport
from shared.audit.runner import AUDIT_DEADLINE_S, run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.clients import Clients, Credentials, TransientError, answered, describe_error, error_code, is_transient, never_sent
from shared.config import GuardConfig
from shared.events import (ActionTrailRecord, CloudEvent, EventParseError, TimerEvent, clip, event_dedupe_key,
                           is_region_id, is_timer_payload, parse_fc_events_each, parse_timer_event)
from shared.failed_invocations import parse_destination_payload
from shared.fc_context import account_id_from, timeout_of
from shared.idempotency import ClaimBusy, EventClaims, cut_off, is_owed_alert
from shared.keys import (CANCELLED_STATES, ActionResult, KeyNotFound, WriteUnconfirmed, cancel_deletion, enable_key,
                         list_pending_deletion, read_key)
from shared.policy import (MATERIAL_IN_PLACE_STATES, Decision, KeyView, decide_deletion, decide_disable, decide_material_deleted,
                           decide_protection_removed, decide_rotation_off)

USAGE_SCANNER = KmsUsageScanner.name
SAFETY_NET_SOURCE = "kms-steward.safety-net"
# Time budget of one invocation (seconds). After the audit come the action (a write and a re-read), the
# alert and the record, each a call or two with their retries: AFTER_AUDIT_S leaves room for them. The
# safety net starts a key's decision only with SAFETY_NET_KEY_S left, enough for a short audit and the rest.
AFTER_AUDIT_S = 60.0
MIN_AUDIT_S = 5.0
SAFETY_NET_KEY_S = 180.0
# The safety net's last chance cancels a key it cannot decide only with FAIL_SAFE_KEY_S left: at worst the cancel
# and one read of the key, each a connect and a read timeout (shared/clients.py: 5 s and 15 s), then the alert and
# the record. The keys after that are named in one alert rather than cut off unannounced by FC's time limit.
FAIL_SAFE_KEY_S = 90.0
# The slowest a single alert can take: a write is sent once when its connection was made (5 s to connect, 15 s to
# read: shared/clients.py), or tried 4 times while it never connects (5 s each) with the back-off between.
ALERT_SEND_S = 30.0
# An alert no retry of the invocation can raise (no claim keeps it, or this is the last chance) is sent again after
# these pauses: a CloudMonitor refusal (a 5xx, throttling) usually passes within seconds.
IN_PLACE_ALERT_PAUSES_S = (2.0, 8.0)
# What a rejected event leaves to whom: a key it may have scheduled for deletion is still re-decided.
REJECTION_FOLLOW_UP = "nothing done; the daily safety net re-decides every key pending deletion"
ACTIONS = {"cancel_deletion": cancel_deletion, "enable_key": enable_key}


@dataclass(frozen=True)
class Rule:
    """How key-guard treats one KMS API: when the key still shows the change (so an audit is worth
    making), how to decide, and which calls do not concern it (protection turned on, not off)."""

    decide: Callable[[KeyView, AuditReport | None, GuardConfig], Decision]
    audit_when: Callable[[KeyView], bool]
    ignore: Callable[[ActionTrailRecord], str | None] = lambda data: None


def _turned_on(data: ActionTrailRecord, param: str, what: str) -> str | None:
    # Only an explicit "true" is ignored: a value the guard cannot read is decided from the key's state.
    # Called at decision time (not when RULES is built), so the mutation tests can reach it.
    return f"{what} turned on: nothing to guard" if data.param_bool(param) is True else None


RULES: dict[str, Rule] = {
    "ScheduleKeyDeletion": Rule(decide_deletion, lambda key: key.state == "PendingDeletion"),
    "DisableKey": Rule(decide_disable, lambda key: key.state == "Disabled"),
    "DeleteKeyMaterial": Rule(decide_material_deleted, lambda key: key.state not in MATERIAL_IN_PLACE_STATES),
    "SetDeletionProtection": Rule(decide_protection_removed,
                                  lambda key: key.deletion_protection != "Enabled" and key.state != "PendingDeletion",
                                  lambda data: _turned_on(data, "EnableDeletionProtection", "deletion protection")),
    "UpdateRotationPolicy": Rule(decide_rotation_off, lambda key: False,
                                 lambda data: _turned_on(data, "EnableAutomaticRotation", "automatic rotation")),
}


class Rejected(Exception):
    """The mutation cannot be acted on; the message says why (and is safe to record)."""


@dataclass
class Mutation:
    """One thing to decide, whichever way it arrived."""

    event_id: str
    dedupe_key: str  # what its claim is kept under: never defaulted, so no caller files two events under one
    event_name: str
    key_ref: str | None  # as the event names it: key id, ARN or alias
    region: str
    data: ActionTrailRecord = field(default_factory=ActionTrailRecord)
    account: str | None = None
    source: str | None = None
    event_type: str | None = None
    caller: str = ""
    as_of: str | None = None  # the instant the usage window ends (the event's time; None: now)
    problems: list[str] = field(default_factory=list)  # impossible identifiers in the event, each naming its field
    own: bool = False  # made by the guard itself (the safety net), never by a delivered event
    # the safety net: a run earlier today started this action on the key and never finished, or owes its alert
    cut_off: dict | None = None


@dataclass
class Outcome:
    # What was decided and done; its "status" is one of acted | already_done | decided | recorded | no_action |
    # ignored | rejected | duplicate | alert_raised | error.
    record: dict[str, Any] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        keep = ("status", "eventId", "eventName", "keyId", "keyRef", "secretName", "region", "caller", "decision", "mode",
                "action", "actionResult", "alert", "alertError", "dependentCount", "dependents", "auditComplete",
                "auditIncomplete", "readerCount", "readers", "readersComplete", "readersIncomplete", "reason",
                "keyStateBefore", "keyStateAfter", "secretStateBefore", "secretStateAfter", "step")
        return {k: self.record[k] for k in keep if self.record.get(k) is not None}


def usage_evidence(audit: AuditReport) -> dict | str:
    """Recent crypto callers of the key (usage counts as a dependency); never "none" when not looked at."""
    usage = next((r for r in audit.results if r.scanner == USAGE_SCANNER), None)
    if usage is None:
        return "not collected"
    if not usage.complete:
        return {"complete": False, "reason": usage.reason}
    return {"complete": True, "callers": [f"{d.resource_id}: {d.usage}" for d in usage.dependents]}


class KeyGuard:
    """The guard's pipeline, with a KMS key as its subject. secret-guard (shared/secret_guard.py) runs the same
    pipeline with a secret: it sets the attributes below and overrides the methods marked as the subject's."""

    FUNCTION = "key-guard"
    NOUN = "key"
    DELETION_EVENT = "ScheduleKeyDeletion"  # the event the safety net re-decides, and the fail-safe undoes
    SAFETY_NET_SOURCE = SAFETY_NET_SOURCE
    FAILED_ALERT = alerts.GUARD_FAILED
    REJECTED_ALERT = alerts.EVENT_REJECTED
    REJECTION_FOLLOW_UP = REJECTION_FOLLOW_UP
    RULES = RULES
    ACTIONS = ACTIONS
    ALERT_NAMES = alerts.EVENT_NAMES
    NO_SUBJECT = "has no KeyId (nor a ProtectedResourceArn naming a key)"

    def __init__(self, config: GuardConfig, *, account_id: str, clients_for: Callable[[str], Clients],
                 time_limit_s: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.account_id = account_id
        self.clients_for = clients_for  # region -> Clients (one per mutation, so API calls are counted per decision)
        # The invocation's time limit (the function's timeout; None: unbounded), counted from now: FC ends an
        # invocation at its timeout, whatever it was doing, so an audit is bounded by what is left of it.
        self._clock = clock
        self._ends_at = clock() + time_limit_s if time_limit_s else None
        self._keys_after = 0  # the safety net: keys still to come in the run (this region and the later ones)

    def _seconds_left(self) -> float | None:
        return None if self._ends_at is None else self._ends_at - self._clock()

    def _audit_deadline(self) -> float:
        """The audit's deadline: its own cap, and never so late that the action, alert and record after it
        would be cut off by the invocation's end (a cut-off decision is one nobody hears of)."""
        left = self._seconds_left()
        if left is None:
            return AUDIT_DEADLINE_S
        return max(MIN_AUDIT_S, min(AUDIT_DEADLINE_S, left - AFTER_AUDIT_S))

    # ------------------------------------------------------------ entry points

    @classmethod
    def for_invocation(cls, context: Any) -> "KeyGuard":
        """The guard an FC invocation runs: configured from the function's environment, calling with its role's
        credentials, bounded by its timeout (functions/key_guard, functions/secret_guard)."""
        config = GuardConfig.from_env()
        credentials = Credentials.resolve(context)
        return cls(config, account_id=account_id_from(context), time_limit_s=timeout_of(context),
                   clients_for=lambda region: Clients(credentials, region, endpoint_override=config.endpoint_override))

    def handle_destination(self, payload: Any, invocation_id: str = "") -> dict[str, Any]:
        """What FC hands the failure destination: the failed invocation's context around its original event. A
        payload naming no event is recorded as a rejection, never raised (the daily safety net still covers every
        pending deletion)."""
        try:
            original, failure = parse_destination_payload(payload)
        except EventParseError as exc:
            return {"results": [self.reject_payload(f"unreadable failure destination payload: {exc}")]}
        return self.handle_failed_invocation(original, failure, invocation_id)

    def handle(self, raw_event: Any, invocation_id: str = "") -> dict[str, Any]:
        """An EventBridge delivery (one CloudEvent, a list, or a bare ActionTrail record), or the safety
        net's timer event. A bad item is rejected on its own; the good ones beside it are decided."""
        invocation_id = invocation_id or str(uuid.uuid4())
        if is_timer_payload(raw_event):
            try:
                return self.safety_net(parse_timer_event(raw_event), invocation_id)
            except EventParseError as exc:
                return {"results": [self.reject_payload(f"malformed timer event: {exc}")]}
        try:
            events = parse_fc_events_each(raw_event)
        except EventParseError as exc:
            return {"results": [self.reject_payload(f"malformed event: {exc}")]}
        return {"results": [self.reject_payload(f"malformed event: {ev}") if isinstance(ev, EventParseError)
                            else self._process(self._from_event(ev), invocation_id).result() for ev in events]}

    def handle_failed_invocation(self, original: Any, failure: str, invocation_id: str = "") -> dict[str, Any]:
        """FC's failure destination: an invocation failed every retry (or aged out). Each event in it is
        decided one last time; what still fails is cancelled fail-safe and alerted, never raised."""
        invocation_id = invocation_id or str(uuid.uuid4())
        if is_timer_payload(original):
            try:
                timer = parse_timer_event(original)
            except EventParseError as exc:
                return {"results": [self.reject_payload(f"failed invocation with a malformed timer event ({failure}): {exc}")]}
            # The safety net's own run failed every retry: run it once more, deciding every key it can
            # and cancelling fail-safe, alerting, what it cannot; never raising.
            return self.safety_net(timer, invocation_id, last_chance=failure)
        try:
            events = parse_fc_events_each(original)
        except EventParseError as exc:
            return {"results": [self.reject_payload(f"failed invocation with a malformed event ({failure}): {exc}")]}
        return {"results": [self.reject_payload(f"failed invocation with a malformed event ({failure}): {ev}")
                            if isinstance(ev, EventParseError)
                            else self._process(self._from_event(ev), invocation_id, last_chance=failure).result()
                            for ev in events]}

    def safety_net(self, timer: TimerEvent, invocation_id: str, *, last_chance: str | None = None) -> dict[str, Any]:
        """Re-decide every key in PendingDeletion in each configured region, exactly as its event would
        have been: a missed, lost or failed event is caught within a day, well inside the 7-day minimum
        window. A key whose decision hit a transient failure makes the run raise at the end, so FC
        retries it; the keys already decided are then duplicates of themselves and are not redone."""
        day = (timer.triggerTime or "")[:10] or datetime.utcnow().strftime("%Y-%m-%d")
        results: list[dict] = []
        retry_later: list[str] = []
        unread_by_region: dict[str, list[str]] = {}  # claims an earlier run left that could not be read
        # Every region is listed first, so that a key's in-place resends always leave time for every key still to
        # come in the run, in this region and the ones after it (protection before telling).
        listed: dict[str, list[str]] = {}
        for region in self.config.regions or (self.config.region,):
            try:
                listed[region] = self._list_pending(self.clients_for(region), region)
            except Exception as exc:
                noun = self.NOUN
                if is_transient(exc) and not last_chance:
                    retry_later.append(f"{region}: listing {noun}s ({describe_error(exc)})")
                else:
                    results.append(self._safety_net_region_failed(
                        region, day, f"list {noun}s pending deletion", f"{noun}s pending deletion not re-decided in this region",
                        f"safety net could not list {noun}s in {region}: {describe_error(exc)}", invocation_id, last_chance,
                        retry_later).result())
        pending = sum(len(key_ids) for key_ids in listed.values())
        for position, (region, key_ids) in enumerate(listed.items()):
            in_later_regions = sum(len(ids) for ids in list(listed.values())[position + 1:])
            left_acting, not_read = self._left_acting(region, day, retry_later, last_chance)
            if not_read:
                unread_by_region[region] = not_read
                if last_chance:  # no retry follows: said now, while there is time
                    results.append(self._claims_not_read(region, day, not_read, invocation_id, last_chance, retry_later))
            # First: their actions are untold already, and a run short of time reaches them before any other.
            pending_here = set(key_ids)
            key_ids = list(left_acting) + [k for k in key_ids if k not in left_acting]
            uncancelled: list[str] = []
            for index, key_id in enumerate(key_ids):
                self._keys_after = len(key_ids) - index - 1 + in_later_regions
                told = left_acting.get(key_id) or {}
                mutation = self._from_safety_net(key_id, region, day, timer, cut_off=told or None)
                left = self._seconds_left()
                # A key owing only its alert is not decided again (its claim raises the alert, a moment's work): it
                # goes ahead whatever the time left.
                if left is not None and left < SAFETY_NET_KEY_S and not (told.get("alertOwed") and key_id not in pending_here):
                    # Not enough time left to decide a key whole. FC's retry carries on where this run stopped
                    # (the keys decided are duplicates of themselves); on the last chance there is no retry, so
                    # each key left is cancelled fail-safe, which takes a moment, and alerted.
                    if last_chance:
                        if left < FAIL_SAFE_KEY_S:
                            uncancelled.append(key_id)
                        else:
                            results.append(self._not_reached(mutation, invocation_id, last_chance).result())
                        continue
                    retry_later.append(f"{len(key_ids) - index} {self.NOUN}(s) in {region} not reached within the time limit")
                    break
                try:
                    results.append(self._process(mutation, invocation_id, last_chance=last_chance).result())
                except TransientError as exc:
                    retry_later.append(f"{key_id} ({exc})")
                except Exception as exc:  # a fault of the guard's own (damaged state, a bug) stops no other key
                    if not last_chance:  # FC's retry decides it again (the keys done are duplicates of themselves)
                        retry_later.append(f"{key_id} (unforeseen failure: {describe_error(exc)})")
                        continue
                    try:  # no retry follows: cancelled fail-safe and alerted; failing that, named with the keys left
                        results.append(self._not_reached(mutation, invocation_id, last_chance, exc).result())
                    except Exception:
                        uncancelled.append(key_id)
            else:
                if uncancelled:
                    ids = ", ".join(uncancelled)
                    what = "pending deletion" + (" or left acting by an earlier run" if set(uncancelled) & set(left_acting) else "")
                    results.append(self._safety_net_region_failed(
                        region, day, "safety net", f"{len(uncancelled)} {self.NOUN}(s) {what} neither decided nor cancelled: {ids}",
                        f"the safety net's last run ran out of time before these {self.NOUN}s in {region}: {ids}",
                        invocation_id, last_chance, retry_later).result())
                continue
            break  # out of time: the regions after this one are left to the retry as well
        if not retry_later and not last_chance:  # said once, by the attempt that ends the run, not by each retry
            results += [self._claims_not_read(region, day, not_read, invocation_id, None, retry_later)
                        for region, not_read in unread_by_region.items()]
        unread = [entry for entries in unread_by_region.values() for entry in entries]
        summary = {"status": "safety_net", "eventName": "SafetyNet", "eventId": f"{self.SAFETY_NET_SOURCE}/{timer.triggerTime}",
                   "trigger": timer.triggerName, "regions": list(self.config.regions or (self.config.region,)),
                   f"{self.NOUN}sPendingDeletion": pending, "decisions": [
                       {k: r.get(k) for k in (self._ID_FIELD, "region", "status", "decision")} for r in results],
                   "retryLater": retry_later or None, "claimsNotRead": unread or None, "invocation": invocation_id}
        self._record(summary, None, self.config.region)
        if retry_later and not last_chance:
            raise TransientError(f"safety net: {len(retry_later)} part(s) to retry: " + "; ".join(retry_later)[:500])
        return {"safetyNet": {k: v for k, v in summary.items() if v is not None}, "results": results}

    def _claims_not_read(self, region: str, day: str, not_read: list[str], invocation_id: str, last_chance: str | None,
                         retry_later: list[str]) -> dict:
        return self._safety_net_region_failed(
            region, day, "read claims", f"{len(not_read)} claim(s) an earlier run of today left could not be read",
            f"the safety net could not read the claims its earlier runs of today left in {region} (a cancel made just "
            f"before a run was cut off may be untold): {'; '.join(not_read)[:300]}", invocation_id, last_chance,
            retry_later).result()

    def _left_acting(self, region: str, day: str, retry_later: list[str],
                     last_chance: str | None) -> tuple[dict[str, dict], list[str]]:
        """({key id: the cut-off attempt, or {"alertOwed": name}}, the claims not read): keys whose telling an earlier run of
        today's safety net left unfinished. It started to act and was cut off, or its alert is still owed; either
        way the key may be cancelled, so no longer listed as pending deletion, and the action told to no one (a key
        still pending keeps what its claim says too: its decision may fail before it meets that claim).
        Decided again, each meets that run's claim: the owed alert is raised, or the cut-off action told. Claims
        that cannot be read are retried with the run when that is transient, and otherwise named, for the run to
        alert."""
        if not self.config.state_bucket:
            return {}, []
        folder = f"{self.SAFETY_NET_SOURCE}/{day}/{region}"
        try:
            claims = EventClaims(self.clients_for(region), self.config.state_bucket, self.config.region or region)
            left, transient, not_read = claims.unfinished(folder)
        except Exception as exc:
            if is_transient(exc) and not last_chance:
                retry_later.append(f"{region}: listing the claims an earlier run left ({describe_error(exc)})")
                return {}, []
            return {}, [f"{folder}: {describe_error(exc)}"]
        if transient and not last_chance:
            retry_later.append(f"{region}: {len(transient)} claim(s) an earlier run left not read ({transient[0]})")
        else:
            not_read += transient
        # Each subject with what its claim says: the cut-off attempt, or the alert still owed. The claim's event is
        # the folder and the subject's id, which for a secret may hold "/" itself (payments/db-password). A claim
        # naming no subject of this folder (damaged, or copied by hand) is named, for the run to alert.
        acted: dict[str, dict] = {}
        for claim in left:
            subject = _after(str(claim.get("event", "")), folder + "/")
            if subject:
                acted[subject] = cut_off(claim) or {"alertOwed": claim.get("alertOwed")}
            else:
                not_read.append(f"a claim in {folder} names no {self.NOUN} of it (event {clip(claim.get('event'), 120)})")
        return acted, not_read

    # ------------------------------------------------------------ the subject's (secret-guard overrides these)

    _ID_FIELD = "keyId"  # how results name the subject

    def _alert_name(self, m: Mutation, decision: Decision) -> str:
        return self.ALERT_NAMES.get((m.event_name, decision.verdict), self.FAILED_ALERT)

    @staticmethod
    def _list_pending(clients: Clients, region: str) -> list[str]:
        return list_pending_deletion(clients, region)

    @staticmethod
    def _state_or_none(clients: Clients, subject_id: str, region: str) -> str | None:
        return _state_or_none(clients, subject_id, region)

    # ------------------------------------------------------------ building mutations

    def _from_event(self, ev: CloudEvent) -> Mutation:
        data: ActionTrailRecord = ev.data
        return Mutation(event_id=ev.id, dedupe_key=event_dedupe_key(ev), event_name=data.eventName or "", key_ref=data.key_id,
                        region=ev.region or self.config.region, data=data,
                        account=ev.aliyunaccountid or (data.userIdentity.accountId if data.userIdentity else None),
                        source=ev.source, event_type=ev.type, caller=data.caller, as_of=data.eventTime, problems=ev.problems())

    def _from_safety_net(self, key_id: str, region: str, day: str, timer: TimerEvent, *, cut_off: dict | None = None) -> Mutation:
        # No ActionTrail record stands behind a key found pending deletion: everything the decision reads is
        # in the Mutation's own fields, so the record is empty (no time, no source address, no failure).
        data = ActionTrailRecord()
        # One decision per key per day: a retried or doubled timer delivery finds it already made.
        source = self.SAFETY_NET_SOURCE
        return Mutation(event_id=f"{source}/{day}/{region}/{key_id}",
                        dedupe_key=f"{source}/{day}/{region}/{key_id}", event_name=self.DELETION_EVENT,
                        key_ref=key_id, region=region, data=data, account=self.account_id, source=source,
                        event_type=f"timer:{timer.triggerName}", own=True, cut_off=cut_off,
                        caller="unknown: found pending deletion by the daily safety net (see ActionTrail for who scheduled it)")

    # ------------------------------------------------------------ one mutation

    def _process(self, m: Mutation, invocation_id: str, *, last_chance: str | None = None) -> Outcome:
        started = time.monotonic()
        data = m.data
        record: dict[str, Any] = {
            "status": "", "eventId": m.event_id, "eventSource": m.source, "eventType": m.event_type, "eventName": m.event_name,
            "eventTime": data.eventTime, "keyId": m.key_ref, "region": m.region, "account": m.account, "caller": m.caller,
            "sourceIp": data.sourceIpAddress, "userAgent": data.userAgent, "invocation": invocation_id,
            "configProblems": list(self.config.problems) or None,
            "failedInvocation": last_chance,
        }
        try:
            self._validate(m)
            if data.failed:
                raise _Ignored(f"the call failed ({clip(data.errorCode)}): nothing changed")
            rule = self.RULES.get(m.event_name)
            if rule is None:
                raise _Ignored(f"{clip(m.event_name)} is not a mutation {self.FUNCTION} acts on")
            if (why := rule.ignore(data)) is not None:
                raise _Ignored(why)
            if not m.key_ref:
                raise Rejected(f"{m.event_name} event {self.NO_SUBJECT}")
        except _Ignored as exc:
            return self._finish(Outcome({**record, "status": "ignored", "reason": str(exc)}), None, started)
        except Rejected as exc:
            clients = self._record_clients(self._home(m))
            return self._finish(self._rejected(m, record, str(exc), clients), clients, started)

        clients = self.clients_for(m.region)
        record["step"] = "claim"
        try:
            claims = self._claim(m, invocation_id, clients, record, last_chance=bool(last_chance))
        except TransientError as exc:
            if not last_chance:
                raise
            return self._finish_telling(self._cannot_decide(m, record, clients, exc, claim_busy=isinstance(exc, ClaimBusy)),
                                        m, clients, started)
        if isinstance(claims, Outcome):  # a duplicate: already handled
            return self._finish(claims, clients, started)
        try:
            outcome = self._decide_and_act(m, rule, record, clients, claims)
        except Rejected as exc:
            outcome = self._rejected(m, record, str(exc), clients)
        except Exception as exc:
            unconfirmed = isinstance(exc, WriteUnconfirmed)
            if unconfirmed:
                record["actionUnconfirmed"] = str(exc)
            if is_transient(exc) and not last_chance and not unconfirmed:
                # Nothing was done yet (actions settle what they did, alerts never raise): FC retries.
                self._settle(claims, lambda c: c.release(m.dedupe_key), record)
                raise TransientError(f"retry later ({record.get('step')}): {describe_error(exc)}") from None
            if unconfirmed and not last_chance and claims is not None and claims.notes_acting:
                # The action may have run, and may land late: the claim that notes it is kept, not released, so
                # whoever meets it next (FC's retry, the failure destination) decides again and tells.
                raise TransientError(f"retry later ({record.get('step')}): {describe_error(exc)}") from None
            outcome = self._cannot_decide(m, record, clients, exc)
        # What an earlier attempt may have left untold: the claim taken over says so; with no usable claim store, the
        # safety net's own listing of today's claims does (an action noted, or an alert still owed).
        earlier = claims.taken_over if claims is not None else m.cut_off
        if earlier and outcome.record.get("status") in ("no_action", "already_done") \
                and (earlier.get("alertOwed") or self._would_act(m)):
            outcome = self._after_a_cut_off_attempt(m, outcome.record, clients, earlier)
        summary = {"decision": outcome.record.get("decision"), "action": outcome.record.get("action"), "invocation": invocation_id}
        if outcome.record.get("_alertOwed") and claims is not None and not last_chance:
            # The decision stands and is not redone; the alert is owed. Kept with the claim, it is raised by
            # FC's retry of this invocation (and, past every retry, by the failure destination).
            owed = outcome.record.pop("_alertOwed")
            if self._settle(claims, lambda c: c.complete(m.dedupe_key, {**summary, "alertOwed": owed}), outcome.record):
                outcome.record["alertOwed"] = owed["name"]
                self._finish(outcome, clients, started)
                raise TransientError(f"{owed['name']} not raised ({outcome.record.get('alertError')}): the retry raises it")
            # The claim could not keep it: no retry would know of it, so it is sent again here, as with no claim store.
            outcome.record["_alertOwed"] = owed
            return self._finish_telling(outcome, m, clients, started)
        self._settle(claims, lambda c: c.complete(m.dedupe_key, summary), outcome.record)
        return self._finish_telling(outcome, m, clients, started)  # no claim keeps an owed alert, or no retry follows

    def _would_act(self, m: Mutation) -> bool:
        """Whether a decision on this mutation may act on the key: cancel its deletion, or enable it again."""
        mode = {"ScheduleKeyDeletion": self.config.deletion_mode, "DisableKey": self.config.disable_mode}.get(m.event_name)
        return mode == "enforce"

    def _after_a_cut_off_attempt(self, m: Mutation, record: dict, clients: Clients, earlier: dict) -> Outcome:
        """This attempt finds nothing left to do, but an earlier one at the same event started an action and never
        finished (its claim was taken over). It may have acted and been cut off before its alert; only it could
        say. So a person is told what is known: which attempt did not finish, and the key as it is now. (An
        attempt cut off after its alert, before settling its claim, makes this a second message.)"""
        state = record.get("keyStateAfter") or "unknown"  # set by every path that ends in no_action or already_done
        if earlier.get("alertOwed"):
            reason = f"{_untold(earlier)}; the {self.NOUN} is {state} now"
        else:
            reason = (f"an earlier attempt at this event (invocation {earlier.get('invocation')}, started "
                      f"{earlier.get('started')}) started to {earlier.get('acting')} and did not finish: it may have "
                      f"acted and been cut off before its alert; the {self.NOUN} is {state} now")
        record = {**record, "step": None, "earlierAttempt": earlier.get("invocation")}
        return self._guard_failed(m, record, clients, record.get("keyId") or m.key_ref or "", None,
                                  record.get("action") or "none", record.get("actionResult") or "no action",
                                  [reason] + list(record.get("reasons") or []), reason=reason)

    def _validate(self, m: Mutation) -> None:
        # Only the guard's own mutations carry its own source: a delivered event naming it (say, to file its claim
        # where the safety net's for a key and day is, and so pre-empt it) is not a service's event.
        if not m.own and not (m.source or "").startswith("acs."):
            raise Rejected(f"event source {clip(m.source)} is not an Alibaba Cloud service (acs.*)")
        if m.problems:  # an identifier no KMS key or region can have: every call would be refused, or answer 414
            raise Rejected("; ".join(m.problems))
        if self.account_id and m.account and m.account != self.account_id:
            raise Rejected(f"event is for account {clip(m.account)}, this guard serves {self.account_id}")
        if m.data.serviceName and m.data.serviceName != "Kms":
            raise Rejected(f"event is from service {clip(m.data.serviceName)}, not Kms")
        # Any region: a key is decided in its own region with that region's endpoint, whichever region
        # the function runs in (dropping the event would protect nothing).
        if not is_region_id(m.region):
            raise Rejected(f"event names region {clip(m.region)}, which is not an Alibaba Cloud region id")

    def _claim(self, m: Mutation, invocation_id: str, clients: Clients, record: dict, *, last_chance: bool = False):
        """The mutation's claim store, an Outcome for a duplicate, or None when there is no usable store."""
        if not self.config.state_bucket:
            return None
        try:
            claims = EventClaims(clients, self.config.state_bucket, self._home(m))
            outcome, existing = claims.claim(m.dedupe_key, invocation_id)
        except Exception as exc:
            if is_transient(exc):  # includes ClaimBusy: another invocation is on it right now
                raise exc if isinstance(exc, ClaimBusy) else TransientError(f"retry later (claim): {describe_error(exc)}") from None
            # A claim store we cannot use must not stop the guard: act, and say duplicates are unguarded.
            record["idempotencyProblem"] = f"claim store unusable ({describe_error(exc)}): acting without duplicate protection"
            return None
        if outcome == "duplicate":
            if existing.get("alertOwed"):
                return self._raise_owed_alert(m, claims, existing, clients, record, last_chance=last_chance)
            return Outcome({**record, "status": "duplicate", "step": None,
                            "reason": f"event already handled by invocation {existing.get('invocation')}"})
        return claims

    def _raise_owed_alert(self, m: Mutation, claims: EventClaims, existing: dict, clients: Clients, record: dict, *,
                          last_chance: bool) -> Outcome:
        """The event was decided, but its alert did not arrive: raise it now (only it; nothing is redone)."""
        owed = existing["alertOwed"]
        record = {**record, "step": "alert", "decision": existing.get("decision"), "action": existing.get("action")}
        if not is_owed_alert(owed):  # damaged in the claim: what is known is told instead
            reason = (f"the alert owed for the decision of invocation {existing.get('invocation')} is damaged in its claim "
                      f"({clip(owed, 80)})")
            owed = {"name": self.FAILED_ALERT, "severity": "CRITICAL", "content": self._content(
                m, record, record.get("keyId") or m.key_ref or "", "error", "CRITICAL", existing.get("action") or "none",
                reason, None, [reason])}
        self._send_alert(clients, m, owed["name"], owed["content"], owed.get("severity", "CRITICAL"), record)
        if (again := record.pop("_alertOwed", None)) is not None:
            if not last_chance:
                raise TransientError(f"{owed['name']} still not raised ({record.get('alertError')}): the retry raises it")
            # Every retry failed to raise it: tried here a last time, then the record is what is left to tell.
            if self._raise_in_place(clients, m, again, record) is not None:
                return Outcome({**record, "status": "error", "reason": record.get("alertError")})
        done = {k: v for k, v in existing.items() if k != "alertOwed"}  # complete() writes its own status and time
        self._settle(claims, lambda c: c.complete(m.dedupe_key, {**done, "alertRaisedLate": True}), record)
        return Outcome({**record, "status": "alert_raised", "step": None,
                        "reason": f"{owed['name']} raised for the decision of invocation {existing.get('invocation')}"})

    @staticmethod
    def _settle(claims: EventClaims | None, step, record: dict, *, what: str = "claim not settled") -> bool:
        """Whether the claim took the step (False with no claim store)."""
        if claims is None:
            return False
        try:
            step(claims)
        except Exception as exc:  # the decision stands; a duplicate may later be handled again
            record["idempotencyProblem"] = f"{what}: {describe_error(exc)}"
            return False
        return True

    def _decide_and_act(self, m: Mutation, rule: Rule, record: dict, clients: Clients, claims: EventClaims | None) -> Outcome:
        record["step"] = "read key"
        try:
            key = read_key(clients, m.key_ref, m.region)
        except KeyNotFound as exc:
            raise Rejected(f"unknown key: {exc}") from None
        # From here on the key is named by its id: an alias may be moved to another key meanwhile.
        record.update(keyId=key.key_id, keyRef=m.key_ref if m.key_ref != key.key_id else None, keyStateBefore=key.state,
                      keyArn=key.arn, aliases=key.aliases or None, deletionProtection=key.deletion_protection)
        audit: AuditReport | None = None
        if rule.audit_when(key):
            record["step"] = "audit"
            target = AuditTarget(key_id=key.key_id, key_arn=key.arn, region=m.region, account_id=self.account_id,
                                 usage_window_days=self.config.usage_window_days,
                                 trail_project=self.config.trail_project or None,
                                 trail_logstore=self.config.trail_logstore or None, as_of=m.as_of,
                                 kms_instance_log_project=self.config.kms_instance_log_project or None,
                                 kms_instance_log_logstore=self.config.kms_instance_log_logstore or None, kms_instance_id=key.kms_instance,
                                 aliases=tuple(key.aliases),
                                 # the warm audit's remembered facts live beside the claims (shared/audit/facts.py)
                                 facts=FactsPlace(self.config.state_bucket, self._home(m)) if self.config.state_bucket else None)
            audit = run_audit(target, clients, deadline_s=self._audit_deadline())
            record.update(self._audit_fields(audit))
        record["step"] = "decide"
        decision = rule.decide(key, audit, self.config)
        return self._act_and_tell(m, record, clients, claims, decision, key.key_id, key.state, audit)

    def _act_and_tell(self, m: Mutation, record: dict, clients: Clients, claims: EventClaims | None, decision: Decision,
                      subject_id: str, state: str, audit: AuditReport | None) -> Outcome:
        """What a decision leads to, whatever its subject: the action it names (self.ACTIONS), then its alert."""
        record.update(decision=decision.verdict, mode=decision.mode, reasons=decision.reasons, allowListed=decision.allow_listed,
                      action=decision.action)
        result = ActionResult(action="none", outcome="none", detail="no action", state_after=state)
        if decision.action != "none":
            record["step"] = decision.action
            # Noted first, so an attempt cut off after acting is told by whoever meets its claim. The note is one
            # write, not retried after a lost answer (at most a read timeout before the action); one that fails
            # is recorded and the action goes ahead (cancel is safe).
            self._settle(claims, lambda c: c.note_acting(m.dedupe_key, decision.action), record,
                         what="action not noted in the claim")
            result = self.ACTIONS[decision.action](clients, subject_id, m.region)
        record.update(actionResult=result.detail, actionDone=result.done, keyStateAfter=result.state_after)

        if result.outcome == "failed":  # refused for good: the subject is as it was, and a person must know
            record["step"] = decision.action
            return self._guard_failed(m, record, clients, subject_id, audit, decision.action, result.detail, decision.reasons)
        record["step"] = None
        if result.outcome == "already":  # someone (a person, an earlier delivery) got there first
            return Outcome({**record, "status": "already_done", "reason": result.detail})
        if decision.alert:
            name = self._alert_name(m, decision)
            content = self._content(m, record, subject_id, decision.verdict, decision.severity, decision.action, result.detail,
                                    audit, decision.reasons)
            self._send_alert(clients, m, name, content, decision.severity, record)
        status = {"no_action": "no_action", "record": "recorded"}.get(decision.verdict, "acted" if result.done else "decided")
        return Outcome({**record, "status": status, "reason": record.get("reason") or "; ".join(decision.reasons[:2])})

    @staticmethod
    def _audit_fields(audit: AuditReport) -> dict:
        return {
            "auditComplete": audit.complete,
            "dependentCount": len(audit.dependents),
            "dependents": {svc: [f"{d.resource_id} ({d.state}, {d.usage})" for d in deps] for svc, deps in audit.by_service().items()},
            "auditIncomplete": [{"part": r.scanner, "reason": r.reason} for r in audit.incomplete] or None,
            "scanners": {r.scanner: {"complete": r.complete, "found": len(r.dependents), "ms": r.duration_ms} for r in audit.results},
            "usageEvidence": usage_evidence(audit),
        }

    # ------------------------------------------------------------ when the guard cannot do its job

    def _cannot_decide(self, m: Mutation, record: dict, clients: Clients, exc: Exception, *, claim_busy: bool = False) -> Outcome:
        """The guard failed (or, from the failure destination, failed for the last time). A deletion is undone
        anyway in enforce mode (_fail_safe: cancel is safe; a refusal is harmless), without re-reading the subject
        first, since the read may be what failed, and even when another invocation seems to hold the event (its
        claim may be one that could not be released); and someone is always told, unless the undo is refused
        because nothing is pending deletion at all: then nothing is at risk. But when the invocation holding the
        event had started an action, it may have acted and been cut off before its alert, so this one tells (a
        second message if that invocation did finish telling but could not settle its claim)."""
        step = record.get("step") or "decide"
        reason = f"guard failed at {step}: {describe_error(exc)}"
        if claim_busy:
            reason += " (another invocation holds the event, or a failed attempt could not release its claim)"
        # An attempt had started an action (the invocation holding the event, or one before it whose claim it
        # took over; for the safety net, a run cut off earlier today): it may have acted and been cut off untold.
        # For the safety net, also a run of today whose alert is still owed: this failure must not swallow it.
        acted = cut_off(getattr(exc, "holder", None) or {}) if claim_busy else m.cut_off
        undone = self._fail_safe(m, record, clients, reason, acted)
        if isinstance(undone, Outcome):  # nothing at risk, nothing untold
            return undone
        if undone is not None:
            detail = undone
        else:
            # A deletion left to a claim that may be stale is still seen by the safety net; nothing else is.
            net = claim_busy and m.event_name == self.DELETION_EVENT
            detail = "nothing done" + (f"; the daily safety net re-decides {self.NOUN}s pending deletion" if net else "")
            if acted:
                state = self._state_or_none(clients, record.get("keyId") or m.key_ref or "", m.region)
                record["keyStateAfter"] = state
                detail += f"; {_untold(acted)}: the {self.NOUN} is {state or 'unreadable'} now"
            if record.get("actionUnconfirmed"):
                detail += f"; this attempt's {record.get('action')} may have run: {record['actionUnconfirmed']}"
        record["actionResult"] = detail
        return self._guard_failed(m, record, clients, record.get("keyId") or m.key_ref or "", None, record.get("action") or "none",
                                  detail, [reason], reason=reason)

    def _fail_safe(self, m: Mutation, record: dict, clients: Clients, reason: str, acted: dict | None) -> Outcome | str | None:
        """The subject's: undo a deletion the guard could not decide. What was done, said as the key shows it; an
        Outcome when nothing is at risk and nothing untold (the key is not pending deletion); None when there is
        no deletion to undo (another mutation, or alert mode)."""
        if not (m.event_name == "ScheduleKeyDeletion" and self.config.deletion_mode == "enforce"):
            return None
        key_id = record.get("keyId") or m.key_ref
        try:
            clients.call("kms:CancelKeyDeletion", clients.kms(m.region).cancel_key_deletion,
                         kms.CancelKeyDeletionRequest(key_id=key_id), write=True)
            detail = _fail_safe_cancel_shown(_state_or_none(clients, key_id, m.region), lost=None)
        except Exception as cancel_exc:
            if is_transient(cancel_exc) and not never_sent(cancel_exc):
                # A 5xx or a read timeout after the request went out: the cancel may have run, and only
                # the key can tell (a retry could not: it would be refused as the key is no longer pending).
                detail = _fail_safe_cancel_shown(_state_or_none(clients, key_id, m.region), lost=describe_error(cancel_exc))
            else:
                state = _state_if_refused(clients, key_id, m.region, cancel_exc)
                if state in (None, "PendingDeletion"):
                    detail = f"fail-safe cancel not done: {describe_error(cancel_exc)}"
                elif not acted and not record.get("actionDone") and not record.get("actionUnconfirmed"):
                    return Outcome({**record, "status": "already_done", "step": None, "keyStateAfter": state,
                                    "reason": f"{reason}; the key is {state}, not pending deletion: nothing at risk"})
                else:
                    # Nothing is at risk, but the holder may have cancelled and been cut off before its alert.
                    record["keyStateAfter"] = state
                    detail = f"fail-safe cancel refused: the key is {state}, not pending deletion"
        record.update(decision="block", action="cancel_deletion")
        return detail + self._left_untold(record, acted)

    @staticmethod
    def _left_untold(record: dict, acted: dict | None) -> str:
        """What a fail-safe's detail adds, whatever the undo did: an earlier attempt's action that may be untold, and
        this attempt's own action, done or maybe done before it failed (told, not taken for "safe")."""
        said = f" ({_untold(acted)})" if acted else ""
        if record.get("actionDone"):
            said += f" (this attempt had already done {record.get('action')}: {record.get('actionResult')})"
        elif record.get("actionUnconfirmed"):
            said += f" (this attempt's {record.get('action')} may have run: {record['actionUnconfirmed']})"
        return said

    def _not_reached(self, m: Mutation, invocation_id: str, last_chance: str | None, exc: Exception | None = None) -> Outcome:
        """A key the safety net could not decide: its last run had no time left, or the decision itself failed
        unexpectedly (`exc`). Cancelled fail-safe, and alerted."""
        started = time.monotonic()
        record: dict[str, Any] = {"status": "", "eventId": m.event_id, "eventSource": m.source, "eventType": m.event_type,
                                  "eventName": m.event_name, "keyId": m.key_ref, "region": m.region, "account": m.account,
                                  "caller": m.caller, "invocation": invocation_id, "failedInvocation": last_chance,
                                  "step": "safety net"}
        clients = self.clients_for(m.region)
        outcome = self._cannot_decide(m, record, clients, exc or TimeoutError("not reached within the invocation's time limit"))
        return self._finish_telling(outcome, m, clients, started)  # the last chance: no retry would raise its alert

    def _guard_failed(self, m: Mutation, record: dict, clients: Clients, key_id: str, audit: AuditReport | None, action: str,
                      detail: str, reasons: list[str], *, reason: str | None = None) -> Outcome:
        record = {**record, "status": "error", "reason": reason or detail}
        if record.get("failedInvocation"):
            reasons = reasons + [f"the invocation failed every retry: {record['failedInvocation']}"]
        content = self._content(m, record, key_id, "error", "CRITICAL", action, detail, audit, reasons)
        self._send_alert(clients, m, self.FAILED_ALERT, content, "CRITICAL", record)
        return Outcome(record)

    def _safety_net_region_failed(self, region: str, day: str, step: str, detail: str, reason: str, invocation_id: str,
                                  last_chance: str | None, retry_later: list[str]) -> Outcome:
        """What the safety net could not do in a region (list its keys; on its last chance, reach every key in
        time): said loudly, once for the region. An alert CloudMonitor refuses is owed: the run is retried by FC
        (`retry_later`), which says it again; on the last chance it is tried again here."""
        m = Mutation(event_id=f"{self.SAFETY_NET_SOURCE}/{day}/{region}", dedupe_key="", event_name="SafetyNet", key_ref=None,
                     region=region, caller="daily safety net")  # never claimed: "" is no event's key
        record = {"eventId": m.event_id, "eventName": "SafetyNet", "region": region, "step": step, "invocation": invocation_id,
                  "failedInvocation": last_chance}
        clients = self.clients_for(region)
        outcome = self._guard_failed(m, record, clients, "", None, "none", detail, [reason], reason=reason)
        if not last_chance and (owed := outcome.record.pop("_alertOwed", None)):
            retry_later.append(f"{region}: {owed['name']} ({step}) not raised: {outcome.record.get('alertError')}")
        return self._finish_telling(outcome, m, clients, time.monotonic())

    # ------------------------------------------------------------ alerting and recording

    def _home(self, m: Mutation) -> str:
        """Where the guard's own things live (claims, alerts, records): the function's region."""
        return self.config.region or m.region

    def _content(self, m: Mutation, record: dict, key_id: str, verdict: str, severity: str, action: str, detail: str,
                 audit: AuditReport | None, reasons: list[str]) -> dict:
        return alerts.alert_content(
            event_name=m.event_name, key_id=key_id, region=m.region, account_id=self.account_id, caller=m.caller,
            event_id=m.event_id, verdict=verdict, severity=severity, action=action, action_detail=detail, audit=audit,
            reasons=reasons, step=record.get("step") if verdict == "error" else None, key_ref=m.key_ref,
        )

    def _send_alert(self, clients: Clients, m: Mutation, name: str, content: dict, severity: str, record: dict) -> None:
        """Raise the alert; a failure is recorded, never raised: the action it reports has happened,
        and a retry of the invocation would find nothing left to report."""
        try:
            alerts.raise_alert(clients, self._home(m), name, content, self.config.alert_group_id)
            record.update(alert=name, alertSeverity=severity)
        except Exception as exc:
            record.update(alert=None, alertError=f"{name} not raised: {describe_error(exc)}")
            # Still owed when CloudMonitor said no, or when the request never left (no connection, throttled);
            # without any answer to a request that went out (a read timeout) it may have landed, and is not sent twice.
            if answered(exc) or never_sent(exc):
                record["_alertOwed"] = {"name": name, "content": content, "severity": severity}

    def _finish_telling(self, outcome: Outcome, m: Mutation, clients: Clients, started: float) -> Outcome:
        """_finish for an outcome whose alert, if refused, no retry will raise (no claim keeps it, or this is the
        last chance): it is sent again here first."""
        if owed := outcome.record.pop("_alertOwed", None):
            self._raise_in_place(clients, m, owed, outcome.record)
        return self._finish(outcome, clients, started)

    def _raise_in_place(self, clients: Clients, m: Mutation, owed: dict, record: dict) -> dict | None:
        """An alert refused (or never sent) that no retry of the invocation will raise: there is no claim to keep it
        in, or this is the last chance. Sent again here after short pauses, while time allows (a refused alert did
        not land, so this sends no second one). Returns it when still not raised, None once raised."""
        first_error = record.get("alertError")
        tries = 1
        for pause in IN_PLACE_ALERT_PAUSES_S:
            left = self._seconds_left()
            # Protection before telling: the pause and the slowest send must leave each key still to come in this
            # run the time of its fail-safe cancel (and the record after this one that time too).
            if left is not None and left < pause + ALERT_SEND_S + FAIL_SAFE_KEY_S * max(1, self._keys_after):
                break
            clients._sleep(pause)
            tries += 1
            self._send_alert(clients, m, owed["name"], owed["content"], owed["severity"], record)
            if record.pop("_alertOwed", None) is None:
                if record.get("alert") is None:  # a lost answer: it may have landed, and is not sent twice
                    return None
                record["alertError"] = None
                record["alertLate"] = f"raised after a pause; the first attempt failed: {first_error}"
                return None
        record["alertError"] = f"{record.get('alertError')} (tried {tries} time(s); no retry of the invocation would raise it)"
        return owed

    def _rejected(self, m: Mutation, record: dict, reason: str, clients: Clients | None) -> Outcome:
        """An event the guard cannot decide on its own terms (no key named, an unknown key, another account,
        a source that is not a service): nothing is done, and a person is told, since it may be a real
        mutation the guard could not read. Never owed nor retried: the same event would be rejected again."""
        record = {**record, "status": "rejected", "reason": reason, "step": None}
        content = {**self._content(m, record, m.key_ref or "", "rejected", "WARN", "none", self.REJECTION_FOLLOW_UP, None,
                                   [reason]), self._ID_FIELD: m.key_ref}
        self._alert_rejection(clients, content, record)
        return Outcome(record)

    def reject_payload(self, reason: str) -> dict:
        """A payload no event could be read from: recorded and alerted like any rejection."""
        record = {"status": "rejected", "reason": reason}
        content = {"severity": "WARN", "account": self.account_id, "region": self.config.region, "decision": "rejected",
                   "action": "none", "actionResult": self.REJECTION_FOLLOW_UP, "reasons": [reason]}
        self._alert_rejection(self._record_clients(self.config.region), content, record)
        self._record(record, None, self.config.region)
        return Outcome(record).result()

    def _alert_rejection(self, clients: Clients | None, content: dict, record: dict) -> None:
        if clients is None:
            record["alertError"] = f"{self.REJECTED_ALERT} not raised: no client for {self.config.region or 'the home region'}"
            return
        try:
            # The guard's own region, where its alert rules live; a guard given none alerts where its
            # clients were built: the event's region.
            alerts.raise_alert(clients, self.config.region or clients.region, self.REJECTED_ALERT,
                               content, self.config.alert_group_id)
            record.update(alert=self.REJECTED_ALERT, alertSeverity="WARN")
        except Exception as exc:  # the rejection stands and is recorded; retrying would only reject it again
            record.update(alert=None, alertError=f"{self.REJECTED_ALERT} not raised: {describe_error(exc)}")

    def _finish(self, outcome: Outcome, clients: Clients | None, started: float) -> Outcome:
        outcome.record["durationMs"] = int((time.monotonic() - started) * 1000)
        if clients is not None:
            outcome.record["apiCalls"] = dict(sorted(clients.calls.counts.items()))
        self._record(outcome.record, clients, self.config.region or outcome.record.get("region") or "")
        return outcome

    def _record(self, record: dict, clients: Clients | None, region: str) -> None:
        from shared.records import write_record

        # One id per record: the SLS SDK resends a PutLogs whose answer it did not get (up to 10 times),
        # so a copy of a record can land twice; the id tells copies from decisions.
        record.setdefault("recordId", str(uuid.uuid4()))
        record["recordedTo"] = write_record(
            {k: v for k, v in record.items() if v is not None}, clients=clients or self._record_clients(region),
            project=self.config.records_project, logstore=self.config.records_logstore, region=region, topic=self.FUNCTION)

    def _record_clients(self, region: str) -> Clients | None:
        try:
            return self.clients_for(region)  # refused for no region ("a region is required"), as for a bad one
        except Exception:
            return None


def _after(text: str, prefix: str) -> str:
    """What follows `prefix` in `text`, or "" when it does not start with it."""
    return text[len(prefix):] if text.startswith(prefix) else ""


def _untold(acted: dict) -> str:
    """What an earlier attempt may have left untold: an action it started (and may have taken), or the alert it owes."""
    owed = acted.get("alertOwed")
    if owed:
        name = owed.get("name") if isinstance(owed, dict) else owed
        return f"an earlier run of today owes its alert {str(name)[:80]}, which may not have been raised (its claim still owes it)"
    return f"invocation {acted.get('invocation')} started to {acted.get('acting')} and may not have told anyone"


def _state_or_none(clients: Clients, key_id: str, region: str) -> str | None:
    """The key's state, or None when it cannot be read. Retried only while the read provably never reached
    KMS (throttled, no connection), as a write is: this runs when the guard is failing already, where four
    reads timing out would spend the time the keys after this one need."""
    try:
        return clients.call("kms:DescribeKey", clients.kms(region).describe_key, kms.DescribeKeyRequest(key_id=key_id),
                            write=True).body.key_metadata.key_state
    except Exception:
        return None


def _fail_safe_cancel_shown(state: str | None, *, lost: str | None) -> str:
    """What a fail-safe cancel did, said only as far as the key shows it (`state`, None when it could not be
    read): an OK that changed nothing is not a cancel. `lost`: the error that took the answer, if one did."""
    if state in CANCELLED_STATES:  # after a lost answer, whose cancel it was the key cannot say: only that it holds
        return f"fail-safe cancel's answer was lost ({lost}); the key is {state}: no longer pending deletion" if lost else \
            "fail-safe: deletion cancelled"
    if state == "PendingDeletion":  # a timed-out cancel may still be running: not confirmed, rather than not done
        return f"fail-safe cancel not confirmed: the key was still PendingDeletion when re-read ({lost})" if lost else \
            "fail-safe cancel answered OK but the key is still PendingDeletion: not cancelled"
    if state is None:
        return f"fail-safe cancel sent but its answer was lost ({lost}); the key's state could not be re-read" if lost else \
            "fail-safe cancel sent; the key's state could not be re-read"
    return f"fail-safe cancel sent; the key is {state} now"


def _state_if_refused(clients: Clients, key_id: str, region: str, exc: Exception) -> str | None:
    """The key's state when a cancel was refused for the key's state (not throttled, not denied), else None."""
    if not error_code(exc).startswith("Rejected.") or is_transient(exc):
        return None
    return _state_or_none(clients, key_id, region)


class _Ignored(Exception):
    """Not a mutation the guard acts on; recorded as ignored."""

