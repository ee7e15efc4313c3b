"""The operator CLI: `local invoke` against an account file, and the demo."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from tests.support.accounts import BASE_ACCOUNT, KEY, ROOT
from tests.support.resources import disk


def write_account(path, **changes):
    data = json.loads(json.dumps(BASE_ACCOUNT))
    data["kms"]["keys"][0].update(KeyState="PendingDeletion", DeleteDate="2026-12-01T00:00:00Z")
    data["ecs"]["disks"] = [{k: v for k, v in disk("d-app1").items() if v is not None}]
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


def test_local_invoke_prints_the_result_and_writes_the_state(tmp_path):
    account = ROOT / "examples" / "account-pending-deletion.yaml"  # the README's example
    state = tmp_path / "state.yaml"
    # As the README runs it: no --now, the example's as_of sets the clock (so it works on any date).
    result = CliRunner().invoke(main, ["local", "invoke", "key-guard", "--event", str(ROOT / "events" / "schedule_key_deletion.json"),
                                       "--account", str(account), "--state-out", str(state)])
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["results"][0]["status"] == "acted" and output["results"][0]["keyStateAfter"] == "Enabled"
    assert output["results"][0]["dependentCount"] == 4
    after = yaml.safe_load(state.read_text())
    assert after["kms"]["keys"][0]["KeyState"] == "Enabled"
    assert [e["Name"] for e in after["cms"]["events"]] == ["KmsKeyDeletionBlocked"]
    assert any(log["logstoreName"] == "key-guard-decisions" for log in after["sls"]["logs"])


def test_local_invoke_rejects_a_bad_account_file_with_a_clear_message(tmp_path):
    bad = write_account(tmp_path / "bad.yaml", ecs={"disks": [{"DiskId": "d-1", "RegionId": "cn-hangzhou", "KmsKeyId": KEY}]})
    result = CliRunner().invoke(main, ["local", "invoke", "key-guard", "--event", str(ROOT / "events" / "disable_key.json"),
                                       "--account", str(bad)])
    assert result.exit_code == 2
    assert "ecs.disks[0] (DiskId d-1)" in result.output and "KmsKeyId" in result.output
    assert "Traceback" not in result.output


def test_demo_ends_with_the_key_enabled():
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "ScheduleKeyDeletion" in result.output and "KmsKeyDeletionBlocked" in result.output
    assert "d-bp1payments0db01" in result.output and "acme-payments-invoices" in result.output
    assert "rm-bp1paymentsdb01" in result.output and "payments/db-password" in result.output
    assert "ram-user:payments-api" in result.output and "payments-api still works" in result.output
    assert "Enabled again" in result.output
    assert "demo-alice-local-only-secret" not in result.output and "demo-payments-local-only-secret" not in result.output
