"""Usage evidence: crypto calls naming the key (Decrypt, GenerateDataKey, Encrypt, ...) in the last
`target.usage_window_days` days, one dependent per caller. Applications doing envelope encryption
keep the key's data keys in their own stores, where no resource inventory sees them, so a key used in
the window has live dependents even when every other scanner finds none.

Why a busy key's crypto calls are asked for by name: a key read often (DescribeKey, ListResourceTags...
by monitoring) has thousands of events that are not uses. Reading the key's events and keeping the
crypto calls afterwards let those reads fill any cap and hide an application that decrypted days
earlier, so the audit said "no usage" of a key in use. So each source is read in two ways:
- a quiet key: all of its KMS events in the window fit in a few pages (QUIET_PAGES), read with one
  query, every event examined: one call instead of thirteen;
- a busy key (more pages than that): that answer is set aside and each crypto API is asked for by
  name, so no read is ever fetched and the cap counts crypto calls only.
Either way the whole window is searched; the scan stops short only by raising (an error, or the
audit's deadline calling its clients off), which the runner reports as incomplete, never "no usage".

Sources, merged and de-duplicated by eventId:
- ActionTrail LookupEvents (2020-07-06) in the key's region, over the whole window, newest first, 50
  a page: ResourceName = key id AND ServiceName = Kms (quiet), or one query per crypto API with
  ResourceName = key id AND EventName = the API (busy).
- The trail's SLS logstore (actiontrail_<trail>) when target.trail_project/trail_logstore are set,
  newest first: `"<key id>" and event.serviceName: Kms` (quiet), or one GetLogs query per crypto API,
  `event.eventName: <API> and event.serviceName: Kms and "<key id>"` (busy). The trail must deliver Read events (EventRW Read or All): crypto calls are read-type
  events (UNCONFIRMED), which a Write-only trail, the default, never delivers.
- The access log of the key's KMS instance, when the key is in one (DescribeKey `DKMSInstanceId`:
  target.kms_instance_id, or, when the target does not say, the metadata kms_secrets reads: no extra
  call) and target.kms_instance_log_project/logstore name where the KMS instances' logs are delivered
  (KMS_INSTANCE_LOG_PROJECT/LOGSTORE): GetLogs `"<key id>"`, newest
  first, 100 a page, until MAX_EVENTS uses or the window's start. Crypto calls through an instance's
  dedicated gateway are audited there and never reach ActionTrail ("审计差异": shared gateway ActionTrail,
  dedicated gateway SLS; KMS "阿里云SDK",
  https://help.aliyun.com/zh/kms/key-management-service/developer-reference/classic-kms-sdkclassic-kms-sdk/).
  The log's fields and what is UNCONFIRMED about them: shared/usage.py (instance_log_event). Every entry
  naming the key counts as use but the names that manage or read a key (the log holds the instance's
  business calls: crypto and secret retrieval). A call seen in both sources (a shared-gateway call the
  log also records) counts once, by its request id. A key in a KMS instance whose log is not configured
  makes the scanner raise before anything is read: "dedicated-gateway use not visible (KMS instance <id>;
  set KMS_INSTANCE_LOG_PROJECT/LOGSTORE)" -- an audit that cannot look everywhere counts as "may have
  dependents". UNCONFIRMED: that every KMS instance of the region delivers to that one logstore (the
  field instance_id tells instances apart in a shared one); an instance delivering elsewhere is not seen.
Each event is checked client-side too: a crypto API of KMS naming the key in referencedResources or
requestParameters.KeyId. The guard itself makes no crypto calls, so none of its own calls count.

The streams (one per API and source, each newest first) are merged by eventTime; the newest
MAX_EVENTS crypto calls per source are kept (any one already makes the key live) and each dependent's
`evidence` says "newest N events" when more were there.

Facts relied on, and where they are published:
- LookupEvents 2020-07-06 reference ("ActionTrail:LookupEvents",
  https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents;
  its zh-TW edition, https://www.alibabacloud.com/help/tc/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents,
  spells the values out): request parameters NextToken, MaxResults (1 to 50), StartTime/EndTime (UTC
  `YYYY-MM-DDThh:mm:ssZ`, set both or neither; default the last 7 days), Direction (BACKWARD, newest
  first, is the default; it is passed anyway, since the merge depends on it) and LookupAttribute (one
  or two conditions). It has no EventRW request parameter.
- "How do I configure the LookupAttribute parameter when I call the LookupEvents operation to query
  events?" (https://www.alibabacloud.com/help/en/actiontrail/support/how-to-set-the-lookupattribute-parameter;
  the pairs are listed in its zh edition, https://help.aliyun.com/zh/actiontrail/support/how-to-set-the-lookupattribute-parameter):
  keys ServiceName, EventName, User, EventId, ResourceType, ResourceName, EventRW, EventAccessKeyId,
  SensitiveAction, SourceIpAddress, EventType, RoleName; one or two conditions, exact and
  case-sensitive, ANDed; beyond two only the first two count. Accepted pairs: ServiceName with
  EventName, User, PrincipalId, RoleName, ResourceName, EventRW, SensitiveAction or EventType;
  ResourceName with ResourceType, EventName, User, RoleName or ServiceName; EventType with EventName.
  ResourceName + ServiceName and ResourceName + EventName, used here, are two of them. (The API overview and the SDK's model comment
  speak of a single condition; the FAQ and the reference, both newer, allow two.) ResourceName +
  EventRW is not a pair, and no pair holds a key id and a read/write type together.
- Read/write type. The 2017-12-04 LookupEvents had an EventRW request parameter (reference,
  https://www.alibabacloud.com/help/doc-detail/28849.htm, example value Write; its default, Write,
  would keep every read-type Decrypt out: the default is UNCONFIRMED from the excerpt read). 2020-07-06
  has no such parameter, and EventRW is only an optional condition, which cannot be combined with the
  key id (see the pairs). So the query names the event instead: an EventName condition asks for that
  crypto API's calls themselves, whatever their read/write type. UNCONFIRMED: that the service applies
  no implicit read/write filter over an EventName condition (none is documented for 2020-07-06).
- "API overview" (https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-overview):
  the 2020-07-06 event query covers the last 90 days with a query range of up to 90 days (the
  2017-12-04 one: 30 days), so the window is asked in one range, not in 30-day spans.
- ActionTrail limits ("使用限制", https://help.aliyun.com/document_detail/28830.htm; English,
  https://help.aliyun.com/en/actiontrail/product-overview/limits): events of the last 90 days can be
  queried; an operation can be queried about 10 minutes after it was performed (stated for the
  console; UNCONFIRMED for the API), so a crypto call in the last ~10 minutes before the window ends
  may not be seen yet; LookupEvents answers at most 2 queries a second (shared/quotas.py paces it).
- SLS "Search syntax and functions" (https://www.alibabacloud.com/help/en/sls/user-guide/query-syntax):
  up to 30 conditions in a search statement. A query per API holds three conditions joined by `and`
  only, so it depends neither on that limit nor on the precedence of `and` over `or` (published for
  SQL/SPL in "Logical operators", https://www.alibabacloud.com/help/en/sls/logical-operators).

UNCONFIRMED: that ActionTrail lists the key id of a crypto call (Decrypt names no key in its request)
in referencedResources, which is what ResourceName matches (the trail logstore's full-text query on the
key id also finds a call naming the key only in its request); that the trail logstore's default index
answers a full-text term (the key id) beside `event.serviceName` and `event.eventName`.
"""
from __future__ import annotations

