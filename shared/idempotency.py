"""Idempotency on the event id: the same delivery never causes a second action or a second alert.

EventBridge and FC async retries deliver an event more than once, possibly at the same time. The
claim is an OSS object written with `x-oss-forbid-overwrite: true`: OSS creates it atomically or
answers FileAlreadyExists, so exactly one invocation wins. The winner marks it done when finished.

A claim found in progress is:
- ours (same invocation id: our own PUT was retried after a lost answer, or FC retried the invocation under
  its request id): taken over;
- stale (older than STALE_AFTER, longer than the function may run): taken over, its holder died.
  Before acting (a cancel, an enable) an attempt notes the action in its claim (note_acting): a claim taken over
  that carries one belonged to an attempt that may have acted and been cut off before telling anyone; it is kept
  in `taken_over` (and a ClaimBusy carries the claim it met, `holder`), so the guard tells. The safety net's
  claims live in a folder per day and region (OWN_CLAIMS), so its next run lists those left acting (unfinished);
- anyone else's: ClaimBusy, a transient error, so FC retries later, when the holder has finished
  (the retry then sees "done") or has gone stale. Nothing guarantees that FC's retry of an attempt
  carries the same request id, so an attempt that died holding its claim (killed, timed out) is not
  recognised by its retry: the retries end busy, the failure destination says so (KmsKeyGuardFailed),
  and the daily safety net re-decides the key. An attempt that fails transiently releases its claim
  before raising, so its retry starts afresh.
Two deliveries finding the same stale or released claim at the same instant could both take it over; OSS
offers no compare-and-swap on PutObject, and the window (a claim older than STALE_AFTER, or released by an
attempt that failed after meeting a cut-off action, raced within milliseconds) is accepted.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Literal

import oss2

from shared.clients import Clients, TransientError, is_transient
from shared.events import clip

PREFIX = "kms-steward/key-guard/events/"
# The guard's own claims (the daily safety net's, one per key, day and region) are kept in a folder named after all
# but the last part of their key, so a later run can list the ones an earlier run left (EventClaims.unfinished); an
# event's claim is found by its hash alone.
OWN_CLAIMS = "kms-steward."
STALE_AFTER = timedelta(seconds=3660)  # above s.yaml's 3600 s function timeout

Outcome = Literal["claimed", "duplicate"]


class ClaimBusy(TransientError):
    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder or {}  # the claim found: who holds the event, since when


def _now() -> datetime:
    return datetime.now(timezone.utc)


def cut_off(claim: dict) -> dict | None:
    """The attempt a claim not settled says started an action ({"invocation", "started", "acting"}: the claim's
    own note, else one carried from an attempt before it), which that attempt may have taken and told no one of;
    None for a settled claim or one noting nothing."""
    if claim.get("status") not in ("in_progress", "released"):
        return None
    if claim.get("acting"):
        return {k: claim.get(k) for k in ("invocation", "started", "acting")}
    carried = claim.get("cutOff")
    return carried if isinstance(carried, dict) and carried.get("acting") else None


def is_owed_alert(owed: object) -> bool:
    """Whether a claim's `alertOwed` is one the guard can raise: {"name": str, "content": dict, ...} as it writes it."""
    return isinstance(owed, dict) and isinstance(owed.get("name"), str) and bool(owed["name"]) \
        and isinstance(owed.get("content"), dict)


