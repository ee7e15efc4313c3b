"""The local cloud's Secrets Manager values (localcloud/products/kms_secret_values.py), driven by the official KMS
SDK over HTTP: versions and stages as a rotation moves them, idempotent PutSecretValue, the version and stage
limits, values encrypted under the secret's key (a disabled or deleted key makes them unreadable), deletion,
restore and the clock, GetRandomPassword, and a secret value that never reaches ActionTrail, the state or an
error message."""
from __future__ import annotations

import json
import string
from datetime import timedelta

import pytest
from alibabacloud_kms20160120 import models as kms

from tests.conftest import ACCOUNT_ID, KEY, REGION, alice_kms, error_of, make_account, refused

NOW = "2030-01-01T00:00:00Z"
CANARY = "canary-7f3e9b1c-do-not-leak"


def create(client, name: str, value: str, version: str = "v1", key: str | None = KEY, **extra):
    return client.create_secret(kms.CreateSecretRequest(secret_name=name, secret_data=value, version_id=version,
                                                        encryption_key_id=key, **extra)).body


def put(client, name: str, value: str, version: str, stages: list[str] | None = None):
    request = kms.PutSecretValueRequest(secret_name=name, secret_data=value, version_id=version,
                                        version_stages=json.dumps(stages) if stages is not None else None)
    return client.put_secret_value(request).body


def get(client, name: str, **kwargs):
    return client.get_secret_value(kms.GetSecretValueRequest(secret_name=name, **kwargs)).body


def stages(client, name: str, include_deprecated: bool = False) -> dict[str, list[str]]:
    """{version id: its stages}, every page read."""
    out, page = {}, 1
    while True:
        body = client.list_secret_version_ids(kms.ListSecretVersionIdsRequest(
            secret_name=name, include_deprecated=str(include_deprecated).lower(), page_size=3, page_number=page)).body
        out.update({v.version_id: v.version_stages.version_stage for v in body.version_ids.version_id})
        if page * 3 >= body.total_count:
            return out
        page += 1


def move(client, name: str, stage: str, to: str | None = None, away: str | None = None):
    return client.update_secret_version_stage(kms.UpdateSecretVersionStageRequest(
        secret_name=name, version_stage=stage, move_to_version=to, remove_from_version=away))


