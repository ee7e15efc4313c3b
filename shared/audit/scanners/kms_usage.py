"""Usage evidence: crypto calls naming the key (Decrypt, GenerateDataKey, Encrypt, ...) in the last
`target.usage_window_days` days, one dependent per caller. Applications doing envelope encryption
keep the key's data keys in their own stores, where no resource inventory sees them, so a key used in
the window has live dependents even when every other scanner finds none.

Sources, merged and de-duplicated by eventId:
- ActionTrail LookupEvents in the key's region, filtered server-side on ResourceName = key id AND
  ServiceName = Kms (two conditions, the API's maximum, and a documented pair), 50 events a page
  (its maximum MaxResults), newest first, in spans of at most 30 days. ActionTrail keeps 90 days of
  events, so LookupEvents is never asked further back (the config caps the window there too).
- The trail's SLS logstore (actiontrail_<trail>) when target.trail_project/trail_logstore are set:
  GetLogs over the window with a query on the key id. The trail must deliver Read events (EventRW
  Read or All): crypto calls are read-type events (UNCONFIRMED), which a Write-only trail, the
  default, never delivers.
Each event is checked client-side: a crypto API of KMS naming the key in referencedResources or
requestParameters.KeyId. The guard itself makes no crypto calls, so none of its own calls count.

UNCONFIRMED: that ActionTrail lists the key id of a crypto call (Decrypt names no key in its request)
in referencedResources, which is what ResourceName matches; that the trail logstore's default index
answers a full-text term (the key id) beside `event.serviceName`.

A very busy key is not read to the last call: the newest MAX_EVENTS events per source are examined
(any one already makes the key live); each dependent says so when the cut applied.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from alibabacloud_actiontrail20200706 import models as at
from aliyun.log import GetLogsRequest

from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients
from shared.events import ActionTrailRecord
from shared.usage import (CallerUsage, EvidenceUnreadable, aggregate_callers, event_time, is_crypto_use, parse_event, parse_utc,
                          trail_project_location)

PAGE_SIZE = 50  # LookupEvents' maximum MaxResults
SLS_LINES = 100  # GetLogs' maximum lines per call
MAX_EVENTS = 1000  # per source: the newest ones, enough to name the callers that matter
# The 2017-12-04 LookupEvents capped one query at 30 days; whether 2020-07-06 still does is UNCONFIRMED,
# so a longer window is asked for in spans of at most 30 days.
MAX_SPAN = timedelta(days=30)
HISTORY = timedelta(days=90)  # ActionTrail's event history: LookupEvents has nothing older to answer


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _window_end(as_of: str | None) -> datetime:
    """The target's instant, else now; an unreadable instant falls back to now (a wider net, never a narrower)."""
    end = parse_utc(as_of)
    return end.replace(microsecond=0) if end else _now()


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class KmsUsageScanner:
    name = "kms_usage"
    service = "KMS usage"
    note = ("usage evidence from ActionTrail: crypto calls naming the key within the usage window, per caller. "
            "Callers in other accounts show up only here, never in any resource inventory; usage older than the "
            "window, or never recorded by ActionTrail, is not seen.")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        end = _window_end(target.as_of)
        start = end - timedelta(days=target.usage_window_days)
        events: dict[str, ActionTrailRecord] = {}
        sources: list[str] = []
        raw, cut = self._lookup_events(target, clients, start, end)
        sources.append("ActionTrail LookupEvents" + (f" (newest {MAX_EVENTS} events)" if cut else ""))
        if target.trail_project and target.trail_logstore:
            trail_raw, trail_cut = self._trail_events(target, clients, start, end)
            raw += trail_raw
            sources.append(f"trail logstore {target.trail_project}/{target.trail_logstore}"
                           + (f" (newest {MAX_EVENTS} events)" if trail_cut else ""))
        for item in raw:
            event = parse_event(item)
            when = event_time(event)
            if when is not None and not start <= when <= end:
                continue
            if is_crypto_use(event, target.names_key):
                events.setdefault(event.eventId or json.dumps(item, sort_keys=True), event)
        callers = aggregate_callers(events.values(), event_time)
        return [self._dependent(c, target, "; ".join(sources)) for c in callers]

    # ------------------------------------------------------------ sources

    def _lookup_events(self, target: AuditTarget, clients: Clients, start: datetime, end: datetime) -> tuple[list, bool]:
        client = clients.actiontrail(target.region)
        conditions = [at.LookupEventsRequestLookupAttribute(key="ResourceName", value=target.key_id),
                      at.LookupEventsRequestLookupAttribute(key="ServiceName", value="Kms")]
        found: list = []
        start = max(start, end - HISTORY)
        span_end = end
        while span_end > start:  # newest span first, so a cut keeps the newest events
            span_start = max(start, span_end - MAX_SPAN)
            token, seen_tokens = None, set()
            while True:
                request = at.LookupEventsRequest(lookup_attribute=conditions, start_time=_iso(span_start),
                                                 end_time=_iso(span_end), max_results=str(PAGE_SIZE), next_token=token)
                body = clients.call("actiontrail:LookupEvents", client.lookup_events, request).body
                found += body.events or []
                token = body.next_token
                if len(found) >= MAX_EVENTS and (token or span_start > start):
                    return found, True
                if not token:
                    break
                if token in seen_tokens:  # a server answering the same page forever must not hang the audit
                    raise EvidenceUnreadable("LookupEvents returned the same NextToken twice")
                seen_tokens.add(token)
            span_end = span_start
        return found, False

    def _trail_events(self, target: AuditTarget, clients: Clients, start: datetime, end: datetime) -> tuple[list, bool]:
        region, project = trail_project_location(target.trail_project, target.region)
        client = clients.sls(region)
        query = f'"{target.key_id}" and event.serviceName: Kms'
        found: list = []
        offset = 0
        while True:
            request = GetLogsRequest(project, target.trail_logstore, int(start.timestamp()), int(end.timestamp()) + 1,
                                     query=query, line=SLS_LINES, offset=offset, reverse=True)
            response = clients.call("sls:GetLogs", client.get_logs, request)
            if not response.is_completed():
                raise EvidenceUnreadable("SLS GetLogs on the trail logstore did not complete (progress Incomplete)")
            logs = response.get_logs()
            for log in logs:
                text = log.get_contents().get("event")
                if text is None:
                    continue
                try:
                    found.append(json.loads(text))
                except ValueError:
                    raise EvidenceUnreadable("a trail log's event field is not JSON") from None
            offset += len(logs)
            if len(logs) < SLS_LINES:
                return found, False
            if offset >= MAX_EVENTS:
                return found, True

    # ------------------------------------------------------------ reporting

    def _dependent(self, caller: CallerUsage, target: AuditTarget, sources: str) -> Dependent:
        cross_account = bool(target.account_id and caller.account_id and caller.account_id != target.account_id)
        usage = f"{caller.apis_text()} in the last {target.usage_window_days} days"
        failed = sum(caller.failed.values())
        if failed:
            usage += f" ({failed} failed: {', '.join(sorted(caller.failed))})"
        if cross_account:
            usage = f"cross-account caller (account {caller.account_id}): {usage}"
        resource_id = f"{caller.identity_type}:{caller.principal}" + (f"@{caller.account_id}" if cross_account else "")
        detail = {
            "account": caller.account_id,
            "cross_account": "true" if cross_account else "false",
            "identity_type": caller.identity_type,
            "principal_id": caller.principal_id,
            "access_keys": ", ".join(sorted(caller.access_keys)),  # masked
            "source_ip": CallerUsage.listed(caller.source_ips),
            "user_agent": CallerUsage.listed(caller.user_agents),
            "first_use": _iso(caller.first_use) if caller.first_use else "",
            "last_use": _iso(caller.last_use) if caller.last_use else "",
            "calls": str(caller.calls),
            "failed_calls": str(failed) if failed else "",
            "apis": caller.apis_text(),
            "evidence": sources,
        }
        return Dependent(service=self.service, resource_type="ACS::RAM::Principal", resource_id=resource_id,
                         region=target.region, state="live", usage=usage, name=f"{caller.identity_type} {caller.principal}",
                         detail={k: v for k, v in detail.items() if v})
