"""Which events name a secret as its reader: a read of a same-named secret in another region is not one, and the
region check never drops a read of this secret (an event with no region is kept: the safe side), whether it names
the secret by name, by ARN, or through the instance log's resource_id."""
from __future__ import annotations

import pytest

from shared.events import ActionTrailRecord
from shared.secret_readers import SecretTarget, names_the_secret, secret_subject
from shared.usage import instance_log_event

T = SecretTarget(name="payments/db-password", region="cn-hangzhou", account_id="1234567890123456",
                 arn="acs:kms:cn-hangzhou:1234567890123456:secret/payments/db-password")


def read(**fields) -> ActionTrailRecord:
    return ActionTrailRecord.model_validate({"eventName": "GetSecretValue", "serviceName": "Kms", **fields})


@pytest.mark.parametrize("fields", [
    {"requestParameters": {"SecretName": "payments/db-password"}},
    {"acsRegion": None, "requestParameters": {"SecretName": "payments/db-password"}},
    {"acsRegion": "", "requestParameters": {"SecretName": "payments/db-password"}},
    {"acsRegion": "cn-hangzhou", "requestParameters": {"SecretName": T.arn}},
    {"acsRegion": "cn-hangzhou", "referencedResources": {"ACS::KMS::Secret": ["payments/db-password"]}},
    {"acsRegion": "cn-hangzhou", "referencedResources": {"ACS::KMS::Secret": "other,payments/db-password"}},
], ids=["no region field", "region null", "region empty", "arn", "referenced list", "referenced csv"])
def test_a_read_of_this_secret_counts(fields):
    assert names_the_secret(read(**fields), T) and secret_subject(T).is_use(read(**fields))


@pytest.mark.parametrize("fields", [
    {"acsRegion": "cn-shanghai", "requestParameters": {"SecretName": "payments/db-password"}},
    {"requestParameters": {"SecretName": "acs:kms:cn-shanghai:1234567890123456:secret/payments/db-password"}},
    {"acsRegion": "cn-hangzhou", "requestParameters": {"SecretName": "payments/db-password-2"}},
    {"acsRegion": "cn-hangzhou", "requestParameters": {"SecretName": "payments"}},
])
def test_a_read_of_another_secret_does_not(fields):
    assert not names_the_secret(read(**fields), T)


def test_an_instance_log_read_without_region_id_still_counts():
    raw = instance_log_event({"api_name": "GetSecretValue", "resource_id": "payments/db-password", "request_id": "r1",
                              "time": "2026-12-01T00:00:00Z"})
    assert secret_subject(T).is_instance_use(ActionTrailRecord.model_validate(raw))
