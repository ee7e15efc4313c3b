"""Shared fixtures: a local cloud wired from the project's s.yaml, seeded from an account built
per test, and the official SDK clients pointed at it (the only thing that changes is the endpoint)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.account import Account
from localcloud.cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[1]
S_YAML = ROOT / "s.yaml"
ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
KEY = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
OTHER_KEY = "7c1d9e20-4b3a-4f5e-9d8c-1a2b3c4d5e6f"
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


def disk(disk_id: str, key: str | None = KEY, status: str = "In_use", **extra) -> dict:
    return {"DiskId": disk_id, "RegionId": REGION, "Status": status, "Encrypted": key is not None, "KMSKeyId": key,
            "InstanceId": "i-bp1app000001" if status == "In_use" else None, "Type": "data", **extra}


def snapshot(snapshot_id: str, key: str = KEY) -> dict:
    return {"SnapshotId": snapshot_id, "RegionId": REGION, "Encrypted": True, "KMSKeyId": key, "Status": "accomplished"}


def bucket(name: str, key: str | None = KEY) -> dict:
    rule = {"SSEAlgorithm": "KMS", "KMSMasterKeyID": key} if key else None
    return {"Name": name, "Location": "oss-cn-hangzhou", "ServerSideEncryptionRule": rule}


def make_account(*, disks=(), snapshots=(), buckets=(), faults=(), key_tags=None, key_state=None, protection=None,
                 **sections) -> Account:
    """The base account plus what a test needs. `sections` add collections per product, e.g.
    make_account(rds={"instances": [...]}, kms={"secrets": [...]}): lists are appended to the base's."""
    data = copy.deepcopy(BASE_ACCOUNT)
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


@pytest.fixture
def start_cloud():
    """start_cloud(account, **options) -> a running LocalCloud wired from s.yaml; stopped after the test."""
    started = []

    def start(account: Account, *, env: dict | None = None, duplicate_delivery: bool = False, now: str | None = None):
        from localcloud.clock import Clock

        cloud = LocalCloud(account, project=S_YAML, env=env or {}, duplicate_delivery=duplicate_delivery, clock=Clock(now))
        cloud.start()
        started.append(cloud)
        return cloud

    yield start
    for cloud in started:
        cloud.stop()


def sdk_config(cloud: LocalCloud, *, access_key_id: str = ALICE_AK, secret: str = ALICE_SECRET, user_agent: str | None = None) -> Config:
    return Config(access_key_id=access_key_id, access_key_secret=secret, endpoint=cloud.endpoint(REGION), protocol="http",
                  region_id=REGION, user_agent=user_agent)


def alice_kms(cloud: LocalCloud, **kwargs) -> KmsClient:
    return KmsClient(sdk_config(cloud, **kwargs))


def key_state(cloud: LocalCloud, key_id: str = KEY) -> str:
    return alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state


def decision_records(cloud: LocalCloud) -> list[dict]:
    """key-guard's decision records as SLS holds them (contents decoded back from their JSON strings)."""
    out = []
    for log in cloud.account.sls.logs:
        if log.logstoreName != "key-guard-decisions":
            continue
        out.append({k: _maybe_json(v) for k, v in log.contents.items()})
    return out


def _maybe_json(value: str):
    """Records keep nested values as JSON text (objects, lists, booleans, numbers); ids stay text."""
    if value[:1] in "[{" or value in ("true", "false") or value.lstrip("-").isdigit() and len(value) < 16:
        return json.loads(value)
    return value


def alerts(cloud: LocalCloud) -> list[dict]:
    return [{"Name": e.Name, **json.loads(e.Content)} for e in cloud.account.cms.events]


def error_of(call) -> ClientException:
    """What the official SDK raises for `call()`, which must fail with a 4xx answer."""
    with pytest.raises(ClientException) as raised:
        call()
    return raised.value


def refused(call) -> tuple[str, int]:
    """The error code and HTTP status `call()` is refused with."""
    err = error_of(call)
    return err.code, err.status_code