import heapq
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Callable, Iterable, Iterator

from alibabacloud_actiontrail20200706 import models as at
from aliyun.log import GetLogsRequest

from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_secrets import key_metadata
from shared.clients import Clients
from shared.events import ActionTrailRecord
from shared.usage import (CRYPTO_APIS, CallerUsage, EvidenceNotVisible, EvidenceUnreadable, aggregate_callers, event_time,
                          instance_log_event, instance_log_is_use, is_crypto_use, names_key, parse_event, parse_utc,
                          trail_project_location)

PAGE_SIZE = 50  # LookupEvents' maximum MaxResults
SLS_LINES = 100  # GetLogs' maximum lines per call
# Per source, crypto calls naming the key (never reads): the newest ones, enough to name the callers
# that matter. Only a key with more crypto calls than this in the window is cut, and says so.
MAX_EVENTS = 1000
HISTORY = timedelta(days=90)  # ActionTrail's event history: LookupEvents has nothing older to answer
# The event names asked for, one query each (sorted, so the calls read the same every run).
CRYPTO_EVENT_NAMES: tuple[str, ...] = tuple(sorted(CRYPTO_APIS))
_UNDATED = datetime.min.replace(tzinfo=timezone.utc)  # an event without a readable time sorts last
# A key whose KMS events in the window fit in this many pages is read with one query; a busier one is
# asked for its crypto calls by name (13 queries). 200 events either way: a key used or managed a few
# times a day over a 30-day window is quiet.
QUIET_PAGES = 4  # of LookupEvents' 50
QUIET_SLS_PAGES = 2  # of GetLogs' 100
# A subject whose uses may not name it as their resource: its use APIs' calls in the region, read back this many
# pages (1,000 calls, 10 s at LookupEvents' 2 a second) before the evidence is given up as incomplete.
UNNAMED_PAGES = 20


