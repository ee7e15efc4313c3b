"""`kms-steward preflight --secret NAME`: the read-only report before deleting a secret, its outcome as the exit code."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from kms_steward.local import DEMO_ACCOUNT

CANARY = "demo-local-only-ledger-password"  # the demo secret's value: read by no report


def preflight(*args):
    return CliRunner().invoke(main, ["preflight", *args])


def demo_account_with(tmp_path, **changes) -> str:
    data = yaml.safe_load(DEMO_ACCOUNT.read_text())
    for name, value in changes.items():
        data[name] = value
    path = tmp_path / "account.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_a_secret_payments_api_reads_is_blocked_with_its_reader_and_the_restore_command():
    result = preflight("--secret", "payments/db-password", "--account", str(DEMO_ACCOUNT), "--format", "json")

    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "blocked" and report["pending_deletion"] is False
    assert report["encryption_key_id"] == "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b" and report["secret_type"] == "Generic"
    [reader] = report["readers"]
    assert reader["caller"] == "ram-user:payments-api" and reader["lastRead"] == "2026-11-02T06:30:00Z"
    assert report["restore_command"] == "aliyun kms RestoreSecret --SecretName payments/db-password --region cn-hangzhou"
    assert CANARY not in result.output
    assert set(report["api_calls"]) == {"kms:DescribeSecret", "actiontrail:LookupEvents"}  # read-only, no GetSecretValue


def test_a_secret_no_one_reads_is_clear():
    result = preflight("--secret", "web/session-signing-key", "--account", str(DEMO_ACCOUNT), "--format", "md")

    assert result.exit_code == 0, result.output
    assert "outcome **clear**" in result.stdout and "No GetSecretValue call named the secret" in result.stdout


def test_readers_that_cannot_be_read_make_the_report_incomplete(tmp_path):
    account = demo_account_with(tmp_path, faults=[{"Api": "actiontrail:LookupEvents", "Code": "Forbidden.RAM", "Status": 403}])

    result = preflight("--secret", "web/session-signing-key", "--account", account)

    assert result.exit_code == 5, result.output
    assert "INCOMPLETE: Forbidden.RAM" in result.stdout


def test_a_secret_pending_deletion_says_so_and_when(tmp_path):
    data = yaml.safe_load(DEMO_ACCOUNT.read_text())
    data["kms"]["secrets"][1]["PlannedDeleteTime"] = "2026-11-27T09:00:00Z"
    account = demo_account_with(tmp_path, kms=data["kms"])

    report = json.loads(preflight("--secret", "web/session-signing-key", "--account", account, "--format", "json").stdout)

    assert report["pending_deletion"] is True and report["planned_delete_time"] == "2026-11-27T09:00:00Z"


def test_an_unknown_secret_is_a_clear_error():
    result = preflight("--secret", "no/such-secret", "--account", str(DEMO_ACCOUNT))

    assert result.exit_code == 2
    assert "cannot read secret no/such-secret in cn-hangzhou: secret no/such-secret not found in cn-hangzhou" in result.output


def test_a_key_and_a_secret_at_once_are_refused():
    result = preflight("--secret", "payments/db-password", "--key-id", "alias/payments", "--account", str(DEMO_ACCOUNT))

    assert result.exit_code == 2 and "name a key (--key-id) or a secret (--secret), one of them" in result.output


def test_half_of_the_trails_logstore_is_refused_not_ignored():
    for half in (["--trail-project", "aliyun-actiontrail"], ["--trail-logstore", "actiontrail_audit-trail"]):
        result = preflight("--secret", "payments/db-password", *half)
        assert result.exit_code == 2
        assert "--trail-project and --trail-logstore name the trail's logstore together" in result.output
