"""Per-API pacing on the caller side and quota enforcement in the local cloud."""
from __future__ import annotations

from alibabacloud_ecs20140526 import models as ecs

from localcloud.gateway import Network
from localcloud.quota_gate import QuotaGate
from shared.clients import Clients, Credentials
from shared.quotas import Quotas, parse_overrides, quota_of
from shared.ratelimit import RateLimiter
from tests.support.accounts import ALICE_AK, ALICE_SECRET, REGION, make_account
from tests.support.clock import FakeClock


def test_the_limiter_paces_each_api_to_its_quota_and_apis_independently():
    clock = FakeClock()
    limiter = RateLimiter({"ecs:DescribeDisks": 10.0, "kms:DescribeSecret": 100.0}.get, burst_s=0, clock=clock, sleep=clock.sleep)
    for _ in range(21):
        limiter.acquire("ecs:DescribeDisks")
    assert abs(clock.now - 102.0) < 1e-9  # 21 calls at 10 QPS: the 21st goes 2 s after the first
    start = clock.now
    for _ in range(5):
        limiter.acquire("kms:DescribeSecret")  # its own schedule, not behind the ECS calls
    assert abs(clock.now - start - 0.04) < 1e-9
    assert limiter.acquire("oss:ListBuckets") == 0.0  # no quota: never waits


def test_the_gate_admits_a_second_of_burst_then_throttles_with_a_retry_after():
    clock = FakeClock()
    gate = QuotaGate({"ecs:DescribeDisks": 5.0}.get, clock=clock)
    assert [gate.admit("ecs:DescribeDisks") for _ in range(5)] == [None] * 5
    retry = gate.admit("ecs:DescribeDisks")
    assert retry == 200  # the next slot is 1/5 s away
    clock.now += 0.2
    assert gate.admit("ecs:DescribeDisks") is None


def test_published_quotas_and_overrides():
    assert quota_of("nosuch:Api").qps == 100.0 and "default" in quota_of("nosuch:Api").source
    assert parse_overrides("ecs:DescribeDisks=250, kms:DescribeSecret=50") == {"ecs:DescribeDisks": 250.0, "kms:DescribeSecret": 50.0}
    assert Quotas({"ecs:DescribeDisks": 7}).qps("ecs:DescribeDisks") == 7
    assert Quotas.from_env({"AUDIT_QPS": "garbage"}).overrides == {}  # a bad override keeps the published figures


def _clients(cloud, limiter=None):
    return Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url(REGION), limiter=limiter)


def test_a_quota_in_the_local_cloud_throttles_unpaced_callers_and_they_recover_by_retry_after(start_cloud):
    cloud = start_cloud(make_account())
    cloud.network = Network(quotas={"ecs:DescribeDisks": 20.0}.get)
    unpaced = _clients(cloud, limiter=RateLimiter(lambda api: None))
    client = unpaced.ecs()
    request = ecs.DescribeDisksRequest(region_id=REGION)
    for _ in range(30):  # 20 pass as the second's burst; the rest are throttled, wait, and pass
        unpaced.call("ecs:DescribeDisks", client.describe_disks, request)
    assert unpaced.calls.counts["ecs:DescribeDisks"] > 30  # the throttled attempts were retried


def test_paced_callers_are_never_throttled(start_cloud):
    cloud = start_cloud(make_account())
    cloud.network = Network(quotas={"ecs:DescribeDisks": 20.0}.get)
    paced = _clients(cloud, limiter=RateLimiter({"ecs:DescribeDisks": 20.0}.get))
    client = paced.ecs()
    request = ecs.DescribeDisksRequest(region_id=REGION)
    for _ in range(30):
        paced.call("ecs:DescribeDisks", client.describe_disks, request)
    assert paced.calls.counts["ecs:DescribeDisks"] == 30


def test_apis_in_one_quota_group_share_it():
    clock = FakeClock()
    quotas = Quotas()
    assert quotas.group("kms:ListSecrets") == quotas.group("kms:DescribeSecret")  # KMS's secret-metadata group (40 QPS)
    limiter = RateLimiter(quotas.qps, group_of=quotas.group, burst_s=0, clock=clock, sleep=clock.sleep)
    for i in range(40):
        limiter.acquire("kms:ListSecrets" if i % 2 else "kms:DescribeSecret")
    assert abs(clock.now - 100.0 - 39 / 40) < 1e-9  # 40 calls across both APIs take a second, not half of one


def test_kms_answers_its_quota_with_rejected_throttling(start_cloud):
    from alibabacloud_kms20160120 import models as kms
    from alibabacloud_tea_openapi.exceptions import ThrottlingException

    from tests.support.accounts import KEY
    from tests.support.clients import alice_kms

    cloud = start_cloud(make_account())
    cloud.network = Network(quotas={"kms:DescribeKey": 1.0}.get)
    client = alice_kms(cloud)
    client.describe_key(kms.DescribeKeyRequest(key_id=KEY))
    try:
        client.describe_key(kms.DescribeKeyRequest(key_id=KEY))
        raise AssertionError("the second call within the second should be throttled")
    except ThrottlingException as exc:
        assert exc.code == "Rejected.Throttling" and exc.status_code == 429 and exc.retry_after > 0
