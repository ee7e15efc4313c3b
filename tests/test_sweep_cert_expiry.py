"""The certificate-expiry check against the local cloud, through the official SDKs, with the clock moved: expired,
7-day and 30-day certificates of CAS (served by ALB) and SLB (served by CLB listeners), served versus unused, a date
that does not read, listings denied or throttled, and the days-to-expiry metrics."""
from __future__ import annotations

from datetime import timedelta

import pytest

from localcloud.clock import iso
from shared.sweeps.checks.cert_expiry import CertExpiryCheck, thresholds
from shared.sweeps.findings import SweepTarget
from tests.support.accounts import ACCOUNT_ID, REGION, make_account, protocol_account
from tests.support.resources import alb_listener, cas_certificate, slb_https_listener, slb_server_certificate
from tests.support.scanners import clients

NOW = "2030-01-01T00:00:00Z"  # 08:00 on 2030-01-01 in China time, the zone CAS dates are read in


def sweep(cloud, region: str = REGION, **settings):
    target = SweepTarget(account=ACCOUNT_ID, region=region, now=iso(cloud.clock.now()), settings=settings)
    return CertExpiryCheck().run(target, clients(cloud, region))


def by_id(result) -> dict:
    return {f.resource_id: f for f in result.findings}


@pytest.fixture
def cert_cloud(start_cloud):
    """CAS: 101 in 59 days, 102 in 19, 103 in 4, 104 expired 12 days ago (all served by ALB), 105 in 4 days unused.
    SLB: s-served ends in 3 days behind a CLB listener, s-spare in 20 days on no listener."""
    account = make_account(
        cas={"certificates": [cas_certificate(101, "2030-03-01", "www.example.com", "www.example.com,example.com"),
                              cas_certificate(102, "2030-01-20", "api.example.com"),
                              cas_certificate(103, "2030-01-05", "pay.example.com"),
                              cas_certificate(104, "2029-12-20", "old.example.com"),
                              cas_certificate(105, "2030-01-05", "spare.example.com")]},
        alb={"listeners": [alb_listener("lsr-web", "101-cn-hangzhou", "102-cn-hangzhou", lb_id="alb-web"),
                           alb_listener("lsr-pay", "103-cn-hangzhou", "104-cn-hangzhou", lb_id="alb-pay", port=8443),
                           alb_listener("lsr-http", lb_id="alb-web", protocol="HTTP", port=80)]},
        slb={"server_certificates": [slb_server_certificate("s-served", "2030-01-04T00:00:00Z", "shop.example.com",
                                                            ("shop.example.com", "m.example.com")),
                                     slb_server_certificate("s-spare", "2030-01-21T12:00:00Z", "spare.shop.example.com")],
             "listeners": [slb_https_listener("lb-shop", "s-served")]})
    return start_cloud(account, now=NOW)


def test_expired_and_expiring_certificates_ranked_by_whether_a_listener_serves_them(cert_cloud):
    result = sweep(cert_cloud)
    assert result.complete and result.reason is None
    found = by_id(result)
    assert sorted(found) == ["102", "103", "104", "105", "s-served", "s-spare"]  # 101 ends in 59 days: fine
    assert [(found[i].kind, found[i].severity) for i in ("104", "103", "102", "105")] == [
        ("expired", "CRITICAL"), ("expiring", "CRITICAL"), ("expiring", "WARN"), ("expiring", "WARN")]
    # 105 ends as soon as 103, but nothing serves it: one level lower
    assert (found["105"].detail["rank"], found["105"].detail["served"], found["105"].detail["days_left"]) == ("unused", False, 4)
    assert found["103"].message == ("CAS certificate 103 (cert-103) for pay.example.com expires in 4 days (2030-01-05); "
                                    "served by ALB alb-pay listener lsr-pay (cn-hangzhou)")
    assert found["104"].message.startswith("CAS certificate 104 (cert-104) for old.example.com expired 12 days ago (2029-12-20)")
    assert "not served by any listener read (ALB and CLB listeners in cn-hangzhou)" in found["105"].message
    assert found["102"].detail["served_by"] == [{"type": "ALB", "region": REGION, "loadBalancerId": "alb-web",
                                                 "listener": "lsr-web", "status": "Running"}]
    assert {f.resource_type for f in result.findings} == {"ACS::CAS::Certificate", "ACS::SLB::ServerCertificate"}
    assert found["104"].finding_id == f"cert_expiry/expired/{ACCOUNT_ID}/{REGION}/ACS::CAS::Certificate/104"


