"""The benchmark's warm run: the audit again, once the region has grown by GROWTH since the cold run, with the facts
the cold run remembered (shared/audit/facts.py) in the state bucket.

The synthetic region is first made what a deployed guard meets: its state bucket in the region (where key-guard keeps
its claims and the warm audit its facts) and a CreateTime on every secret (ListSecrets and DescribeSecret always give
one). After the cold run the facts object is read back from the local cloud, and the region is grown: the records a
region GROWTH larger (at least one more of each kind) has and this one has not (new ids only: a resource that exists
keeps every attribute, as an immutable one must), the new secrets created just now, a share of them on the audited
key as in the rest of the region (at least one, so the warm run meets a new dependent). The local cloud is then
started again on the grown account, the facts object in its bucket. (The local cloud offers no API to create most of
these resources, so the growth is written into the account rather than made with calls; the audit cannot tell.)
"""
from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta, timezone
from typing import Optional

import oss2

from kms_steward.bench_region import KEY, ON_KEY_SHARE, REGION, BenchRegion, Sizes
from localcloud.clock import iso
from shared.audit.facts import PREFIX
from shared.audit.scanners.kms_secrets import FACTS_PRODUCT

GROWTH = 0.01  # the share of each collection created between the cold and the warm run
STATE_BUCKET = "kms-steward-state"
SECRET_AGE = timedelta(days=30)  # how long before the cold run the region's secrets were created
# Each grown collection and how its records are named (an id, or the fields that together are one).
COLLECTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("kms", "secrets"): ("SecretName",), ("ecs", "disks"): ("DiskId",), ("ecs", "snapshots"): ("SnapshotId",),
    ("ecs", "images"): ("ImageId",), ("oss", "buckets"): ("Name",), ("rds", "instances"): ("DBInstanceId",),
    ("polardb", "clusters"): ("DBClusterId",), ("nas", "file_systems"): ("FileSystemId",), ("redis", "instances"): ("InstanceId",),
    ("mongodb", "instances"): ("DBInstanceId",), ("cs", "clusters"): ("cluster_id",),
    ("sls", "logstores"): ("projectName", "logstoreName"),
}


def facts_place() -> dict:
    """The audit target's `facts` (shared/audit/facts.FactsPlace's fields) for the bench region."""
    return {"bucket": STATE_BUCKET, "region": REGION}


def facts_key(region: BenchRegion) -> str:
    return f"{PREFIX}{region.target()['account_id']}/{REGION}/{FACTS_PRODUCT}.json"


def as_deployed(region: BenchRegion, now: Optional[datetime] = None) -> None:
    """The state bucket in the region, and every secret's CreateTime (SECRET_AGE before `now`)."""
    created = iso((now or datetime.now(timezone.utc)) - SECRET_AGE)
    for record in region.account["kms"]["secrets"]:
        record.setdefault("CreateTime", created)
    buckets = region.account["oss"]["buckets"]
    if not any(b["Name"] == STATE_BUCKET for b in buckets):
        buckets.append({"Name": STATE_BUCKET, "Location": f"oss-{REGION}", "ServerSideEncryptionRule": {"SSEAlgorithm": "AES256"}})


def read_facts(region: BenchRegion, endpoint: str) -> Optional[str]:
    """The facts object the cold run wrote, read back from the running local cloud (None: it wrote none)."""
    bucket = oss2.Bucket(oss2.Auth(region.access_key_id, region.access_key_secret), endpoint, STATE_BUCKET)
    try:
        return bucket.get_object(facts_key(region)).read().decode("utf-8")
    except oss2.exceptions.NoSuchKey:
        return None


def grown(region: BenchRegion, facts: Optional[str], now: Optional[datetime] = None) -> tuple[dict, dict[str, int]]:
    """(the grown account, how many records each collection gained)."""
    now = now or datetime.now(timezone.utc)
    account = copy.deepcopy(region.account)
    sizes = region.sizes.as_dict()
    bigger = BenchRegion.build(Sizes(**{name: n + max(1, round(n * GROWTH)) for name, n in sizes.items()})).account
    added: dict[str, int] = {}
    for (section, collection), id_fields in COLLECTIONS.items():
        held = account.get(section, {}).get(collection)
        if held is None:
            continue
        known = {tuple(r[f] for f in id_fields) for r in held}
        new = [r for r in bigger[section][collection] if tuple(r[f] for f in id_fields) not in known]
        if (section, collection) == ("kms", "secrets"):
            on_key = max(1, math.floor(len(new) * ON_KEY_SHARE["secrets"])) if new else 0
            for i, record in enumerate(new):
                record["CreateTime"] = iso(now)
                if i < on_key:
                    record["EncryptionKeyId"] = KEY
        held.extend(new)
        added[f"{section}.{collection}"] = len(new)
    if facts is not None:
        account["oss"].setdefault("objects", []).append({"Bucket": STATE_BUCKET, "Key": facts_key(region), "Content": facts})
    return account, added
