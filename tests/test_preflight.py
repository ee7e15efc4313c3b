"""`kms-steward preflight`: the read-only report an operator runs before disabling or deleting a key."""
from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from kms_steward.local import DEMO_ACCOUNT
from shared.clients import Clients, Credentials
from shared.preflight import build_preflight
from tests.support.accounts import ALICE_AK, ALICE_SECRET, BASE_ACCOUNT, KEY, OTHER_KEY, REGION, make_account
from tests.support.resources import bucket, disk, snapshot


def account_file(tmp_path, **sections):
    data = json.loads(json.dumps(BASE_ACCOUNT))
    data["ecs"]["disks"] = [{k: v for k, v in disk("d-app1").items() if v is not None}]
    data["ecs"]["snapshots"] = [snapshot("s-app1")]
    data["oss"]["buckets"].append(bucket("acme-invoices"))
    for name, value in sections.items():
        data[name] = value
    path = tmp_path / "account.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def preflight(*args):
    return CliRunner().invoke(main, ["preflight", *args])


def test_json_report_lists_identity_dependents_and_the_checklist(tmp_path):
    result = preflight("--key-id", "alias/payments", "--account", str(account_file(tmp_path)), "--format", "json")
    assert result.exit_code == 4, result.output  # blocked: `preflight --help` documents the codes
    report = json.loads(result.stdout)
    key = report["key"]
    assert key["key_id"] == KEY and key["aliases"] == ["alias/payments"] and key["region"] == REGION
    assert key["arn"] == f"acs:kms:{REGION}:1234567890123456:key/{KEY}" and key["account_id"] == "1234567890123456"
    assert key["state"] == "Enabled" and key["deletion_protection"] == "Disabled"
    found = {c["scanner"]: [d["resource_id"] for d in c["dependents"]] for c in report["categories"]}
    assert found["ecs_disks"] == ["d-app1"] and found["ecs_snapshots"] == ["s-app1"] and found["oss_buckets"] == ["acme-invoices"]
    assert report["assessments"]["delete"]["verdict"] == "blocked"
    assert "CancelKeyDeletion" in report["rollback"]["delete"] and "EnableKey" in report["rollback"]["disable"]
    assert any("d-app1" in c and "ECS Disk(s)" in c for c in report["confirmations"])
    assert any("s-app1" in c and "ECS Snapshot(s)" in c for c in report["confirmations"])
    # The after-checks name the alerts key-guard really raises for this mutation.
    assert any("KmsKeyDeletionBlocked" in c and "KmsKeyDeletionIntendedWithDependents" in c for c in report["post_checks"])
    assert report["post_checks"] and "7 to 366 days" in report["deletion_window"]


def test_markdown_and_table_formats_carry_every_section(tmp_path):
    path = str(account_file(tmp_path))
    md = preflight("--key-id", KEY, "--account", path, "--format", "md", "--action", "disable")
    assert md.exit_code == 3, md.output  # risky
    # Section 5 of a disable says what disabling means; a deletion window does not apply to it.
    for heading in ("# Pre-flight: disable", "## 1. Key", "## 2. Dependents", "## 3. Usage evidence", "## 4. Disable versus delete",
                    "## 5. While disabled", "## 6. Rollback", "## 7. Confirm before acting", "## 8. After the change"):
        assert heading in md.stdout
    assert "Deletion window" not in md.stdout
    assert "`d-app1`" in md.stdout
    assert "KmsKeyDisabledWithDependents" in md.stdout and "KmsKeyDeletionBlocked" not in md.stdout
    table = preflight("--key-id", KEY, "--account", path)
    assert table.exit_code == 4 and "d-app1" in table.stdout and "Confirm before acting" in table.stdout
    for out in (md.output, table.output):
        assert ALICE_SECRET not in out


