"""Run one call per item concurrently (per-resource describes): the API's rate limit, applied in
Clients.call, paces them; this only keeps enough of them in flight to use the quota.

A fixed set of workers pulls the items one at a time, so memory stays flat however many items there
are (a future per item, queued up front, costs about 1.5 KB each: 150 MB for the 100k describes of a
large region), and a failure stops the remaining items from being called at all.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 16


def fan_out(fn: Callable[[T], R], items: Iterable[T], concurrency: int = DEFAULT_CONCURRENCY) -> list[R]:
    """fn(item) for every item, results in item order; the first failure is raised (the scanner is
    then incomplete: a partial answer must never pass for a complete one)."""
    items = list(items)
    if not items:
        return []
    if len(items) == 1:
        return [fn(items[0])]
    results: list = [None] * len(items)
    failures: list[BaseException] = []
    next_index = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if failures:
                    return
                index = next(next_index, None)
            if index is None:
                return
            try:
                results[index] = fn(items[index])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                with lock:
                    failures.append(exc)
                return

    workers = min(concurrency, len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fan-out") as pool:
        for _ in range(workers):
            pool.submit(work)
    if failures:
        raise failures[0]
    return results