class _Busy(Exception):
    """More of the key's events than QUIET pages hold: ask for its crypto calls by name instead."""


@dataclass(frozen=True)
class UsageSubject:
    """What the evidence is about, and which calls count as its use: a key and its crypto calls (this scanner),
    or a secret and the reads of its value (shared/secret_readers.py). The sources are read alike for both."""

    resource_id: str  # the ResourceName condition of LookupEvents, and the full-text term of the SLS queries
    event_names: tuple[str, ...]  # the APIs that use it, each asked for by name when the subject is busy
    is_use: Callable[[ActionTrailRecord], bool]  # an ActionTrail event that uses it
    is_instance_use: Callable[[ActionTrailRecord], bool]  # a KMS instance log entry (ActionTrail-shaped) that uses it
    # Whether its uses may be recorded without its name as their resource (a secret's reads): when none is found by
    # name, every call of its use APIs in the region is read and checked (_unnamed_uses).
    unnamed_uses: bool = False


def key_subject(target: AuditTarget) -> UsageSubject:
    return UsageSubject(target.key_id, CRYPTO_EVENT_NAMES, lambda event: is_crypto_use(event, target.names_key),
                        lambda event: instance_log_is_use(event.eventName or "") and names_key(event, target.names_key))


@dataclass(frozen=True)
class UsageEvidence:
    """The uses found, one record per call (by eventId), and the sources read, each saying when it was cut."""

    events: dict[str, ActionTrailRecord]
    sources: list[str]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _window(as_of: str | None, days: int) -> tuple[datetime, datetime]:
    """The usage window: the `days` before the target's instant (the event's time; none given: now). An
    instant in the future (a clock skew, a forged record) counts as now: it cannot move the window past the
    calls that matter. An unreadable instant counts as now too (a wider net, never a narrower)."""
    now = _now()
    instant = parse_utc(as_of)
    end = min(instant.replace(microsecond=0), now) if instant else now
    return end - timedelta(days=days), end


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _newest_uses(streams: Iterable[Iterator[dict]], subject: UsageSubject, start: datetime,
                 end: datetime) -> tuple[list[dict], bool]:
    """The newest MAX_EVENTS uses of the subject in the window (a key's crypto calls), from `streams` (each
    newest first), and whether more were there. Streams are read lazily: a page is fetched only when the
    merge needs its events, so a cut stops fetching. Anything else a stream holds is skipped and not
    counted; an unreadable event raises."""
    def uses_only(stream: Iterator[dict]) -> Iterator[tuple[datetime, dict, ActionTrailRecord]]:
        for raw in stream:
            event = parse_event(raw)
            if not subject.is_use(event):
                continue
            when = event_time(event)
            if when is not None and not start <= when <= end:
                continue
            yield when or _UNDATED, raw, event

    kept: list[dict] = []
    seen: set[str] = set()
    for _, raw, event in heapq.merge(*map(uses_only, streams), key=itemgetter(0), reverse=True):
        ident = event.eventId or json.dumps(raw, sort_keys=True)
        if ident in seen:  # the same call seen twice (a source answering it again) counts once
            continue
        if len(kept) == MAX_EVENTS:
            return kept, True
        seen.add(ident)
        kept.append(raw)
    return kept, False


class KmsUsageScanner:
    name = "kms_usage"
    service = "KMS usage"
    note = ("usage evidence from ActionTrail (and, for a key in a KMS instance, the instance's access log in SLS, where "
            "its dedicated gateway's calls are audited instead): crypto calls naming the key within the usage window, per "
            "caller. Callers in other accounts show up only here, never in any resource inventory; usage older than the "
            "window, never recorded, or made in the last ~10 minutes (not yet queryable), is not seen. A key in a KMS "
            "instance whose log is not configured (KMS_INSTANCE_LOG_PROJECT/LOGSTORE) is reported incomplete.")

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        # A key in a KMS instance may be used through the instance's dedicated gateway, which only its SLS log
        # shows: without that log the evidence cannot be whole, and nothing else is worth reading first.
        instance = target.kms_instance_id
        if instance is None:  # not read by whoever built the target: DescribeKey (shared with kms_secrets)
            instance = key_metadata(target, clients).dkmsinstance_id or ""
        found = read_usage(key_subject(target), target, clients, instance)
        callers = aggregate_callers(found.events.values(), event_time)
        return [self._dependent(c, target, "; ".join(found.sources)) for c in callers]


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


