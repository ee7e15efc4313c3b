"""`kms-steward sweep` on a local cloud seeded from an account file: the report by severity (md) or JSON, the exit
status, and a clear refusal of an unknown check."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, REGION
from tests.support.sweeps import NOW, days_before, key, secret

KEY_OFF = "55555555-0000-4000-8000-000000000001"


def account_file(tmp_path) -> str:
    data = {"account_id": ACCOUNT_ID, "as_of": NOW,
            "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"}],
            "regions": [{"RegionId": REGION}],
            "kms": {"keys": [key(KEY_OFF, AutomaticRotation="Disabled", CreationDate=days_before(NOW, 800))],
                    "secrets": [secret("app/old", created=days_before(NOW, 120))]}}
    path = tmp_path / "account.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_markdown_report_lists_findings_by_severity(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path)])
    assert result.exit_code == 3, result.output
    lines = result.output.splitlines()
    rows = [line for line in lines if line.startswith("| CRITICAL") or line.startswith("| WARN")]
    assert rows[0].startswith("| CRITICAL | key_rotation") and rows[1].startswith("| WARN | secret_rotation")
    assert "1 CRITICAL, 1 WARN, 0 INFO" in result.output


def test_json_report_and_one_check(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--check", "secret_rotation",
                                       "--format", "json", "--secret-rotation-days", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["outcome"] == "clear" and [r["check"] for r in report["results"]] == ["secret_rotation"]


def test_now_moves_the_clock_so_things_fall_due(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--check", "secret_rotation",
                                       "--format", "json", "--secret-rotation-days", "200", "--now", "2030-06-01T00:00:00Z"])
    assert result.exit_code == 3
    [finding] = json.loads(result.output)["results"][0]["findings"]
    assert finding["kind"] == "stale" and finding["resourceId"] == "app/old"


def test_unknown_check_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--check", "nope"])
    assert result.exit_code == 2
    assert "unknown check" in result.output and "key_rotation" in result.output