def test_versions_and_stages_as_a_rotation_moves_them(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    body = create(client, "db/app", "pw-1")
    assert (body.secret_name, body.version_id, body.secret_type, body.arn) == (
        "db/app", "v1", "Generic", f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/db/app")
    current = get(client, "db/app")
    assert (current.secret_data, current.version_id, current.version_stages.version_stage, current.secret_data_type,
            current.create_time) == ("pw-1", "v1", ["ACSCurrent"], "text", NOW)

    # A pending version leaves ACSCurrent where it is, then is promoted: the old current becomes ACSPrevious.
    assert put(client, "db/app", "pw-2", "v2", ["MyPendingLabel"]).version_stages.version_stage == ["MyPendingLabel"]
    assert get(client, "db/app").secret_data == "pw-1"
    assert get(client, "db/app", version_stage="MyPendingLabel").secret_data == "pw-2"
    move(client, "db/app", "ACSCurrent", to="v2")
    assert stages(client, "db/app") == {"v1": ["ACSPrevious"], "v2": ["MyPendingLabel", "ACSCurrent"]}
    move(client, "db/app", "MyPendingLabel", away="v2")
    assert stages(client, "db/app") == {"v1": ["ACSPrevious"], "v2": ["ACSCurrent"]}
    assert (get(client, "db/app").secret_data, get(client, "db/app", version_stage="ACSPrevious").secret_data) == ("pw-2", "pw-1")
    assert get(client, "db/app", version_id="v1").secret_data == "pw-1"

    # A plain PutSecretValue becomes current; the current before it becomes previous; v1 keeps no stage.
    assert put(client, "db/app", "pw-3", "v3").version_stages.version_stage == ["ACSCurrent"]
    assert stages(client, "db/app") == {"v2": ["ACSPrevious"], "v3": ["ACSCurrent"]}
    assert stages(client, "db/app", include_deprecated=True) == {"v1": [], "v2": ["ACSPrevious"], "v3": ["ACSCurrent"]}
    # Rolling back swaps ACSCurrent and ACSPrevious.
    move(client, "db/app", "ACSCurrent", to="v2", away="v3")
    assert stages(client, "db/app") == {"v2": ["ACSCurrent"], "v3": ["ACSPrevious"]}
    assert "UpdateTime" in client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app")).body.to_map()


def test_put_is_idempotent_per_version_id_and_a_version_is_written_once(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    create(client, "db/app", "pw-1")
    put(client, "db/app", "pw-2", "v2")
    # The same value again: success, nothing moves (not even with other stages asked).
    again = put(client, "db/app", "pw-2", "v2", ["Other"])
    assert (again.version_id, again.version_stages.version_stage) == ("v2", ["ACSCurrent"])
    assert stages(client, "db/app", include_deprecated=True) == {"v1": ["ACSPrevious"], "v2": ["ACSCurrent"]}
    # Another value under an existing version id is refused, and the refusal names neither value.
    err = error_of(lambda: put(client, "db/app", "pw-other", "v1"))
    assert (err.code, err.status_code) == ("Rejected.ResourceExist", 409)
    assert "pw-other" not in err.message and "pw-1" not in err.message
    assert get(client, "db/app", version_id="v1").secret_data == "pw-1"


def test_get_secret_value_selects_by_stage_or_version_and_refuses_what_does_not_exist(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    create(client, "db/app", "pw-1")
    put(client, "db/app", "pw-2", "v2")
    assert get(client, "db/app", version_id="v1", version_stage="ACSPrevious").secret_data == "pw-1"
    assert refused(lambda: get(client, "db/app", version_id="v1", version_stage="ACSCurrent")) == ("InvalidParameter", 400)
    assert refused(lambda: get(client, "db/app", version_id="v9")) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: get(client, "db/app", version_stage="NoSuchStage")) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: get(client, "db/none")) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: get(client, "db/app", dry_run="true")) == ("DryRunOperationError", 400)
    by_arn = get(client, f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/db/app")
    assert (by_arn.secret_name, by_arn.secret_data) == ("db/app", "pw-2")


def test_update_secret_version_stage_refusals(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    create(client, "db/app", "pw-1")
    put(client, "db/app", "pw-2", "v2", ["Pending"])
    assert refused(lambda: move(client, "db/app", "ACSCurrent", away="v1")) == ("InvalidParameter", 400)  # system stages only move
    assert refused(lambda: move(client, "db/app", "ACSPrevious", away="v1")) == ("InvalidParameter", 400)
    assert refused(lambda: move(client, "db/app", "Pending")) == ("InvalidParameter", 400)  # neither version named
    assert refused(lambda: move(client, "db/app", "Pending", away="v1")) == ("InvalidParameter", 400)  # v1 does not carry it
    assert refused(lambda: move(client, "db/app", "ACSCurrent", to="v9")) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: move(client, "db/none", "ACSCurrent", to="v1")) == ("Forbidden.ResourceNotFound", 404)
    assert stages(client, "db/app") == {"v1": ["ACSCurrent"], "v2": ["Pending"]}
    # A custom stage moves like ACSCurrent: the version that had it loses it.
    move(client, "db/app", "Pending", to="v1")
    assert stages(client, "db/app", include_deprecated=True) == {"v1": ["ACSCurrent", "Pending"], "v2": []}


def test_ten_versions_at_most_the_earliest_without_a_stage_goes_and_eight_stages_at_most(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    create(client, "db/app", "pw-1")
    move(client, "db/app", "Pinned", to="v1")  # v1 keeps a stage: it is never the one to go
    for i in range(2, 13):
        put(client, "db/app", f"pw-{i}", f"v{i}")
    kept = stages(client, "db/app", include_deprecated=True)
    assert list(kept) == ["v1", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12"]  # v2 and v3 went, oldest first
    assert (kept["v1"], kept["v11"], kept["v12"]) == (["Pinned"], ["ACSPrevious"], ["ACSCurrent"])
    assert stages(client, "db/app") == {"v1": ["Pinned"], "v11": ["ACSPrevious"], "v12": ["ACSCurrent"]}
    assert refused(lambda: get(client, "db/app", version_id="v2")) == ("Forbidden.ResourceNotFound", 404)
    page = client.list_secret_version_ids(kms.ListSecretVersionIdsRequest(secret_name="db/app", include_deprecated="true")).body
    assert (page.page_size, page.page_number, page.total_count, len(page.version_ids.version_id)) == (20, 1, 10, 10)

    for i, version in enumerate(["v4", "v5", "v6", "v7", "v8"]):  # 3 stages so far, 8 at most
        move(client, "db/app", f"S{i}", to=version)
    assert refused(lambda: move(client, "db/app", "OneTooMany", to="v9")) == ("Rejected.LimitExceeded", 400)
    assert refused(lambda: put(client, "db/app", "pw-13", "v13", ["OneTooMany"])) == ("Rejected.LimitExceeded", 400)
    put(client, "db/app", "pw-13", "v13", ["S0"])  # moving an existing stage is no new stage


def test_values_are_encrypted_under_the_secrets_key_and_its_state_decides_reads(start_cloud):
    seeded = {"SecretName": "seeded/app", "RegionId": REGION, "EncryptionKeyId": "alias/payments", "CreateTime": NOW,
              "Versions": [{"VersionId": "s1", "VersionStages": ["ACSCurrent"], "SecretData": f"{CANARY}-seeded"}]}
    cloud = start_cloud(make_account(kms={"secrets": [seeded]}), now=NOW)
    client = alice_kms(cloud)
    create(client, "db/app", "pw-1")
    create(client, "web/plain", "pw-default-key", key=None)  # Secrets Manager's own key
    assert get(client, "seeded/app").secret_data == f"{CANARY}-seeded"

    # At rest only ciphertext: a seeded plaintext was encrypted when the cloud started.
    state = cloud.state()
    versions = [v for s in state["kms"]["secrets"] for v in s.get("Versions", [])]
    assert len(versions) == 3 and all(set(v) >= {"CiphertextBlob"} and "SecretData" not in v for v in versions)
    assert not any(text in json.dumps(state) for text in (CANARY, "pw-1", "pw-default-key"))

    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    assert refused(lambda: get(client, "db/app")) == ("Rejected.Disabled", 409)
    assert refused(lambda: get(client, "seeded/app")) == ("Rejected.Disabled", 409)
    assert refused(lambda: put(client, "db/app", "pw-2", "v2")) == ("Rejected.Disabled", 409)
    assert refused(lambda: create(client, "db/other", "x")) == ("Rejected.Disabled", 409)
    assert get(client, "web/plain").secret_data == "pw-default-key"
    client.enable_key(kms.EnableKeyRequest(key_id=KEY))
    assert get(client, "db/app").secret_data == "pw-1"



def test_a_key_pending_deletion_refuses_reads_and_a_deleted_key_loses_the_values(start_cloud):
    """Set up in the account file, not by ScheduleKeyDeletion: key-guard would cancel that deletion (the secrets
    depend on the key), racing the reads."""
    gone = "00000000-0000-4000-8000-000000000000"
    secrets = [{"SecretName": name, "RegionId": REGION, "EncryptionKeyId": key,
                "Versions": [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": "pw"}]}
               for name, key in (("db/app", KEY), ("db/orphan", gone))]
    cloud = start_cloud(make_account(key_state="PendingDeletion", kms={"secrets": secrets}), now="2098-12-31T00:00:00Z")
    client = alice_kms(cloud)
    assert refused(lambda: get(client, "db/app")) == ("Rejected.PendingDeletion", 409)
    assert refused(lambda: put(client, "db/app", "pw-2", "v2")) == ("Rejected.PendingDeletion", 409)
    assert refused(lambda: get(client, "db/orphan")) == ("Forbidden.KeyNotFound", 404)
    assert refused(lambda: create(client, "db/late", "x", key=gone)) == ("Forbidden.KeyNotFound", 404)
    cloud.clock.advance(timedelta(days=2))  # past the key's DeleteDate: the key is gone, and the value with it
    assert refused(lambda: get(client, "db/app")) == ("Forbidden.KeyNotFound", 404)
    assert client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app")).body.encryption_key_id == KEY


def test_delete_restore_planned_delete_time_and_the_clock(start_cloud):
    cloud = start_cloud(make_account(), now=NOW)
    client = alice_kms(cloud)
    create(client, "db/app", "pw-1")
    deleted = client.delete_secret(kms.DeleteSecretRequest(secret_name="db/app")).body
    assert deleted.planned_delete_time == "2030-01-31T00:00:00Z"  # 30 days by default
    assert client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app")).body.planned_delete_time == "2030-01-31T00:00:00Z"
    assert refused(lambda: get(client, "db/app")) == ("Rejected.ResourceInDeleteWindow", 409)
    assert refused(lambda: put(client, "db/app", "pw-2", "v2")) == ("Rejected.ResourceInDeleteWindow", 409)
    assert refused(lambda: client.delete_secret(kms.DeleteSecretRequest(secret_name="db/app"))) == ("Rejected.ResourceInDeleteWindow", 409)
    assert refused(lambda: create(client, "db/app", "pw-new")) == ("Rejected.ResourceInDeleteWindow", 409)
    assert stages(client, "db/app") == {"v1": ["ACSCurrent"]}  # versions are still listed in the window

    client.restore_secret(kms.RestoreSecretRequest(secret_name="db/app"))
    assert get(client, "db/app").secret_data == "pw-1"
    assert client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app")).body.planned_delete_time is None
    assert refused(lambda: client.restore_secret(kms.RestoreSecretRequest(secret_name="db/app"))) == ("Rejected.ResourceInUse", 409)

    for days in ("6", "31", "soon"):
        assert refused(lambda: client.delete_secret(kms.DeleteSecretRequest(secret_name="db/app", recovery_window_in_days=days))) == (
            "InvalidParameter", 400)
    assert refused(lambda: client.delete_secret(kms.DeleteSecretRequest(
        secret_name="db/app", force_delete_without_recovery="true", recovery_window_in_days="7"))) == ("InvalidParameter", 400)
    week = client.delete_secret(kms.DeleteSecretRequest(secret_name="db/app", recovery_window_in_days="7")).body
    assert week.planned_delete_time == "2030-01-08T00:00:00Z"
    cloud.clock.advance(timedelta(days=7))
    assert refused(lambda: client.restore_secret(kms.RestoreSecretRequest(secret_name="db/app"))) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app"))) == ("Forbidden.ResourceNotFound", 404)
    assert client.list_secrets(kms.ListSecretsRequest()).body.total_count == 0
    create(client, "db/app", "pw-reborn")  # the name is free again

    forced = client.delete_secret(kms.DeleteSecretRequest(secret_name="db/app", force_delete_without_recovery="true")).body
    assert forced.planned_delete_time == "2030-01-08T00:00:00Z"  # now: gone at once, nothing to restore
    assert refused(lambda: client.restore_secret(kms.RestoreSecretRequest(secret_name="db/app"))) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: get(client, "db/app")) == ("Forbidden.ResourceNotFound", 404)


def test_create_secret_types_names_and_refusals(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))
    rds = create(client, "rds/app", '{"Accounts":[{"AccountName":"app","AccountPassword":"pw"}]}', secret_type="Rds",
                 extended_config={"SecretSubType": "SingleUser", "DBInstanceId": "rm-bp1"}, enable_automatic_rotation=True,
                 rotation_interval="7d")
    assert (rds.automatic_rotation, rds.rotation_interval, rds.next_rotation_date) == ("Enabled", "604800s", "2030-01-08T00:00:00Z")
    described = client.describe_secret(kms.DescribeSecretRequest(secret_name="rds/app")).body
    assert (described.secret_type, described.automatic_rotation, described.rotation_interval, described.next_rotation_date) == (
        "Rds", "Enabled", "604800s", "2030-01-08T00:00:00Z")
    assert json.loads(get(client, "rds/app", fetch_extended_config=True).extended_config)["DBInstanceId"] == "rm-bp1"
    assert get(client, "rds/app").extended_config is None
    assert refused(lambda: put(client, "rds/app", "x", "v2")) == ("Rejected.UnsupportedOperation", 400)  # generic secrets only
    generic = create(client, "web/app", "x", enable_automatic_rotation=True, rotation_interval="7d")  # ignored for Generic
    assert generic.automatic_rotation is None

    assert refused(lambda: create(client, "web/app", "again")) == ("Rejected.ResourceExist", 409)
    assert refused(lambda: create(client, "acs/mine", "x")) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "bad name!", "x")) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "web/big", "x" * 30721)) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "web/v", "x", version="v" * 65)) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "rds/no-config", "x", secret_type="Rds")) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "rds/fast", "x", secret_type="Rds", extended_config={"SecretSubType": "SingleUser"},
                                  enable_automatic_rotation=True, rotation_interval="1h")) == ("InvalidParameter", 400)
    assert refused(lambda: create(client, "web/tags", "x", tags=json.dumps([{"TagKey": "acs:x", "TagValue": "y"}]))) == (
        "InvalidParameter", 400)
    assert refused(lambda: client.create_secret(kms.CreateSecretRequest(secret_name="web/x", version_id="v1"))) == ("MissingParameter", 400)


