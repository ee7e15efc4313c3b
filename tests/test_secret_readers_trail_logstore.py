"""The trail logstore as a source of a secret's readers, also for a name holding a "/" (payments/db-password).
secret_readers asks `"payments/db-password" and event.serviceName: Kms`; SLS splits a keyword at its delimiters ("/"
is one) and matches the logs holding every token ("Phrase search"), and each event is then checked client-side.
Here the read names the secret only in its request (referencedResources empty: what ActionTrail fills there for
GetSecretValue is UNCONFIRMED, shared/secret_readers.py), so only the trail logstore can see it."""
from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.accounts import ACCOUNT_ID, REGION, make_account
from tests.support.guard import decision_records
from tests.support.resources import TRAIL, iso
from tests.support.scanners import now
from tests.test_secret_guard import RECORDS, alice_deletes, planned_delete_time, secret

import pytest


def read_named_in_request_only(name: str) -> dict:
    return {"eventId": str(uuid.uuid4()), "eventVersion": 1, "eventSource": f"kms.{REGION}.aliyuncs.com", "eventType": "ApiCall",
            "eventRW": "Read", "eventName": "GetSecretValue", "serviceName": "Kms", "apiVersion": "2016-01-20",
            "acsRegion": REGION, "eventTime": iso(now() - timedelta(days=2)), "requestId": str(uuid.uuid4()).upper(),
            "sourceIpAddress": "10.0.0.9", "userAgent": "payments/1.0", "requestParameters": {"SecretName": name},
            "userIdentity": {"type": "ram-user", "accountId": ACCOUNT_ID, "principalId": "2034567890123999",
                             "accessKeyId": "LTAI5tPaymentsApi0000001", "userName": "payments-api"},
            "referencedResources": {}, "isGlobal": False, "errorCode": "", "errorMessage": ""}


@pytest.mark.parametrize("name", ["payments-db-password", "payments/db-password"])
def test_a_read_seen_only_in_the_trail_logstore_keeps_the_secret(start_cloud, name):
    t = now()
    trail = {**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret(name)]},
                                     actiontrail={"events": [read_named_in_request_only(name)], "trails": [trail]}),
                        env={"TRAIL_SLS_PROJECT": TRAIL["SlsProjectArn"], "TRAIL_SLS_LOGSTORE": "actiontrail_audit-trail"})

    alice_deletes(cloud, name)

    [record] = decision_records(cloud, "secret-guard-decisions")
    assert record["readerCount"] == 1, record
    assert planned_delete_time(cloud, name) is None
