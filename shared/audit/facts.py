"""Facts that cannot change, remembered across audits: the warm audit describes only what it does not know yet.

Some answers of a per-resource describe can never change for the life of the resource (a Secrets Manager secret's
encryption key, for one: which attributes qualify, and the public documentation that says so, is decided where each
is used, in its scanner). Such a fact is kept in the state bucket (OSS, as shared/idempotency.py keeps its claims),
one object per account, region and product:

    kms-steward/audit/facts/<account>/<region>/<product>.json

so that it survives across FC instances and is shared by key-guard, the pre-flight and the sweeps' inventory.

A fact names its resource by identity AND creation time (a secret's name and its CreateTime): a resource deleted and
re-created under the same name has another creation time, so it is never taken for the old one. A fact about a
resource created less than SETTLE before it was learned is not kept: creation times have a resolution of one second,
and a name deleted and re-created within that second (or within the clocks' skew) would otherwise look the same. A
creation time spelled more coarsely than to the second, or without its zone, is never part of a fact.

Whatever goes wrong with the store makes the audit run cold, never wrong: a missing, unreadable, corrupt, oversized
or wrong-schema object is treated as knowing nothing (and logged), a fact older than MAX_AGE is read afresh, and a
failure to write is logged, never raised. Only describes of resources the store rules out are skipped; listings
always run, so the store can never make an incomplete audit complete.

Writes merge: the object is read again just before writing and the union is written (the fact with the later creation
time wins a name, as that is the resource there now). Two writers racing lose at most the facts of one of them, which
costs a cold describe next time, never a wrong answer: every fact written is true of its resource forever.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping, Optional

import oss2

from shared.clients import Clients, describe_error
from shared.config import _BUCKET_NAME  # OSS bucket naming, as STATE_BUCKET is checked everywhere

PREFIX = "kms-steward/audit/facts/"
SCHEMA = "kms-steward/audit-facts"
VERSION = 1
# A safety valve, not a correctness bound (the facts are immutable): a fact is re-learned at least once a week, so a
# mistake (a doc that was wrong, a bug) cannot outlive a week.
MAX_AGE = timedelta(days=7)
SETTLE = timedelta(minutes=10)
# Bounds on the object: one fact is ~100 bytes (a name of at most 192 characters, a time, a key id), so 100,000 facts
# stay well under 32 MiB. A bigger object is not read (cold); past MAX_FACTS the oldest-learned facts are dropped.
MAX_FACTS = 100_000
MAX_OBJECT_BYTES = 32 * 1024 * 1024
# A creation time spelled to the second at least: the ListSecrets and DescribeSecret API references show
# 2020-07-17T07:59:05Z (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listsecrets).
# A coarser spelling (2026-01-01, 2026-01-01T00:00) is shared by every incarnation of a name created within that minute
# or day, so SETTLE (which rules out a re-creation within the second) proves nothing about it: never a fact. Nor is a
# time without a zone: whether it is UTC or the region's local time is a guess, and a wrong guess moves it by hours,
# past SETTLE.
_TO_THE_SECOND = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

log = logging.getLogger(__name__)
# When this module was first imported: before any describe this process makes, so a lower bound on when a fact was
# learned by code that cannot say when its describes were made (the sweeps' inventory, which reuses describes
# another check may have made earlier in the run).
PROCESS_STARTED = time.time()


@dataclass(frozen=True)
class FactsPlace:
    """Where the facts are kept: the state bucket and its region (the function's, whatever region is audited)."""

    bucket: str
    region: str
    # False: the facts are read, never written (the pre-flight promises read-only calls).
    writable: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, default_region: str = "") -> Optional["FactsPlace"]:
        """STATE_BUCKET in FC_REGION (or ALIBABA_CLOUD_REGION_ID, else `default_region`); None when it is unset or
        not a bucket name (the audit then runs cold, as without a store)."""
        env = os.environ if env is None else env
        bucket = env.get("STATE_BUCKET", "").strip()
        region = (env.get("FC_REGION") or env.get("ALIBABA_CLOUD_REGION_ID") or default_region or "").strip()
        if not bucket or not region or not _BUCKET_NAME.fullmatch(bucket):
            return None
        return cls(bucket, region)


@dataclass(frozen=True, slots=True)  # slots: tens of thousands of them in a large region
class Fact:
    created: str  # the resource's creation time, exactly as its listing spells it
    value: str  # the remembered attribute ("" for none, e.g. a secret encrypted with the service's own key)
    learned: int  # when it was learned (epoch seconds, taken before the describe that taught it)


def parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def settled(created: Optional[str], learned: float) -> bool:
    """Whether a fact learned at `learned` (epoch seconds) about a resource created at `created` may be kept: the
    creation time must be spelled to the second with its zone (_TO_THE_SECOND) and be at least SETTLE older than the
    lesson (see the module's docstring)."""
    moment = parse_time(created) if created and _TO_THE_SECOND.fullmatch(created.strip()) else None
    return moment is not None and moment.timestamp() + SETTLE.total_seconds() <= learned


