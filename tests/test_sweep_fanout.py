"""Fan-out: the compliance-sweep timer's run covers regions × accounts (the Resource Directory's members, entered with
STS AssumeRole) through real asynchronous InvokeFunction calls to the local cloud, and tells people once."""
from __future__ import annotations

import json

import pytest
from alibabacloud_fc20230330 import models as fc
from darabonba.runtime import RuntimeOptions

from localcloud.account import Account
from localcloud.cloud import LocalCloud
from localcloud.clock import Clock
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, S_YAML
from tests.support.sweeps import FINDINGS_LOGSTORE, NOW, events
from shared.clients import Clients, Credentials

MEMBER = "2234567890123456"  # trusts the management account's sweep role
LOCKED = "3234567890123456"  # has no role the sweep can enter
REGIONS = ["cn-hangzhou", "cn-shanghai"]
ROLE = "kms-steward-sweep"


def _key(key_id: str, region: str, account: str) -> dict:
    return {"KeyId": key_id, "RegionId": region, "KeyState": "Enabled", "Origin": "Aliyun_KMS", "Creator": account,
            "KeySpec": "Aliyun_AES_256"}


def _accounts() -> list[Account]:
    trust = json.dumps({"Version": "1", "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                                      "Principal": {"RAM": [f"acs:ram::{ACCOUNT_ID}:root"]}}]})
    home = {
        "account_id": ACCOUNT_ID, "as_of": NOW, "regions": [{"RegionId": r} for r in REGIONS],
        "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}],
        "kms": {"keys": [_key("0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b", "cn-hangzhou", ACCOUNT_ID)]},
        "oss": {"buckets": [{"Name": "kms-steward-state", "Location": "oss-cn-hangzhou"}]},
        "sls": {"logstores": [{"projectName": "kms-steward-logs", "logstoreName": FINDINGS_LOGSTORE, "RegionId": "cn-hangzhou"}]},
        "resourcemanager": {"ResourceDirectoryId": "rd-test", "accounts": [
            {"AccountId": ACCOUNT_ID, "DisplayName": "management", "Type": "CloudAccount", "Status": "CreateSuccess"},
            {"AccountId": MEMBER, "DisplayName": "prod", "Type": "ResourceAccount", "Status": "CreateSuccess"},
            {"AccountId": LOCKED, "DisplayName": "legacy", "Type": "ResourceAccount", "Status": "CreateSuccess"}]},
    }
    member = {"account_id": MEMBER, "regions": [{"RegionId": r} for r in REGIONS],
              "ram": {"roles": [{"RoleName": ROLE, "AssumeRolePolicyDocument": trust}]},
              "kms": {"keys": [_key("5e1a9c3b-7d2f-4b8e-9a61-3c5d7e9f1b2a", "cn-shanghai", MEMBER)]}}
    locked = {"account_id": LOCKED, "regions": [{"RegionId": r} for r in REGIONS]}
    return [Account.from_data(a) for a in (home, member, locked)]


ENV = {"SWEEP_ACCOUNTS": "resource-directory", "SWEEP_REGIONS": ",".join(REGIONS), "SWEEP_ROLE_NAME": ROLE,
       "STATE_BUCKET": "kms-steward-state", "SLS_PROJECT": "kms-steward-logs"}


@pytest.fixture
def cloud():
    with LocalCloud(_accounts(), project=S_YAML, env=ENV, clock=Clock(NOW)) as c:
        yield c


def _worker_invocations(cloud):
    return [i for i in cloud.fc.invocations if i.source.startswith("InvokeFunction") and b'"sweep"' in i.event]


def test_a_sweep_fans_out_over_accounts_and_regions_and_tells_people_once(cloud):
    coordinator = cloud.fc.fire_timer("compliance-sweep")
    assert coordinator.ok, coordinator.error
    assert coordinator.result["role"] == "coordinator" and coordinator.result["targets"] == 6
    assert coordinator.result["invoked"] == 6
    assert cloud.fc.drain(60)

    workers = _worker_invocations(cloud)
    assert cloud.calls.get("fc:InvokeFunction") == 6
    assert len(workers) == 6 and all(w.ok and w.invocation_type == "Async" for w in workers)
    assert {w.result["target"] for w in workers} == {f"{a}/{r}" for a in (ACCOUNT_ID, MEMBER, LOCKED) for r in REGIONS}
    assert cloud.calls.get("sts:AssumeRole") == 4  # the two other accounts, in each of their two workers
    assert cloud.calls.get("resourcemanager:ListAccounts") == 1

    [summary] = events(cloud, "KmsStewardSweepSummary")
    rows = summary["results"]
    assert {(r["account"], r["region"]) for r in rows} == {(a, r) for a in (ACCOUNT_ID, MEMBER, LOCKED) for r in REGIONS}
    assert len(rows) == 6 * 4  # every check of every target arrived
    locked = [r for r in rows if r["account"] == LOCKED]
    assert locked and all(not r["complete"] and "EntityNotExist.Role" in r["reason"] for r in locked)
    assert all(r["complete"] for r in rows if r["account"] != LOCKED)
    assert any(r["input"] == f"account {LOCKED}" and "EntityNotExist.Role" in r["reason"] for r in summary["rejected"])
    member_keys = [r for r in rows if r["account"] == MEMBER and r["region"] == "cn-shanghai" and r["check"] == "key_rotation"]
    assert member_keys[0]["findings"] == {"WARN": 1}  # the member's key, seen through the entered role
    assert [w for w in workers if w.result["summary"]] and sum(1 for w in workers if w.result["summary"]) == 1


def test_a_retried_worker_does_not_publish_a_second_summary(cloud):
    cloud.fc.fire_timer("compliance-sweep")
    assert cloud.fc.drain(60)
    worker = _worker_invocations(cloud)[0]
    # FC runs the same event again (a retry after a lost answer): through the real API, synchronously and async.
    client = Clients(Credentials(ALICE_AK, ALICE_SECRET), "cn-hangzhou",
                     endpoint_override=cloud.endpoint_override()).fc("cn-hangzhou", ACCOUNT_ID)
    answer = client.invoke_function("kms-steward-compliance-sweep", fc.InvokeFunctionRequest(body=worker.event))
    assert answer.status_code == 200 and "x-fc-error-type" not in answer.headers
    again = json.loads(answer.body.read())
    assert again["role"] == "worker" and again["summary"] is None
    queued = client.invoke_function_with_options("kms-steward-compliance-sweep", fc.InvokeFunctionRequest(body=worker.event),
                                                 fc.InvokeFunctionHeaders(x_fc_invocation_type="Async"), RuntimeOptions())
    assert queued.status_code == 202 and queued.headers["x-fc-request-id"]
    assert cloud.fc.drain(60)
    assert cloud.fc.invocations[-1].request_id == queued.headers["x-fc-request-id"]
    assert len(events(cloud, "KmsStewardSweepSummary")) == 1


def test_a_retried_coordinator_continues_the_same_run(cloud):
    first = cloud.fc.fire_timer("compliance-sweep")
    assert cloud.fc.drain(60)
    # The same timer event again (FC's retry of the coordinator): every target already has its result.
    again = cloud.fc.invoke("compliance-sweep", first.event, invocation_type="Async")
    assert again.result["runId"] == first.result["runId"] and again.result["invoked"] == 0
    assert again.result["alreadyDone"] == 6
    assert cloud.fc.drain(60)
    assert len(events(cloud, "KmsStewardSweepSummary")) == 1


def test_a_forged_worker_payload_sweeps_nothing(cloud):
    forged = json.dumps({"task": "compliance-sweep", "sweep": {"runId": "x", "account": "9999999999999999",
                                                               "region": "cn-hangzhou"}}).encode()
    inv = cloud.fc.invoke("compliance-sweep", forged)
    assert inv.ok and "rejected" in inv.result
    assert not events(cloud, "KmsStewardSweepSummary")


def test_without_fan_out_one_invocation_covers_the_same_targets():
    with LocalCloud(_accounts(), project=S_YAML, env={**ENV, "SWEEP_FANOUT": "off"}, clock=Clock(NOW)) as cloud:
        inv = cloud.fc.fire_timer("compliance-sweep")
        assert inv.ok and cloud.fc.drain(10)
        assert cloud.calls.get("fc:InvokeFunction") == 0
        [summary] = events(cloud, "KmsStewardSweepSummary")
        assert {(r["account"], r["region"]) for r in summary["results"]} == \
            {(a, r) for a in (ACCOUNT_ID, MEMBER, LOCKED) for r in REGIONS}
        assert cloud.calls.get("sts:AssumeRole") == 2  # each other account entered once, whatever its regions
        assert any(r["input"] == f"account {LOCKED}" for r in summary["rejected"])
