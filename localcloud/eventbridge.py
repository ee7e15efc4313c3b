"""EventBridge default bus: events published by ActionTrail are matched against every eventbridge
trigger in s.yaml with EventBridge's pattern semantics and delivered to the function as bytes.

Delivery is asynchronous, as in the cloud: the caller of ScheduleKeyDeletion gets its answer before
key-guard runs. `drain()` waits until every published event has been delivered. With
`duplicate_delivery` on, every event is delivered twice (same id), as EventBridge and FC retries can.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from localcloud.eventbridge_pattern import matches, parse_pattern

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.eventbridge")


@dataclass
class Delivery:
    event: dict
    function: str
    trigger: str
    attempt_of_event: int  # 1, or 2 for the duplicate


class EventBus:
    def __init__(self, cloud: "LocalCloud", *, duplicate_delivery: bool = False):
        self.cloud = cloud
        self.duplicate_delivery = duplicate_delivery
        self.published: list[dict] = []
        self.deliveries: list[Delivery] = []
        self.listeners: list[Callable[[str, dict], None]] = []  # (stage, info) for live displays
        self._queue: "queue.Queue[dict | None]" = queue.Queue()
        self._open = threading.Event()  # cleared by hold(): events queue up until release()
        self._open.set()
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._rules = self._load_rules()

    def _load_rules(self):
        rules = []
        project = self.cloud.project
        if project is None:
            return rules
        for spec in project.functions.values():
            for trigger, pattern in spec.eventbridge_patterns():
                rules.append((spec.resource, trigger, parse_pattern(pattern)))
        return rules

    def start(self) -> None:
        self._stopping = False
        self._worker = threading.Thread(target=self._run, name="localcloud-eventbridge", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker:
            self._stopping = True
            self._queue.put(None)
            # A held bus is let go so its worker sees the stop: what it held is dropped, not delivered, as
            # the cloud it would be delivered to is going away (else the join waits out its whole timeout).
            self._open.set()
            self._worker.join(timeout=10)

    def publish(self, event: dict) -> None:
        self.published.append(event)
        self._notify("published", {"event": event})
        self._queue.put(event)

    def hold(self) -> None:
        """Queue events without delivering them (a demo uses this to tell one step at a time)."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    def drain(self, timeout: float = 60) -> bool:
        """Wait until every event published so far (and those its handlers caused) is delivered.
        Returns False if deliveries were still running when the timeout passed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            self._open.wait()
            try:
                if event is None or self._stopping:
                    return
                self._deliver(event)
            except Exception:
                log.exception("event delivery failed")
            finally:
                self._queue.task_done()

    def _deliver(self, event: dict) -> None:
        for resource, trigger, pattern in self._rules:
            if not matches(pattern, event):
                continue
            copies = 2 if self.duplicate_delivery else 1
            for n in range(1, copies + 1):
                self.deliveries.append(Delivery(event, resource, trigger.name, n))
                self._notify("delivering", {"event": event, "function": resource, "copy": n})
                invocation_type = "Async" if trigger.config.get("asyncInvocationType") else "Sync"
                inv = self.cloud.fc.invoke(resource, json.dumps(event).encode(), region=event.get("aliyunregionid"),
                                           invocation_type=invocation_type, source=f"eventbridge:{trigger.name}")
                self._notify("delivered", {"event": event, "function": resource, "copy": n, "invocation": inv})

    def _notify(self, stage: str, info: dict) -> None:
        for listener in list(self.listeners):
            try:
                listener(stage, info)
            except Exception:
                log.exception("event listener failed")