class FactStore:
    """One product's facts for one account and region."""

    def __init__(self, clients: Clients, place: FactsPlace, account_id: str, region: str, product: str):
        self.clients = clients
        self.place = place
        self.account_id, self.region, self.product = account_id, region, product
        self.key = f"{PREFIX}{account_id}/{region}/{product}.json"

    def where(self) -> str:
        return f"oss://{self.place.bucket}/{self.key}"

    def load(self) -> dict[str, Fact]:
        """The facts still young enough to use, by resource name; {} (cold) on any problem, never raising."""
        try:
            facts = self._read()
        except Exception as exc:  # fail safe: the audit runs cold
            log.warning("audit facts %s not used (the audit runs cold): %s", self.where(), _reason(exc))
            return {}
        oldest, newest = time.time() - MAX_AGE.total_seconds(), time.time() + SETTLE.total_seconds()
        return {name: fact for name, fact in facts.items() if oldest <= fact.learned <= newest}

    def save(self, learned: Mapping[str, Fact], *, listed: Optional[Mapping[str, Optional[str]]] = None,
             listed_whole: bool = False) -> None:
        """Merge `learned` into the stored facts and write them. `listed` (name -> creation time) is what this run's
        listing saw: a stored fact about another incarnation of a listed name is dropped, and with `listed_whole`
        (the listing covered every resource of the product) so is a fact about a name no longer listed. Never raises:
        a failure is logged, and costs only cold describes next time."""
        if not self.place.writable:
            return
        try:
            try:
                stored = self._read()
            except Exception as exc:  # unreadable or corrupt: replaced by what this run knows
                log.info("audit facts %s not merged (%s): rewritten from this run", self.where(), _reason(exc))
                stored = {}
            oldest = time.time() - MAX_AGE.total_seconds()
            merged = {name: fact for name, fact in stored.items() if fact.learned >= oldest}
            for name, fact in learned.items():
                if name not in merged or _newer(fact, merged[name]):
                    merged[name] = fact
            if listed is not None:
                merged = {name: fact for name, fact in merged.items()
                          if (name in listed and listed[name] == fact.created) or (name not in listed and not listed_whole)}
            if len(merged) > MAX_FACTS:
                merged = dict(sorted(merged.items(), key=lambda item: item[1].learned, reverse=True)[:MAX_FACTS])
            if merged == stored:
                return
            data = json.dumps({"schema": SCHEMA, "version": VERSION, "account": self.account_id, "region": self.region,
                               "product": self.product, "written": int(time.time()),
                               "facts": {name: [f.created, f.value, f.learned] for name, f in merged.items()}},
                              separators=(",", ":"))
            if len(data.encode("utf-8")) > MAX_OBJECT_BYTES:
                log.warning("audit facts %s not written: %d facts exceed %d bytes", self.where(), len(merged), MAX_OBJECT_BYTES)
                return
            bucket = self.clients.oss_bucket(self.place.bucket, self.place.region)
            # A superset of true facts written twice is the same state: retried like a read.
            self.clients.call("oss:PutObject", bucket.put_object, self.key, data)
        except Exception as exc:  # never fatal: the audit's answer does not depend on the store
            log.warning("audit facts %s not written: %s", self.where(), _reason(exc))

    def _read(self) -> dict[str, Fact]:
        """Every fact stored, by name: {} when there is no object yet. Raises on anything unreadable, oversized,
        stale or not written by this module for this account, region and product."""
        bucket = self.clients.oss_bucket(self.place.bucket, self.place.region)
        try:
            result = self.clients.call("oss:GetObject", bucket.get_object, self.key)
        except oss2.exceptions.NoSuchKey:
            return {}
        size = result.content_length
        if size is not None and size > MAX_OBJECT_BYTES:
            result.close()
            raise ValueError(f"{size} bytes, over the {MAX_OBJECT_BYTES} read")
        body = result.read(MAX_OBJECT_BYTES + 1)
        if len(body) > MAX_OBJECT_BYTES:
            raise ValueError(f"over the {MAX_OBJECT_BYTES} bytes read")
        doc = json.loads(body)
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION \
                or (doc.get("account"), doc.get("region"), doc.get("product")) != (self.account_id, self.region, self.product):
            raise ValueError("not the facts this module writes for this account, region and product")
        written, facts = doc.get("written"), doc.get("facts")
        if not isinstance(written, int) or written < time.time() - MAX_AGE.total_seconds():
            raise ValueError("older than the facts' maximum age")
        if not isinstance(facts, dict) or len(facts) > MAX_FACTS:
            raise ValueError("no facts table, or too many facts")
        out: dict[str, Fact] = {}
        for name, entry in facts.items():
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str) and isinstance(entry[1], str)
                    and isinstance(entry[2], int) and not isinstance(entry[2], bool)):
                raise ValueError(f"a fact that is not [created, value, learned] ({name[:60]!r})")
            if not settled(entry[0], entry[2]):
                raise ValueError(f"a fact learned too soon after its resource's creation ({name[:60]!r})")
            out[name] = Fact(entry[0], entry[1], entry[2])
        return out


def _newer(candidate: Fact, held: Fact) -> bool:
    """Whether `candidate` replaces `held` for one name: the later incarnation wins, then the later lesson."""
    a, b = parse_time(candidate.created), parse_time(held.created)
    if a and b and a != b:
        return a > b
    return candidate.learned > held.learned


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (ValueError, UnicodeDecodeError)) and not isinstance(exc, json.JSONDecodeError):
        return f"corrupt or foreign: {str(exc)[:200]}"
    if isinstance(exc, json.JSONDecodeError):
        return "corrupt: not JSON"
    return describe_error(exc)
