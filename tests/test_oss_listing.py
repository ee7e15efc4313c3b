"""Listings of the state bucket (the guard's claims, the sweeps' runs) page by page through OSS's ListObjectsV2, on
the local cloud: every page is one paced, counted and retried call, and a delimiter listing names each folder once."""
from __future__ import annotations

from shared.sweeps.run_state import RunState
from tests.support.accounts import REGION, make_account
from tests.support.scanners import clients


def state_bucket(cloud):
    return clients(cloud).oss_bucket(cloud.project.function("key-guard").environment["STATE_BUCKET"], REGION)


def test_a_listing_past_a_thousand_keys_retries_only_the_page_that_failed_and_counts_every_request(start_cloud):
    cloud = start_cloud(make_account(faults=[
        {"Api": "oss:ListObjectsV2", "Code": "ServiceUnavailable", "Status": 503, "After": 1, "Remaining": 1}]))
    bucket = state_bucket(cloud)
    for n in range(2100):
        bucket.put_object(f"folder/{n:05d}.json", b"{}")
    lister = clients(cloud)
    before = cloud.calls.get("oss:ListObjectsV2") or 0

    keys, prefixes = lister.oss_list(bucket, "folder/")

    assert keys == [f"folder/{n:05d}.json" for n in range(2100)] and prefixes == []
    sent = (cloud.calls.get("oss:ListObjectsV2") or 0) - before
    assert sent == 4  # pages 1 and 2, page 2 again after its 503, page 3: no page asked twice over
    assert lister.calls.counts["oss:ListObjectsV2"] == sent  # each request counted (and paced) by the clients


def test_a_delimiter_listing_past_a_thousand_folders_names_each_once(start_cloud):
    # 1,200 runs of a sweep, each a folder holding files: the runs are the listing's common prefixes, 1,000 a page.
    # The page that ends on a folder resumes after everything under it (OSS lists each prefix once).
    cloud = start_cloud(make_account())
    env = cloud.project.function("key-guard").environment
    state = RunState(clients(cloud), env["STATE_BUCKET"], REGION, "compliance", "compliance-20261202030000")
    for n in range(1200):
        for name in ("manifest.json", "results/a/b.json"):
            state.bucket.put_object(f"kms-steward/sweeps/compliance/compliance-2026{n:010d}/{name}", b"{}")

    runs = state.earlier_runs(5000)

    assert runs == [f"compliance-2026{n:010d}" for n in range(1200)]
