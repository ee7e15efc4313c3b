"""ActionTrail 2020-07-06: LookupEvents over the account's recorded events, DescribeTrails, and the
delivery of a trail's events to its SLS logstore.

Facts (sources: the LookupEvents and DescribeTrails API references,
https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents,
the API metadata of actiontrail 2020-07-06 (its parameter schemas, errorCodes and responseDemo), and
"How do I configure the LookupAttribute parameter",
https://www.alibabacloud.com/help/en/actiontrail/support/how-to-set-the-lookupattribute-parameter, whose
zh version, help.aliyun.com/zh/actiontrail/support/how-to-set-the-lookupattribute-parameter, lists the pairs):

- LookupEvents is regional: it answers the events of the region it is called in.
- StartTime/EndTime are `YYYY-MM-DDThh:mm:ssZ` (UTC); StartTime defaults to 7 days ago, EndTime to now.
  Errors: InvalidParameterStartTime, InvalidParameterEndTime, and InvalidParameterCombination
  ("The end time must be later than the start time."), all HTTP 400.
  StartTime and EndTime are to be set both or neither (the reference's zh-TW edition,
  https://www.alibabacloud.com/help/tc/actiontrail/developer-reference/api-actiontrail-2020-07-06-lookupevents);
  what the service answers to one alone is UNCONFIRMED, so it is not refused here.
- The event history keeps 90 days ("By default, ActionTrail retains events for the past 90 days",
  https://help.aliyun.com/en/actiontrail/product-overview/limits): older events are not returned. Whether an earlier StartTime is
  refused or clamped is UNCONFIRMED; it is clamped here. One query may span the whole 90 days ("API
  overview", https://www.alibabacloud.com/help/en/actiontrail/developer-reference/api-overview: 90 days
  for 2020-07-06, 30 for 2017-12-04), so no span limit is applied.
- Not emulated, and kinder than the service: an operation can be queried about 10 minutes after it was
  performed (limits, zh edition "使用限制", https://help.aliyun.com/document_detail/28830.htm, stated for
  the console); here a recorded event is answered at once.
- MaxResults: 1 to 50 (zh-TW reference: 1~50). The default is UNCONFIRMED (20 is the documented example value, used here).
  An out-of-range value answers InvalidQueryParameter ("The specified query parameter is invalid.").
- Direction: BACKWARD (default, newest first) or FORWARD (oldest first).
- NextToken: opaque, "the request parameters must be the same as those of the last request"; it is
  not returned after the last page. The real token is base64 JSON {account, eventId, logId, time};
  this one is base64 JSON {account, eventId, time, query} (query: a digest of the other parameters).
  A token that does not fit answers InvalidQueryParameter (the code for a bad token is UNCONFIRMED).
- LookupAttribute.N.Key/Value: one or two conditions, exact and case-sensitive, ANDed; the same key
  twice keeps the second; more than two: only the first two are used (the metadata says maxItems 2,
  the FAQ says the rest are ignored; the FAQ's behaviour is what is emulated). Keys: ServiceName,
  EventName, User, EventId, ResourceType, ResourceName, EventRW, EventAccessKeyId, SensitiveAction,
  SourceIpAddress, EventType, RoleName (and PrincipalId, named among the pairs). Two conditions must
  be a documented pair: ServiceName with EventName, User, PrincipalId, RoleName, ResourceName,
  EventRW, SensitiveAction or EventType; ResourceName with ResourceType, EventName, User, RoleName or
  ServiceName; EventType with EventName. An unknown key or another pair answers InvalidQueryParameter
  (what the service answers for them is UNCONFIRMED): refusing is the stricter reading, so a caller
  relying on an undocumented pair (ResourceName with EventRW, say) fails here rather than passing.
- Read/write type: 2020-07-06 has no EventRW request parameter (the 2017-12-04 LookupEvents had one,
  https://www.alibabacloud.com/help/doc-detail/28849.htm, example value Write); EventRW is only a
  LookupAttribute key. Events are filtered on it only when asked, Read and Write alike otherwise
  (UNCONFIRMED that the service applies no implicit read/write filter; none is documented).

Trail delivery to SLS (CreateTrail reference and SLS "ActionTrail events",
https://www.alibabacloud.com/help/en/sls/actiontrail-events-usage-notes/,
https://www.alibabacloud.com/help/en/sls/actiontrail): a trail with SlsProjectArn
`acs:log:<region>:<account>:project/<project>` gets a logstore `actiontrail_<trail name>` in that
project, created by ActionTrail. Each event is one log: `__topic__` actiontrail_event, `event` the
event as JSON text (SLS indexes it as JSON, so `event.eventName: Decrypt` queries work), `owner_id`
the account. The logstore answers from the account's recorded events (no second copy is stored),
filtered by the trail's EventRW (Write by default: crypto calls are Read events and reach the
logstore only when the trail delivers Read or All), TrailRegion and logging period.
UNCONFIRMED: the `__source__` value (left empty) and whether newer logstores use the topic
actiontrail_audit_event (the Cloud Lens field list does).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ClassVar, Iterable, Literal, Optional

from alibabacloud_actiontrail20200706 import models as m
from pydantic import Field, field_validator

from localcloud import errors
from localcloud.clock import iso, parse_time
from localcloud.pop import unflatten
from localcloud.products.base import Call, RpcProduct, api
from localcloud.products.sls_state import SlsLog, SlsLogstore
from localcloud.records import AccountSection, Record, _iso

MAX_RESULTS = 50
DEFAULT_RESULTS = 20  # UNCONFIRMED: the documented example value
DEFAULT_WINDOW = timedelta(days=7)
RETENTION = timedelta(days=90)
MAX_ATTRIBUTES = 2
TRAIL_TOPIC = "actiontrail_event"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SLS_PROJECT_ARN = re.compile(r"acs:log:(?P<region>[^:]+):(?P<account>[^:]*):project/(?P<project>[^/]+)")


# ---------------------------------------------------------------- account-file records


class ActionTrailTrail(Record):
    """A trail as DescribeTrails returns it."""

    sdk_model: ClassVar[Any] = m.DescribeTrailsResponseBodyTrailList
    extra_fields: ClassVar[frozenset] = frozenset()

    Name: str
    HomeRegion: str
    Status: Literal["Enable", "Disable", "Fresh"] = "Enable"
    EventRW: Literal["Write", "Read", "All"] = "Write"
    TrailRegion: str = "All"
    SlsProjectArn: Optional[str] = None
    SlsWriteRoleArn: Optional[str] = None
    CreateTime: Optional[str] = None
    UpdateTime: Optional[str] = None
    StartLoggingTime: Optional[str] = None
    StopLoggingTime: Optional[str] = None

    _check_times = field_validator("CreateTime", "UpdateTime", "StartLoggingTime", "StopLoggingTime")(
        classmethod(lambda cls, v: _iso(v)))

    @field_validator("Name")
    @classmethod
    def _name(cls, v):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{5,35}", v):
            raise ValueError("must be 6 to 36 letters, digits, hyphens or underscores, starting with a letter")
        return v

    @field_validator("SlsProjectArn")
    @classmethod
    def _sls_arn(cls, v):
        if v and not _SLS_PROJECT_ARN.fullmatch(v):
            raise ValueError("must look like acs:log:<region>:<account>:project/<project>")
        return v

    def sls_destination(self) -> tuple[str, str, str] | None:
        """(region, project, logstore) the trail delivers to, or None."""
        match = _SLS_PROJECT_ARN.fullmatch(self.SlsProjectArn or "")
        return (match["region"], match["project"], f"actiontrail_{self.Name}") if match else None

    def delivers(self, event: dict) -> bool:
        """Whether this trail delivered `event`: its read/write type, region and logging period."""
        if self.EventRW != "All" and event.get("eventRW") != self.EventRW:
            return False
        if self.TrailRegion != "All" and event.get("acsRegion") != self.TrailRegion and not event.get("isGlobal"):
            return False
        if self.Status == "Fresh":
            return False
        when = parse_time(event["eventTime"])
        if self.StartLoggingTime and when < parse_time(self.StartLoggingTime):
            return False
        if self.Status == "Disable":
            return bool(self.StopLoggingTime) and when <= parse_time(self.StopLoggingTime)
        return True


class ActionTrailSection(AccountSection):
    """ActionTrail records (the `data` of the CloudEvents EventBridge delivers), oldest first, and trails."""

    section: ClassVar[str] = "actiontrail"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"trails": ("Name",)}
    id_fields: ClassVar[tuple[str, ...]] = ("Name",)

    events: list[dict[str, Any]] = Field(default_factory=list)
    trails: list[ActionTrailTrail] = Field(default_factory=list)

    @field_validator("events")
    @classmethod
    def _events_are_records(cls, events):
        # LookupEvents orders and windows on these two; a record without them could never be found.
        for i, event in enumerate(events):
            if not isinstance(event.get("eventId"), str) or not event["eventId"]:
                raise ValueError(f"event #{i} has no eventId")
            try:
                parse_time(str(event.get("eventTime", "")))
            except ValueError:
                raise ValueError(f"event {event['eventId']} has no valid eventTime (ISO 8601, e.g. 2024-01-01T00:00:00Z)") from None
        return events


# ---------------------------------------------------------------- LookupAttribute


def _identity(event: dict) -> dict:
    return event.get("userIdentity") or {}


def _resources(event: dict) -> dict[str, list[str]]:
    refs = event.get("referencedResources") or {}
    # Samples carry lists; a comma-separated string is accepted too.
    return {k: (v if isinstance(v, list) else str(v).split(",")) for k, v in refs.items()}


ATTRIBUTES: dict[str, Callable[[dict], Iterable[Any]]] = {
    "ServiceName": lambda e: [e.get("serviceName")],
    "EventName": lambda e: [e.get("eventName")],
    "User": lambda e: [_identity(e).get("userName")],
    "PrincipalId": lambda e: [_identity(e).get("principalId")],
    "EventId": lambda e: [e.get("eventId")],
    "ResourceType": lambda e: list(_resources(e)),
    "ResourceName": lambda e: [name for names in _resources(e).values() for name in names],
    "EventRW": lambda e: [e.get("eventRW")],
    "EventAccessKeyId": lambda e: [_identity(e).get("accessKeyId")],
    "SensitiveAction": lambda e: [str((e.get("eventAttributes") or {}).get("SensitiveAction", "false")).lower()],
    "SourceIpAddress": lambda e: [e.get("sourceIpAddress")],
    "EventType": lambda e: [e.get("eventType")],
    # An assumed role's userName is "<role>:<session>" (reference §1b); UNCONFIRMED that RoleName matches the role part.
    "RoleName": lambda e: [str(_identity(e).get("userName", "")).split(":")[0]] if _identity(e).get("type") == "assumed-role" else [],
}


PAIRS = {frozenset(p) for p in [
    *(("ServiceName", k) for k in ("EventName", "User", "PrincipalId", "RoleName", "ResourceName", "EventRW",
                                   "SensitiveAction", "EventType")),
    *(("ResourceName", k) for k in ("ResourceType", "EventName", "User", "RoleName")),
    ("EventType", "EventName"),
]}


def invalid_query(detail: str) -> errors.ApiError:
    return errors.ApiError("InvalidQueryParameter", f"The specified query parameter is invalid. {detail}".strip(), 400)


def _conditions(call: Call) -> dict[str, str]:
    """The LookupAttribute conditions as the service applies them: the first two, a repeated key's last value."""
    conditions: dict[str, str] = {}
    for item in unflatten(call.params, "LookupAttribute")[:MAX_ATTRIBUTES]:
        key, value = item.get("Key"), item.get("Value")
        if key not in ATTRIBUTES:
            raise invalid_query(f"LookupAttribute Key {key!r} is not supported.")
        if value in (None, ""):
            raise invalid_query(f"LookupAttribute Value is missing for Key {key}.")
        conditions[key] = value
    if len(conditions) == 2 and frozenset(conditions) not in PAIRS:
        raise invalid_query(f"LookupAttribute keys {' and '.join(conditions)} cannot be combined.")
    return conditions


