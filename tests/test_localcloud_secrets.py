"""The local cloud's Secrets Manager (ListSecrets, DescribeSecret), driven by the official KMS SDK over
HTTP: paging and its limits, Filters, FetchTags, the regional endpoint, the missing-secret error, and
the account-file record."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient

from localcloud.account import Region
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms, error_of, sdk_config
from tests.support.resources import secret


def listed(client: KmsClient, filters: list | None = None, **kwargs) -> list[str]:
    request = kms.ListSecretsRequest(page_size=100, filters=json.dumps(filters) if filters is not None else None, **kwargs)
    return [s.secret_name for s in client.list_secrets(request).body.secret_list.secret]



def test_list_pages_by_number_and_refuses_out_of_range_sizes(start_cloud):
    client = alice_kms(start_cloud(make_account(kms={"secrets": [secret(f"app/s{i:03d}") for i in range(120)]})))

    first = client.list_secrets(kms.ListSecretsRequest()).body
    assert (first.total_count, first.page_number, first.page_size, len(first.secret_list.secret)) == (120, 1, 10, 10)
    second = client.list_secrets(kms.ListSecretsRequest(page_size=100, page_number=2)).body
    assert (second.total_count, second.page_number, [s.secret_name for s in second.secret_list.secret][:2]) == (120, 2, ["app/s100", "app/s101"])
    assert len(second.secret_list.secret) == 20
    assert client.list_secrets(kms.ListSecretsRequest(page_size=100, page_number=3)).body.secret_list.secret == []
    for bad in (kms.ListSecretsRequest(page_size=101), kms.ListSecretsRequest(page_size=0), kms.ListSecretsRequest(page_number=0)):
        err = error_of(lambda: client.list_secrets(bad))
        assert (err.code, err.status_code) == ("InvalidParameter", 400)


def test_listing_carries_metadata_but_no_key_and_tags_only_when_asked(start_cloud):
    tagged = secret("db/payments", Tags=[{"TagKey": "team", "TagValue": "payments"}], CreateTime="2024-03-02T09:00:00Z",
                    Description="ledger password", PlannedDeleteTime="2099-01-01T00:00:00Z")
    client = alice_kms(start_cloud(make_account(kms={"secrets": [tagged]})))

    [item] = client.list_secrets(kms.ListSecretsRequest()).body.secret_list.secret
    assert item.to_map() == {"SecretName": "db/payments", "SecretType": "Generic", "CreateTime": "2024-03-02T09:00:00Z",
                             "PlannedDeleteTime": "2099-01-01T00:00:00Z"}
    [item] = client.list_secrets(kms.ListSecretsRequest(fetch_tags="true")).body.secret_list.secret
    assert [(t.tag_key, t.tag_value) for t in item.tags.tag] == [("team", "payments")]


def test_filters_and_keys_or_values(start_cloud):
    secrets = [secret("db/a", DKMSInstanceId="kst-hzz1", Tags=[{"TagKey": "team", "TagValue": "payments"}]),
               secret("db/b", SecretType="Rds", Tags=[{"TagKey": "team", "TagValue": "web"}]),
               secret("db/c", DKMSInstanceId="kst-hzz1", Creator=ACCOUNT_ID), secret("db/d", Description="cache")]
    client = alice_kms(start_cloud(make_account(kms={"secrets": secrets})))

    assert listed(client, [{"Key": "DKMSInstanceId", "Values": ["kst-hzz1"]}]) == ["db/a", "db/c"]
    assert listed(client, [{"Key": "SecretName", "Values": ["db/a", "db/d"]}]) == ["db/a", "db/d"]
    assert listed(client, [{"Key": "TagKey", "Values": ["team"]}, {"Key": "TagValue", "Values": ["web"]}]) == ["db/b"]
    assert listed(client, [{"Key": "DKMSInstanceId", "Values": ["kst-hzz1"]}, {"Key": "Creator", "Values": [ACCOUNT_ID]}]) == ["db/c"]
    assert listed(client, [{"Key": "SecretType", "Values": ["RDS"]}]) == ["db/b"]  # the filter doc spells RDS, DescribeSecret Rds
    assert listed(client, [{"Key": "Description", "Values": ["cache"]}]) == ["db/d"]
    assert listed(client, []) == ["db/a", "db/b", "db/c", "db/d"]


@pytest.mark.parametrize("filters", [
    "not json", json.dumps({"Key": "SecretName"}), json.dumps([{"Key": "EncryptionKeyId", "Values": [KEY]}]),
    json.dumps([{"Key": "SecretName", "Values": "db/a"}]), json.dumps([{"Key": "SecretName", "Values": ["x"]}] * 11),
    json.dumps([{"Key": "SecretName", "Values": [f"s{i}" for i in range(11)]}]),
])
def test_malformed_or_unsupported_filters_are_refused(start_cloud, filters):
    """No filter names the encryption key: asking for one is refused rather than ignored."""
    client = alice_kms(start_cloud(make_account()))
    err = error_of(lambda: client.list_secrets(kms.ListSecretsRequest(filters=filters)))
    assert (err.code, err.status_code) == ("InvalidParameter", 400)


def test_describe_answers_the_key_rotation_and_instance_by_name_or_arn(start_cloud):
    managed = secret("acs/rds/rm-bp1/app", SecretType="Rds", AutomaticRotation="Enabled", RotationInterval="604800s",
                     NextRotationDate="2030-01-08T00:00:00Z", DKMSInstanceId="kst-hzz1", Creator=ACCOUNT_ID,
                     Tags=[{"TagKey": "team", "TagValue": "payments"}])
    client = alice_kms(start_cloud(make_account(kms={"secrets": [managed, secret("web/plain", key=None)]})))
    arn = f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/acs/rds/rm-bp1/app"

    body = client.describe_secret(kms.DescribeSecretRequest(secret_name="acs/rds/rm-bp1/app")).body
    assert (body.encryption_key_id, body.secret_type, body.arn, body.dkmsinstance_id) == (KEY, "Rds", arn, "kst-hzz1")
    assert (body.automatic_rotation, body.rotation_interval, body.next_rotation_date) == ("Enabled", "604800s", "2030-01-08T00:00:00Z")
    assert body.tags is None and "Creator" not in body.to_map() and "RegionId" not in body.to_map()
    by_arn = client.describe_secret(kms.DescribeSecretRequest(secret_name=arn, fetch_tags="true")).body
    assert by_arn.secret_name == "acs/rds/rm-bp1/app" and [t.tag_key for t in by_arn.tags.tag] == ["team"]
    plain = client.describe_secret(kms.DescribeSecretRequest(secret_name="web/plain")).body
    assert plain.encryption_key_id is None and plain.automatic_rotation is None  # Secrets Manager's own key; no rotation


def test_a_missing_secret_is_resource_not_found(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    err = error_of(lambda: client.describe_secret(kms.DescribeSecretRequest(secret_name="app/nope")))
    assert (err.code, err.status_code) == ("Forbidden.ResourceNotFound", 404)
    err = error_of(lambda: client.describe_secret(kms.DescribeSecretRequest()))
    assert (err.code, err.status_code) == ("MissingParameter", 400)


def test_secrets_belong_to_the_region_whose_endpoint_is_called(start_cloud):
    account = make_account(kms={"secrets": [secret("hz/app"), secret("sh/app", region="cn-shanghai", key=OTHER_KEY)]})
    account.regions.append(Region(RegionId="cn-shanghai"))
    cloud = start_cloud(account)
    config = sdk_config(cloud)
    config.endpoint, config.region_id = cloud.endpoint("cn-shanghai"), "cn-shanghai"
    shanghai = KmsClient(config)

    assert listed(alice_kms(cloud)) == ["hz/app"] and listed(shanghai) == ["sh/app"]
    err = error_of(lambda: alice_kms(cloud).describe_secret(kms.DescribeSecretRequest(secret_name="sh/app")))
    assert err.code == "Forbidden.ResourceNotFound"


def test_a_secret_whose_deletion_fell_due_is_gone(start_cloud):
    secrets = [secret("old/app", PlannedDeleteTime="2030-01-01T00:00:00Z"), secret("soon/app", PlannedDeleteTime="2030-01-08T00:00:00Z")]
    client = alice_kms(start_cloud(make_account(kms={"secrets": secrets}), now="2030-01-02T00:00:00Z"))

    assert listed(client) == ["soon/app"]
    assert error_of(lambda: client.describe_secret(kms.DescribeSecretRequest(secret_name="old/app"))).code == "Forbidden.ResourceNotFound"


@pytest.mark.parametrize("bad", [{"KmsKeyId": KEY}, {"SecretType": "Password"}, {"AutomaticRotation": "On"},
                                 {"CreateTime": "yesterday"}, {"SecretData": "s3cr3t"}])
def test_the_account_file_refuses_fields_and_values_the_api_does_not_have(bad):
    with pytest.raises(ValueError):
        make_account(kms={"secrets": [secret("db/app", **bad)]})
