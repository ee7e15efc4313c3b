"""The account file: real API field names only, clear errors naming the record and field, round trip."""
from __future__ import annotations

import typing

import pytest

from localcloud import catalog
from localcloud.account import Account, AccountError
from localcloud.products.ecs import EcsDisk, EcsSnapshot
from localcloud.products.kms_state import KmsAlias, KmsKey
from localcloud.records import sdk_wire_names
from tests.support.accounts import BASE_ACCOUNT, KEY


def test_unknown_field_names_the_record_and_the_field():
    data = {**BASE_ACCOUNT, "ecs": {"disks": [{"DiskId": "d-1", "RegionId": "cn-hangzhou", "KmsKeyId": KEY}]}}
    with pytest.raises(AccountError) as err:
        Account.from_data(data, source="acct.yaml")
    assert "acct.yaml" in str(err.value) and "ecs.disks[0]" in str(err.value) and "DiskId d-1" in str(err.value)
    assert "KmsKeyId" in str(err.value)


def test_bad_value_names_the_record_and_the_field():
    data = {**BASE_ACCOUNT, "kms": {"keys": [{"KeyId": KEY, "RegionId": "cn-hangzhou", "KeyState": "Deleted"}]}}
    with pytest.raises(AccountError) as err:
        Account.from_data(data)
    assert f"kms.keys[0] (KeyId {KEY}) field KeyState" in str(err.value)


def test_pending_deletion_needs_a_delete_date():
    data = {**BASE_ACCOUNT, "kms": {"keys": [{"KeyId": KEY, "RegionId": "cn-hangzhou", "KeyState": "PendingDeletion"}]}}
    with pytest.raises(AccountError, match="DeleteDate"):
        Account.from_data(data)


def test_unknown_section_is_an_error():
    with pytest.raises(AccountError, match="rdss"):
        Account.from_data({**BASE_ACCOUNT, "rdss": {}})


def test_file_errors_are_clear(tmp_path):
    broken = tmp_path / "a.yaml"
    broken.write_text("account_id: [unclosed")
    with pytest.raises(AccountError, match="not valid YAML"):
        Account.load(broken)
    with pytest.raises(AccountError, match="cannot read"):
        Account.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_dump_and_load_round_trip(tmp_path, suffix):
    account = Account.from_data(BASE_ACCOUNT)
    path = tmp_path / f"state{suffix}"
    account.dump(path)
    assert Account.load(path).to_data() == account.to_data()


@pytest.mark.parametrize("model", [KmsKey, KmsAlias, EcsDisk, EcsSnapshot])
def test_typed_fields_are_the_sdk_wire_names(model):
    assert set(model.model_fields) - model.extra_fields <= sdk_wire_names(model.sdk_model)


def test_every_product_section_is_in_the_account_and_identifies_its_records_by_their_own_fields():
    # Each product declares its section beside its records (AccountSection): the account has a field for it, and the
    # fields that identify a record (unique_ids) are fields of that record; one it does not have would make every
    # record after the first look like the first listed twice, or no duplicate ever be found.
    sections = catalog.account_sections()
    assert set(sections) <= set(Account.model_fields)
    for name, section in sections.items():
        assert Account.model_fields[name].annotation is section
        for collection, fields in section.unique_ids.items():
            [record] = typing.get_args(section.model_fields[collection].annotation)
            assert set(fields) <= set(record.model_fields), (name, collection, fields)
