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


def test_every_check_runs_by_default_certificates_too(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--format", "json"])
    report = json.loads(result.stdout)  # stdout is the report alone: no progress display when stderr is no terminal
    assert [r["check"] for r in report["results"]] == ["key_rotation", "secret_rotation", "deletion_protection", "policies",
                                                       "cert_expiry"]
    assert result.stderr == ""


def test_a_check_that_could_not_be_loaded_is_reported_not_looked_at(tmp_path, monkeypatch):
    from shared.sweeps import checks

    monkeypatch.setitem(checks.UNAVAILABLE, "zz_broken", "SyntaxError: invalid syntax")
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--format", "json", "--check",
                                       "secret_rotation", "--secret-rotation-days", "200"])
    assert result.exit_code == 0  # named checks: only those
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--format", "json",
                                       "--key-rotation-days", "730", "--secret-rotation-days", "200"])
    [broken] = [r for r in json.loads(result.stdout)["results"] if r["check"] == "zz_broken"]
    assert not broken["complete"] and "could not be loaded (SyntaxError: invalid syntax)" in broken["reason"]
    assert result.exit_code in (3, 5)  # never clear
    named = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--check", "zz_broken"])
    assert named.exit_code == 2 and "could not be loaded" in named.output


def test_output_writes_the_report_to_a_file(tmp_path):
    out = tmp_path / "sweep.json"
    result = CliRunner().invoke(main, ["sweep", "--account", account_file(tmp_path), "--format", "json", "--output", str(out)])
    assert result.exit_code == 3 and result.stdout == ""
    assert json.loads(out.read_text())["outcome"] == "findings"
    assert f"report written to {out}" in result.stderr


def test_progress_is_shown_on_a_terminal_and_stdout_stays_the_report(tmp_path):
    """stderr a terminal (a pty), stdout a pipe: the progress display goes to the terminal, the JSON alone to stdout."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "kms_steward.cli", "sweep", "--account", account_file(tmp_path),
                             "--format", "json"], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the pty closes when the process ends
            break
        if not chunk:
            break
        terminal += chunk
    stdout, _ = proc.communicate(timeout=120)
    os.close(master)
    assert proc.returncode == 3
    assert json.loads(stdout)["outcome"] == "findings"
    shown = terminal.decode("utf-8", "replace")
    assert "cert_expiry" in shown or "key_rotation" in shown, shown[-500:]
