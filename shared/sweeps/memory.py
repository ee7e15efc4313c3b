"""What the previous sweep found, kept in the state bucket (OSS, as shared/idempotency.py keeps its claims), one
object per account/region/check: `kms-steward/compliance-sweep/findings/<account>/<region>/<check>.json`, holding
each open finding's severity, whether it was alerted, and when it was first and last seen.

A missing object is a first run (nothing known). Any other failure to read it (denied, throttled past retries, a
body that is not the JSON written here) raises StateUnreadable: the caller alerts it rather than taking "nothing
known" for granted, since that would re-alert every CRITICAL finding and record nothing as resolved, silently.
"""
from __future__ import annotations

import json
from typing import Any

import oss2

from shared.clients import Clients, describe_error

PREFIX = "kms-steward/compliance-sweep/findings/"
VERSION = 1


class StateUnreadable(RuntimeError):
    pass


class FindingMemory:
    def __init__(self, clients: Clients, bucket: str, region: str):
        self.clients = clients
        self.bucket_name = bucket
        self.bucket = clients.oss_bucket(bucket, region)

    @staticmethod
    def object_key(account: str, region: str, check: str) -> str:
        return f"{PREFIX}{account}/{region}/{check}.json"

    def load(self, account: str, region: str, check: str) -> dict[str, dict[str, Any]]:
        """finding id -> what was known of it. {} on the first run."""
        key = self.object_key(account, region, check)
        try:
            body = self.clients.call("oss:GetObject", self.bucket.get_object, key).read()
        except oss2.exceptions.NoSuchKey:
            return {}
        except Exception as exc:
            raise StateUnreadable(f"oss://{self.bucket_name}/{key}: {describe_error(exc)}") from None
        try:
            doc = json.loads(body)
            findings = doc["findings"]
            if doc.get("version") != VERSION or not isinstance(findings, dict) or \
                    not all(isinstance(v, dict) and "severity" in v for v in findings.values()):
                raise ValueError("unexpected shape")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise StateUnreadable(f"oss://{self.bucket_name}/{key}: not the findings state this function writes") from None
        return findings

    def save(self, account: str, region: str, check: str, findings: dict[str, dict[str, Any]], now: str) -> None:
        data = json.dumps({"version": VERSION, "updated": now, "findings": findings}, separators=(",", ":"), sort_keys=True)
        # The same content written twice is the same state: retried like a read.
        self.clients.call("oss:PutObject", self.bucket.put_object, self.object_key(account, region, check), data)
