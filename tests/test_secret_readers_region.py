"""A secret's name names a secret of one region only. A trail's logstore (a multi-region trail) holds every
region's GetSecretValue calls: a read of a same-named secret in another region is not a read of this one, and a
secret no one read here is deleted as asked."""
from __future__ import annotations

import copy
from datetime import timedelta

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.account import Account
from tests.support.accounts import BASE_ACCOUNT, KEY, REGION
from tests.support.guard import alerts, decision_records
from tests.support.resources import TRAIL, iso
from tests.support.scanners import now
from tests.test_secret_guard import APP, APP_AK, APP_SECRET, CANARY, RECORDS, alice_deletes, planned_delete_time

SECRET = "payments/db-password"

SHANGHAI = "cn-shanghai"


def two_region_secrets() -> Account:
    data = copy.deepcopy(BASE_ACCOUNT)
    data["regions"] = [{"RegionId": REGION}, {"RegionId": SHANGHAI}]
    data["credentials"] += [APP]
    data["sls"]["logstores"].append(RECORDS)
    data["kms"]["secrets"] = [
        {"SecretName": SECRET, "RegionId": REGION, "EncryptionKeyId": KEY,
         "Versions": [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY}]},
        {"SecretName": SECRET, "RegionId": SHANGHAI,
         "Versions": [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": "shanghai-" + CANARY}]},
    ]
    t = now()
    data["actiontrail"] = {"trails": [{**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)),
                                       "CreateTime": iso(t - timedelta(days=60))}]}
    return Account.from_data(data)


def test_a_read_of_a_same_named_secret_in_another_region_is_not_a_reader_of_this_one(start_cloud):
    cloud = start_cloud(two_region_secrets(), env={"TRAIL_SLS_PROJECT": TRAIL["SlsProjectArn"],
                                                   "TRAIL_SLS_LOGSTORE": "actiontrail_audit-trail"})
    shanghai_app = KmsClient(Config(access_key_id=APP_AK, access_key_secret=APP_SECRET, endpoint=cloud.endpoint(SHANGHAI),
                                    protocol="http", region_id=SHANGHAI))
    shanghai_app.get_secret_value(kms.GetSecretValueRequest(secret_name=SECRET))  # the cn-shanghai secret, read

    alice_deletes(cloud, SECRET)  # the cn-hangzhou one: no one ever read it

    [record] = decision_records(cloud, "secret-guard-decisions")
    assert record["readerCount"] == 0, record.get("readers")
    assert record["decision"] == "allow" and planned_delete_time(cloud, SECRET) is not None
    assert alerts(cloud) == []