# ---------------------------------------------------------------- the product


class ActionTrailApi(RpcProduct):
    code = "actiontrail"
    service_name = "Actiontrail"
    version = "2020-07-06"
    endpoint_prefix = "actiontrail"
    regional_param = None

    # ------------------------------------------------------------ LookupEvents

    @api("LookupEvents")
    def lookup_events(self, call: Call) -> dict:
        now = call.now
        end = self._time(call, "EndTime", "InvalidParameterEndTime", now)
        start = self._time(call, "StartTime", "InvalidParameterStartTime", now - DEFAULT_WINDOW)
        if end <= start:
            raise errors.ApiError("InvalidParameterCombination", "The end time must be later than the start time.", 400)
        raw_size = call.get("MaxResults")
        try:
            size = DEFAULT_RESULTS if raw_size is None else int(raw_size)
        except ValueError:
            raise invalid_query("MaxResults must be an integer from 1 to 50.") from None
        if not 1 <= size <= MAX_RESULTS:
            raise invalid_query("MaxResults must be an integer from 1 to 50.")
        direction = call.get("Direction", "BACKWARD")
        if direction not in ("BACKWARD", "FORWARD"):
            raise invalid_query("Direction must be FORWARD or BACKWARD.")
        conditions = _conditions(call)

        oldest = max(start, now - RETENTION)
        matched = [(i, e) for i, e in enumerate(self.account.actiontrail.events)
                   if (e.get("acsRegion") == call.region or e.get("isGlobal") is True)
                   # the attribute test first: it is cheap, and rules out most events before any time parsing
                   and all(value in ATTRIBUTES[key](e) for key, value in conditions.items())
                   and oldest <= parse_time(e["eventTime"]) <= end]
        # Recording order breaks ties between events of the same second.
        matched.sort(key=lambda p: (parse_time(p[1]["eventTime"]), p[0]), reverse=direction == "BACKWARD")
        events = [e for _, e in matched]

        query = self._query_digest(call)
        begin = 0
        if (token := call.get("NextToken")) is not None:
            begin = self._resume_after(token, query, events)
        page = events[begin:begin + size]
        more = begin + size < len(events)
        next_token = self._token(page[-1], query) if more else None
        body = m.LookupEventsResponseBody(events=[json.loads(json.dumps(e)) for e in page], next_token=next_token,
                                          start_time=iso(start), end_time=iso(end))
        return body.to_map()

    @staticmethod
    def _time(call: Call, name: str, code: str, default: datetime) -> datetime:
        raw = call.get(name)
        if raw is None:
            return default
        if not _TIME.fullmatch(raw):
            raise errors.ApiError(code, f"The specified {name} is invalid.", 400)
        try:
            return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise errors.ApiError(code, f"The specified {name} is invalid.", 400) from None

    def _query_digest(self, call: Call) -> str:
        keep = {k: v for k, v in call.params.items() if k in ("StartTime", "EndTime", "Direction") or k.startswith("LookupAttribute.")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def _token(self, last: dict, query: str) -> str:
        payload = {"account": self.account.account_id, "eventId": last["eventId"],
                   "time": int(parse_time(last["eventTime"]).timestamp() * 1000), "query": query}
        return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def _resume_after(self, token: str, query: str, events: list[dict]) -> int:
        try:
            payload = json.loads(base64.b64decode(token, validate=True))
            event_id, token_query, account = payload["eventId"], payload["query"], payload["account"]
        except (ValueError, KeyError, TypeError):
            raise invalid_query("NextToken is not valid.") from None
        if token_query != query or account != self.account.account_id:
            raise invalid_query("NextToken does not belong to these request parameters.")
        for i, event in enumerate(events):
            if event.get("eventId") == event_id:
                return i + 1
        raise invalid_query("NextToken is not valid.")

    # ------------------------------------------------------------ DescribeTrails

    @api("DescribeTrails")
    def describe_trails(self, call: Call) -> dict:
        names = [n for n in (call.get("NameList") or "").split(",") if n]
        shadows = call.bool("IncludeShadowTrails", False)
        trails = [t for t in self.account.actiontrail.trails
                  if (t.HomeRegion == call.region or (shadows and t.TrailRegion == "All")) and (not names or t.Name in names)]
        items = []
        for trail in trails:
            data = trail.wire()
            data.setdefault("Region", trail.HomeRegion)
            data.setdefault("TrailArn", f"acs:actiontrail:{trail.HomeRegion}:{self.account.account_id}:trail/{trail.Name}")
            data.setdefault("IsOrganizationTrail", False)
            items.append(m.DescribeTrailsResponseBodyTrailList().from_map(data))
        return m.DescribeTrailsResponseBody(trail_list=items).to_map()

    # ------------------------------------------------------------ GetTrailStatus

    @api("GetTrailStatus")
    def get_trail_status(self, call: Call) -> dict:
        """"GetTrailStatus" (https://www.alibabacloud.com/help/doc-detail/28843.html; 2020-07-06 edition,
        https://alibabacloud.com/help/en/actiontrail/developer-reference/api-actiontrail-2020-07-06-gettrailstatus):
        IsLogging (the trail is enabled), StartLoggingTime, StopLoggingTime, LatestDeliveryTime (epoch milliseconds as
        text, the doc's example "1547792223000": here the newest event the trail delivered) and LatestDeliveryError
        (empty: delivery never fails here). A trail names its account's trail whatever region is called. UNCONFIRMED:
        the code for an unknown trail (TrailNotFoundException, 404, here), and LatestDeliveryLogServiceTime's form (the
        newest event delivered to SLS, ISO 8601 here)."""
        name = call.require("Name")
        trail = next((t for t in self.account.actiontrail.trails if t.Name == name), None)
        if trail is None:
            raise errors.ApiError("TrailNotFoundException", f"The trail {name} does not exist.", 404)
        delivered = [e for e in self.account.actiontrail.events if trail.delivers(e)]
        latest = max((parse_time(e["eventTime"]) for e in delivered), default=None)
        body = m.GetTrailStatusResponseBody(is_logging=trail.Status == "Enable", start_logging_time=trail.StartLoggingTime,
                                            stop_logging_time=trail.StopLoggingTime, latest_delivery_error="",
                                            latest_delivery_time=str(int(latest.timestamp() * 1000)) if latest else None)
        if trail.sls_destination() is not None:
            body.latest_delivery_log_service_error = ""
            body.latest_delivery_log_service_time = iso(latest) if latest else None
        return body.to_map()

    # ------------------------------------------------------------ delivery to SLS

    def trail_logstores(self) -> list[SlsLogstore]:
        """The logstores ActionTrail created for the account's SLS-delivering trails."""
        stores = []
        for trail in self.account.actiontrail.trails:
            if (dest := trail.sls_destination()) is not None:
                region, project, logstore = dest
                stores.append(SlsLogstore(projectName=project, logstoreName=logstore, RegionId=region, ttl=3650))
        return stores

    def trail_logs(self, project: str, logstore: str, region: str) -> list[SlsLog]:
        """The events a trail delivered to `project/logstore`, as the logs SLS holds (oldest first)."""
        trail = next((t for t in self.account.actiontrail.trails if t.sls_destination() == (region, project, logstore)), None)
        if trail is None:
            return []
        return [SlsLog(projectName=project, logstoreName=logstore, time=int(parse_time(e["eventTime"]).timestamp()),
                       topic=TRAIL_TOPIC, source="",
                       contents={"event": json.dumps(e, separators=(",", ":"), ensure_ascii=False),
                                 "owner_id": self.account.account_id})
                for e in self.account.actiontrail.events if trail.delivers(e)]
