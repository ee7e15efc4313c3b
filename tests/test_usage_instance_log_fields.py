"""What an entry of a KMS instance's access log becomes (shared/usage.py, instance_log_event): the ActionTrail-shaped
record every usage source is aggregated from, so the caller, the API, the time, where the call came from and
whether it failed read the same whichever source saw the call.

The log's fields and their meaning are those of "Log fields" / "日志字段详情"
(https://www.alibabacloud.com/help/en/kms/key-management-service/log-field-details and
https://help.aliyun.com/zh/kms/key-management-service/log-field-details): api_name (the instance API),
share_gateway_api_name (the OpenAPI name, only for a request sent to the KMS service endpoint), resource_id (the
key id or a secret's name), resource_parameters (JSON; key_id: the key encrypting a secret), cmkid (the requested
key, shared gateway), identity_type (cloud-account, ram-user, ram-role, aap), account_id, principal_id,
access_key_id, client_ip, useragent, request_id, time ("2023-07-04T01:52:55Z"), status_code, error_code,
error_message, instance_id, gateway_type. Pure function: no cloud needed.
"""
from __future__ import annotations

import json
import os
import time

import pytest

from shared.usage import KEY_RESOURCE_TYPE, aggregate_callers, event_time, instance_log_event, parse_event

KEY = "key-hzz62f1cb66fa42qo0001"
INSTANCE = "kst-hzz65f176a0ogplgq0001"
# The doc's example instant, 2023-07-04T01:52:55Z, as SLS's __time__ (seconds since the epoch).
EXAMPLE_TIME, EXAMPLE_SECONDS = "2023-07-04T01:52:55Z", 1688435575


def read(contents: dict, log_time: int | None = None):
    return parse_event(instance_log_event(contents, log_time))


def test_a_full_entry_reads_as_an_actiontrail_record_of_that_call():
    # A RAM user's GenerateDataKey through the dedicated gateway, every field the doc lists filled in.
    entry = {"version": "V1.0", "level": "INFO", "gateway_type": "dedicated", "instance_id": INSTANCE, "region_id": "cn-hangzhou",
             "api_name": "GenerateDataKey", "api_version": "dkms-gcs-0.2", "request_id": "2753f2f4-efb8-49c8-9817-c60cfe286c2d",
             "time": EXAMPLE_TIME, "resource_id": KEY,
             "resource_parameters": json.dumps({"key_id": "", "key_version_id": "key-gzz64675a2ekoi4qj0001-njscfe0001", "index": ""}),
             "identity_type": "ram-user", "account_id": "1192853035110001", "user_id": "1192853035110001",
             "principal_id": "1192853015840001", "access_key_id": "LTAI5tPaymentsApp0000001", "client_ip": "192.168.0.7",
             "useragent": "AlibabaCloud (darwin; amd64) Golang/1.15.3 Core/0.01 TeaDSL/1", "status_code": "200",
             "error_message": "", "duration": "1.381"}

    assert instance_log_event(entry, log_time=EXAMPLE_SECONDS + 30) == {
        "eventId": "kms-instance-log:2753f2f4-efb8-49c8-9817-c60cfe286c2d",
        "requestId": "2753f2f4-efb8-49c8-9817-c60cfe286c2d",
        "eventName": "GenerateDataKey",
        "serviceName": "Kms",
        "acsRegion": "cn-hangzhou",  # its region_id
        "eventTime": EXAMPLE_TIME,  # the entry's own time, not when SLS stored it
        "sourceIpAddress": "192.168.0.7",
        "userAgent": "AlibabaCloud (darwin; amd64) Golang/1.15.3 Core/0.01 TeaDSL/1",
        "errorCode": "",
        "errorMessage": "",
        "userIdentity": {"type": "ram-user", "accountId": "1192853035110001", "principalId": "1192853015840001",
                         "accessKeyId": "LTAI5tPaymentsApp0000001"},
        "referencedResources": {KEY_RESOURCE_TYPE: [KEY]},
        "requestParameters": {},  # nothing of the request is copied (the log holds no plaintext or ciphertext anyway)
        "additionalEventData": {"source": "kms-instance-log", "instanceId": INSTANCE, "gateway": "dedicated"},
    }


def test_an_entry_of_an_older_log_edition_without_gateway_type_says_dedicated_gateway():
    # gateway_type is in the newer (Chinese) edition of the field list only; the access log is the dedicated
    # gateway's own audit trail, so an entry without the field is one of its calls.
    event = instance_log_event({"api_name": "Decrypt", "resource_id": KEY, "instance_id": INSTANCE, "request_id": "r-1"})
    assert event["additionalEventData"] == {"source": "kms-instance-log", "instanceId": INSTANCE, "gateway": "dedicated"}
    shared = instance_log_event({"api_name": "Decrypt", "resource_id": KEY, "instance_id": INSTANCE, "gateway_type": "shared"})
    assert shared["additionalEventData"]["gateway"] == "shared"


def test_a_call_through_the_kms_service_endpoint_is_named_by_its_openapi_name():
    # share_gateway_api_name holds the OpenAPI operation when the request went to the KMS service endpoint; that
    # is the name ActionTrail and the OpenAPI reference use, so it is the one a person is shown.
    event = read({"share_gateway_api_name": "AsymmetricSign", "api_name": "Sign", "resource_id": KEY})
    assert event.eventName == "AsymmetricSign"
    assert read({"api_name": "Sign", "resource_id": KEY}).eventName == "Sign"


