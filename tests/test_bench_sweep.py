"""`kms-steward bench sweep`: the estate it seeds, the minimum it compares with (recounted here from the account data
itself, not from the calculator's bookkeeping), and one tiny run end to end (2 accounts x 2 regions, --scale 0.01)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

from kms_steward.bench_sweep_fleet import Sizes, build, minimum_calls
from shared.rotation.schedule import INTERVAL_TAG, BadInterval, parse_interval

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("wall_s", "slowest_worker_s", "function_timeout_s", "calls_ratio_to_minimum", "peak_rss_mb", "sequential_wall_s")


def _pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def _valid_tag(secret: dict) -> bool:
    tag = next((t["TagValue"] for t in secret.get("Tags", []) if t["TagKey"] == INTERVAL_TAG), None)
    if tag is None:
        return True
    try:
        parse_interval(tag)
        return True
    except BadInterval:
        return False


def test_the_default_estate_is_the_issue_s_size():
    seeded = build(Sizes()).seeded()
    assert seeded == {"accounts": 3, "regions": 20, "targets": 60, "keys": 10_000, "secrets": 10_000, "certificates": 5_000}


def test_the_minimum_agrees_with_the_seeded_records():
    fleet = build(Sizes.scaled(0.05))
    minimum = minimum_calls(fleet)
    keys = [k for a in fleet.accounts for k in a["kms"]["keys"]]
    secrets = [s for a in fleet.accounts for s in a["kms"]["secrets"]]
    customer = [k for k in keys if str(k["Creator"]).isdigit()]
    per_target = Counter((k["Creator"], k["RegionId"]) for k in customer)
    secrets_per_target = Counter((a["account_id"], s["RegionId"]) for a in fleet.accounts for s in a["kms"]["secrets"])
    targets = [(a["account_id"], r["RegionId"]) for a in fleet.accounts for r in a["regions"]]

    assert minimum["kms:DescribeKey"] == len(customer) < len(keys)  # service keys are not described
    assert minimum["kms:ListKeys"] == sum(_pages(per_target[t], 100) for t in targets)
    assert minimum["kms:DescribeSecret"] == len(secrets)
    assert minimum["kms:ListSecrets"] == sum(_pages(secrets_per_target[t], 100) for t in targets)
    assert minimum["kms:ListSecretVersionIds"] == sum(1 for s in secrets if s["SecretType"] == "Generic"
                                                      and not s.get("PlannedDeleteTime") and _valid_tag(s))
    assert minimum["kms:GetKeyPolicy"] == sum(1 for k in customer if k.get("DKMSInstanceId") and k["KeyState"] != "PendingDeletion")
    assert minimum["kms:GetSecretPolicy"] == sum(1 for s in secrets if s.get("DKMSInstanceId") and not s.get("PlannedDeleteTime"))
    assert minimum["oss:GetBucketInfo"] == sum(len(a["oss"]["buckets"]) for a in fleet.accounts)
    assert minimum["sls:GetLogStore"] == sum(len(a["sls"]["logstores"]) for a in fleet.accounts)
    assert minimum["polardb:DescribeDBClusterEncryptionKey"] == sum(len(a["polardb"]["clusters"]) for a in fleet.accounts)
    for name in ("slb:DescribeServerCertificates", "ecs:DescribeDiskDefaultKMSKeyId", "nas:DescribeFileSystems"):
        assert minimum[name] == len(targets)
    expired = sum(1 for a in fleet.accounts for c in a["cas"]["certificates"] if c["EndDate"] < "2026-03-02")
    valid = sum(len(a["cas"]["certificates"]) for a in fleet.accounts) - expired
    assert minimum["cas:ListUserCertificateOrder"] >= _pages(valid, 50) + _pages(expired, 50)
    assert minimum["fc:InvokeFunction"] == 2 * len(targets)  # one worker per target, for each of the two sweeps
    assert minimum["sts:AssumeRole"] == 2 * sum(1 for a, _ in targets if a != fleet.accounts[0]["account_id"])


def test_a_tiny_sweep_bench_runs_end_to_end():
    out = subprocess.run([sys.executable, "-m", "kms_steward.cli", "bench", "sweep", "--scale", "0.01", "--accounts", "2",
                          "--regions", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert set(KEYS) <= set(r) and all(isinstance(r[k], (int, float)) for k in KEYS)
    s_yaml = yaml.safe_load((ROOT / "s.yaml").read_text())
    assert r["function_timeout_s"] == s_yaml["resources"]["compliance-sweep"]["props"]["timeout"]
    assert r["workers"] == 2 * 4 and not r["failed_workers"] and not r["incomplete"]
    # Every finding planted is found, fanned out and in one process alike.
    assert r["findings"] == r["planted_total"] == sum(r["sequential"]["findings"].values()) > 0
    # At this size nothing is read twice: each API the checks read was called exactly as often as the minimum says,
    # by the workers and by the one process alike.
    reads = r["sequential"]["minimum_calls_per_api"]
    assert reads and {api: r["api_calls_per_api"].get(api) for api in reads} == reads
    assert {api: r["sequential"]["api_calls_per_api"].get(api) for api in reads} == reads
    assert r["calls_ratio_to_minimum"] > 0 and r["peak_rss_mb"] > 0
    first = r["first_run"]  # the same sweep into an empty state, beside the daily run
    assert first["findings"] == r["planted_total"] and first["api_calls"] >= r["api_calls"]
