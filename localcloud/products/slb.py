"""Server Load Balancer, Classic Load Balancer (SLB/CLB) 2014-05-15: the server certificates of a region and the
listeners that serve them.

- DescribeServerCertificates ("Server Load Balancer:DescribeServerCertificates",
  https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describeservercertificates):
  every server certificate of the region, not paged (RegionId, optional ServerCertificateId and ResourceGroupId).
  Items: ServerCertificateId, ServerCertificateName, RegionId, Fingerprint, CommonName, SubjectAlternativeNames
  {SubjectAlternativeName: [...]}, ExpireTime ("2023-01-26T23:59:59Z"), ExpireTimeStamp (milliseconds), CreateTime,
  CreateTimeStamp, IsAliCloudCertificate (1: imported from Certificate Management Service, whose id is
  AliCloudCertificateId) and AliCloudCertificateName. "Only the fingerprints and names ... are returned", never the
  certificate body.
- DescribeLoadBalancerListeners ("Server Load Balancer:DescribeLoadBalancerListeners",
  https://www.alibabacloud.com/help/en/server-load-balancer/latest/describeloadbalancerlisteners): the listeners of
  the region's CLB instances in one NextToken/MaxResults listing ("Valid value: 1 to 100 ... at most 20 entries" by
  default, TotalCount), optionally for up to 10 LoadBalancerId and one ListenerProtocol (tcp, udp, http, https). An
  HTTPS listener's HTTPSListenerConfig names its ServerCertificateId: this is the one listing that maps a server
  certificate to the listeners serving it (rather than DescribeLoadBalancers, then
  DescribeLoadBalancerHTTPSListenerAttribute per listener). That leaving LoadBalancerId out lists every listener of
  the region is UNCONFIRMED (the doc marks it optional without saying so). MaxResults outside 1..100 is refused
  with InvalidParameter (UNCONFIRMED code).

Not emulated: the extra certificates of an HTTPS listener's domain extensions (DescribeDomainExtensions), CA
certificates (DescribeCACertificates).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_slb20140515 import models as m
from pydantic import Field, model_validator

from localcloud import errors
from localcloud.clock import parse_time
from localcloud.products.base import Call, RpcProduct, api, paginate_token
from localcloud.records import AccountSection, Record, StrictRecord

PROTOCOLS = ("tcp", "udp", "http", "https")


class SlbServerCertificate(Record):
    """A DescribeServerCertificates item. ExpireTimeStamp, when left out, is derived from ExpireTime."""

    sdk_model: ClassVar[Any] = m.DescribeServerCertificatesResponseBodyServerCertificatesServerCertificate

    ServerCertificateId: str
    RegionId: str
    CommonName: str
    ExpireTime: str

    @model_validator(mode="after")
    def _expiry(self):
        try:
            parse_time(self.ExpireTime)
        except ValueError:
            raise ValueError(f"field ExpireTime: {self.ExpireTime!r} is not an ISO 8601 time such as 2023-01-26T23:59:59Z") from None
        return self

    def item(self) -> dict:
        data = self.wire()
        data.setdefault("ExpireTimeStamp", int(parse_time(self.ExpireTime).timestamp() * 1000))
        return data


class SlbHttpsConfig(StrictRecord):
    ServerCertificateId: str


class SlbListener(Record):
    """A DescribeLoadBalancerListeners item (RegionId beside it: the listing is per region)."""

    sdk_model: ClassVar[Any] = m.DescribeLoadBalancerListenersResponseBodyListeners
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "HTTPSListenerConfig"})

    LoadBalancerId: str
    RegionId: str
    ListenerPort: int
    ListenerProtocol: Literal["tcp", "udp", "http", "https"]
    Status: Literal["running", "stopped", "starting", "configuring", "stopping"] = "running"
    HTTPSListenerConfig: Optional[SlbHttpsConfig] = None

    @model_validator(mode="after")
    def _https_has_certificate(self):
        if (self.ListenerProtocol == "https") != (self.HTTPSListenerConfig is not None):
            raise ValueError("an https listener, and only one, has an HTTPSListenerConfig naming its ServerCertificateId")
        return self

    def item(self) -> dict:
        data = self.wire()
        data.pop("RegionId", None)
        return data


class SlbSection(AccountSection):
    section: ClassVar[str] = "slb"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {
        "server_certificates": ("ServerCertificateId",), "listeners": ("LoadBalancerId", "ListenerPort", "ListenerProtocol")}
    id_fields: ClassVar[tuple[str, ...]] = ("ServerCertificateId", "LoadBalancerId", "ListenerPort")

    server_certificates: list[SlbServerCertificate] = Field(default_factory=list)
    listeners: list[SlbListener] = Field(default_factory=list)


class Slb(RpcProduct):
    code = "slb"
    service_name = "Slb"
    version = "2014-05-15"
    endpoint_prefix = "slb"

    @api("DescribeServerCertificates")
    def describe_server_certificates(self, call: Call) -> dict:
        region = self.known_region(call.region)
        certs = [c for c in self.account.slb.server_certificates if c.RegionId == region]
        if (cert_id := call.get("ServerCertificateId")) is not None:
            certs = [c for c in certs if c.ServerCertificateId == cert_id]
        items = [m.DescribeServerCertificatesResponseBodyServerCertificatesServerCertificate().from_map(c.item()) for c in certs]
        return m.DescribeServerCertificatesResponseBody(
            server_certificates=m.DescribeServerCertificatesResponseBodyServerCertificates(server_certificate=items)).to_map()

    @api("DescribeLoadBalancerListeners")
    def describe_load_balancer_listeners(self, call: Call) -> dict:
        region = self.known_region(call.region)
        listeners = [li for li in self.account.slb.listeners if li.RegionId == region]
        if (protocol := call.get("ListenerProtocol")) is not None:
            if protocol not in PROTOCOLS:
                raise errors.invalid_parameter("ListenerProtocol", f"Valid values: {', '.join(PROTOCOLS)}.")
            listeners = [li for li in listeners if li.ListenerProtocol == protocol]
        # LoadBalancerId.N (the SDK flattens its list so): at most 10.
        ids = [v for k, v in sorted(call.params.items()) if k.startswith("LoadBalancerId.")]
        if len(ids) > 10:
            raise errors.invalid_parameter("LoadBalancerId", "At most 10 instance IDs.")
        if ids:
            listeners = [li for li in listeners if li.LoadBalancerId in ids]
        page, token = paginate_token(listeners, call, default_size=20, max_size=100)
        asked = call.int("MaxResults", 20)
        items = [m.DescribeLoadBalancerListenersResponseBodyListeners().from_map(li.item()) for li in page]
        return m.DescribeLoadBalancerListenersResponseBody(listeners=items, max_results=asked,
                                                           next_token=token or None, total_count=len(listeners)).to_map()
