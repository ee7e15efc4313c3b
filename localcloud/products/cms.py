"""CloudMonitor 2019-01-01: PutCustomEvent and PutCustomMetric, kept as account state so a test or a
user can read what was raised; DescribeCustomEventAttribute reads events back as the console does.

PutCustomEvent answers `{"Code": "200", "Message": "success"}`, Code a string (reference §5).

PutCustomEvent's limits: the API reference (https://www.alibabacloud.com/help/doc-detail/115012.html,
"PutCustomEvent": EventInfo.N.EventName / .Content / .Time, "Valid values of N: 1 to 50") takes at most 50
events a call; the user guide "Report custom events" (https://www.alibabacloud.com/help/doc-detail/60196.htm,
Limits) says a report holds at most 100 events and at most 500 KB of data, and an account sends at most 20
reports a second. Both are enforced as the stricter reading: 50 events (the API's own page; the 100 of the
guide covers its other report methods too), and 500 KB (counted here as 500 x 1024 bytes of the events'
UTF-8 names, contents, group ids and times; UNCONFIRMED how the service counts). Neither page names the
refusal: InvalidParameter, HTTP 400, is answered (UNCONFIRMED code and status).

PutCustomMetric (API reference, https://www.alibabacloud.com/help/doc-detail/115004.html): MetricList.N, "Valid values
of N: 1 to 21", each with MetricName, GroupId, Values (JSON), Dimensions (JSON), Type (0: raw value, 1: aggregated)
and Time; more than 21 is refused here with InvalidParameter, 400 (UNCONFIRMED code and status)."""
from __future__ import annotations

import json
import uuid
from typing import ClassVar, Optional

from alibabacloud_cms20190101 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.clock import iso
from localcloud.pop import unflatten
from localcloud.products.base import Call, RpcProduct, api
from localcloud.records import AccountSection, StrictRecord


MAX_EVENTS = 50  # EventInfo.N, N 1 to 50 (PutCustomEvent API reference)
MAX_METRICS = 21  # MetricList.N, N 1 to 21 (PutCustomMetric API reference)
MAX_REPORT_BYTES = 500 * 1024  # "Each report can contain up to 500 KB of data" (Report custom events, Limits)


# ---------------------------------------------------------------- records (account file section `cms`)


class CmsCustomEvent(StrictRecord):
    """A custom event as DescribeCustomEventAttribute returns it, plus the region it was put in."""

    Id: str
    Name: str
    Content: str
    GroupId: str = "0"
    Time: str = ""
    RegionId: Optional[str] = None


class CmsCustomMetric(StrictRecord):
    MetricName: str
    GroupId: str = "0"
    Values: str = "{}"
    Dimensions: str = "{}"
    Type: int = 0
    Time: str = ""
    RegionId: Optional[str] = None


class CmsSection(AccountSection):
    section: ClassVar[str] = "cms"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"events": ("Id",)}
    id_fields: ClassVar[tuple[str, ...]] = ("Id", "Name")

    events: list[CmsCustomEvent] = Field(default_factory=list)
    metrics: list[CmsCustomMetric] = Field(default_factory=list)


# ---------------------------------------------------------------- API


class Cms(RpcProduct):
    code = "cms"
    service_name = "Cms"
    version = "2019-01-01"
    endpoint_prefix = "metrics"
    regional_param = None

    @api("PutCustomEvent", write=True)
    def put_custom_event(self, call: Call) -> dict:
        infos = unflatten(call.params, "EventInfo")
        if not infos:
            raise errors.missing_parameter("EventInfo.1.EventName")
        if len(infos) > MAX_EVENTS:
            raise errors.invalid_parameter("EventInfo", f"At most {MAX_EVENTS} events per call.")
        size = sum(len(v.encode("utf-8")) for info in infos for v in info.values())
        if size > MAX_REPORT_BYTES:
            raise errors.invalid_parameter("EventInfo", f"At most {MAX_REPORT_BYTES // 1024} KB of event data per call, got {size} bytes.")
        new = []
        for n, info in enumerate(infos, 1):
            for required in ("EventName", "Content"):
                if not info.get(required):
                    raise errors.missing_parameter(f"EventInfo.{n}.{required}")
            new.append(CmsCustomEvent(
                Id=str(uuid.uuid4()), Name=info["EventName"], Content=info["Content"], GroupId=info.get("GroupId") or "0",
                Time=info.get("Time") or iso(call.now), RegionId=call.region,
            ))
        self.account.cms.events.extend(new)
        return m.PutCustomEventResponseBody(code="200", message="success").to_map()

    @api("PutCustomMetric", write=True)
    def put_custom_metric(self, call: Call) -> dict:
        metrics = unflatten(call.params, "MetricList")
        if not metrics:
            raise errors.missing_parameter("MetricList.1.MetricName")
        if len(metrics) > MAX_METRICS:
            raise errors.invalid_parameter("MetricList", f"At most {MAX_METRICS} metrics per call.")
        new = []
        for n, metric in enumerate(metrics, 1):
            for required in ("MetricName", "Values", "GroupId"):
                if not metric.get(required):
                    raise errors.missing_parameter(f"MetricList.{n}.{required}")
            try:
                json.loads(metric["Values"])
                json.loads(metric.get("Dimensions") or "{}")
            except json.JSONDecodeError:
                raise errors.invalid_parameter(f"MetricList.{n}.Values", "Values and Dimensions must be JSON.") from None
            new.append(CmsCustomMetric(
                MetricName=metric["MetricName"], GroupId=metric["GroupId"], Values=metric["Values"],
                Dimensions=metric.get("Dimensions") or "{}", Type=int(metric.get("Type") or 0),
                Time=metric.get("Time") or iso(call.now), RegionId=call.region,
            ))
        self.account.cms.metrics.extend(new)
        return m.PutCustomMetricResponseBody(code="200", message="success").to_map()

    @api("DescribeCustomEventAttribute")
    def describe_custom_event_attribute(self, call: Call) -> dict:
        events = [e for e in self.account.cms.events if e.RegionId in (None, call.region)]
        if (name := call.get("Name")) is not None:
            events = [e for e in events if e.Name == name]
        items = [m.DescribeCustomEventAttributeResponseBodyCustomEventsCustomEvent(
            id=e.Id, name=e.Name, content=e.Content, group_id=e.GroupId, time=e.Time) for e in events]
        return m.DescribeCustomEventAttributeResponseBody(
            code="200", message="success", success="true",
            custom_events=m.DescribeCustomEventAttributeResponseBodyCustomEvents(custom_event=items),
        ).to_map()