def test_get_random_password_options(start_cloud):
    client = alice_kms(start_cloud(make_account(), now=NOW))

    def password(**kwargs) -> str:
        return client.get_random_password(kms.GetRandomPasswordRequest(**kwargs)).body.random_password

    assert len(password()) == 32 and len(password(password_length="8")) == 8 and len(password(password_length="128")) == 128
    only_lower = password(exclude_uppercase="true", exclude_numbers="true", exclude_punctuation="true")
    assert set(only_lower) <= set(string.ascii_lowercase)
    no_abc = password(password_length="128", exclude_characters="abcABC012!")
    assert not set(no_abc) & set("abcABC012!")
    for _ in range(20):
        each = password(password_length="8", require_each_included_type="true", exclude_punctuation="true")
        assert set(each) & set(string.ascii_lowercase) and set(each) & set(string.ascii_uppercase) and set(each) & set(string.digits)
        assert not set(each) & set(string.punctuation)
    for bad in ({"password_length": "7"}, {"password_length": "129"}, {"exclude_numbers": "maybe"},
                {"exclude_lowercase": "true", "exclude_uppercase": "true", "exclude_numbers": "true", "exclude_punctuation": "true"},
                {"exclude_punctuation": "true", "exclude_characters": string.ascii_letters + string.digits}):
        assert refused(lambda: password(**bad)) == ("InvalidParameter", 400)


