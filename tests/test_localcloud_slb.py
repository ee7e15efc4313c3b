"""The emulated Classic Load Balancer through its official SDK (alibabacloud-slb20140515): the region's server
certificates with their expiry and domains, and the HTTPS listeners that name them."""
from __future__ import annotations

import pytest
from alibabacloud_slb20140515 import models as slb
from alibabacloud_slb20140515.client import Client as SlbClient

from localcloud.account import AccountError
from tests.support.accounts import REGION, make_account, protocol_account
from tests.support.clients import refused, sdk_config
from tests.support.resources import slb_https_listener, slb_server_certificate


def client_for(start_cloud, certs=(), listeners=()):
    cloud = start_cloud(make_account(slb={"server_certificates": list(certs), "listeners": list(listeners)}))
    return cloud, SlbClient(sdk_config(cloud))


def test_server_certificates_carry_expiry_common_name_and_sans(start_cloud):
    _, client = client_for(start_cloud, [slb_server_certificate("1231579-cn-hangzhou", "2030-01-26T23:59:59Z", "shop.example.com",
                                                                ("shop.example.com", "m.example.com"),
                                                                IsAliCloudCertificate=1, AliCloudCertificateId="4242")])
    body = client.describe_server_certificates(slb.DescribeServerCertificatesRequest(region_id=REGION)).body
    [cert] = body.server_certificates.server_certificate
    assert (cert.server_certificate_id, cert.common_name, cert.expire_time) == ("1231579-cn-hangzhou", "shop.example.com",
                                                                                "2030-01-26T23:59:59Z")
    assert cert.expire_time_stamp == 1895702399000  # derived from ExpireTime, in milliseconds
    assert cert.subject_alternative_names.subject_alternative_name == ["shop.example.com", "m.example.com"]
    assert (cert.is_ali_cloud_certificate, cert.ali_cloud_certificate_id) == (1, "4242")
    one = client.describe_server_certificates(slb.DescribeServerCertificatesRequest(region_id=REGION, server_certificate_id="nope"))
    assert one.body.server_certificates.server_certificate == []


def test_listeners_map_certificates_to_https_listeners_paged_by_token(start_cloud):
    listeners = [slb_https_listener(f"lb-{i:02}", "cert-a" if i % 2 else "cert-b") for i in range(25)]
    listeners.append({"LoadBalancerId": "lb-http", "RegionId": REGION, "ListenerPort": 80, "ListenerProtocol": "http"})
    _, client = client_for(start_cloud, listeners=listeners)

    seen, token, pages = [], None, 0
    while True:
        body = client.describe_load_balancer_listeners(slb.DescribeLoadBalancerListenersRequest(
            region_id=REGION, listener_protocol="https", max_results=10, next_token=token)).body
        pages += 1
        assert body.total_count == 25
        seen += [(li.load_balancer_id, li.httpslistener_config.server_certificate_id) for li in body.listeners]
        token = body.next_token
        if not token:
            break
    assert pages == 3 and len(seen) == 25 and seen[1] == ("lb-01", "cert-a")
    default = client.describe_load_balancer_listeners(slb.DescribeLoadBalancerListenersRequest(region_id=REGION)).body
    assert (len(default.listeners), default.total_count) == (20, 26)  # 20 a page unless told
    assert refused(lambda: client.describe_load_balancer_listeners(
        slb.DescribeLoadBalancerListenersRequest(region_id=REGION, max_results=101))) == ("InvalidParameter", 400)
    picked = client.describe_load_balancer_listeners(slb.DescribeLoadBalancerListenersRequest(
        region_id=REGION, load_balancer_id=["lb-03", "lb-http"])).body
    assert sorted(li.load_balancer_id for li in picked.listeners) == ["lb-03", "lb-http"]


def test_each_region_answers_its_own_certificates(start_cloud):
    cloud = start_cloud(protocol_account(slb={"server_certificates": [
        slb_server_certificate("hz", "2031-01-01T00:00:00Z"), slb_server_certificate("sh", "2031-01-01T00:00:00Z", region="cn-shanghai")]}))
    for region, expected in ((REGION, "hz"), ("cn-shanghai", "sh")):
        config = sdk_config(cloud)
        config.endpoint, config.region_id = cloud.endpoint(region), region
        body = SlbClient(config).describe_server_certificates(slb.DescribeServerCertificatesRequest(region_id=region)).body
        assert [c.server_certificate_id for c in body.server_certificates.server_certificate] == [expected]


def test_denied_listing_answers_forbidden(start_cloud):
    cloud, client = client_for(start_cloud)
    cloud.faults.add("slb:DescribeServerCertificates", kind="denied")
    assert refused(lambda: client.describe_server_certificates(slb.DescribeServerCertificatesRequest(region_id=REGION))) == (
        "Forbidden.RAM", 403)


@pytest.mark.parametrize("section, message", [
    ({"server_certificates": [slb_server_certificate("c1", "next week")]}, "ExpireTime"),
    ({"listeners": [{"LoadBalancerId": "lb-1", "RegionId": REGION, "ListenerPort": 443, "ListenerProtocol": "https"}]},
     "HTTPSListenerConfig"),
])
def test_account_file_refuses_what_slb_cannot_answer(section, message):
    with pytest.raises(AccountError) as bad:
        make_account(slb=section)
    assert message in str(bad.value)
