"""The emulated KMS cryptography through the official SDK: Encrypt/Decrypt, data keys, the key-state
refusals, a deleted key's data lost for good, tampering, rotation keeping old ciphertexts readable,
ActionTrail records of every call without a secret in them, and the payments-api envelope application."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_tea_openapi.exceptions import ClientException

from kms_steward.envelope_app import APP_NAME, APP_USER_AGENT, PaymentsApp, RecordStore, app_client, open_, run_payments_app, seal
from localcloud.account import Account
from localcloud.products.kms_crypto import SEED_ENV
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms, error_of, sdk_config
from tests.support.scanners import scan_usage as scan

NOW = "2030-01-01T00:00:00Z"
SECRET = b"card 4111-1111-1111-1111 exp 12/31"
SECRET_B64 = base64.b64encode(SECRET).decode()
ARN = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"



def encrypt(client, key_id: str = KEY, plaintext: str = SECRET_B64, context: dict | None = None):
    return client.encrypt(kms.EncryptRequest(key_id=key_id, plaintext=plaintext, encryption_context=context)).body


def decrypt(client, blob: str, context: dict | None = None):
    return client.decrypt(kms.DecryptRequest(ciphertext_blob=blob, encryption_context=context)).body


def tampered(blob: str) -> str:
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# ---------------------------------------------------------------- Encrypt / Decrypt / data keys


def test_encrypt_decrypt_round_trip_by_id_alias_and_arn(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    blobs = []
    for ref in (KEY, "alias/payments", ARN):
        body = encrypt(client, ref)
        assert body.key_id == KEY and body.key_version_id and SECRET_B64 not in body.ciphertext_blob
        blobs.append(body.ciphertext_blob)
    assert len(set(blobs)) == 3  # a fresh nonce each time
    for blob in blobs:
        out = decrypt(client, blob)
        assert (out.plaintext, out.key_id, out.key_version_id) == (SECRET_B64, KEY, body.key_version_id)
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
    assert meta.primary_key_version == body.key_version_id


def test_encryption_context_must_be_equivalent(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    blob = encrypt(client, context={"app": "payments", "record": "pay-1"}).ciphertext_blob
    assert decrypt(client, blob, {"record": "pay-1", "app": "payments"}).plaintext == SECRET_B64  # order does not matter
    for wrong in (None, {"app": "payments", "record": "pay-2"}, {"app": "payments"}):
        err = error_of(lambda: decrypt(client, blob, wrong))
        assert (err.code, err.status_code) == ("InvalidParameter", 400) and "CiphertextBlob" in err.message


def test_generate_data_key_returns_a_key_that_decrypt_gives_back(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    for request, length in ((kms.GenerateDataKeyRequest(key_id=KEY), 32),
                            (kms.GenerateDataKeyRequest(key_id="alias/payments", key_spec="AES_128"), 16),
                            (kms.GenerateDataKeyRequest(key_id=KEY, key_spec="AES_128", number_of_bytes=64), 64)):
        request.encryption_context = {"purpose": "test"}
        body = client.generate_data_key(request).body
        data_key = base64.b64decode(body.plaintext)
        assert len(data_key) == length and body.key_id == KEY and body.key_version_id
        assert decrypt(client, body.ciphertext_blob, {"purpose": "test"}).plaintext == body.plaintext
    body = client.generate_data_key_without_plaintext(kms.GenerateDataKeyWithoutPlaintextRequest(key_id=KEY, key_spec="AES_256")).body
    assert body.key_id == KEY and len(base64.b64decode(decrypt(client, body.ciphertext_blob).plaintext)) == 32
    assert "Plaintext" not in body.to_map()


@pytest.mark.parametrize("call", [
    lambda c: encrypt(c, plaintext="not base64!"),
    lambda c: encrypt(c, plaintext=base64.b64encode(b"x" * 6145).decode()),
    lambda c: c.encrypt(kms.EncryptRequest(key_id=KEY, plaintext=SECRET_B64, encryption_context={"n": 1})),
    lambda c: c.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY, key_spec="AES_512")),
    lambda c: c.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY, number_of_bytes=1025)),
    lambda c: decrypt(c, "bm90IGEgYmxvYg=="),
], ids=["plaintext-not-base64", "plaintext-over-6KB", "context-not-strings", "bad-key-spec", "too-many-bytes", "not-a-blob"])
def test_bad_parameters_are_invalid_parameter(start_cloud, call):
    err = error_of(lambda: call(alice_kms(start_cloud(make_account()))))
    assert (err.code, err.status_code) == ("InvalidParameter", 400)


def test_tampered_blob_fails_and_reveals_nothing(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    blob = encrypt(client).ciphertext_blob
    err = error_of(lambda: decrypt(client, tampered(blob)))
    assert (err.code, err.status_code) == ("InvalidParameter", 400) and SECRET_B64 not in str(err)


def test_reencrypt_moves_a_ciphertext_to_another_key(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    blob = encrypt(client, context={"a": "1"}).ciphertext_blob
    moved = client.re_encrypt(kms.ReEncryptRequest(ciphertext_blob=blob, destination_key_id=OTHER_KEY,
                                                   source_encryption_context={"a": "1"},
                                                   destination_encryption_context={"b": "2"})).body
    assert moved.key_id == OTHER_KEY
    out = decrypt(client, moved.ciphertext_blob, {"b": "2"})
    assert (out.key_id, out.plaintext) == (OTHER_KEY, SECRET_B64)


# ---------------------------------------------------------------- key states


def test_disabled_key_refuses_crypto_until_enabled(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    blob = encrypt(client).ciphertext_blob
    client.disable_key(kms.DisableKeyRequest(key_id=KEY))
    for refused in (lambda: decrypt(client, blob), lambda: encrypt(client),
                    lambda: client.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY))):
        err = error_of(refused)
        assert (err.code, err.status_code) == ("Rejected.Disabled", 409)
    client.enable_key(kms.EnableKeyRequest(key_id=KEY))
    assert decrypt(client, blob).plaintext == SECRET_B64


def test_data_under_a_deleted_key_is_lost(start_cloud):
    cloud = start_cloud(make_account(), now=NOW)
    client = alice_kms(cloud)
    blob = encrypt(client).ciphertext_blob
    client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    err = error_of(lambda: decrypt(client, blob))
    assert (err.code, err.status_code) == ("Rejected.PendingDeletion", 409)
    cloud.clock.advance(timedelta(days=7, seconds=1))
    err = error_of(lambda: decrypt(client, blob))
    assert (err.code, err.status_code) == ("Forbidden.KeyNotFound", 404)


# ---------------------------------------------------------------- rotation


def test_rotation_adds_a_primary_version_and_old_ciphertexts_still_decrypt(start_cloud):
    cloud = start_cloud(make_account(), now=NOW)
    client = alice_kms(cloud)
    before = encrypt(client)
    client.update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=KEY, enable_automatic_rotation=True, rotation_interval="7d"))
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
    assert (meta.automatic_rotation, meta.rotation_interval, meta.next_rotation_date) == ("Enabled", "604800s", "2030-01-08T00:00:00Z")

    cloud.clock.advance(timedelta(days=8))
    after = encrypt(client)
    assert after.key_version_id != before.key_version_id
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
    assert (meta.primary_key_version, meta.last_rotation_date, meta.next_rotation_date) == (
        after.key_version_id, "2030-01-08T00:00:00Z", "2030-01-15T00:00:00Z")
    versions = client.list_key_versions(kms.ListKeyVersionsRequest(key_id=KEY)).body
    assert [v.key_version_id for v in versions.key_versions.key_version] == [before.key_version_id, after.key_version_id]
    assert versions.total_count == 2
    old = decrypt(client, before.ciphertext_blob)
    assert (old.plaintext, old.key_version_id) == (SECRET_B64, before.key_version_id)
    assert decrypt(client, after.ciphertext_blob).key_version_id == after.key_version_id
    version = client.describe_key_version(kms.DescribeKeyVersionRequest(key_id=KEY, key_version_id=after.key_version_id)).body
    assert version.key_version.creation_date == "2030-01-08T00:00:00Z"
    err = error_of(lambda: client.update_rotation_policy(kms.UpdateRotationPolicyRequest(
        key_id=KEY, enable_automatic_rotation=True, rotation_interval="3d")))
    assert (err.code, err.status_code) == ("InvalidParameter", 400)


def test_material_is_not_in_the_account_file_and_a_shared_seed_keeps_ciphertexts_across_restarts(start_cloud, monkeypatch):
    monkeypatch.setenv(SEED_ENV, "test-seed-shared-by-both-runs")
    first = start_cloud(make_account(), now=NOW)
    client = alice_kms(first)
    client.update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=KEY, enable_automatic_rotation=True, rotation_interval="7d"))
    first.clock.advance(timedelta(days=8))
    blob = encrypt(client).ciphertext_blob
    state = first.state()
    assert [len(k.get("KeyVersions", [])) for k in state["kms"]["keys"]] == [2, 0]

    again = start_cloud(Account.from_data(state), now=NOW)
    assert decrypt(alice_kms(again), blob).plaintext == SECRET_B64
    monkeypatch.delenv(SEED_ENV)
    other = start_cloud(Account.from_data(state), now=NOW)  # another cloud's random seed: other material
    err = error_of(lambda: decrypt(alice_kms(other), blob))
    assert (err.code, err.status_code) == ("InvalidParameter", 400)


# ---------------------------------------------------------------- ActionTrail


def test_crypto_calls_reach_actiontrail_with_the_key_and_no_secret_anywhere(start_cloud):
    cloud = start_cloud(make_account())
    client = alice_kms(cloud)
    blob = encrypt(client, "alias/payments").ciphertext_blob
    decrypt(client, blob)
    data_key = client.generate_data_key(kms.GenerateDataKeyRequest(key_id=KEY)).body
    error_of(lambda: decrypt(client, tampered(blob)))

    trail = {e["eventName"]: e for e in cloud.account.actiontrail.events if e["serviceName"] == "Kms"}
    for name in ("Encrypt", "Decrypt", "GenerateDataKey"):
        assert trail[name]["referencedResources"] == {"ACS::KMS::Key": [KEY]} and trail[name]["eventRW"] == "Read"
    assert trail["Encrypt"]["requestParameters"]["Plaintext"] == "****"
    assert trail["Encrypt"]["requestParameters"]["KeyId"] == "alias/payments"
    assert trail["Decrypt"]["requestParameters"]["CiphertextBlob"] == "****"
    failed = [e for e in cloud.account.actiontrail.events if e["eventName"] == "Decrypt" and e["errorCode"]]
    assert [e["errorCode"] for e in failed] == ["InvalidParameter"]

    state = json.dumps(cloud.state())
    for secret in (SECRET_B64, data_key.plaintext, blob):
        assert secret not in state


def test_reads_of_every_product_are_recorded_and_only_writes_reach_eventbridge(start_cloud):
    cloud = start_cloud(make_account())
    EcsClient(sdk_config(cloud)).describe_disks(ecs.DescribeDisksRequest(region_id=REGION, kmskey_id=KEY))
    alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=KEY))
    assert cloud.bus.published == []
    alice_kms(cloud).tag_resource(kms.TagResourceRequest(key_id=KEY, tags='[{"TagKey": "team", "TagValue": "payments"}]'))
    assert cloud.bus.drain(timeout=60)

    recorded = [(e["serviceName"], e["eventName"], e["eventRW"]) for e in cloud.account.actiontrail.events]
    assert recorded[:3] == [("Ecs", "DescribeDisks", "Read"), ("Kms", "DescribeKey", "Read"), ("Kms", "TagResource", "Write")]
    assert [e["data"]["eventName"] for e in cloud.bus.published] == ["TagResource"]


# ---------------------------------------------------------------- the envelope application


def test_envelope_seal_stores_no_secret_and_opens_back(start_cloud):
    client = alice_kms(start_cloud(make_account()))
    envelope = seal(client, "alias/payments", SECRET, {"record": "r1"})
    assert envelope["KeyId"] == KEY and SECRET_B64 not in json.dumps(envelope) and "Plaintext" not in envelope
    assert open_(client, envelope) == SECRET
    with pytest.raises(ClientException):
        open_(client, envelope, {"record": "r2"})  # another record's context


def test_payments_app_is_a_distinct_caller_and_its_records_need_the_key(start_cloud, tmp_path):
    cloud = start_cloud(make_account())
    store = tmp_path / "payments.json"
    summary = run_payments_app(cloud, KEY, n_records=3, store_path=store)

    assert summary["round_trip_ok"] and summary["records_written"] == summary["records_read_back"] == 3
    assert summary["kms_calls"] == {"GenerateDataKey": 3, "Decrypt": 3} and summary["errors"] == {}
    [app_credential] = [c for c in cloud.account.credentials if c.UserName == APP_NAME]
    assert app_credential.AccessKeySecret not in json.dumps(summary) and "card_last4" not in store.read_text()

    app_events = [e for e in cloud.account.actiontrail.events if e["userIdentity"]["userName"] == APP_NAME]
    assert sorted({e["eventName"] for e in app_events}) == ["Decrypt", "GenerateDataKey"]
    assert all(APP_USER_AGENT in e["userAgent"] and e["referencedResources"] == {"ACS::KMS::Key": [KEY]} for e in app_events)
    found, _ = scan(cloud)
    assert found[f"ram-user:{APP_NAME}"].usage == "Decrypt×3, GenerateDataKey×3 in the last 30 days"

    # The records stay in the application's store; with the key disabled it can no longer read them.
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))
    client, _ = app_client(cloud)
    app = PaymentsApp(client, KEY, RecordStore(store))
    err = error_of(lambda: app.load("pay-0001"))
    assert err.code == "Rejected.Disabled"
    summary = run_payments_app(cloud, KEY, n_records=2)
    assert summary["errors"] == {"Rejected.Disabled": 2} and not summary["round_trip_ok"]