def test_every_call_is_in_actiontrail_and_the_value_is_nowhere(start_cloud):
    cloud = start_cloud(make_account(), now=NOW)
    client = alice_kms(cloud)
    messages = []

    def attempt(call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every refusal's text is checked for the canary
            messages.append(str(exc))
            messages.append(getattr(exc, "message", ""))

    attempt(lambda: create(client, "db/canary", CANARY))
    attempt(lambda: put(client, "db/canary", CANARY + "-2", "v2"))
    attempt(lambda: put(client, "db/canary", CANARY + "-different", "v2"))  # refused: another value
    attempt(lambda: put(client, "db/canary", CANARY + "-v1-again", "v1"))
    attempt(lambda: move(client, "db/canary", "ACSCurrent", to="v1"))
    assert get(client, "db/canary").secret_data == CANARY
    attempt(lambda: get(client, "db/canary", version_id="v2", dry_run="true"))
    attempt(lambda: get(client, "db/canary", version_id="v1", version_stage="Nope"))
    attempt(lambda: client.list_secret_version_ids(kms.ListSecretVersionIdsRequest(secret_name="db/canary")))
    attempt(lambda: client.get_random_password(kms.GetRandomPasswordRequest()))
    attempt(lambda: client.delete_secret(kms.DeleteSecretRequest(secret_name="db/canary")))
    attempt(lambda: get(client, "db/canary"))  # refused in the delete window
    attempt(lambda: client.restore_secret(kms.RestoreSecretRequest(secret_name="db/canary")))
    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    attempt(lambda: get(client, "db/canary"))  # refused: the key is disabled
    cloud.bus.drain(timeout=10)

    events = [e for e in cloud.account.actiontrail.events if e["serviceName"] == "Kms"]
    names = {e["eventName"] for e in events}
    assert names >= {"CreateSecret", "PutSecretValue", "UpdateSecretVersionStage", "GetSecretValue", "ListSecretVersionIds",
                     "GetRandomPassword", "DeleteSecret", "RestoreSecret"}
    reads = [e for e in events if e["eventName"] == "GetSecretValue"]
    assert len(reads) == 5 and {e["eventRW"] for e in reads} == {"Read"}
    assert {e["errorCode"] for e in reads} == {"", "DryRunOperationError", "InvalidParameter", "Rejected.ResourceInDeleteWindow",
                                               "Rejected.Disabled"}
    assert all(e["referencedResources"]["ACS::KMS::Secret"] == ["db/canary"] for e in reads)
    writes = [e for e in events if e["eventName"] in ("CreateSecret", "PutSecretValue")]
    assert all(e["eventRW"] == "Write" and e["requestParameters"]["SecretData"] == "****" for e in writes)

    assert messages and not any(CANARY in text for text in messages)
    assert CANARY not in json.dumps(cloud.account.actiontrail.events)
    assert CANARY not in json.dumps(cloud.state())
    assert CANARY not in repr(cloud.account.kms.secrets)


@pytest.mark.parametrize("versions", [
    [{"VersionId": "v1", "VersionStages": ["ACSPrevious"], "SecretData": CANARY}],  # no ACSCurrent
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY}, {"VersionId": "v2", "VersionStages": ["ACSCurrent"],
                                                                              "SecretData": CANARY}],  # a stage on two versions
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY}, {"VersionId": "v1", "SecretData": CANARY}],
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"]}],  # no value
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY, "CiphertextBlob": "y"}],
    [{"VersionId": f"v{i}", "VersionStages": ["ACSCurrent"] if i == 0 else [], "SecretData": CANARY} for i in range(11)],
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY, "SecretDataType": "blob"}],
    [{"VersionId": "v1", "VersionStages": ["ACSCurrent"], "SecretData": CANARY, "Value": "y"}],
])
def test_the_account_file_refuses_versions_the_service_cannot_have(versions):
    with pytest.raises(ValueError) as raised:
        make_account(kms={"secrets": [{"SecretName": "db/app", "RegionId": REGION, "Versions": versions}]})
    assert CANARY not in str(raised.value)