def test_slb_certificates_served_by_clb_listeners(cert_cloud):
    found = by_id(sweep(cert_cloud))
    served, spare = found["s-served"], found["s-spare"]
    assert (served.kind, served.severity, served.detail["days_left"]) == ("expiring", "CRITICAL", 3)
    assert served.message == ("SLB server certificate s-served (name-s-served) for shop.example.com, m.example.com expires in "
                              "3 days (2030-01-04T00:00:00Z); served by CLB lb-shop https:443 (cn-hangzhou)")
    assert (spare.kind, spare.severity, spare.detail["rank"], spare.detail["days_left"]) == ("expiring", "INFO", "unused", 20)


def test_every_certificate_yields_a_days_to_expiry_metric(cert_cloud):
    metrics = {m["Dimensions"]["certId"]: m for m in sweep(cert_cloud).metrics}
    assert {k: m["Values"]["value"] for k, m in metrics.items()} == {
        "101": 59, "102": 19, "103": 4, "104": -12, "105": 4, "s-served": 3, "s-spare": 20}
    assert metrics["101"] == {"MetricName": "CertificateDaysToExpiry", "Type": "0", "Values": {"value": 59},
                              "Dimensions": {"certId": "101", "region": REGION, "account": ACCOUNT_ID}}


def test_moving_the_clock_raises_a_certificate_through_warn_critical_and_expired(start_cloud):
    cloud = start_cloud(make_account(cas={"certificates": [cas_certificate(301, "2030-02-15", "app.example.com")]},
                                     alb={"listeners": [alb_listener("lsr-app", "301-cn-hangzhou")]}), now=NOW)
    assert sweep(cloud).findings == []  # 45 days left
    seen = []
    for days in (15, 8, 15, 1, 7):  # 30, 22, 7, 6 days left, then 1 day past EndDate
        cloud.clock.advance(timedelta(days=days))
        [finding] = sweep(cloud).findings
        seen.append((finding.kind, finding.severity, finding.detail["days_left"]))
    assert seen == [("expiring", "WARN", 30), ("expiring", "WARN", 22), ("expiring", "CRITICAL", 7),
                    ("expiring", "CRITICAL", 6), ("expired", "CRITICAL", -1)]


def test_thresholds_come_from_the_target_settings(cert_cloud):
    found = by_id(sweep(cert_cloud, cert_warning_days=60, cert_critical_days=20))
    assert (found["101"].kind, found["101"].severity) == ("expiring", "WARN")  # 59 days, warned from 60
    assert found["102"].severity == "CRITICAL"  # 19 days, critical from 20
    bad = thresholds({"cert_warning_days": "soon", "cert_critical_days": 40})
    assert (bad.warning, bad.critical) == (30, 7) and "soon" in bad.problem


def test_a_date_that_does_not_read_is_a_finding_not_a_crash(cert_cloud):
    cert_cloud.faults.respond("cas:ListUserCertificateOrder", {"CurrentPage": 1, "ShowSize": 50, "TotalCount": 1, "CertificateOrderList": [
        {"CertificateId": 401, "Name": "odd", "CommonName": "odd.example.com", "Sans": "odd.example.com", "EndDate": "2030-02-30",
         "Expired": False}]})
    cert_cloud.faults.respond("slb:DescribeServerCertificates", {"ServerCertificates": {"ServerCertificate": [
        {"ServerCertificateId": "s-odd", "RegionId": REGION, "CommonName": "odd.shop.example.com", "ExpireTime": "soon"}]}})
    result = sweep(cert_cloud)
    found = by_id(result)
    assert result.complete
    assert (found["401"].kind, found["401"].severity, found["401"].detail["rank"]) == ("unreadable_date", "INFO", "unused")
    assert "EndDate '2030-02-30'" in found["401"].message
    assert (found["s-odd"].kind, found["s-odd"].detail["days_left"]) == ("unreadable_date", None)
    assert "ExpireTime 'soon'" in found["s-odd"].message
    assert "401" not in {m["Dimensions"]["certId"] for m in result.metrics}  # no day count to publish


