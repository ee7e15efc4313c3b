"""The local cloud's SLS tokenizes a keyword holding delimiters as it tokenizes logs ("Phrase search"). That never
changes what the key usage queries match (a key id holds "-", not a delimiter), and only ever widens a match: the
guard checks every event it gets back."""
from __future__ import annotations

import json

import pytest

from localcloud.products.sls import compile_query
from localcloud.products.sls_state import SlsLog

KEY_ID = "key-hzz62f1cb66fa42qo3a3"


def log(**contents) -> SlsLog:
    return SlsLog(projectName="p", logstoreName="l", time=0, contents={k: v if isinstance(v, str) else json.dumps(v)
                                                                     for k, v in contents.items()})


def test_a_key_id_query_matches_only_logs_naming_that_key():
    q = compile_query(f'"{KEY_ID}" and event.serviceName: Kms')
    naming = log(event={"serviceName": "Kms", "referencedResources": {"ACS::KMS::Key": [KEY_ID]}})
    parts = log(event={"serviceName": "Kms", "x": "key", "y": "hzz62f1cb66fa42qo3a3"})
    other = log(event={"serviceName": "Kms", "referencedResources": {"ACS::KMS::Key": [KEY_ID + "x"]}})
    assert q(naming) and not q(parts) and not q(other)


def test_an_instance_log_entry_naming_the_key_as_a_secrets_encrypting_key_still_matches():
    q = compile_query(f'"{KEY_ID}"')
    entry = log(api_name="GetSecretValue", resource_id="payments/db-password",
                resource_parameters=json.dumps({"key_id": KEY_ID, "key_version_id": "", "index": ""}))
    assert q(entry)


@pytest.mark.parametrize("name", ["payments/db-password", "a@b", "x=y/z", "p/q/r"])
def test_a_secret_query_matches_every_log_whose_field_holds_the_name(name):
    q = compile_query(f'event.eventName: GetSecretValue and event.serviceName: Kms and "{name}"')
    assert q(log(event={"eventName": "GetSecretValue", "serviceName": "Kms", "requestParameters": {"SecretName": name}}))
    assert q(log(event={"eventName": "GetSecretValue", "serviceName": "Kms",
                        "requestParameters": {"SecretName": f"acs:kms:cn-hangzhou:1:secret/{name}"}}))
    assert compile_query(f'"{name}"')(log(resource_id=name))