def test_a_state_dump_decrypts_its_own_secret_values_in_the_next_cloud(start_cloud, monkeypatch):
    # `--state-out` then `--account state.yaml` is how a reader keeps a local cloud across runs: the values
    # it encrypted must read back, with no LOCALCLOUD_KMS_SEED set by hand.
    from localcloud.account import Account

    monkeypatch.delenv("LOCALCLOUD_KMS_SEED", raising=False)
    first = start_cloud(make_account())
    create(alice_kms(first), "payments/db", "canary-state-dump-1")
    dumped = first.state()

    second = start_cloud(Account.from_data(dumped))
    assert get(alice_kms(second), "payments/db").secret_data == "canary-state-dump-1"


def test_a_secret_is_encrypted_only_under_a_symmetric_key(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    rsa_key = client.create_key(kms.CreateKeyRequest(key_spec="RSA_2048", key_usage="ENCRYPT/DECRYPT")).body.key_metadata.key_id
    assert refused(lambda: create(client, "payments/db", "v", key=rsa_key)) == ("InvalidParameter", 400)


def test_tag_resource_and_untag_resource_on_a_secret(start_cloud):
    """TagResource / UntagResource with SecretName (the rotation's in-flight marker): tags merge by key, ListSecrets
    finds the secret by the new tag, UntagResource takes keys as a JSON array or comma-separated, and keys still work."""
    client = alice_kms(start_cloud(make_account(), now=NOW))
    create(client, "db/app", "pw-1", tags=json.dumps([{"TagKey": "team", "TagValue": "a"}]))

    def tags() -> dict:
        body = client.describe_secret(kms.DescribeSecretRequest(secret_name="db/app", fetch_tags="true")).body
        return {t.tag_key: t.tag_value for t in ((body.tags.tag if body.tags else None) or [])}

    def listed(*keys) -> list[str]:
        body = client.list_secrets(kms.ListSecretsRequest(fetch_tags="true", filters=json.dumps(
            [{"Key": "TagKey", "Values": list(keys)}]))).body
        return [s.secret_name for s in ((body.secret_list.secret if body.secret_list else None) or [])]

    client.tag_resource(kms.TagResourceRequest(secret_name="db/app", tags=json.dumps(
        [{"TagKey": "kms-steward:rotation-pending", "TagValue": "v2"}, {"TagKey": "team", "TagValue": "b"}])))
    assert tags() == {"team": "b", "kms-steward:rotation-pending": "v2"}
    assert listed("kms-steward:rotation-pending") == ["db/app"] == listed("nothing", "kms-steward:rotation-pending")
    client.untag_resource(kms.UntagResourceRequest(secret_name="db/app", tag_keys=json.dumps(["kms-steward:rotation-pending"])))
    assert tags() == {"team": "b"} and listed("kms-steward:rotation-pending") == []
    client.untag_resource(kms.UntagResourceRequest(secret_name="db/app", tag_keys="team,absent"))  # an absent key: fine
    assert tags() == {}
    assert refused(lambda: client.tag_resource(kms.TagResourceRequest(secret_name="db/app", tags=json.dumps(
        [{"TagKey": "acs:x", "TagValue": "y"}])))) == ("InvalidParameter", 400)
    assert refused(lambda: client.tag_resource(kms.TagResourceRequest(secret_name="db/none", tags=json.dumps(
        [{"TagKey": "a", "TagValue": "b"}])))) == ("Forbidden.ResourceNotFound", 404)
    assert refused(lambda: client.untag_resource(kms.UntagResourceRequest(secret_name="db/app", key_id=KEY,
                                                                          tag_keys='["a"]'))) == ("InvalidParameter", 400)
    assert refused(lambda: client.tag_resource(kms.TagResourceRequest(secret_name="db/app", tags=json.dumps(
        [{"TagKey": f"k{i}", "TagValue": ""} for i in range(21)])))) == ("InvalidParameter", 400)
    # A key is still tagged by KeyId, and now untagged too.
    client.tag_resource(kms.TagResourceRequest(key_id=KEY, tags=json.dumps([{"TagKey": "owner", "TagValue": "x"}])))
    client.untag_resource(kms.UntagResourceRequest(key_id=KEY, tag_keys='["owner"]'))
    keys = client.list_resource_tags(kms.ListResourceTagsRequest(key_id=KEY)).body
    assert "owner" not in [t.tag_key for t in ((keys.tags.tag if keys.tags else None) or [])]