def test_an_entry_naming_no_api_is_still_a_call_and_says_unknown():
    # Read leniently: an entry naming the key but no operation is a use of the key (the safe side), shown as unknown.
    event = read({"resource_id": KEY, "request_id": "r-1"})
    assert event.eventName == "unknown"
    [caller] = aggregate_callers([event], event_time)
    assert caller.apis_text() == "unknown×1"


@pytest.mark.parametrize("where", ["resource_id", "cmkid", "resource_parameters"])
def test_the_key_is_found_in_each_field_that_can_name_it(where):
    # resource_id: the key (or a secret's name); cmkid: the requested key (shared gateway); resource_parameters.key_id:
    # the key encrypting the secret named in resource_id.
    contents = {"api_name": "Decrypt", "cmkid": KEY} if where == "cmkid" else \
        {"api_name": "GetSecretValue", "resource_id": "payments/db", "resource_parameters": json.dumps({"key_id": KEY})} \
        if where == "resource_parameters" else {"api_name": "Decrypt", "resource_id": KEY}
    assert KEY in read(contents).referencedResources[KEY_RESOURCE_TYPE]


def test_a_malformed_resource_parameters_does_not_lose_the_key_named_elsewhere():
    for parameters in ("{not json", "[1, 2]", '"text"', ""):
        event = read({"api_name": "Decrypt", "resource_id": KEY, "resource_parameters": parameters})
        assert event.referencedResources == {KEY_RESOURCE_TYPE: [KEY]}


def test_the_time_is_the_entrys_own_and_else_its_sls_time_in_utc():
    assert read({"api_name": "Decrypt", "time": EXAMPLE_TIME}, log_time=EXAMPLE_SECONDS + 3600).eventTime == EXAMPLE_TIME
    assert read({"api_name": "Decrypt"}, log_time=EXAMPLE_SECONDS).eventTime == EXAMPLE_TIME
    assert read({"api_name": "Decrypt"}).eventTime is None


@pytest.fixture
def host_in_shanghai():
    """The audit run on a machine whose local time zone is not UTC (the CLI runs on people's laptops)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_an_sls_time_is_read_in_utc_whatever_the_hosts_time_zone(host_in_shanghai):
    assert read({"api_name": "Decrypt"}, log_time=EXAMPLE_SECONDS).eventTime == EXAMPLE_TIME


def test_where_the_call_came_from_is_kept():
    event = read({"api_name": "Decrypt", "client_ip": "10.0.1.15", "useragent": "payments/2.1 aliyun-sdk-java"})
    assert (event.sourceIpAddress, event.userAgent) == ("10.0.1.15", "payments/2.1 aliyun-sdk-java")
    bare = read({"api_name": "Decrypt"})
    assert (bare.sourceIpAddress, bare.userAgent) == (None, None)


def test_a_successful_call_has_no_error():
    for status in ("200", ""):
        event = read({"api_name": "Decrypt", "status_code": status, "error_message": "OK"})
        assert (event.errorCode, event.errorMessage, event.failed) == ("", "", False)


def test_a_refused_call_names_its_error_code_or_else_its_http_status():
    coded = read({"api_name": "Decrypt", "status_code": "403", "error_code": "Forbidden.NoPermission",
                  "error_message": "This action is forbidden."})
    assert (coded.errorCode, coded.errorMessage, coded.failed) == ("Forbidden.NoPermission", "This action is forbidden.", True)
    # The dedicated gateway's entries carry no error_code ("shared gateway" only): the status says the call failed.
    uncoded = read({"api_name": "Decrypt", "status_code": "400", "error_message": 'The ApiName "<apiname>" is invalid.'})
    assert (uncoded.errorCode, uncoded.errorMessage, uncoded.failed) == ("HTTP400", 'The ApiName "<apiname>" is invalid.', True)


@pytest.mark.parametrize("logged, shown", [("cloud-account", "root-account"), ("ram-user", "ram-user"), ("ram-role", "assumed-role"),
                                           ("aap", "aap"), ("some-future-type", "some-future-type"), ("", "unknown")],
                         ids=["cloud-account", "ram-user", "ram-role", "aap", "unlisted", "missing"])
def test_the_identity_type_reads_as_actiontrail_names_it(logged, shown):
    # ActionTrail's userIdentity.type names a root account root-account and an STS role session assumed-role, so
    # one caller seen by both sources is one caller.
    event = read({"api_name": "Decrypt", "identity_type": logged, "account_id": "1192853035110001", "principal_id": "p-1"})
    assert event.userIdentity.type == shown
    assert (event.userIdentity.accountId, event.userIdentity.principalId) == ("1192853035110001", "p-1")


def test_a_request_id_identifies_the_call_and_its_absence_identifies_nothing():
    event = read({"api_name": "Decrypt", "request_id": "2753f2f4-efb8-49c8-9817-c60cfe286c2d"})
    assert event.requestId == "2753f2f4-efb8-49c8-9817-c60cfe286c2d" and event.eventId
    assert read({"api_name": "Decrypt", "request_id": "r-2"}).eventId != event.eventId
    anonymous = read({"api_name": "Decrypt"})
    assert (anonymous.requestId, anonymous.eventId) == (None, None)