class EventClaims:
    def __init__(self, clients: Clients, bucket: str, region: str):
        self.clients = clients
        self.bucket = clients.oss_bucket(bucket, region)
        # The claim of an earlier attempt that never finished and had started an action, when claim() took it
        # over: it may have acted and been cut off (killed, timed out) before telling anyone, so this one tells.
        self.taken_over: dict | None = None
        self._held: dict = {}  # the claim as this attempt wrote it

    @staticmethod
    def object_key(dedupe_key: str) -> str:
        digest = hashlib.sha256(dedupe_key.encode()).hexdigest()
        if dedupe_key.startswith(OWN_CLAIMS) and "/" in dedupe_key:
            return f"{PREFIX}{dedupe_key.rsplit('/', 1)[0]}/{digest}.json"
        return f"{PREFIX}{digest}.json"

    def unfinished(self, folder: str) -> tuple[list[dict], list[str], list[str]]:
        """Among the guard's own claims whose keys start with `folder` + "/" (a safety-net run's day and region),
        those whose telling is not finished: an action started that no one may have told of (`cut_off`), or a
        decision whose alert is still owed. Then the objects that could not be read, each named with why (such a
        claim may be one of them): those that failed transiently (worth reading again), and the others."""
        prefix = f"{PREFIX}{folder}/"
        listed, _ = self.clients.oss_list(self.bucket, prefix)
        found, transient, unreadable = [], [], []
        for key in listed:
            try:
                claim = json.loads(self.clients.call("oss:GetObject", self.bucket.get_object, key).read())
            except oss2.exceptions.NoSuchKey:
                continue  # settled and released meanwhile: nothing left
            except Exception as exc:
                (transient if is_transient(exc) else unreadable).append(f"{key}: {type(exc).__name__}: {str(exc)[:120]}")
                continue
            if not isinstance(claim, dict):
                continue
            if cut_off(claim):
                found.append(claim)
            elif claim.get("status") == "done" and claim.get("alertOwed"):
                if is_owed_alert(claim["alertOwed"]):
                    found.append(claim)
                else:  # what it owes cannot be raised from it: named, for the run to alert
                    unreadable.append(f"{key} (event {clip(claim.get('event'), 120)}): the alert it owes is damaged "
                                      f"({clip(claim['alertOwed'], 80)})")
        return found, transient, unreadable

    def claim(self, dedupe_key: str, invocation: str) -> tuple[Outcome, dict]:
        key = self.object_key(dedupe_key)
        body = {"event": dedupe_key, "status": "in_progress", "started": _now().isoformat(), "invocation": invocation}
        try:
            self._put(key, body, forbid_overwrite=True)
            self._held = body
            return "claimed", body
        except oss2.exceptions.OssError as exc:
            if exc.status != 409:  # FileAlreadyExists: a claim is there already
                raise
        existing = json.loads(self.clients.call("oss:GetObject", self.bucket.get_object, key).read())
        if existing.get("status") == "done":
            return "duplicate", existing
        started = datetime.fromisoformat(existing.get("started") or "1970-01-01T00:00:00+00:00")
        if existing.get("status") == "released" or existing.get("invocation") == invocation or _now() - started > STALE_AFTER:
            # Only an attempt that noted an action may have done something untold (our own PUT whose answer was
            # lost holds this very body, and an attempt that stopped before acting noted nothing). What it noted
            # is carried into this claim, so it survives this attempt failing or being cut off in turn.
            earlier = cut_off(existing)
            if earlier:
                body["cutOff"] = earlier
            self._put(key, body, forbid_overwrite=False)
            self._held = body
            self.taken_over = earlier
            return "claimed", body
        raise ClaimBusy(f"event {dedupe_key} is being handled by invocation {existing.get('invocation')} "
                        f"since {existing.get('started')}", existing)

    def note_acting(self, dedupe_key: str, action: str) -> None:
        """Mark the claim in progress with the action about to be taken: should this attempt be cut off before
        it settles the claim, whoever meets the claim next knows that it may have acted. Sent as a write (no
        retry after a lost answer): the action waits for it, and a note not made only loses that knowledge."""
        held = {**self._held, "event": dedupe_key, "status": "in_progress", "acting": action}
        self._put(self.object_key(dedupe_key), held, forbid_overwrite=False, write=True)
        self._held = held  # only once written: notes_acting says what the claim is known to hold

    @property
    def notes_acting(self) -> bool:
        """Whether this attempt's claim is known to note the action it started (note_acting's write answered)."""
        return bool(self._held.get("acting"))

    def complete(self, dedupe_key: str, summary: dict) -> None:
        # The claim's own fields last: a summary carried over from an earlier claim never undoes them.
        body = {**summary, "event": dedupe_key, "status": "done", "finished": _now().isoformat()}
        self._put(self.object_key(dedupe_key), body, forbid_overwrite=False)

    def release(self, dedupe_key: str) -> None:
        """Let the next attempt start afresh. A claim carrying an earlier attempt's action is kept, marked
        released (anyone may take it over), so that action is still told."""
        if self._held.get("cutOff"):
            self._put(self.object_key(dedupe_key), {**self._held, "status": "released"}, forbid_overwrite=False)
            return
        self.clients.call("oss:DeleteObject", self.bucket.delete_object, self.object_key(dedupe_key))

    def _put(self, key: str, body: dict, *, forbid_overwrite: bool, write: bool = False) -> None:
        # Retried like a read on purpose: a claim whose answer was lost meets its own object on the retry
        # (409), which claim() recognises as ours by the invocation id; completing twice writes the same.
        headers = {"x-oss-forbid-overwrite": "true"} if forbid_overwrite else None
        data = json.dumps(body, separators=(",", ":"))
        self.clients.call("oss:PutObject", self.bucket.put_object, key, data, headers=headers, write=write)
