"""Keys with imported key material (Origin EXTERNAL) through the official KMS SDK: PendingImport until
material is imported, GetParametersForImport's real RSA wrapping key, DeleteKeyMaterial taking the key
out of use at once, re-importing the same material restoring old ciphertexts, the refusals for
Aliyun_KMS keys, plus UpdateRotationPolicy and SetDeletionProtection's checks, and the ActionTrail
records of the new writes."""
from __future__ import annotations

import base64
import json
import os
from datetime import timedelta

import pytest
from alibabacloud_kms20160120 import models as kms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, KEY, REGION, make_account
from tests.support.clients import alice_kms, key_state, refused

NOW = "2030-01-01T00:00:00Z"
SECRET_B64 = base64.b64encode(b"card 4111-1111-1111-1111").decode()


@pytest.fixture
def cloud():
    """A local cloud without an s.yaml project: its EventBridge publishes but delivers to no function."""
    local = LocalCloud(make_account(), clock=Clock(NOW))
    local.start()
    yield local
    local.stop()


def create_external_key(client, **extra) -> str:
    meta = client.create_key(kms.CreateKeyRequest(origin="EXTERNAL", **extra)).body.key_metadata
    assert (meta.origin, meta.key_state) == ("EXTERNAL", "PendingImport")
    return meta.key_id


def wrap(public_key_b64: str, material: bytes, algorithm: str) -> str:
    public_key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    if algorithm == "RSAES_PKCS1_V1_5":
        pad = padding.PKCS1v15()
    else:
        digest = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
        pad = padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)
    return base64.b64encode(public_key.encrypt(material, pad)).decode()


def parameters(client, key_id: str, algorithm: str = "RSAES_OAEP_SHA_256"):
    return client.get_parameters_for_import(kms.GetParametersForImportRequest(
        key_id=key_id, wrapping_algorithm=algorithm, wrapping_key_spec="RSA_2048")).body


