"""cert-sweep as deployed (its timer, s.yaml's environment, on the local cloud): a CAS certificate is judged in the run
of SWEEP_CERT_CAS_REGION, and the listeners serving it are looked for in every region the sweep covers in the account
(SWEEP_REGIONS, `all` resolved), in-process and fanned out; a certificate served only in another swept region is
reported as served, with its rank, not as unused."""
from __future__ import annotations

import copy

import pytest

from localcloud.account import Account
from shared.sweeps.settings import SweepSettings
from tests.support.accounts import BASE_ACCOUNT, REGION
from tests.support.resources import alb_listener, cas_certificate
from tests.support.sweeps import NOW, events

CERT_LOGSTORE = "cert-sweep-findings"


def account() -> Account:
    data = copy.deepcopy(BASE_ACCOUNT)
    data["regions"] = [{"RegionId": REGION}, {"RegionId": "cn-shanghai"}]
    data["cas"] = {"certificates": [cas_certificate(501, "2030-01-04", "sh.example.com")]}  # 3 days left: CRITICAL
    data["alb"] = {"listeners": [alb_listener("lsr-sh", "501-cn-hangzhou", lb_id="alb-sh", region="cn-shanghai")]}
    data.setdefault("sls", {}).setdefault("logstores", []).append(
        {"projectName": "kms-steward-logs", "logstoreName": CERT_LOGSTORE, "RegionId": REGION})
    return Account.from_data(data)


@pytest.mark.parametrize("fanout", ["off", "on"])
@pytest.mark.parametrize("regions", ["cn-hangzhou,cn-shanghai", "all"])
def test_a_cas_certificate_served_in_another_swept_region_is_reported_served(start_cloud, fanout, regions):
    cloud = start_cloud(account(), now=NOW, env={"SWEEP_REGIONS": regions, "SWEEP_FANOUT": fanout})
    invocation = cloud.fc.fire_timer("cert-sweep")
    assert invocation.ok, invocation.error
    assert cloud.fc.drain(120)
    [alert] = [e for e in events(cloud, "KmsStewardCriticalFinding") if e["resourceId"] == "501"]
    assert alert["severity"] == "CRITICAL" and alert["detail"]["rank"] == "served"
    assert alert["detail"]["served"] is True and "alb-sh" in alert["message"] and "cn-shanghai" in alert["message"]
    assert len(events(cloud, "KmsStewardSweepSummary")) == 1


def test_the_cas_region_is_configurable_and_checked():
    assert SweepSettings.from_env({}).check_settings()["cert_cas_region"] == "cn-hangzhou"
    intl = SweepSettings.from_env({"SWEEP_CERT_CAS_REGION": "ap-southeast-1"})
    assert intl.check_settings(("ap-southeast-1", "eu-central-1")) == {**intl.check_settings(), "cert_regions": [
        "ap-southeast-1", "eu-central-1"]} and intl.cert_cas_region == "ap-southeast-1"
    typo = SweepSettings.from_env({"SWEEP_CERT_CAS_REGION": "cn-hangzou"})
    assert typo.cert_cas_region == "cn-hangzhou" and any("SWEEP_CERT_CAS_REGION" in p for p in typo.problems)


def test_a_cas_region_the_sweep_does_not_cover_is_said_in_the_summary(start_cloud):
    cloud = start_cloud(account(), now=NOW, env={"SWEEP_REGIONS": "cn-shanghai", "SWEEP_FANOUT": "off"})
    assert cloud.fc.fire_timer("cert-sweep").ok
    assert cloud.fc.drain(60)
    [summary] = events(cloud, "KmsStewardSweepSummary")
    assert any(r["input"] == "SWEEP_CERT_CAS_REGION" and "cn-hangzhou" in r["reason"] for r in summary["rejected"])