def read_usage(subject: UsageSubject, target, clients: Clients, instance: str) -> UsageEvidence:
    """The subject's uses in the usage window before `target.as_of`, from every source `target` names (region,
    usage_window_days, trail_project/trail_logstore, kms_instance_log_project/logstore: an AuditTarget, or
    anything with those fields). `instance`: the subject's KMS instance ("" for none), whose log must then be
    configured, else EvidenceNotVisible before anything is read."""
    start, end = _window(target.as_of, target.usage_window_days)
    if instance and not (target.kms_instance_log_project and target.kms_instance_log_logstore):
        raise EvidenceNotVisible(f"dedicated-gateway use not visible (KMS instance {instance}; "
                                 "set KMS_INSTANCE_LOG_PROJECT/LOGSTORE)")
    events: dict[str, ActionTrailRecord] = {}
    sources: list[str] = []
    raw, cut = _lookup_events(subject, target, clients, start, end)
    sources.append("ActionTrail LookupEvents" + (f" (newest {MAX_EVENTS} events)" if cut else ""))
    if target.trail_project and target.trail_logstore:
        trail_raw, trail_cut = _trail_events(subject, target, clients, start, end)
        raw += trail_raw
        sources.append(f"trail logstore {target.trail_project}/{target.trail_logstore}"
                       + (f" (newest {MAX_EVENTS} events)" if trail_cut else ""))
    for item in raw:
        event = parse_event(item)
        when = event_time(event)
        if when is not None and not start <= when <= end:
            continue
        if subject.is_use(event):
            events.setdefault(event.eventId or json.dumps(item, sort_keys=True), event)
    if instance:
        instance_raw, instance_cut = _instance_log_events(subject, target, clients, start, end)
        sources.append(f"KMS instance log {target.kms_instance_log_project}/{target.kms_instance_log_logstore} "
                       f"(instance {instance}, dedicated gateway)" + (f" (newest {MAX_EVENTS} events)" if instance_cut else ""))
        seen_requests = {e.requestId for e in events.values() if e.requestId}
        for item in instance_raw:
            event = parse_event(item)
            if event.requestId and event.requestId in seen_requests:  # a shared-gateway call ActionTrail has too
                continue
            events.setdefault(event.eventId or json.dumps(item, sort_keys=True), event)
    return UsageEvidence(events, sources)



# ------------------------------------------------------------ sources


def _lookup_events(subject: UsageSubject, target, clients: Clients, start: datetime, end: datetime) -> tuple[list, bool]:
    client = clients.actiontrail(target.region)
    asked_from = max(start, end - HISTORY)
    if asked_from >= end:  # an empty window: nothing to ask (LookupEvents refuses an end not after the start)
        return [], False
    # ResourceName + ServiceName, then ResourceName + EventName: documented pairs (module docstring);
    # the EventName condition keeps every other call naming a busy subject out of the answer, whatever its volume.
    def by(key: str, value: str) -> list:
        return [at.LookupEventsRequestLookupAttribute(key="ResourceName", value=subject.resource_id),
                at.LookupEventsRequestLookupAttribute(key=key, value=value)]

    try:
        quiet = list(_lookup_stream(clients, client, by("ServiceName", "Kms"), asked_from, end, max_pages=QUIET_PAGES))
    except _Busy:
        streams = [_lookup_stream(clients, client, by("EventName", name), asked_from, end) for name in subject.event_names]
        return _newest_uses(streams, subject, start, end)
    found = _newest_uses([iter(quiet)], subject, start, end)
    if found[0] or not subject.unnamed_uses or (target.trail_project and target.trail_logstore):
        return found
    return _unnamed_uses(subject, clients, client, asked_from, start, end)


def _unnamed_uses(subject: UsageSubject, clients: Clients, client, asked_from: datetime, start: datetime,
                  end: datetime) -> tuple[list, bool]:
    """No use found by the subject's name: every call of its use APIs in the region (ServiceName + EventName, a
    documented pair), each checked client-side, for the case where ActionTrail does not give the subject's name as
    the calls' resource name (UNCONFIRMED for a secret's GetSecretValue). Bounded: more calls than UNNAMED_PAGES
    pages hold cannot be read whole, and the evidence is incomplete (fail safe), unless the trail's logstore, searched
    by the name in full text, is configured, in which case this is not asked at all."""
    events: list[dict] = []
    for name in subject.event_names:
        conditions = [at.LookupEventsRequestLookupAttribute(key="ServiceName", value="Kms"),
                      at.LookupEventsRequestLookupAttribute(key="EventName", value=name)]
        try:
            events += _lookup_stream(clients, client, conditions, asked_from, end, max_pages=UNNAMED_PAGES)
        except _Busy:
            raise EvidenceUnreadable(f"no {name} call found naming {subject.resource_id} as its resource, and the region's "
                                     f"{name} calls in the window are more than {UNNAMED_PAGES * PAGE_SIZE} to check one "
                                     f"by one: set TRAIL_SLS_PROJECT/LOGSTORE to search them by name") from None
    return _newest_uses([iter(events)], subject, start, end)


