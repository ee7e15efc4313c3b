"""cert_expiry: every TLS certificate of the account that has expired or expires soon, ranked by whether a load
balancer listener serves it, with a days-to-expiry metric per certificate.

What is read (each list paged to its end; any listing that fails makes the result incomplete, naming it):
- Certificate Management Service (CAS), ListUserCertificateOrder with OrderType=CERT
  ("Certificate Management Service:ListUserCertificateOrder",
  https://www.alibabacloud.com/help/en/ssl-certificate/developer-reference/api-cas-2020-04-07-listusercertificateorder):
  once with no Status (the doc: only ISSUED and WILLEXPIRED certificates are then returned) and once with
  Status=EXPIRED, since the default listing never shows an expired certificate. CurrentPage/ShowSize (default 50),
  paged until TotalCount items are read. The certificate ends on EndDate (YYYY-MM-DD, a date without a time);
  its domains are CommonName and Sans (comma-separated).
- Classic Load Balancer (SLB), in the target's region: DescribeServerCertificates (every server certificate of the
  region, ExpireTimeStamp in milliseconds or ExpireTime in ISO 8601, CommonName, SubjectAlternativeNames;
  https://www.alibabacloud.com/help/en/slb/classic-load-balancer/developer-reference/api-slb-2014-05-15-describeservercertificates)
  and DescribeLoadBalancerListeners with ListenerProtocol=https, whose HTTPSListenerConfig.ServerCertificateId maps a
  certificate to the listeners serving it in one listing
  (https://www.alibabacloud.com/help/en/server-load-balancer/latest/describeloadbalancerlisteners).
- Application Load Balancer (ALB): ListListeners, then ListListenerCertificates for each HTTPS/QUIC listener
  (https://www.alibabacloud.com/help/en/slb/application-load-balancer/developer-reference/api-alb-2020-06-16-listlistenercertificates):
  ALB serves CAS certificates, named "<CAS certificate id>-<site region>" ("12345-cn-hangzhou").

Where a certificate is reported: an SLB server certificate is a resource of its region, reported in that region's
run (ACS::SLB::ServerCertificate). A CAS certificate belongs to the account, not to a region: it is reported once, in
the run of the region `cert_cas_region` (default cn-hangzhou, the China site's CAS endpoint; set ap-southeast-1 for
an international-site account; the deployed sweeps set it from SWEEP_CERT_CAS_REGION), and that run looks for its
listeners in every region of `cert_regions` (the deployed sweeps pass every region they sweep in the account, in-process
and fanned out alike: shared/sweeps/service.py SweepFunction.target; unset, the target's region only). A CAS
certificate served only in a region missing from `cert_regions` is reported as unused.

Findings (check "cert_expiry"):
- expired: the certificate's end has passed (CAS: Expired, or the EndDate is past). CRITICAL.
- expiring: it ends within `cert_warning_days` (default 30): CRITICAL within `cert_critical_days` (default 7), else WARN.
- unreadable_date: its end cannot be read (a missing or malformed date): WARN, never a crash and never "fine".
Rank: a certificate a listener serves keeps its severity; an unused one (no listener serves it) is one level lower
(CRITICAL -> WARN -> INFO): letting a certificate nobody serves lapse breaks nothing. When the listeners could not
be read, a certificate counts as served (the severity is not lowered on a guess) and the result is incomplete.
`detail` holds days_left, not_after, domains, served (True, False or None when unknown), served_by, rank ("served",
"unused", "unknown") and source ("cas" or "slb").

Days: for an SLB certificate, whole days from the sweep's instant to its expiry (rounded down; negative once past).
For a CAS certificate, calendar days from the sweep's date to EndDate, both taken in China Standard Time (UTC+8):
0 on its last day. Which zone EndDate is written in is not published (UNCONFIRMED: UTC+8, the China site's zone).

Metrics: one CheckResult.metrics item per certificate whose end could be read, in CloudMonitor PutCustomMetric's
MetricList shape ("PutCustomMetric", https://www.alibabacloud.com/help/en/cms/developer-reference/api-cms-2019-01-01-putcustommetric):
{"MetricName": "CertificateDaysToExpiry", "Dimensions": {"certId", "region", "account"}, "Type": "0" (raw data),
"Values": {"value": days}}; the publisher JSON-encodes Dimensions and Values and adds GroupId and Time.

UNCONFIRMED:
- which SLB AliCloudCertificateId names which CAS certificate: the doc's sample is an opaque id
  ("7309xxxxxxxx_15d97e7709a_..."); an SLB certificate imported from CAS is taken to serve CAS certificate N when its
  AliCloudCertificateId is "N" or starts with "N-" (as ALB spells CAS ids).
- that every ALB CertificateId is "<CAS id>-<region>"; one in another form serves no CAS certificate here.
- the certificates of CLB domain extensions (DescribeDomainExtensions) are not read: a CAS certificate served only
  through a domain extension reads as unused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from alibabacloud_alb20200616 import models as alb
from alibabacloud_cas20200407 import models as cas
from alibabacloud_slb20140515 import models as slb

from shared.audit.runner import incomplete_reason
from shared.sweeps.findings import SEVERITIES, CheckResult, Finding, SweepTarget

CHECK = "cert_expiry"
METRIC = "CertificateDaysToExpiry"
CAS_RESOURCE = "ACS::CAS::Certificate"
SLB_RESOURCE = "ACS::SLB::ServerCertificate"
DEFAULT_WARNING_DAYS = 30
DEFAULT_CRITICAL_DAYS = 7
DEFAULT_CAS_REGION = "cn-hangzhou"
CHINA_TIME = timezone(timedelta(hours=8))
CAS_PAGE = 50     # ListUserCertificateOrder's documented default ShowSize
LISTING_PAGE = 100  # DescribeLoadBalancerListeners, ListListeners, ListListenerCertificates: 1 to 100
MAX_PAGES = 1000  # a listing that never ends (a total that keeps growing, a token that repeats) is not whole


class ListingNotWhole(RuntimeError):
    """A paged listing whose pages do not add up: the check cannot claim it saw everything."""


@dataclass
class Listener:
    kind: str        # "CLB" or "ALB"
    region: str
    load_balancer_id: str
    listener: str    # "https:443" (CLB) or the ALB listener id
    status: str = ""

    def describe(self) -> str:
        where = f"{self.kind} {self.load_balancer_id} {self.listener}" if self.kind == "CLB" else \
            f"{self.kind} {self.load_balancer_id} listener {self.listener}"
        return f"{where} ({self.region})"

    def as_dict(self) -> dict:
        return {"type": self.kind, "region": self.region, "loadBalancerId": self.load_balancer_id,
                "listener": self.listener, **({"status": self.status} if self.status else {})}


@dataclass
class Cert:
    source: str                  # "cas" or "slb"
    cert_id: str
    name: str
    domains: list[str]
    not_after: str | None        # as the API gave it (an ISO time, or CAS's YYYY-MM-DD)
    days_left: int | None        # None: the end could not be read
    expired: bool = False
    unreadable: str | None = None  # why the end could not be read
    served_by: list[Listener] = field(default_factory=list)


@dataclass
class Thresholds:
    warning: int
    critical: int
    problem: str | None = None


# ---------------------------------------------------------------- the check


class CertExpiryCheck:
    name = CHECK

    def run(self, target: SweepTarget, clients) -> CheckResult:
        result = CheckResult(check=self.name, account=target.account, region=target.region)
        now = _parse_instant(target.now)
        limits = thresholds(target.settings)
        gaps: list[str] = []

        def attempt(what: str, fetch: Callable[[], Any]) -> Any:
            try:
                return fetch()
            except Exception as exc:  # fail safe: whatever stopped a listing makes the check incomplete, with why
                gaps.append(f"{what}: {incomplete_reason(exc)}")
                return None

        region = target.region
        slb_certs = attempt(f"SLB DescribeServerCertificates ({region})", lambda: slb_server_certificates(clients, region))
        slb_served = attempt(f"SLB DescribeLoadBalancerListeners ({region})", lambda: slb_https_listeners(clients, region))
        certs: list[Cert] = []
        for raw in slb_certs or []:
            cert = slb_cert(raw, now)
            cert.served_by = (slb_served or {}).get(cert.cert_id, [])
            certs.append(cert)
        listeners_known = {"slb": slb_served is not None}

        if region == str(target.settings.get("cert_cas_region") or DEFAULT_CAS_REGION):
            cas_certs = attempt("CAS ListUserCertificateOrder", lambda: cas_certificates(clients, region))
            served, known = cas_serving(clients, target, attempt, slb_certs, slb_served)
            listeners_known["cas"] = known
            for raw in cas_certs or []:
                cert = cas_cert(raw, now)
                cert.served_by = served.get(cert.cert_id, [])
                certs.append(cert)

        for cert in certs:
            finding = judge(cert, target, limits, listeners_known=listeners_known[cert.source])
            if finding is not None:
                result.findings.append(finding)
            if cert.days_left is not None:
                result.metrics.append(metric(cert, target))
        # What the check cannot see even when complete (CheckResult.note, for the report).
        notes = ["certificates of CLB domain extensions are not read"]
        if "cas" in listeners_known:
            notes.append("CAS certificates are judged here with the ALB and CLB listeners of "
                         + ", ".join(cas_listener_regions(target)) + " (cert_regions)")
        else:
            notes.append(f"CAS certificates are judged in the run of {target.settings.get('cert_cas_region') or DEFAULT_CAS_REGION}")
        result.note = "; ".join(notes)
        if gaps:
            result.complete = False
            result.reason = "; ".join(gaps)
        return result


def thresholds(settings: dict) -> Thresholds:
    """cert_warning_days and cert_critical_days (whole days, 0 to 3650, critical <= warning). A value that is not
    understood never switches the check off: the defaults are used and the problem rides in every finding."""
    def read(name: str, default: int) -> tuple[int, str | None]:
        raw = settings.get(name)
        if raw is None:
            return default, None
        try:
            value = int(str(raw).strip())
        except ValueError:
            return default, f"{name}={raw!r} is not a whole number of days; {default} used"
        if not 0 <= value <= 3650:
            return default, f"{name}={value} is outside 0..3650; {default} used"
        return value, None

    warning, p1 = read("cert_warning_days", DEFAULT_WARNING_DAYS)
    critical, p2 = read("cert_critical_days", DEFAULT_CRITICAL_DAYS)
    problems = [p for p in (p1, p2) if p]
    if critical > warning:
        problems.append(f"cert_critical_days={critical} is above cert_warning_days={warning}; both defaults used")
        warning, critical = DEFAULT_WARNING_DAYS, DEFAULT_CRITICAL_DAYS
    return Thresholds(warning, critical, "; ".join(problems) or None)


def _lower(severity: str) -> str:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - 1)]


def judge(cert: Cert, target: SweepTarget, limits: Thresholds, *, listeners_known: bool) -> Finding | None:
    served: bool | None = bool(cert.served_by) if listeners_known or cert.served_by else None
    if cert.unreadable is not None:
        kind, severity = "unreadable_date", "WARN"
    elif cert.expired:
        kind, severity = "expired", "CRITICAL"
    elif cert.days_left is not None and cert.days_left <= limits.critical:
        kind, severity = "expiring", "CRITICAL"
    elif cert.days_left is not None and cert.days_left <= limits.warning:
        kind, severity = "expiring", "WARN"
    else:
        return None
    rank = "served" if served else "unused" if served is False else "unknown"
    if rank == "unused":
        severity = _lower(severity)
    label = "CAS certificate" if cert.source == "cas" else "SLB server certificate"
    named = f"{label} {cert.cert_id}" + (f" ({cert.name})" if cert.name and cert.name != cert.cert_id else "")
    domains = ", ".join(cert.domains) or "no domain named"
    if kind == "unreadable_date":
        when = f"has an expiry date that cannot be read ({cert.unreadable})"
    elif kind == "expired":
        ago = -cert.days_left if cert.days_left is not None and cert.days_left < 0 else 0
        when = f"expired {_days(ago)} ago ({cert.not_after})" if ago else f"has expired ({cert.not_after})"
    else:
        when = "expires today" if cert.days_left == 0 else f"expires in {_days(cert.days_left)}"
        when += f" ({cert.not_after})"
    if rank == "served":
        where = "served by " + ", ".join(li.describe() for li in cert.served_by)
    elif rank == "unused":
        where = "not served by any listener read (" + ", ".join(_looked_in(cert, target)) + ")"
    else:
        where = "whether a listener serves it is unknown (the listeners could not be read)"
    detail = {"days_left": cert.days_left, "not_after": cert.not_after, "domains": cert.domains, "served": served,
              "served_by": [li.as_dict() for li in cert.served_by], "rank": rank, "source": cert.source,
              "warning_days": limits.warning, "critical_days": limits.critical}
    if cert.unreadable is not None:
        detail["unreadable"] = cert.unreadable
    if limits.problem:
        detail["settings_problem"] = limits.problem
    return Finding(check=CHECK, kind=kind, severity=severity, account=target.account, region=target.region,
                   resource_type=CAS_RESOURCE if cert.source == "cas" else SLB_RESOURCE, resource_id=cert.cert_id,
                   message=f"{named} for {domains} {when}; {where}", detail=detail)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _looked_in(cert: Cert, target: SweepTarget) -> list[str]:
    if cert.source == "slb":
        return [f"CLB listeners in {target.region}"]
    return [f"ALB and CLB listeners in {', '.join(cas_listener_regions(target))}"]


def metric(cert: Cert, target: SweepTarget) -> dict:
    return {"MetricName": METRIC, "Dimensions": {"certId": cert.cert_id, "region": target.region, "account": target.account},
            "Type": "0", "Values": {"value": cert.days_left}}


# ---------------------------------------------------------------- dates


def _parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def cas_cert(item: cas.ListUserCertificateOrderResponseBodyCertificateOrderList, now: datetime) -> Cert:
    cert_id = str(item.certificate_id) if item.certificate_id is not None else (item.instance_id or "?")
    domains = _domains(item.common_name, (item.sans or "").split(","))
    cert = Cert("cas", cert_id, item.name or "", domains, item.end_date, None)
    try:
        end = datetime.strptime((item.end_date or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        cert.unreadable = f"EndDate {item.end_date!r}" if item.end_date else "no EndDate"
        return cert
    cert.days_left = (end - now.astimezone(CHINA_TIME).date()).days
    cert.expired = bool(item.expired) or cert.days_left < 0
    return cert


def slb_cert(item: slb.DescribeServerCertificatesResponseBodyServerCertificatesServerCertificate, now: datetime) -> Cert:
    sans = item.subject_alternative_names.subject_alternative_name if item.subject_alternative_names else None
    cert = Cert("slb", item.server_certificate_id or "?", item.server_certificate_name or "", _domains(item.common_name, sans or []),
                item.expire_time, None)
    expires = _slb_expiry(item)
    if expires is None:
        cert.unreadable = f"ExpireTime {item.expire_time!r}" if item.expire_time else "no ExpireTime"
        if item.expire_time_stamp is not None:
            cert.unreadable += f", ExpireTimeStamp {item.expire_time_stamp!r}"
        return cert
    cert.not_after = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    seconds = (expires - now).total_seconds()
    cert.days_left = int(seconds // 86400)
    cert.expired = seconds <= 0
    return cert


def _slb_expiry(item) -> datetime | None:
    """ExpireTimeStamp (milliseconds) where it is a plausible instant, else ExpireTime; None when neither reads."""
    stamp = item.expire_time_stamp
    if isinstance(stamp, int) and not isinstance(stamp, bool) and 10**11 < stamp < 10**14:
        return datetime.fromtimestamp(stamp / 1000, tz=timezone.utc)
    try:
        return _parse_instant(item.expire_time) if item.expire_time else None
    except ValueError:
        return None


def _domains(common_name: str | None, sans) -> list[str]:
    out: list[str] = []
    for name in [common_name, *sans]:
        name = (name or "").strip()
        if name and name not in out:
            out.append(name)
    return out


# ---------------------------------------------------------------- listings


def cas_certificates(clients, region: str) -> list:
    """Every certificate CAS holds: the default listing (ISSUED, WILLEXPIRED) and the EXPIRED one, each paged to its
    TotalCount; one certificate listed by both (it expired between the calls) counts once."""
    seen: dict[Any, Any] = {}
    for status in (None, "EXPIRED"):
        for item in _cas_pages(clients, region, status):
            seen.setdefault(item.certificate_id if item.certificate_id is not None else id(item), item)
    return list(seen.values())


def _cas_pages(clients, region: str, status: str | None) -> Iterator:
    client = clients.cas(region)
    read = 0
    for page in range(1, MAX_PAGES + 1):
        request = cas.ListUserCertificateOrderRequest(order_type="CERT", status=status, current_page=page, show_size=CAS_PAGE)
        body = clients.call("cas:ListUserCertificateOrder", client.list_user_certificate_order, request).body
        items = body.certificate_order_list or []
        yield from items
        read += len(items)
        if not items:
            if body.total_count is not None and read < body.total_count:
                raise ListingNotWhole(f"ListUserCertificateOrder ended at {read} of {body.total_count} certificates")
            return
        if body.total_count is not None and read >= body.total_count:
            return
    raise ListingNotWhole(f"ListUserCertificateOrder did not end within {MAX_PAGES} pages")


def _token_pages(call_page: Callable[[str | None], Any], what: str) -> Iterator:
    """The answers of a NextToken listing, to its end; a token seen twice means the listing goes round."""
    token, seen = None, set()
    for _ in range(MAX_PAGES):
        body = call_page(token)
        yield body
        token = body.next_token or None
        if token is None:
            return
        if token in seen:
            raise ListingNotWhole(f"{what} answered the NextToken {token!r} twice")
        seen.add(token)
    raise ListingNotWhole(f"{what} did not end within {MAX_PAGES} pages")


def slb_server_certificates(clients, region: str) -> list:
    client = clients.slb(region)
    body = clients.call("slb:DescribeServerCertificates", client.describe_server_certificates,
                        slb.DescribeServerCertificatesRequest(region_id=region)).body
    return list(body.server_certificates.server_certificate or []) if body.server_certificates else []


def slb_https_listeners(clients, region: str) -> dict[str, list[Listener]]:
    """ServerCertificateId -> the CLB HTTPS listeners of the region that serve it."""
    client = clients.slb(region)
    served: dict[str, list[Listener]] = {}

    def page(token):
        request = slb.DescribeLoadBalancerListenersRequest(region_id=region, listener_protocol="https", max_results=LISTING_PAGE,
                                                           next_token=token)
        return clients.call("slb:DescribeLoadBalancerListeners", client.describe_load_balancer_listeners, request).body

    for body in _token_pages(page, "DescribeLoadBalancerListeners"):
        for li in body.listeners or []:
            config = li.httpslistener_config
            if config is not None and config.server_certificate_id:
                served.setdefault(config.server_certificate_id, []).append(
                    Listener("CLB", region, li.load_balancer_id or "?", f"https:{li.listener_port}", li.status or ""))
    return served


def alb_certificate_listeners(clients, region: str) -> dict[str, list[Listener]]:
    """ALB CertificateId ("12345-cn-hangzhou") -> the HTTPS/QUIC listeners of the region that serve it."""
    client = clients.alb(region)
    served: dict[str, list[Listener]] = {}

    def listeners_page(token):
        request = alb.ListListenersRequest(max_results=LISTING_PAGE, next_token=token)
        return clients.call("alb:ListListeners", client.list_listeners, request).body

    secure = [li for body in _token_pages(listeners_page, "ListListeners") for li in body.listeners or []
              if li.listener_protocol in ("HTTPS", "QUIC")]
    for li in secure:
        def certs_page(token, listener_id=li.listener_id):
            request = alb.ListListenerCertificatesRequest(listener_id=listener_id, certificate_type="Server",
                                                          max_results=LISTING_PAGE, next_token=token)
            return clients.call("alb:ListListenerCertificates", client.list_listener_certificates, request).body

        for body in _token_pages(certs_page, "ListListenerCertificates"):
            for cert in body.certificates or []:
                if cert.certificate_id:
                    served.setdefault(cert.certificate_id, []).append(
                        Listener("ALB", region, li.load_balancer_id or "?", li.listener_id or "?", li.listener_status or ""))
    return served


def cas_listener_regions(target: SweepTarget) -> list[str]:
    raw = target.settings.get("cert_regions")
    regions = [r.strip() for r in (raw.split(",") if isinstance(raw, str) else raw or []) if str(r).strip()]
    return regions or [target.region]


def cas_id_of(reference: str) -> str:
    """The CAS certificate id an ALB CertificateId or an SLB AliCloudCertificateId names: "12345-cn-hangzhou" -> "12345"
    (module docstring: UNCONFIRMED forms)."""
    head, sep, _ = reference.partition("-")
    return head if sep and head.isdigit() else reference


def cas_serving(clients, target: SweepTarget, attempt, slb_certs, slb_served) -> tuple[dict[str, list[Listener]], bool]:
    """CAS certificate id -> the ALB and CLB listeners serving it in `cert_regions`, and whether every listing of
    them was read (False: some listener may serve a certificate that reads as unused)."""
    served: dict[str, list[Listener]] = {}
    known = True
    for region in cas_listener_regions(target):
        by_alb = attempt(f"ALB listeners ({region})", lambda: alb_certificate_listeners(clients, region))
        if by_alb is None:
            known = False
        for ref, listeners in (by_alb or {}).items():
            served.setdefault(cas_id_of(ref), []).extend(listeners)
        if region == target.region:
            certs, listeners_by_cert = slb_certs, slb_served
        else:
            certs = attempt(f"SLB DescribeServerCertificates ({region})", lambda: slb_server_certificates(clients, region))
            listeners_by_cert = attempt(f"SLB DescribeLoadBalancerListeners ({region})", lambda: slb_https_listeners(clients, region))
        if certs is None or listeners_by_cert is None:
            known = False
        for cert in certs or []:
            if cert.is_ali_cloud_certificate == 1 and cert.ali_cloud_certificate_id:
                served.setdefault(cas_id_of(cert.ali_cloud_certificate_id), []).extend(
                    (listeners_by_cert or {}).get(cert.server_certificate_id, []))
    return {k: v for k, v in served.items() if v}, known
