"""Quota scope in the local cloud: Alibaba publishes API quotas per account, and KMS's per account and region
(KMS "Limits", https://www.alibabacloud.com/help/en/kms/support/limits); the local cloud counts them so."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.gateway import Network
from localcloud.quota_gate import ScopedQuotaGate, quota_scope
from tests.support.accounts import ALICE_AK, ALICE_SECRET, KEY, REGION, SHANGHAI_KEY, two_region_account


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _kms(cloud, region):
    return KmsClient(Config(access_key_id=ALICE_AK, access_key_secret=ALICE_SECRET, endpoint=cloud.endpoint(region),
                            protocol="http", region_id=region))


def test_a_kms_quota_is_per_region_over_http(start_cloud):
    cloud = start_cloud(two_region_account())
    cloud.network = Network(quotas={"kms:DescribeKey": 1.0}.get)
    hangzhou, shanghai = _kms(cloud, REGION), _kms(cloud, "cn-shanghai")
    hangzhou.describe_key(kms.DescribeKeyRequest(key_id=KEY))
    with pytest.raises(ThrottlingException):  # the second within the second in the same account and region
        hangzhou.describe_key(kms.DescribeKeyRequest(key_id=KEY))
    # Another region of the same account has a quota of its own (before: one quota for the whole cloud, refused).
    assert shanghai.describe_key(kms.DescribeKeyRequest(key_id=SHANGHAI_KEY)).body.key_metadata.key_id == SHANGHAI_KEY
    assert cloud.network.gate.refused == {"kms:DescribeKey": 1}


def test_each_account_has_its_own_quota_and_account_wide_apis_ignore_the_region():
    clock = FakeClock()
    gate = ScopedQuotaGate({"kms:DescribeKey": 1.0, "cas:ListUserCertificateOrder": 1.0}.get, clock=clock)
    assert gate.admit("kms:DescribeKey", account="111", region=REGION) is None
    assert gate.admit("kms:DescribeKey", account="111", region=REGION) is not None
    assert gate.admit("kms:DescribeKey", account="222", region=REGION) is None  # another account: its own quota
    assert gate.admit("kms:DescribeKey", account="111", region="cn-shanghai") is None
    # Certificate Management Service is not regional: one quota per account whichever endpoint is called.
    assert gate.admit("cas:ListUserCertificateOrder", account="111", region=REGION) is None
    assert gate.admit("cas:ListUserCertificateOrder", account="111", region="cn-shanghai") is not None
    assert quota_scope("cms:PutCustomEvent", "111", REGION) == ("111", "")
    assert quota_scope("kms:DescribeKey", "111", REGION) == ("111", REGION)


def test_each_account_has_its_own_quota_over_http():
    from localcloud.account import Account
    from localcloud.cloud import LocalCloud
    from tests.support.accounts import ACCOUNT_ID

    bob_ak, bob_secret = "LTAI5tTestBobQuota00001", "bob-quota-secret"
    home = Account.from_data({"account_id": ACCOUNT_ID, "regions": [{"RegionId": REGION}],
                              "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}]})
    member = Account.from_data({"account_id": "2234567890123456", "regions": [{"RegionId": REGION}],
                                "credentials": [{"AccessKeyId": bob_ak, "AccessKeySecret": bob_secret, "UserName": "bob"}]})
    with LocalCloud([home, member]) as cloud:
        cloud.network = Network(quotas={"kms:ListKeys": 1.0}.get)
        alice = _kms(cloud, REGION)
        bob = KmsClient(Config(access_key_id=bob_ak, access_key_secret=bob_secret, endpoint=cloud.endpoint(REGION),
                               protocol="http", region_id=REGION))
        alice.list_keys(kms.ListKeysRequest())
        with pytest.raises(ThrottlingException):
            alice.list_keys(kms.ListKeysRequest())
        bob.list_keys(kms.ListKeysRequest())  # the other account's quota is its own (before: throttled)
        assert cloud.network.gate.refused == {"kms:ListKeys": 1}