def test_a_key_nothing_uses_is_clear_to_disable_first(tmp_path):
    result = preflight("--key-id", OTHER_KEY, "--account", str(account_file(tmp_path)), "--format", "json")
    report = json.loads(result.stdout)
    assert report["audit_complete"] is True and report["usage"]["dependents"] == []
    assert all(not c["dependents"] for c in report["categories"])
    assert report["assessments"]["delete"]["verdict"] == "clear"
    assert report["assessments"]["disable"]["verdict"] == "clear"
    assert "Disable the key first" in report["recommendation"]


def test_an_unreadable_part_makes_the_report_incomplete_and_deletion_blocked(tmp_path):
    path = account_file(tmp_path, faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}])
    report = json.loads(preflight("--key-id", OTHER_KEY, "--account", str(path), "--format", "json").stdout)
    assert report["audit_complete"] is False
    disks = next(c for c in report["categories"] if c["scanner"] == "ecs_disks")
    assert disks["complete"] is False and "access denied" in disks["reason"]
    assert report["assessments"]["delete"]["verdict"] == "blocked" and "INCOMPLETE" in report["assessments"]["delete"]["summary"]


def test_an_unknown_key_is_a_clear_error(tmp_path):
    result = preflight("--key-id", "alias/nope", "--account", str(account_file(tmp_path)))
    assert result.exit_code == 2
    assert "cannot read key alias/nope" in result.output and "Traceback" not in result.output


def test_preflight_makes_no_write_call(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url(REGION))
    before = len(cloud.account.actiontrail.events)
    report = build_preflight(clients, KEY, REGION)
    assert [d.resource_id for d in report.dependents if d.service == "ECS"] == ["d-app1"]
    writes = [e for e in cloud.account.actiontrail.events[before:] if e.get("eventRW") == "Write"]
    assert writes == []


def test_preflight_on_the_demo_account_lists_every_dependent_it_holds_the_application_among_them():
    result = preflight("--key-id", "alias/payments", "--account", str(DEMO_ACCOUNT), "--format", "json")
    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    found = {(c["scanner"], d["resource_id"]) for c in report["categories"] for d in c["dependents"]}
    assert found == {("ecs_disks", "d-bp1payments0db01"), ("ecs_disks", "d-bp1payments0db02"),
                     ("ecs_snapshots", "s-bp1payments0snap1"), ("oss_buckets", "acme-payments-invoices"),
                     ("rds_instances", "rm-bp1paymentsdb01"), ("kms_secrets", "payments/db-password")}
    [app] = report["usage"]["dependents"]
    assert app["resource_id"] == "ram-user:payments-api" and app["state"] == "live"
    assert "GenerateDataKey" in app["usage"] and "Decrypt" in app["usage"] and app["detail"]["source_ip"] == "10.0.1.15"
    assert report["audit_complete"] is True and report["assessments"]["delete"]["verdict"] == "blocked"
    assert "demo-payments-local-only-secret" not in result.output and "demo-alice-local-only-secret" not in result.output


def test_a_busy_key_says_its_evidence_was_cut_to_the_newest_events(start_cloud):
    from datetime import datetime, timedelta, timezone

    from shared.audit.scanners.kms_usage import MAX_EVENTS
    from tests.support.resources import crypto_event

    now = datetime.now(timezone.utc)
    busy = [crypto_event("Decrypt", when=now - timedelta(minutes=i), user="payments-api") for i in range(MAX_EVENTS + 50)]
    early = [crypto_event("GenerateDataKey", when=now - timedelta(days=20), user="monthly-report")]
    cloud = start_cloud(make_account(actiontrail={"events": busy + early}))
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url(REGION))

    report = build_preflight(clients, KEY, REGION)

    assert [d.resource_id for d in report.usage.dependents] == ["ram-user:payments-api"]  # the early caller is past the cut
    assert report.assessments["delete"].verdict == "blocked"
    assert f"newest {MAX_EVENTS} events" in report.usage_evidence_read and "not listed" in report.usage_evidence_read
