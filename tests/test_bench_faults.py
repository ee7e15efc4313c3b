"""`kms-steward bench faults` on a small subset, through the CLI and the same code path as the full run:
the guard's own write (CancelKeyDeletion) throttled past every retry, and one scanner's listing denied
and paged with a capped page size. Every cell's key has a dependent: none may end `allowed`, and no
alert may be named for something that did not happen."""
from __future__ import annotations

import json

from click.testing import CliRunner

from kms_steward.bench_faults import SCOPES, Run, build_account, classify, not_applicable
from kms_steward.cli import main


def test_a_small_fault_matrix_breaks_no_promise():
    args = ["bench", "faults", "--json", "--api", "kms:CancelKeyDeletion", "--api", "nas:DescribeFileSystems",
            "--fault", "throttled", "--fault", "denied", "--fault", "page_cap", "--workers", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    out = json.loads(result.stdout)
    assert out["wrongly_allowed"] == 0 and out["misnamed_alerts"] == 0
    cells = {(c["api"], c["fault"]): c for c in out["cells"]}
    assert set(cells) == {(api, kind) for api in ("kms:CancelKeyDeletion", "nas:DescribeFileSystems")
                          for kind in ("throttled", "denied", "page_cap")}
    # A cancel throttled on every attempt, the fail-safe cancel too: the key stays pending, and a person is told.
    throttled = cells[("kms:CancelKeyDeletion", "throttled")]
    assert throttled["outcome"] == "guard-failed" and throttled["alerts"] == ["KmsKeyGuardFailed"]
    assert cells[("kms:CancelKeyDeletion", "page_cap")]["outcome"] == "n/a"
    for kind in ("denied", "page_cap"):
        assert cells[("nas:DescribeFileSystems", kind)]["outcome"] in ("cancelled", "cancelled-failsafe")
    # Under the capped page the scanner still pages to the key's file system (listed last).
    assert "nas_file_systems found 1/1" in cells[("nas:DescribeFileSystems", "page_cap")]["detail"]


def test_each_cell_keeps_only_the_dependents_its_api_reaches():
    account = build_account(SCOPES["nas:DescribeFileSystems"])
    assert account["nas"]["file_systems"][-1]["KMSKeyId"]  # the key's file system, past a capped first page
    assert not account.get("ecs") and not account.get("actiontrail") and not account["kms"].get("secrets")
    guard = build_account(SCOPES["kms:CancelKeyDeletion"])
    assert len(guard["ecs"]["disks"]) == 1 and not guard.get("nas")


def test_outcomes_and_misnamed_alerts_are_what_happened():
    def run(state, *names):
        return Run(state, [{"Name": n, "keyId": "5e1c2b3a-0d9f-4c8b-a7e6-000000be0001"} for n in names], [], {}, [])

    assert classify(run("Enabled", "KmsKeyDeletionBlocked")) == ("cancelled", [])
    assert classify(run("Enabled", "KmsKeyGuardFailed")) == ("cancelled-failsafe", [])
    assert classify(run("PendingDeletion", "KmsKeyGuardFailed")) == ("guard-failed", [])
    assert classify(run("PendingDeletion"))[0] == "allowed"
    outcome, misnamed = classify(run("PendingDeletion", "KmsKeyDeletionBlocked", "KmsKeyDeletionAtRisk"))
    assert outcome == "allowed" and len(misnamed) == 2
    assert not_applicable("kms:DescribeKey", "page_cap") and not not_applicable("kms:ListSecrets", "page_cap")
