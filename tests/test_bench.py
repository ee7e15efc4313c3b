"""`kms-steward bench audit` end to end on a tiny region: it runs, reports every figure the issue asks
for, both audits find exactly what was planted, and the warm run (the region grown, immutable facts
remembered) reports exactly what a cold audit of the grown region does. (Speed is the benchmark's business, not a test's:
nothing here asserts on a time.)"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kms_steward.bench_region import BenchRegion, Sizes, minimum_calls
from kms_steward.cli import main
from localcloud.account import Account


def test_bench_audit_reports_its_figures_and_finds_what_was_planted():
    result = CliRunner().invoke(main, ["bench", "audit", "--scale", "0.005", "--no-growth", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("speedup_vs_sequential", "ratio_to_quota_bound", "calls_ratio_to_minimum", "peak_rss_mb", "wall_s",
                "quota_lower_bound_s", "api_calls_per_product", "quotas"):
        assert key in figures, key
    assert figures["complete"] is True and figures["found"] == figures["expected"]
    assert figures["api_calls"] == sum(figures["api_calls_per_api"].values())
    assert figures["calls_ratio_to_minimum"] <= 1.1  # counted calls, not time: deterministic
    sequential = figures["sequential"]["found"]
    for scanner in ("ecs_disks", "ecs_snapshots", "rds_instances", "polardb_clusters", "kms_secrets", "nas_file_systems",
                    "redis_instances", "mongodb_instances", "sls_logstores", "ack_clusters"):
        assert sequential[scanner] == figures["expected"][scanner], scanner  # the baseline really looked too

    # The warm run: the region grown (at least one new resource of each kind, one new secret on the key), the facts the
    # cold run remembered in the state bucket; the same dependents as a cold audit of the grown region, fewer describes.
    for key in ("warm_wall_s", "warm_ratio_to_quota_bound", "warm_same_dependents"):
        assert key in figures, key
    warm = figures["warm"]
    assert figures["warm_same_dependents"] is True and warm["complete"] is True
    assert warm["added"]["kms.secrets"] >= 1 and warm["found"]["kms_secrets"] == figures["expected"]["kms_secrets"] + 1
    assert warm["found"] == warm["cold_found"]
    cold_described = figures["api_calls_per_api"]["kms:DescribeSecret"]
    warm_described = warm["api_calls_per_api"]["kms:DescribeSecret"]
    # Only the secrets remembered on the key (read fresh for their state) and the new ones.
    assert warm_described == figures["expected"]["kms_secrets"] + warm["added"]["kms.secrets"] < cold_described
    assert figures["warm_ratio_to_quota_bound"] == pytest.approx(figures["warm_wall_s"] / figures["quota_lower_bound_s"], rel=0.01)


def test_the_synthetic_region_is_a_valid_account_and_its_minimum_covers_every_api():
    region = BenchRegion.build(Sizes.scaled(0.02))
    Account.from_data(region.account)  # every record uses the real APIs' field names
    minimum = minimum_calls(region)
    assert minimum["kms:DescribeSecret"] == region.sizes.secrets and minimum["ecs:DescribeDisks"] == 1
    assert all(n >= 1 for n in minimum.values())


def test_bench_audit_concurrent_runs_each_audit_in_its_own_process_and_reports_the_shared_quota():
    result = CliRunner().invoke(main, ["bench", "audit", "--scale", "0.005", "--no-growth", "--no-sequential",
                                       "--concurrent", "2", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    concurrent = figures["concurrent"]
    assert concurrent["instances"] == 2 and len(concurrent["per_instance_wall_s"]) == 2
    assert concurrent["all_complete"] is True and concurrent["found_everything"] is True
    assert figures["concurrent_ratio_to_quota_bound"] == concurrent["concurrent_ratio_to_quota_bound"]
    assert figures["concurrent_throttled_share"] == concurrent["concurrent_throttled_share"]
    # The bound of two audits: each quota admits both audits' minimum calls.
    assert concurrent["quota_bound_s"] == pytest.approx(2 * concurrent["single_quota_bound_s"], rel=0.01)
