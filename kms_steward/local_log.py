"""The live log of `kms-steward local up`: every event EventBridge delivers to a function of s.yaml, and
what the function decided and did, one readable line each, as it happens.

Without it a user scheduling a deletion through the SDK sees nothing: key-guard cancels it within a
second and the console shows no trace. The lines come from the local EventBus's listeners ("delivering",
"delivered") and from FunctionRuntime's record of attempts and destinations. Results carry ids, states and
reasons, never credentials; nothing here prints a secret.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


class LiveLog:
    def __init__(self, cloud: "LocalCloud", echo: Callable[[str], None]):
        self.cloud = cloud
        self.echo = echo
        self._lock = threading.Lock()

    def attach(self) -> None:
        self.cloud.bus.listeners.append(self.on_bus)

    def on_bus(self, stage: str, info: dict) -> None:
        if stage == "delivering":
            self._line(_event_line(info))
        elif stage == "delivered":
            for line in self._outcome_lines(info):
                self._line(line)

    def _line(self, text: str) -> None:
        with self._lock:
            self.echo(f"{time.strftime('%H:%M:%S')}  {text}")

    def _outcome_lines(self, info: dict) -> list[str]:
        function, inv = info["function"], info["invocation"]
        attempts = [i for i in self.cloud.fc.invocations if i.first_request_id == inv.first_request_id]
        if not inv.ok:
            lines = [f"{function} FAILED after {len(attempts) or 1} attempt(s): {inv.error['errorType']}: "
                     f"{_first_line(inv.error['errorMessage'])}"]
        else:
            retried = f" (attempt {inv.attempt})" if inv.attempt > 1 else ""
            results = inv.result.get("results") if isinstance(inv.result, dict) else None
            if not isinstance(results, list):
                lines = [f"{function}{retried} returned {_first_line(str(inv.result))}"]
            else:
                lines = [f"{function}{retried} {self._result_line(r)}" for r in results if isinstance(r, dict)]
        for sent in self.cloud.fc.destinations_sent:
            if sent.request_id == inv.first_request_id and sent.source_function == function:
                target = sent.function or sent.destination
                lines.append(f"{function} -> {sent.kind} destination {target}"
                             + (f" ({sent.note})" if sent.note else ""))
        return lines

    def _result_line(self, r: dict) -> str:
        key = r.get("keyId") or r.get("keyRef") or "?"
        if r.get("keyRef") and r.get("keyRef") != key:
            key += f" ({r['keyRef']})"
        parts = [f"{r.get('status', '?')}: {r.get('eventName', '?')} key {key}"]
        if r.get("decision"):
            parts.append(f"decision {r['decision']}" + (f" ({r['mode']})" if r.get("mode") else ""))
        if r.get("action") and r.get("action") != "none":
            parts.append(f"action {r['action']}" + (f" -> {r['actionResult']}" if r.get("actionResult") else ""))
        if r.get("alert"):
            parts.append(f"alert {r['alert']}")
        if r.get("reason"):
            parts.append(_first_line(r["reason"]))
        note = deletion_note(self.cloud, r)
        if note:
            parts.append(note)
        return "; ".join(parts)


def deletion_note(cloud: "LocalCloud", result: dict) -> str | None:
    """For a result that found no key: whether the local cloud completed the key's deletion, and when. key-guard
    says "not found" (as it would in Alibaba Cloud); the local cloud knows why."""
    if not isinstance(result, dict) or "not found" not in str(result.get("reason", "")):
        return None
    ref, region = result.get("keyId") or result.get("keyRef"), result.get("region") or cloud.default_region
    deleted = cloud.products["kms"].deletion_completed(str(ref), str(region)) if ref else None
    if deleted is None:
        return None
    return (f"the key's deletion completed at {deleted['DeleteDate']} (the local clock is "
            f"{cloud.clock.now().strftime('%Y-%m-%dT%H:%M:%SZ')})")


def _event_line(info: dict) -> str:
    event, function = info["event"], info["function"]
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    who = data.get("userIdentity") or {}
    caller = " ".join(x for x in (who.get("type"), who.get("userName")) if x) or "?"
    keys = (data.get("referencedResources") or {}).get("ACS::KMS::Key") or []
    target = f" on key {keys[0]}" if keys else ""
    failed = f" (failed: {data['errorCode']})" if data.get("errorCode") else ""
    copy = f", delivery #{info['copy']} of the same event" if info.get("copy", 1) > 1 else ""
    region = event.get("aliyunregionid") or data.get("acsRegion") or "?"
    return (f"event {data.get('eventName', event.get('type', '?'))} by {caller}{target} in {region}{failed} "
            f"-> {function}{copy}")


def _first_line(text: str, limit: int = 300) -> str:
    line = str(text).splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
