"""One fanned-out sweep run's objects in the state bucket (OSS), under `kms-steward/sweeps/<task>/<run id>/`:

- `manifest.json`: the run's plan, written by the coordinator before any worker starts (created with
  `x-oss-forbid-overwrite: true`: a retried coordinator finds the plan of its first attempt and keeps it);
- `results/<account>/<region>.json`: one per target, written by its worker (rewritten as is by a retried worker);
- `claim.json`: who publishes the run's summary, created with forbid-overwrite, so exactly one worker wins it;
- `summary.json`: the summary, once published;
- `settled.json`: who published it late, when the next timer's coordinator settled a run its workers could not
  (shared/sweeps/fanout.py `settle_earlier_runs`), created with forbid-overwrite as the claim is.

A single-target timer run swept in-process claims its run here too (`claim.json`, `summary.json`), so a second
delivery of its timer event publishes nothing.

OSS: "x-oss-forbid-overwrite: true ... if an object with the same name exists, the object cannot be overwritten"
(answered 409 FileAlreadyExists), and a listing sees every object written before it ("PutObject",
https://www.alibabacloud.com/help/en/oss/developer-reference/putobject; OSS is strongly consistent for reads after
writes and for listings, "Data consistency", https://www.alibabacloud.com/help/en/oss/user-guide/data-consistency).
"""
from __future__ import annotations

import json
from typing import Any

import oss2

from shared.clients import Clients

PREFIX = "kms-steward/sweeps/"


def target_key(account: str, region: str) -> str:
    return f"{account}/{region}"


class RunState:
    def __init__(self, clients: Clients, bucket: str, region: str, task: str, run_id: str):
        self.clients = clients
        self.bucket = clients.oss_bucket(bucket, region)
        self.root = f"{PREFIX}{task}/{run_id}/"

    # ------------------------------------------------------------ manifest

    def create_manifest(self, manifest: dict) -> dict:
        """Write the plan unless this run has one already (a retried coordinator); the plan in force."""
        if self._create("manifest.json", manifest):
            return manifest
        return self.manifest()

    def manifest(self) -> dict | None:
        return self._get("manifest.json")

    # ------------------------------------------------------------ results

    def put_result(self, key: str, result: dict) -> None:
        self._put(f"results/{key}.json", result)

    def result_keys(self) -> set[str]:
        prefix = f"{self.root}results/"
        listed, _ = self.clients.oss_list(self.bucket, prefix)
        return {key[len(prefix):-len(".json")] for key in listed if key.endswith(".json")}

    def result(self, key: str) -> dict | None:
        return self._get(f"results/{key}.json")

    # ------------------------------------------------------------ the summary, once

    def claim(self, by: str, attempt: str = "") -> bool:
        """Whether `by` publishes the summary: this attempt (the invocation's request id) created the claim now, or
        created it before (its create retried after a lost answer) and the summary is not written yet.

        The claim names the attempt, not only the target: FC executes an asynchronous request "at least once"
        ("Overview" of asynchronous invocations, https://www.alibabacloud.com/help/doc-detail/181866.htm), so a
        second delivery of the holder's event may run while the holder publishes, and, knowing only the target, it
        took the claim for its own and published a second summary (tests/test_sweep_adversarial.py). Each FC attempt
        has its own request id, so FC's retry of a holder that died after claiming publishes nothing either: that
        run is settled by the next timer's coordinator (`claim_late`, shared/sweeps/fanout.py)."""
        if self._create("claim.json", {"by": by, "attempt": attempt}):
            return True
        held = self._get("claim.json") or {}
        return held.get("by") == by and held.get("attempt", "") == attempt and self._get("summary.json") is None

    def claim_late(self, by: str) -> bool:
        """Whether `by`, settling this run after its time, publishes it: the claim if it is free, else (its holder
        died before writing the summary) the one settlement object, created with forbid-overwrite too."""
        return self.claim(by) or (self._get("summary.json") is None and self._create("settled.json", {"by": by}))

    def earlier_runs(self, limit: int) -> list[str]:
        """The ids of this task's other runs, the `limit` last in order (timer run ids sort by their instant)."""
        task_prefix = self.root.rsplit("/", 2)[0] + "/"
        own = self.root[len(task_prefix):-1]

        # The timer's runs (`<task>-<instant>`) last, in their order: a run id made of a request id (a direct
        # invocation) sorts anywhere, and must not push the timer's runs out of the `limit` kept.
        timer = self.root[len(PREFIX):].split("/", 1)[0] + "-"  # fanout.run_id: f"{task}-{triggerTime digits}"
        folders = self.clients.oss_list(self.bucket, task_prefix, delimiter="/")[1]
        runs = [r for r in (folder[len(task_prefix):-1] for folder in folders) if r != own]
        return sorted(runs, key=lambda r: (r.startswith(timer), r))[-limit:]

    def other_run(self, run_id: str) -> "RunState":
        other = RunState.__new__(RunState)
        other.clients, other.bucket = self.clients, self.bucket
        other.root = self.root.rsplit("/", 2)[0] + f"/{run_id}/"
        return other

    def claimed_by(self) -> str | None:
        return (self._get("claim.json") or {}).get("by")

    def put_summary(self, summary: dict) -> None:
        self._put("summary.json", summary)

    def summary(self) -> dict | None:
        return self._get("summary.json")

    # ------------------------------------------------------------ OSS

    def _create(self, name: str, doc: dict) -> bool:
        try:
            # Retried like a read on purpose: a create whose answer was lost meets its own object (409) on the retry,
            # which the callers read back and recognise (the manifest is kept; the claim names its holder).
            self.clients.call("oss:PutObject", self.bucket.put_object, self.root + name, _dump(doc),
                              headers={"x-oss-forbid-overwrite": "true"})
            return True
        except oss2.exceptions.OssError as exc:
            if exc.status == 409:  # FileAlreadyExists
                return False
            raise

    def _put(self, name: str, doc: dict) -> None:
        self.clients.call("oss:PutObject", self.bucket.put_object, self.root + name, _dump(doc))

    def _get(self, name: str) -> Any:
        try:
            return json.loads(self.clients.call("oss:GetObject", self.bucket.get_object, self.root + name).read())
        except oss2.exceptions.NoSuchKey:
            return None


def _dump(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)