def test_a_denied_certificate_listing_makes_the_result_incomplete(cert_cloud):
    cert_cloud.faults.add("cas:ListUserCertificateOrder", kind="denied")
    result = sweep(cert_cloud)
    assert not result.complete
    assert result.reason.startswith("CAS ListUserCertificateOrder: access denied (Forbidden.RAM")
    assert sorted(by_id(result)) == ["s-served", "s-spare"]  # what could be read is still reported


def test_unreadable_listeners_never_lower_a_severity(cert_cloud):
    cert_cloud.faults.add("alb:ListListeners", kind="denied")
    result = sweep(cert_cloud)
    found = by_id(result)
    assert not result.complete and "ALB listeners (cn-hangzhou): access denied" in result.reason
    assert (found["105"].severity, found["105"].detail["rank"], found["105"].detail["served"]) == ("CRITICAL", "unknown", None)
    assert "could not be read" in found["105"].message


def test_a_throttled_listing_past_retries_is_incomplete(cert_cloud):
    cert_cloud.faults.add("slb:DescribeServerCertificates", kind="throttled")
    result = sweep(cert_cloud)
    assert not result.complete and "SLB DescribeServerCertificates (cn-hangzhou): throttled past retries" in result.reason
    assert cert_cloud.calls.get("slb:DescribeServerCertificates") == 4  # retried, then given up
    assert "103" in by_id(result)


def test_cas_certificates_are_reported_once_in_the_cas_region_with_listeners_of_every_swept_region(start_cloud):
    account = protocol_account(
        cas={"certificates": [cas_certificate(501, "2030-01-04", "sh.example.com")]},
        alb={"listeners": [alb_listener("lsr-sh", "501-cn-hangzhou", lb_id="alb-sh", region="cn-shanghai")]})
    cloud = start_cloud(account, now=NOW)
    shanghai = sweep(cloud, "cn-shanghai", cert_regions=[REGION, "cn-shanghai"])
    assert shanghai.findings == [] and shanghai.complete  # CAS is read in the CAS region's run only
    assert "CAS certificates are judged in the run of cn-hangzhou" in shanghai.note
    [finding] = sweep(cloud, REGION, cert_regions=[REGION, "cn-shanghai"]).findings
    assert (finding.severity, finding.detail["rank"]) == ("CRITICAL", "served")
    assert finding.message.endswith("served by ALB alb-sh listener lsr-sh (cn-shanghai)")
    [alone] = sweep(cloud, REGION).findings  # cn-shanghai not swept: nothing serves it that the check can see
    assert (alone.severity, alone.detail["rank"]) == ("WARN", "unused")


def test_an_slb_certificate_imported_from_cas_serves_that_cas_certificate(start_cloud):
    account = make_account(cas={"certificates": [cas_certificate(601, "2030-01-03", "clb.example.com")]},
                           slb={"server_certificates": [slb_server_certificate("s-601", "2030-01-03T12:00:00Z", "clb.example.com",
                                                                               IsAliCloudCertificate=1, AliCloudCertificateId="601")],
                                "listeners": [slb_https_listener("lb-clb", "s-601")]})
    found = by_id(sweep(start_cloud(account, now=NOW)))
    assert (found["601"].severity, found["601"].detail["rank"]) == ("CRITICAL", "served")
    assert "served by CLB lb-clb https:443 (cn-hangzhou)" in found["601"].message