def import_material(client, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256", **extra):
    params = parameters(client, key_id, algorithm)
    return client.import_key_material(kms.ImportKeyMaterialRequest(
        key_id=key_id, import_token=params.import_token, encrypted_key_material=wrap(params.public_key, material, algorithm), **extra))


def encrypt(client, key_id: str) -> str:
    return client.encrypt(kms.EncryptRequest(key_id=key_id, plaintext=SECRET_B64)).body.ciphertext_blob


def decrypt(client, blob: str) -> str:
    return client.decrypt(kms.DecryptRequest(ciphertext_blob=blob)).body.plaintext


# ---------------------------------------------------------------- import, delete, re-import


def test_an_external_key_waits_for_its_material_and_refuses_crypto_until_then(cloud):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    assert refused(lambda: encrypt(client, key_id)) == ("Rejected.PendingImport", 409)

    params = parameters(client, key_id)
    assert params.key_id == key_id and params.import_token and params.token_expire_time == "2030-01-02T00:00:00Z"
    import_material(client, key_id, os.urandom(32))
    assert key_state(cloud, key_id) == "Enabled"
    assert decrypt(client, encrypt(client, key_id)) == SECRET_B64


@pytest.mark.parametrize("algorithm", ["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_every_documented_wrapping_algorithm_imports(cloud, algorithm):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    import_material(client, key_id, os.urandom(32), algorithm)
    assert key_state(cloud, key_id) == "Enabled"


def test_delete_key_material_takes_the_key_out_of_use_at_once_and_the_same_material_restores_it(cloud):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    material = os.urandom(32)
    import_material(client, key_id, material)
    blob = encrypt(client, key_id)

    client.delete_key_material(kms.DeleteKeyMaterialRequest(key_id=key_id))
    assert key_state(cloud, key_id) == "PendingImport"
    assert refused(lambda: decrypt(client, blob)) == ("Rejected.PendingImport", 409)
    assert refused(lambda: encrypt(client, key_id)) == ("Rejected.PendingImport", 409)

    # Different material is refused: a key is bound to the first material imported into it.
    assert refused(lambda: import_material(client, key_id, os.urandom(32))) == ("InvalidParameter", 400)
    assert key_state(cloud, key_id) == "PendingImport"

    import_material(client, key_id, material)
    assert key_state(cloud, key_id) == "Enabled"
    assert decrypt(client, blob) == SECRET_B64  # what it encrypted before decrypts again


def test_the_same_material_in_two_keys_makes_two_keys(cloud):
    client = alice_kms(cloud)
    material = os.urandom(32)
    first, second = create_external_key(client), create_external_key(client)
    import_material(client, first, material)
    import_material(client, second, material)
    blob = encrypt(client, first)
    # The blob names its key and key version: point it at the second key (same material) instead.
    versions = [client.describe_key(kms.DescribeKeyRequest(key_id=k)).body.key_metadata.primary_key_version for k in (first, second)]
    raw = base64.b64decode(blob).replace(first.encode(), second.encode(), 1).replace(versions[0].encode(), versions[1].encode(), 1)
    assert refused(lambda: decrypt(client, base64.b64encode(raw).decode())) == ("InvalidParameter", 400)
    assert decrypt(client, blob) == SECRET_B64


def test_import_checks_token_material_and_state(cloud):
    client = alice_kms(cloud)
    key_id, other = create_external_key(client), create_external_key(client)
    params = parameters(client, key_id)
    wrapped = wrap(params.public_key, os.urandom(32), "RSAES_OAEP_SHA_256")

    def attempt(**overrides):
        request = {"key_id": key_id, "import_token": params.import_token, "encrypted_key_material": wrapped, **overrides}
        return lambda: client.import_key_material(kms.ImportKeyMaterialRequest(**request))

    assert refused(attempt(key_id=other)) == ("InvalidParameter", 400)  # the token is another key's
    assert refused(attempt(import_token="bm90LWEtdG9rZW4=")) == ("InvalidParameter", 400)
    assert refused(attempt(encrypted_key_material=wrap(params.public_key, os.urandom(16), "RSAES_OAEP_SHA_256"))) == ("InvalidParameter", 400)
    assert refused(attempt(encrypted_key_material=wrap(parameters(client, key_id).public_key, os.urandom(32), "RSAES_OAEP_SHA_256"))) \
        == ("InvalidParameter", 400)  # wrapped under another answer's public key
    cloud.clock.advance(timedelta(hours=24, seconds=1))
    assert refused(attempt()) == ("InvalidParameter", 400)  # tokens last 24 hours
    assert key_state(cloud, key_id) == "PendingImport"


def test_material_with_an_expiry_is_deleted_when_the_clock_passes_it(cloud):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    expires = int(cloud.clock.now().timestamp()) + 3600
    import_material(client, key_id, os.urandom(32), key_material_expire_unix=expires)
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    assert (meta.key_state, meta.material_expire_time) == ("Enabled", "2030-01-01T01:00:00Z")
    cloud.clock.advance(timedelta(hours=1))
    assert key_state(cloud, key_id) == "PendingImport"
    assert refused(lambda: encrypt(client, key_id)) == ("Rejected.PendingImport", 409)


def test_pending_deletion_keeps_its_state_when_material_is_deleted(cloud):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    material = os.urandom(32)
    import_material(client, key_id, material)
    client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=key_id, pending_window_in_days=7))
    delete_date = client.describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata.delete_date

    client.delete_key_material(kms.DeleteKeyMaterialRequest(key_id=key_id))
    meta = client.describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata
    assert (meta.key_state, meta.delete_date) == ("PendingDeletion", delete_date)
    assert refused(lambda: import_material(client, key_id, material)) == ("Rejected.StateModifiedFailed", 409)

    client.cancel_key_deletion(kms.CancelKeyDeletionRequest(key_id=key_id))
    assert key_state(cloud, key_id) == "PendingImport"  # no material to come back Enabled with


def test_aliyun_kms_keys_have_no_material_to_delete_or_import(cloud):
    client = alice_kms(cloud)
    assert refused(lambda: client.delete_key_material(kms.DeleteKeyMaterialRequest(key_id=KEY))) == ("Rejected.UnsupportedOperation", 400)
    assert refused(lambda: parameters(client, KEY)) == ("Rejected.UnsupportedOperation", 400)
    assert key_state(cloud) == "Enabled"
    assert decrypt(client, encrypt(client, KEY)) == SECRET_B64


def test_create_key_refuses_an_unknown_origin(cloud):
    assert refused(lambda: alice_kms(cloud).create_key(kms.CreateKeyRequest(origin="AWS_KMS"))) == ("InvalidParameter", 400)


# ---------------------------------------------------------------- rotation policy and deletion protection


def test_rotation_cannot_be_enabled_for_imported_or_asymmetric_keys(cloud):
    client = alice_kms(cloud)
    external = create_external_key(client)
    import_material(client, external, os.urandom(32))
    asymmetric = client.create_key(kms.CreateKeyRequest(key_spec="RSA_2048")).body.key_metadata.key_id

    def enable(key_id, interval="7d"):
        return lambda: client.update_rotation_policy(kms.UpdateRotationPolicyRequest(
            key_id=key_id, enable_automatic_rotation=True, rotation_interval=interval))

    assert refused(enable(external)) == ("Rejected.UnsupportedOperation", 400)
    assert refused(enable(asymmetric)) == ("Rejected.UnsupportedOperation", 400)
    client.update_rotation_policy(kms.UpdateRotationPolicyRequest(key_id=external, enable_automatic_rotation=False))
    # integer[unit] with d, h, m or s, between 7 and 730 days
    for interval in ("7d", "168h", "10080m", "604800s"):
        enable(KEY, interval)()
        meta = client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata
        assert (meta.automatic_rotation, meta.rotation_interval) == ("Enabled", "604800s")
    assert refused(enable(KEY, "167h")) == ("InvalidParameter", 400)
    assert refused(enable(KEY, "731d")) == ("InvalidParameter", 400)


def test_set_deletion_protection_takes_the_key_arn(cloud):
    client = alice_kms(cloud)
    arn = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"

    def protect(**target):
        return lambda: client.set_deletion_protection(kms.SetDeletionProtectionRequest(enable_deletion_protection=True, **target))

    assert refused(protect(protected_resource_arn=KEY)) == ("InvalidParameter", 400)
    assert refused(protect(protected_resource_arn="alias/payments")) == ("InvalidParameter", 400)
    assert refused(protect(protected_resource_arn=f"acs:kms:{REGION}:9999999999999999:key/{KEY}")) == ("Forbidden.KeyNotFound", 404)
    protect(protected_resource_arn=arn)()
    assert client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.deletion_protection == "Enabled"
    client.set_deletion_protection(kms.SetDeletionProtectionRequest(key_id=KEY, enable_deletion_protection=False))  # the newer KeyId
    assert client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.deletion_protection == "Disabled"

    client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert refused(protect(protected_resource_arn=arn)) == ("Rejected.PendingDeletion", 409)


# ---------------------------------------------------------------- ActionTrail


def test_imports_and_deletions_of_material_are_recorded_and_published_without_the_material(cloud):
    client = alice_kms(cloud)
    key_id = create_external_key(client)
    material = os.urandom(32)
    params = parameters(client, key_id)
    wrapped = wrap(params.public_key, material, "RSAES_OAEP_SHA_256")
    client.import_key_material(kms.ImportKeyMaterialRequest(key_id=key_id, import_token=params.import_token, encrypted_key_material=wrapped))
    client.delete_key_material(kms.DeleteKeyMaterialRequest(key_id=key_id))
    assert cloud.bus.drain(timeout=30)

    trail = {e["eventName"]: e for e in cloud.account.actiontrail.events if e["userIdentity"]["accessKeyId"] == ALICE_AK}
    assert trail["GetParametersForImport"]["eventRW"] == "Read"
    assert trail["GetParametersForImport"]["requestParameters"]["WrappingKeySpec"] == "RSA_2048"
    imported, deleted = trail["ImportKeyMaterial"], trail["DeleteKeyMaterial"]
    assert (imported["eventRW"], deleted["eventRW"]) == ("Write", "Write")
    assert imported["requestParameters"]["KeyId"] == key_id and imported["requestParameters"]["EncryptedKeyMaterial"] == "****"
    assert imported["requestParameters"]["ImportToken"] == params.import_token
    # The API's one parameter, by its API name, beside what the gateway adds to every RPC record (AcsHost, HostId,
    # AcsProduct, RequestId, Region: the ActionTrail samples, localcloud/actiontrail.py).
    assert {k: v for k, v in deleted["requestParameters"].items()
            if k not in ("AcsHost", "HostId", "AcsProduct", "RequestId", "Region")} == {"KeyId": key_id}
    assert deleted["referencedResources"] == {"ACS::KMS::Key": [key_id]}

    published = {e["data"]["eventName"]: e for e in cloud.bus.published}
    for name in ("ImportKeyMaterial", "DeleteKeyMaterial"):
        assert published[name]["type"] == "kms:ActionTrail:ApiCall" and published[name]["subject"].endswith(f":key/{key_id}")
    assert "GetParametersForImport" not in published  # reads are recorded, not published
    everything = json.dumps(cloud.account.actiontrail.events) + json.dumps(cloud.bus.published) + json.dumps(cloud.state())
    assert wrapped not in everything and base64.b64encode(material).decode() not in everything and material.hex() not in everything
