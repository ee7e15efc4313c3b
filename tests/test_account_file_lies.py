"""Account files that lie: each is refused when the CLI loads it, with the file, the record and the field
named, never a traceback and never a value from the credentials. A file that loads must describe an
account that can exist: one listed resource per id, every resource in a region the file serves."""
from __future__ import annotations

import copy
import json
import time

import pytest
import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from tests.support.accounts import ALICE_SECRET, BASE_ACCOUNT, KEY, OTHER_KEY, ROOT
from tests.support.resources import disk

EVENT = str(ROOT / "events" / "disable_key.json")


def account(**changes) -> dict:
    data = copy.deepcopy(BASE_ACCOUNT)
    data["ecs"]["disks"] = [{k: v for k, v in disk("d-app1").items() if v is not None}]
    data.update(changes)
    return data


def load(path):
    """Load the file as a user does: `local invoke` reads the account before anything runs."""
    return CliRunner().invoke(main, ["local", "invoke", "key-guard", "--event", EVENT, "--account", str(path)])


def refused(tmp_path, data: dict, *expected: str) -> str:
    path = tmp_path / "account.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = load(path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and ALICE_SECRET not in result.output
    assert str(path) in result.output
    for text in expected:
        assert text in result.output, result.output
    return result.output


def test_no_region_is_refused_not_an_index_error(tmp_path):
    out = refused(tmp_path, account(regions=[]), "regions:", "at least one region")
    assert "IndexError" not in out


def test_a_file_that_is_not_utf8_is_named_with_the_position(tmp_path):
    path = tmp_path / "latin1.yaml"
    text = yaml.safe_dump(account(), sort_keys=False).replace("UserName: alice", "UserName: alic\u00e9")
    path.write_bytes(text.encode("latin-1"))  # what an editor set to Latin-1 writes
    line = text.splitlines().index(next(x for x in text.splitlines() if "alic\u00e9" in x)) + 1
    result = load(path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}: not UTF-8 text (byte 0xe9 at line {line}, column" in result.output
    assert ALICE_SECRET not in result.output


def test_a_byte_order_mark_is_not_content(tmp_path):
    # Some editors write one; it is no reason to refuse an otherwise good file.
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(account(kms={"keys": [BASE_ACCOUNT["kms"]["keys"][0]]})).encode())
    result = load(path)
    assert result.exit_code == 0, result.output


def test_a_disk_size_that_is_no_number_names_the_disk_and_the_field(tmp_path):
    data = account()
    data["ecs"]["disks"][0]["Size"] = "huge"
    refused(tmp_path, data, "ecs.disks[0] (DiskId d-app1) field Size: must be an integer", "'huge'")


def test_other_api_fields_are_checked_for_their_shape(tmp_path):
    data = account()
    data["ecs"]["disks"][0]["DeleteWithInstance"] = "sometimes"  # DescribeDisks returns a boolean
    refused(tmp_path, data, "ecs.disks[0] (DiskId d-app1) field DeleteWithInstance: must be true or false")


def test_a_key_listed_twice_is_refused(tmp_path):
    data = account()
    data["kms"]["keys"].append({**data["kms"]["keys"][0], "Description": "the same key again"})
    refused(tmp_path, data, f"kms.keys[2] (KeyId {KEY}) field KeyId: {KEY} is listed twice (first at kms.keys[0])")


def test_any_resource_listed_twice_is_refused(tmp_path):
    data = account()
    data["ecs"]["disks"].append(dict(data["ecs"]["disks"][0]))
    data["kms"]["aliases"].append({"AliasName": "alias/payments", "KeyId": OTHER_KEY, "RegionId": "cn-hangzhou"})
    refused(tmp_path, data, "ecs.disks[1] (DiskId d-app1) field DiskId: d-app1 is listed twice",
            "kms.aliases[1] (AliasName alias/payments) field AliasName: alias/payments is listed twice in cn-hangzhou")


def test_an_instance_listed_twice_is_refused(tmp_path):
    # DescribeInstances never answers one InstanceId twice; which record would the local cloud serve?
    data = account()
    instance = {"InstanceId": "i-bp1app000001", "RegionId": "cn-hangzhou", "Status": "Running"}
    data["ecs"]["instances"] = [instance, {**instance, "Status": "Stopped"}]
    refused(tmp_path, data, "ecs.instances[1] (InstanceId i-bp1app000001) field InstanceId: i-bp1app000001 is listed twice "
                            "(first at ecs.instances[0])")


def test_an_enabled_key_with_a_delete_date_is_refused(tmp_path):
    data = account()
    data["kms"]["keys"][0]["DeleteDate"] = "2030-01-01T00:00:00Z"
    refused(tmp_path, data, f"kms.keys[0] (KeyId {KEY}) field DeleteDate: only a key in KeyState PendingDeletion has one",
            "this key is Enabled")


def test_a_resource_in_an_undeclared_region_is_refused_not_dropped_from_every_audit(tmp_path):
    data = account()
    data["ecs"]["disks"].append({**data["ecs"]["disks"][0], "DiskId": "d-sh-app", "RegionId": "cn-shanghai"})
    data["oss"]["buckets"].append({"Name": "acme-sh-archive", "Location": "oss-cn-shanghai"})
    refused(tmp_path, data, "ecs.disks[1] (DiskId d-sh-app) field RegionId: region cn-shanghai is not declared in `regions`",
            "oss.buckets[1] (Name acme-sh-archive) field Location: region cn-shanghai")
    # Declared, the same resources load.
    data["regions"].append({"RegionId": "cn-shanghai"})
    path = tmp_path / "declared.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load(path).exit_code == 0


def test_a_bad_secret_is_named_by_its_secret_name_not_its_region(tmp_path):
    data = account(kms={**BASE_ACCOUNT["kms"], "secrets": [{"SecretName": "app/db", "RegionId": "cn-hangzhou", "SecretType": "Bogus"}]})
    out = refused(tmp_path, data, "kms.secrets[0] (SecretName app/db) field SecretType")
    assert "(RegionId" not in out


def test_a_large_yaml_file_loads_with_the_c_loader(tmp_path):
    """A benchmark-sized YAML file never finished with PyYAML's pure-Python loader (killed after 300 s at
    2.9 GB for 50 MB); libyaml's loads it in seconds. The module must use it wherever PyYAML has it; a file
    of a few MB then loads through the CLI like any other (here with a key nothing uses: a clear report)."""
    from localcloud import account as account_module

    if yaml.__with_libyaml__:
        assert account_module.YAML_LOADER is yaml.CSafeLoader
    data = account()
    data["ecs"]["disks"] = [{k: v for k, v in disk(f"d-bulk{i:06d}", Size=40, Category="cloud_essd", ZoneId="cn-hangzhou-h").items()
                             if v is not None} for i in range(6000)]
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert path.stat().st_size > 1_500_000
    started = time.monotonic()
    result = CliRunner().invoke(main, ["preflight", "--key-id", OTHER_KEY, "--account", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output[-2000:]
    assert json.loads(result.stdout)["outcome"] == "clear"
    print(f"{path.stat().st_size / 1e6:.1f} MB account file: loaded and audited in {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("name", ["kms_steward/data/demo-account.yaml", "examples/account-pending-deletion.yaml"])
def test_the_shipped_account_files_tell_no_lies(name):
    from localcloud.account import Account

    assert Account.load(ROOT / name).file_problems() == []
