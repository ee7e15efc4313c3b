"""Certificate Management Service (CAS, "SSL Certificates Service") 2020-04-07: ListUserCertificateOrder, the
listing of the account's certificates with their expiry, common name and SANs.

Sources: "ListUserCertificateOrder" (https://www.alibabacloud.com/help/en/ssl-certificate/developer-reference/api-cas-2020-04-07-listusercertificateorder;
help.aliyun.com/document_detail/455804.html) and alibabacloud-cas20200407 3.9.4's models, whose field texts are the doc's:
- OrderType: CPACK (the default: resource "virtual orders", no certificate), BUY (purchase orders), UPLOAD (uploaded
  certificates only), CERT (issued and uploaded certificates). A caller that leaves OrderType out gets orders, not
  certificates: an empty list for an account that has only certificates, as emulated here.
- Status: for CERT/UPLOAD, "if Status is empty, valid certificates are returned by default, including issued and
  about-to-expire certificates" (ISSUED, WILLEXPIRED): an EXPIRED certificate is listed only when Status=EXPIRED is
  asked for. A sweep that lists with the default alone never sees an expired certificate.
- Paging: CurrentPage, ShowSize ("Default value: 50"); the answer has CurrentPage, ShowSize, TotalCount and
  CertificateOrderList. No maximum ShowSize is published (UNCONFIRMED): none is enforced here; a caller pages by
  TotalCount. The order of the items is not published (UNCONFIRMED): the account file's order.
- Certificate items (OrderType CERT/UPLOAD): CertificateId (long), Name, CommonName, Sans ("All domain names bound to
  the certificate. Multiple domain names are separated by commas"), StartDate and EndDate ("YYYY-MM-DD": a date, no
  time), Expired (boolean), Upload, Issuer, Fingerprint, SerialNo, InstanceId. CertEndTime (milliseconds) is "returned
  when OrderType is CPACK or BUY" only.
- Keyword: "fuzzy query, matches the domain name or the resource ID": a substring of CommonName, Sans, Name,
  InstanceId or the id (UNCONFIRMED which fields exactly).
- QPS: "10 calls per second" per user (the same page).

Emulated from the clock (the records never hold them, so a moved clock ages them): Expired and Status. A certificate
is EXPIRED once the clock's date in China Standard Time (UTC+8, the China site's zone; UNCONFIRMED which zone EndDate
is in) is past EndDate; WILLEXPIRED within WILL_EXPIRE_DAYS of it (UNCONFIRMED: the console warns 30 days ahead; the
API's threshold is not published); ISSUED before that. Revoked certificates are not emulated.

CAS is not regional: the China site answers every region's certificates from one endpoint (the SDK's
cas.aliyuncs.com), so the local cloud answers the same list at every regional endpoint. Errors: none are listed on
the API's page; the fault answers are in localcloud/fault_kinds.py.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar, Optional

from alibabacloud_cas20200407 import models as m
from pydantic import Field, field_validator, model_validator

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, served_page_size
from localcloud.records import AccountSection, Record

ORDER_TYPES = ("CPACK", "BUY", "UPLOAD", "CERT")
CERT_STATUSES = ("ISSUED", "WILLEXPIRED", "EXPIRED")  # what a certificate (not an order) can be in
ORDER_STATUSES = ("PAYED", "CHECKING", "CHECKED_FAIL", "ISSUED", "WILLEXPIRED", "EXPIRED", "NOTACTIVATED", "REVOKED")
DEFAULT_SHOW_SIZE = 50
WILL_EXPIRE_DAYS = 30
CHINA_TIME = timezone(timedelta(hours=8))


def end_date(text: str) -> date:
    """EndDate as the API spells it, YYYY-MM-DD; ValueError otherwise."""
    return datetime.strptime(text, "%Y-%m-%d").date()


class CasCertificate(Record):
    """A ListUserCertificateOrder item of OrderType CERT (or UPLOAD when `Upload` is true). Expired and Status are
    computed from EndDate and the clock, never stored."""

    sdk_model: ClassVar[Any] = m.ListUserCertificateOrderResponseBodyCertificateOrderList
    extra_fields: ClassVar[frozenset] = frozenset()

    CertificateId: int
    Name: Optional[str] = None
    CommonName: str
    Sans: Optional[str] = None
    StartDate: Optional[str] = None
    EndDate: str
    Upload: bool = False

    @field_validator("EndDate", "StartDate")
    @classmethod
    def _day(cls, v):
        if v is not None:
            try:
                end_date(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a date as CAS answers it (YYYY-MM-DD)") from None
        return v

    @model_validator(mode="after")
    def _no_derived_fields(self):
        derived = {"Expired", "Status"} & set(self.model_extra or {})
        if derived:
            raise ValueError(f"field(s) {', '.join(sorted(derived))}: computed from EndDate and the clock, not stored")
        return self

    def status(self, now: datetime) -> str:
        today = now.astimezone(CHINA_TIME).date()
        left = (end_date(self.EndDate) - today).days
        return "EXPIRED" if left < 0 else "WILLEXPIRED" if left <= WILL_EXPIRE_DAYS else "ISSUED"

    def item(self, now: datetime) -> dict:
        status = self.status(now)
        # Status is documented for orders only; whether a CERT item carries it is UNCONFIRMED: left out.
        return {**self.wire(), "Expired": status == "EXPIRED"}

    def matches(self, keyword: str) -> bool:
        fields = (self.CommonName, self.Sans or "", self.Name or "", str(self.CertificateId), self.model_extra.get("InstanceId") or "")
        return any(keyword in f for f in fields)


class CasSection(AccountSection):
    section: ClassVar[str] = "cas"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"certificates": ("CertificateId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("CertificateId", "CommonName")

    certificates: list[CasCertificate] = Field(default_factory=list)


class Cas(RpcProduct):
    code = "cas"
    service_name = "cas"
    version = "2020-04-07"
    endpoint_prefix = "cas"
    regional_param = None  # not regional: every endpoint answers the account's certificates

    @api("ListUserCertificateOrder")
    def list_user_certificate_order(self, call: Call) -> dict:
        order_type = call.get("OrderType", "CPACK")
        if order_type not in ORDER_TYPES:
            raise errors.invalid_parameter("OrderType", f"Valid values: {', '.join(ORDER_TYPES)}.")
        status = call.get("Status")
        if status is not None and status not in ORDER_STATUSES:
            raise errors.invalid_parameter("Status", f"Valid values: {', '.join(ORDER_STATUSES)}.")
        number = call.int("CurrentPage", 1, lo=1)
        asked = call.int("ShowSize", DEFAULT_SHOW_SIZE, lo=1)
        now = call.now
        if order_type in ("CPACK", "BUY"):
            certs = []  # orders are not emulated: an account of certificates has none
        else:
            certs = [c for c in self.account.cas.certificates if order_type == "CERT" or c.Upload]
            wanted = (status,) if status else ("ISSUED", "WILLEXPIRED")
            certs = [c for c in certs if c.status(now) in wanted]
        if (keyword := call.get("Keyword")) is not None:
            certs = [c for c in certs if c.matches(keyword)]
        size = served_page_size(call, asked)
        page = certs[(number - 1) * size:number * size]
        total = None if any(f.OmitTotal for f in call.faults) else len(certs)
        for cert in page:
            call.refer("ACS::CAS::Certificate", str(cert.CertificateId))
        items = [m.ListUserCertificateOrderResponseBodyCertificateOrderList().from_map(c.item(now)) for c in page]
        return m.ListUserCertificateOrderResponseBody(certificate_order_list=items, current_page=number, show_size=size,
                                                      total_count=total).to_map()
