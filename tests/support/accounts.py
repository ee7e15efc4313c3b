"""The test account: its ids and credentials, the base account every test starts from, and builders of
whole accounts (a test adds the records it needs with tests.support.resources)."""
from __future__ import annotations

import copy
from pathlib import Path

from localcloud.account import Account

ROOT = Path(__file__).resolve().parents[2]
S_YAML = ROOT / "s.yaml"
ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
KEY = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
OTHER_KEY = "7c1d9e20-4b3a-4f5e-9d8c-1a2b3c4d5e6f"
SHANGHAI_KEY = "5e1a9c3b-7d2f-4b8e-9a61-3c5d7e9f1b2a"  # the key two_region_account has in cn-shanghai
ALICE_AK = "LTAI5tTestAlice000000001"
ALICE_SECRET = "alice-test-secret-do-not-print"

# A role's temporary credentials, as a function is given them (valid for the hour after PROTOCOL_NOW).
STS_AK = "STS." + "LocalTestFAKE" + "0001"
STS_SECRET = "sts-test-secret"
STS_TOKEN = "CAIS" + "local-test-token-0001"
PROTOCOL_NOW = "2030-01-01T00:00:00Z"


def protocol_account(**sections) -> Account:
    """The account the OSS and SLS protocol tests share: alice, a role's STS credential, two regions."""
    return Account.from_data({
        "account_id": ACCOUNT_ID,
        "credentials": [
            {"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"},
            {"AccessKeyId": STS_AK, "AccessKeySecret": STS_SECRET, "UserName": "key-guard-role:fc", "IdentityType": "assumed-role",
             "SecurityToken": STS_TOKEN, "Expiration": "2030-01-01T01:00:00Z"},
        ],
        "regions": [{"RegionId": REGION}, {"RegionId": "cn-shanghai"}],
        **sections,
    })


BASE_ACCOUNT = {
    "account_id": ACCOUNT_ID,
    "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice", "IdentityType": "ram-user"}],
    "regions": [{"RegionId": REGION}],
    "kms": {"keys": [
        {"KeyId": KEY, "RegionId": REGION, "KeyState": "Enabled", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID},
        {"KeyId": OTHER_KEY, "RegionId": REGION, "KeyState": "Enabled", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID},
    ], "aliases": [{"AliasName": "alias/payments", "KeyId": KEY, "RegionId": REGION}]},
    "ecs": {"disks": [], "snapshots": []},
    "oss": {"buckets": [
        {"Name": "kms-steward-state", "Location": "oss-cn-hangzhou", "ServerSideEncryptionRule": {"SSEAlgorithm": "AES256"}},
    ]},
    "sls": {"logstores": [
        {"projectName": "kms-steward-logs", "logstoreName": "key-guard-decisions", "RegionId": REGION},
        {"projectName": "kms-steward-logs", "logstoreName": "fc-logs", "RegionId": REGION},
    ]},
}


def make_account(*, disks=(), snapshots=(), buckets=(), faults=(), key_tags=None, key_state=None, protection=None,
                 credentials=(), **sections) -> Account:
    """The base account plus what a test needs. `sections` add collections per product, e.g.
    make_account(rds={"instances": [...]}, kms={"secrets": [...]}): lists are appended to the base's; `credentials`
    are more callers beside alice."""
    data = copy.deepcopy(BASE_ACCOUNT)
    data["credentials"] += list(credentials)
    for product, collections in sections.items():
        target = data.setdefault(product, {})
        for name, value in collections.items():
            target[name] = target.get(name, []) + list(value) if isinstance(value, (list, tuple)) else value
    data["ecs"]["disks"] = [d for d in disks]
    data["ecs"]["snapshots"] = [s for s in snapshots]
    data["oss"]["buckets"] += [b for b in buckets]
    data["faults"] = list(faults)
    key = data["kms"]["keys"][0]
    if key_tags:
        key["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in key_tags.items()]
    if key_state:
        key["KeyState"] = key_state
        if key_state == "PendingDeletion":
            key["DeleteDate"] = "2099-01-01T00:00:00Z"
    if protection:
        key["DeletionProtection"] = protection
    # None values mean "field absent", as in a real API item
    for section in ("disks",):
        data["ecs"][section] = [{k: v for k, v in d.items() if v is not None} for d in data["ecs"][section]]
    return Account.from_data(data)


def two_region_account() -> Account:
    """The base account serving cn-shanghai too, with SHANGHAI_KEY there and an in-use disk encrypted with it."""
    data = copy.deepcopy(BASE_ACCOUNT)
    data["regions"] = [{"RegionId": REGION}, {"RegionId": "cn-shanghai"}]
    data["kms"]["keys"].append({"KeyId": SHANGHAI_KEY, "RegionId": "cn-shanghai", "KeyState": "Enabled",
                                "Origin": "Aliyun_KMS", "Creator": data["account_id"]})
    data["ecs"]["disks"] = [{"DiskId": "d-sh-app", "RegionId": "cn-shanghai", "Status": "In_use", "Encrypted": True,
                             "KMSKeyId": SHANGHAI_KEY, "InstanceId": "i-bp1app000001", "Type": "data"}]
    return Account.from_data(data)
