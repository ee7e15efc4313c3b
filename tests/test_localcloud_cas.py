"""The emulated Certificate Management Service through its official SDK (alibabacloud-cas20200407):
ListUserCertificateOrder's order types, its default that hides expired certificates, paging, and a clock that ages
certificates."""
from __future__ import annotations

from datetime import timedelta

import pytest
from alibabacloud_cas20200407 import models as cas
from alibabacloud_cas20200407.client import Client as CasClient

from localcloud.account import AccountError
from tests.support.accounts import make_account
from tests.support.clients import refused, sdk_config
from tests.support.resources import cas_certificate

NOW = "2030-01-01T00:00:00Z"


def client_for(start_cloud, *certs):
    cloud = start_cloud(make_account(cas={"certificates": list(certs)}), now=NOW)
    return cloud, CasClient(sdk_config(cloud))


def listed(client, **kwargs) -> cas.ListUserCertificateOrderResponseBody:
    return client.list_user_certificate_order(cas.ListUserCertificateOrderRequest(**kwargs)).body


def test_cert_listing_names_expiry_and_domains_and_leaves_expired_ones_out_by_default(start_cloud):
    _, client = client_for(start_cloud, cas_certificate(101, "2030-06-01", "www.example.com", "www.example.com,api.example.com"),
                           cas_certificate(102, "2030-01-20"), cas_certificate(103, "2029-12-01"))

    body = listed(client, order_type="CERT")
    assert [(c.certificate_id, c.end_date, c.expired) for c in body.certificate_order_list] == [
        (101, "2030-06-01", False), (102, "2030-01-20", False)]
    first = body.certificate_order_list[0]
    assert (first.common_name, first.sans, first.name) == ("www.example.com", "www.example.com,api.example.com", "cert-101")
    assert (body.total_count, body.current_page, body.show_size) == (2, 1, 50)

    expired = listed(client, order_type="CERT", status="EXPIRED").certificate_order_list
    assert [(c.certificate_id, c.expired) for c in expired] == [(103, True)]
    assert [c.certificate_id for c in listed(client, order_type="CERT", status="WILLEXPIRED").certificate_order_list] == [102]


def test_without_order_type_the_answer_is_orders_not_certificates(start_cloud):
    _, client = client_for(start_cloud, cas_certificate(101, "2030-06-01"))
    body = listed(client)  # OrderType defaults to CPACK: resource orders, none here
    assert (body.certificate_order_list, body.total_count) == ([], 0)
    assert [c.certificate_id for c in listed(client, order_type="UPLOAD").certificate_order_list] == []
    assert refused(lambda: listed(client, order_type="CERTS")) == ("InvalidParameter", 400)


def test_pages_by_current_page_and_show_size_with_the_total(start_cloud):
    _, client = client_for(start_cloud, *[cas_certificate(200 + i, "2031-01-01") for i in range(7)])
    pages = [listed(client, order_type="CERT", current_page=n, show_size=3) for n in (1, 2, 3, 4)]
    assert [[c.certificate_id for c in p.certificate_order_list] for p in pages] == [
        [200, 201, 202], [203, 204, 205], [206], []]
    assert {p.total_count for p in pages} == {7}


def test_moving_the_clock_expires_a_certificate(start_cloud):
    cloud, client = client_for(start_cloud, cas_certificate(101, "2030-01-05"))
    assert [c.certificate_id for c in listed(client, order_type="CERT").certificate_order_list] == [101]
    cloud.clock.advance(timedelta(days=5))  # 2030-01-06 08:00 in China time: past EndDate
    assert listed(client, order_type="CERT").certificate_order_list == []
    assert [c.expired for c in listed(client, order_type="CERT", status="EXPIRED").certificate_order_list] == [True]


def test_keyword_matches_domains_and_ids(start_cloud):
    _, client = client_for(start_cloud, cas_certificate(101, "2031-01-01", "a.example.com"),
                           cas_certificate(102, "2031-01-01", "b.example.org", "b.example.org,c.example.org"))
    assert [c.certificate_id for c in listed(client, order_type="CERT", keyword="c.example").certificate_order_list] == [102]
    assert [c.certificate_id for c in listed(client, order_type="CERT", keyword="101").certificate_order_list] == [101]


@pytest.mark.parametrize("kind, code, status", [("denied", "Forbidden.RAM", 403), ("throttled", "Throttling.User", 400)])
def test_fault_kinds_answer_with_the_pop_codes(start_cloud, kind, code, status):
    cloud, client = client_for(start_cloud, cas_certificate(101, "2031-01-01"))
    cloud.faults.add("cas:ListUserCertificateOrder", kind=kind)
    assert refused(lambda: listed(client, order_type="CERT")) == (code, status)


@pytest.mark.parametrize("record, message", [
    (cas_certificate(1, "2030-13-01"), "YYYY-MM-DD"),
    (cas_certificate(1, "2030-01-01", Expired=True), "computed from EndDate"),
    (cas_certificate(1, "2030-01-01", EndTime="x"), "unknown field(s) EndTime"),
])
def test_account_file_refuses_bad_dates_and_stored_states(record, message):
    with pytest.raises(AccountError) as bad:
        make_account(cas={"certificates": [record]})
    assert message in str(bad.value)