def _lookup_stream(clients: Clients, client, conditions: list, start: datetime, end: datetime,
                   max_pages: int | None = None) -> Iterator[dict]:
    """The events matching `conditions`, newest first, page by page as they are needed; _Busy when
    more than `max_pages` pages hold them."""
    token, seen_tokens, pages = None, set(), 0
    while True:
        request = at.LookupEventsRequest(lookup_attribute=conditions, start_time=_iso(start), end_time=_iso(end),
                                         direction="BACKWARD", max_results=str(PAGE_SIZE), next_token=token)
        body = clients.call("actiontrail:LookupEvents", client.lookup_events, request).body
        pages += 1
        yield from body.events or []
        token = body.next_token
        if not token:
            return
        if max_pages is not None and pages >= max_pages:
            raise _Busy()
        if token in seen_tokens:  # a server answering the same page forever must not hang the audit
            raise EvidenceUnreadable("LookupEvents returned the same NextToken twice")
        seen_tokens.add(token)


def _trail_events(subject: UsageSubject, target, clients: Clients, start: datetime, end: datetime) -> tuple[list, bool]:
    region, project = trail_project_location(target.trail_project, target.region)
    client = clients.sls(region)
    def stream(query: str, max_pages: int | None = None) -> Iterator[dict]:
        return _trail_stream(clients, client, project, target.trail_logstore, query, start, end, max_pages)

    try:
        quiet = list(stream(f'"{subject.resource_id}" and event.serviceName: Kms', QUIET_SLS_PAGES))
    except _Busy:
        streams = [stream(f'event.eventName: {name} and event.serviceName: Kms and "{subject.resource_id}"')
                   for name in subject.event_names]
        return _newest_uses(streams, subject, start, end)
    return _newest_uses([iter(quiet)], subject, start, end)


def _trail_stream(clients: Clients, client, project: str, logstore: str, query: str, start: datetime,
                  end: datetime, max_pages: int | None = None) -> Iterator[dict]:
    """The events of the trail's logs matching `query`, newest first, page by page as they are needed;
    _Busy when more than `max_pages` pages hold them."""
    offset, pages = 0, 0
    while True:
        request = GetLogsRequest(project, logstore, int(start.timestamp()), int(end.timestamp()) + 1,
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
                event = json.loads(text)
            except ValueError:
                raise EvidenceUnreadable("a trail log's event field is not JSON") from None
            yield event
        offset += len(logs)
        pages += 1
        if len(logs) < SLS_LINES:
            return
        if max_pages is not None and pages >= max_pages:
            raise _Busy()


def _instance_log_events(subject: UsageSubject, target, clients: Clients, start: datetime, end: datetime) -> tuple[list, bool]:
    """The newest MAX_EVENTS uses of the subject in the KMS instances' access log within the window, as
    ActionTrail-shaped records (shared/usage.py, instance_log_event), and whether more were there."""
    region, project = trail_project_location(target.kms_instance_log_project, target.region)
    client = clients.sls(region)
    kept: list[dict] = []
    seen: set[str] = set()
    offset = 0
    while True:
        request = GetLogsRequest(project, target.kms_instance_log_logstore, int(start.timestamp()), int(end.timestamp()) + 1,
                                 query=f'"{subject.resource_id}"', line=SLS_LINES, offset=offset, reverse=True)
        response = clients.call("sls:GetLogs", client.get_logs, request)
        if not response.is_completed():
            raise EvidenceUnreadable("SLS GetLogs on the KMS instance log did not complete (progress Incomplete)")
        logs = response.get_logs()
        for log in logs:
            raw = instance_log_event(log.get_contents(), log.get_time())
            event = parse_event(raw)
            if not subject.is_instance_use(event):
                continue
            when = event_time(event)
            if when is not None and not start <= when <= end:
                continue
            ident = event.eventId or json.dumps(raw, sort_keys=True)
            if ident in seen:
                continue
            if len(kept) == MAX_EVENTS:
                return kept, True
            seen.add(ident)
            kept.append(raw)
        offset += len(logs)
        if len(logs) < SLS_LINES:
            return kept, False

