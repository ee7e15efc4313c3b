"""Driving the compliance sweep on a local cloud: accounts with keys and secrets in given shapes, one check run
directly (unpaced clients), or the compliance-sweep function fired by its timer as FC would; and reading what it told
people (CloudMonitor events and metrics, SLS records, the state in OSS)."""
from __future__ import annotations

import json
from datetime import timedelta

from localcloud.clock import iso
from shared.sweeps.findings import SweepTarget
from tests.support.accounts import ACCOUNT_ID, REGION, make_account
from tests.support.guard import _maybe_json
from tests.support.scanners import clients

NOW = "2030-01-01T00:00:00Z"
FINDINGS_LOGSTORE = "compliance-sweep-findings"


def days_before(now_iso: str, days: int) -> str:
    from localcloud.clock import parse_time

    return iso(parse_time(now_iso) - timedelta(days=days))


def key(key_id: str, **fields) -> dict:
    return {"KeyId": key_id, "RegionId": REGION, "KeyState": "Enabled", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID,
            "KeySpec": "Aliyun_AES_256", **fields}


def secret(name: str, *, created: str, secret_type: str = "Generic", tags: dict | None = None, **fields) -> dict:
    record = {"SecretName": name, "RegionId": REGION, "SecretType": secret_type, "CreateTime": created, **fields}
    if tags:
        record["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    if secret_type == "Generic":
        record.setdefault("Versions", [{"VersionId": "v1", "CreateTime": created, "VersionStages": ["ACSCurrent"],
                                        "SecretData": "token-value"}])
    return record


def sweep_account(*, keys=(), secrets=(), replace_keys: bool = True, **sections):
    """The base account, its two keys replaced by `keys` (unless replace_keys is False), with `secrets`, and the
    logstore the sweep records to."""
    account = make_account(kms={"secrets": list(secrets)},
                           sls={"logstores": [{"projectName": "kms-steward-logs", "logstoreName": FINDINGS_LOGSTORE,
                                               "RegionId": REGION}]}, **sections)
    if replace_keys:
        from localcloud.products.kms_state import KmsKey

        account.kms.keys = [KmsKey(**k) for k in keys]
        account.kms.aliases = []
    return account


def run(cloud, check, now: str = NOW, **settings):
    """One check over the test region, judged at `now`."""
    target = SweepTarget(account=ACCOUNT_ID, region=REGION, now=now, settings=settings)
    return check.run(target, clients(cloud))


def by_resource(result) -> dict[str, object]:
    return {f.resource_id: f for f in result.findings}


def fire(cloud):
    """The compliance-sweep timer fires (at the local clock); the function's result."""
    invocation = cloud.fc.fire_timer("compliance-sweep")
    cloud.bus.drain()
    assert invocation.ok, invocation.error
    return invocation.result


def events(cloud, name: str) -> list[dict]:
    return [json.loads(e.Content) for e in cloud.account.cms.events if e.Name == name]


def sweep_records(cloud) -> list[dict]:
    return [{k: _maybe_json(v) for k, v in log.contents.items()} for log in cloud.account.sls.logs
            if log.logstoreName == FINDINGS_LOGSTORE]


def invoke_aged(cloud, resource: str, event: bytes) -> None:
    """An asynchronous event FC accepted two hours ago: past the sweeps' maxAsyncEventAgeInSeconds (one hour), it is
    never run, and goes to the sweep's failure destination."""
    cloud.fc.invoke(resource, event, invocation_type="Async", queued_at=cloud.clock.now() - timedelta(hours=2))
