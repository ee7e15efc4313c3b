"""secret-guard's readers as a user relies on them (a read by ARN, a busy account, the window's edge), a forced
deletion's refused alert raised once, and the canary value in no record, alert, result or output."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.clients import TransientError
from tests.support.accounts import ACCOUNT_ID, REGION, make_account
from tests.support.guard import alerts, decision_records
from tests.support.resources import iso
from tests.support.scanners import now
from tests.test_secret_guard import (CANARY, RECORDS, SECRET, account, alice_deletes, alice_kms, app_reads, guard,
                                     planned_delete_time, secret)

CMS_DOWN_ONCE = {"Api": "cms:PutCustomEvent", "Kind": "server_error", "Remaining": 1}


def records(cloud):
    return decision_records(cloud, "secret-guard-decisions")


def read_event(name: str, when, *, event="GetSecretValue", user="payments-api") -> dict:
    return {"eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
            "eventRW": "Read", "eventName": event, "serviceName": "Kms", "apiVersion": "2016-01-20", "acsRegion": REGION,
            "eventTime": iso(when), "requestId": str(uuid.uuid4()).upper(), "sourceIpAddress": "10.0.0.9", "userAgent": "app/1",
            "requestParameters": {"SecretName": name},
            "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": "2034567890123999",
                             "accessKeyId": "LTAI5tPaymentsApi0000001", "userName": user},
            "referencedResources": {"ACS::KMS::Secret": [name]}, "isGlobal": False, "errorCode": "", "errorMessage": ""}


def test_a_read_by_arn_counts(start_cloud):
    cloud = start_cloud(account())
    arn = f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/{SECRET}"
    from tests.support.clients import alice_kms as client
    from tests.test_secret_guard import APP_AK, APP_SECRET
    client(cloud, access_key_id=APP_AK, secret=APP_SECRET).get_secret_value(kms.GetSecretValueRequest(secret_name=arn))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None and records(cloud)[0]["readerCount"] == 1


def test_a_busy_secret_in_a_busy_account_keeps_its_one_old_reader(start_cloud):
    t = now()
    noise = [read_event(SECRET, t - timedelta(hours=h), event="DescribeSecret", user="monitor") for h in range(1, 400)]
    noise += [read_event(f"other/secret-{i}", t - timedelta(hours=i % 600 + 1), user="others") for i in range(600)]
    noise += [read_event(SECRET + "-old", t - timedelta(days=1), user="someone-else")]  # a name it is a prefix of
    events = noise + [read_event(SECRET, t - timedelta(days=29, hours=23), user="month-end")]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret(), secret(SECRET + "-old")]},
                                     actiontrail={"events": events}))

    alice_deletes(cloud)

    [record] = records(cloud)
    assert [r["caller"] for r in record["readers"]] == ["ram-user:month-end"], record["readers"]
    assert planned_delete_time(cloud) is None


def test_a_read_just_outside_the_window_does_not_count(start_cloud):
    t = now()
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret()]},
                                     actiontrail={"events": [read_event(SECRET, t - timedelta(days=30, hours=1))]}))

    alice_deletes(cloud)

    assert records(cloud)[0]["readerCount"] == 0 and planned_delete_time(cloud) is not None


def test_a_forced_deletions_refused_alert_is_raised_once_by_the_retry(start_cloud):
    cloud = start_cloud(account(faults=[CMS_DOWN_ONCE]))
    cloud.bus.hold()
    app_reads(cloud)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET, force_delete_without_recovery="true"))
    event = json.loads(json.dumps([e for e in cloud.account.actiontrail.events if e["eventName"] == "DeleteSecret"][-1]))
    keeper = guard(cloud)

    with pytest.raises(TransientError, match="KmsSecretForceDeletedWithReaders not raised"):
        keeper.handle(event, "inv-1")
    keeper.handle(event, "inv-retry")
    keeper.handle(event, "inv-late")

    assert [a["Name"] for a in alerts(cloud)] == ["KmsSecretForceDeletedWithReaders"]
    assert [r["status"] for r in records(cloud)] == ["decided", "alert_raised", "duplicate"]


def test_the_canary_is_in_no_record_alert_result_or_stdout(start_cloud, capsys):
    cloud = start_cloud(account(secret(), secret("billing/api-token")))
    app_reads(cloud, times=2)
    app_reads(cloud, "billing/api-token")
    alice_deletes(cloud)
    alice_deletes(cloud, "billing/api-token", force_delete_without_recovery="true")
    out = guard(cloud, RECORDS_PROJECT="").handle({"triggerTime": "2026-12-02T03:30:00Z", "triggerName": "secret-safety-net",
                                                   "payload": '{"task":"safety-net"}'}, "inv-t")

    everything = json.dumps([log.contents for log in cloud.account.sls.logs]) + json.dumps(alerts(cloud)) + json.dumps(out)
    everything += capsys.readouterr().out
    assert CANARY not in everything
