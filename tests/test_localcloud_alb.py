"""The emulated Application Load Balancer through its official SDK (alibabacloud-alb20200616): the region's
listeners and the CAS certificates each HTTPS/QUIC listener serves."""
from __future__ import annotations

from alibabacloud_alb20200616 import models as alb
from alibabacloud_alb20200616.client import Client as AlbClient

from tests.support.accounts import REGION, make_account, protocol_account
from tests.support.clients import refused, sdk_config
from tests.support.resources import alb_listener


def client_for(start_cloud, *listeners):
    cloud = start_cloud(make_account(alb={"listeners": list(listeners)}))
    return cloud, AlbClient(sdk_config(cloud))


def test_listeners_page_by_token_and_filter_on_protocol(start_cloud):
    _, client = client_for(start_cloud, *[alb_listener(f"lsr-{i:02}", "101-cn-hangzhou") for i in range(23)],
                           alb_listener("lsr-http", protocol="HTTP", port=80))
    first = client.list_listeners(alb.ListListenersRequest()).body
    assert (len(first.listeners), first.total_count, first.max_results) == (20, 24, 20)
    rest = client.list_listeners(alb.ListListenersRequest(next_token=first.next_token)).body
    assert (len(rest.listeners), rest.next_token) == (4, None)
    https = client.list_listeners(alb.ListListenersRequest(listener_protocol="HTTPS", max_results=100)).body
    assert https.total_count == 23 and {li.listener_protocol for li in https.listeners} == {"HTTPS"}
    one = client.list_listeners(alb.ListListenersRequest(listener_ids=["lsr-http"])).body
    assert [(li.listener_id, li.listener_port, li.load_balancer_id) for li in one.listeners] == [("lsr-http", 80, "alb-web01")]


def test_listener_certificates_name_cas_certificates(start_cloud):
    _, client = client_for(start_cloud, alb_listener("lsr-web", "101-cn-hangzhou", "102-cn-hangzhou"))
    body = client.list_listener_certificates(alb.ListListenerCertificatesRequest(listener_id="lsr-web")).body
    assert [(c.certificate_id, c.is_default, c.status, c.certificate_type) for c in body.certificates] == [
        ("101-cn-hangzhou", True, "Associated", "Server"), ("102-cn-hangzhou", False, "Associated", "Server")]
    assert body.total_count == 2
    paged = client.list_listener_certificates(alb.ListListenerCertificatesRequest(listener_id="lsr-web", max_results=1)).body
    assert len(paged.certificates) == 1 and paged.next_token


def test_unknown_or_plain_listeners_are_refused(start_cloud):
    _, client = client_for(start_cloud, alb_listener("lsr-http", protocol="HTTP", port=80))
    assert refused(lambda: client.list_listener_certificates(alb.ListListenerCertificatesRequest(listener_id="lsr-none"))) == (
        "ResourceNotFound.Listener", 404)
    assert refused(lambda: client.list_listener_certificates(alb.ListListenerCertificatesRequest(listener_id="lsr-http"))) == (
        "OperationDenied.ListenerProtocolNotSupport", 400)


def test_each_regional_endpoint_lists_its_own_listeners(start_cloud):
    cloud = start_cloud(protocol_account(alb={"listeners": [alb_listener("lsr-hz"), alb_listener("lsr-sh", region="cn-shanghai")]}))
    for region, expected in ((REGION, "lsr-hz"), ("cn-shanghai", "lsr-sh")):
        config = sdk_config(cloud)
        config.endpoint, config.region_id = cloud.endpoint(region), region
        assert [li.listener_id for li in AlbClient(config).list_listeners(alb.ListListenersRequest()).body.listeners] == [expected]


def test_throttled_listing_answers_the_pop_throttling_code(start_cloud):
    cloud, client = client_for(start_cloud)
    cloud.faults.add("alb:ListListeners", kind="throttled")
    assert refused(lambda: client.list_listeners(alb.ListListenersRequest())) == ("Throttling.User", 400)
