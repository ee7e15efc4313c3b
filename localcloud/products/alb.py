"""Application Load Balancer (ALB) 2020-06-16: the listeners of a region and the certificates each serves.

- ListListeners ("Server Load Balancer:ListListeners", ALB API reference; alibabacloud-alb20200616 1.3.3's
  ListListenersRequest): NextToken/MaxResults ("Valid values: 1 to 100 ... the default value is 20"), TotalCount,
  optional ListenerProtocol (HTTP, HTTPS, QUIC), ListenerIds and LoadBalancerIds. No RegionId parameter: the regional
  endpoint (alb.<region>.aliyuncs.com) decides the region. The items do not name their certificates.
- ListListenerCertificates ("Server Load Balancer:ListListenerCertificates",
  https://www.alibabacloud.com/help/en/slb/application-load-balancer/developer-reference/api-alb-2020-06-16-listlistenercertificates):
  "the certificates that are associated with a listener, including additional certificates and the default
  certificate"; ListenerId required ("an HTTPS listener or a QUIC listener"), CertificateType (Ca, Server),
  NextToken/MaxResults (1 to 100, default 20), TotalCount. Items: CertificateId, CertificateType, IsDefault, Status
  (Associating, Associated, Diassociating, as the API spells it). ALB's server certificates are Certificate
  Management Service certificates, named by the CAS certificate id followed by the site's region, e.g.
  "12345-cn-hangzhou" (CAS ListCertificates' CertIdentifier: "certificate ID + '-' + site region ID"; UNCONFIRMED
  that every ALB listener answers that form rather than a bare id).

Errors: a listener that does not exist, ResourceNotFound.Listener (404); a listener that is neither HTTPS nor QUIC,
OperationDenied.ListenerProtocolNotSupport (400); both codes UNCONFIRMED (the pages read list none). MaxResults out
of range: InvalidParameter (UNCONFIRMED code).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from alibabacloud_alb20200616 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_token
from localcloud.records import AccountSection, Record, StrictRecord, find

PROTOCOLS = ("HTTP", "HTTPS", "QUIC")


class AlbListenerCertificate(StrictRecord):
    """A ListListenerCertificates item."""

    CertificateId: str
    CertificateType: Literal["Server", "Ca"] = "Server"
    IsDefault: bool = False
    Status: Literal["Associating", "Associated", "Diassociating"] = "Associated"


class AlbListener(Record):
    """A ListListeners item, with RegionId (the endpoint's region) and its `Certificates` (ListListenerCertificates'
    items) beside it."""

    sdk_model: ClassVar[Any] = m.ListListenersResponseBodyListeners
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "Certificates"})

    ListenerId: str
    LoadBalancerId: str
    RegionId: str
    ListenerProtocol: Literal["HTTP", "HTTPS", "QUIC"]
    ListenerPort: int
    ListenerStatus: Literal["Provisioning", "Running", "Configuring", "Stopped"] = "Running"
    Certificates: list[AlbListenerCertificate] = Field(default_factory=list)

    def item(self) -> dict:
        data = self.wire()
        data.pop("RegionId", None)
        data.pop("Certificates", None)
        return data


class AlbSection(AccountSection):
    section: ClassVar[str] = "alb"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"listeners": ("ListenerId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("ListenerId", "LoadBalancerId")

    listeners: list[AlbListener] = Field(default_factory=list)


def _listed(call: Call, name: str) -> list[str]:
    """A list parameter as the SDK flattens it (Name.1, Name.2, ...)."""
    return [v for k, v in sorted(call.params.items(), key=lambda kv: kv[0]) if k.startswith(f"{name}.")]


class Alb(RpcProduct):
    code = "alb"
    service_name = "Alb"
    version = "2020-06-16"
    endpoint_prefix = "alb"
    regional_param = None  # the regional endpoint names the region

    @api("ListListeners")
    def list_listeners(self, call: Call) -> dict:
        region = self.known_region(call.region)
        listeners = [li for li in self.account.alb.listeners if li.RegionId == region]
        if (protocol := call.get("ListenerProtocol")) is not None:
            if protocol not in PROTOCOLS:
                raise errors.invalid_parameter("ListenerProtocol", f"Valid values: {', '.join(PROTOCOLS)}.")
            listeners = [li for li in listeners if li.ListenerProtocol == protocol]
        if ids := _listed(call, "ListenerIds"):
            listeners = [li for li in listeners if li.ListenerId in ids]
        if ids := _listed(call, "LoadBalancerIds"):
            listeners = [li for li in listeners if li.LoadBalancerId in ids]
        page, token = paginate_token(listeners, call, default_size=20, max_size=100)
        items = [m.ListListenersResponseBodyListeners().from_map(li.item()) for li in page]
        return m.ListListenersResponseBody(listeners=items, max_results=call.int("MaxResults", 20), next_token=token or None,
                                           total_count=len(listeners)).to_map()

    @api("ListListenerCertificates")
    def list_listener_certificates(self, call: Call) -> dict:
        region = self.known_region(call.region)
        listener_id = call.require("ListenerId")
        listener = find(self.account.alb.listeners, ListenerId=listener_id)
        if listener is None or listener.RegionId != region:
            raise errors.ApiError("ResourceNotFound.Listener", f"The specified resource {listener_id} is not found.", 404)
        if listener.ListenerProtocol not in ("HTTPS", "QUIC"):
            raise errors.ApiError("OperationDenied.ListenerProtocolNotSupport",
                                  f"The operation is not allowed because the protocol of listener {listener_id} is not supported.", 400)
        call.refer("ACS::ALB::Listener", listener_id)
        certs = list(listener.Certificates)
        if (kind := call.get("CertificateType")) is not None:
            if kind not in ("Ca", "Server"):
                raise errors.invalid_parameter("CertificateType", "Valid values: Ca, Server.")
            certs = [c for c in certs if c.CertificateType == kind]
        if ids := _listed(call, "CertificateIds"):
            certs = [c for c in certs if c.CertificateId in ids]
        page, token = paginate_token(certs, call, default_size=20, max_size=100)
        items = [m.ListListenerCertificatesResponseBodyCertificates().from_map(c.wire()) for c in page]
        return m.ListListenerCertificatesResponseBody(certificates=items, max_results=call.int("MaxResults", 20),
                                                      next_token=token or None, total_count=len(certs)).to_map()
