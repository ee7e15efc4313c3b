"""Run one call per item concurrently (per-resource describes): the API's rate limit, applied in
Clients.call, paces them; this only keeps enough of them in flight to use the quota."""
from __future__ import annotations

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
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="fan-out") as pool:
        return list(pool.map(fn, items))
