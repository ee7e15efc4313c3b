"""Run one call per item concurrently (per-resource describes): the API's rate limit, applied in
Clients.call, paces them; this only keeps enough of them in flight to use the quota.

The items are pulled one at a time by a fixed set of workers, so memory stays flat however many items
there are (a future per item, queued up front, costs about 1.5 KB each: 150 MB for the 100k describes of
a large region), and a failure stops the remaining items from being called at all.

Inside an audit (`worker_pool`), every fan-out borrows its helpers from the audit's one bounded pool
instead of starting a pool of its own: with a pool per fan-out, each of a dozen scanners, and each
paged listing inside them, held up to 16 threads (130 in all), each with its own stack, its own share
of the allocator's arenas and the items it was working on. The caller always works on its own items
too, so a fan-out finishes even when every pooled worker is busy (a nested fan-out, such as a paged
listing inside a per-item call, cannot deadlock), and the pool's size bounds the helpers of all of them.
"""
from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 16

_local = threading.local()  # the worker pool of the audit this thread works for, if any


@contextmanager
def worker_pool(pool: Executor | None) -> Iterator[None]:
    """Within this block, this thread's fan-outs (and those of the helpers they start) take their
    helpers from `pool` (None: a pool of their own per fan-out)."""
    previous = getattr(_local, "pool", None)
    _local.pool = pool
    try:
        yield
    finally:
        _local.pool = previous


def current_pool() -> Executor | None:
    return getattr(_local, "pool", None)


class _Run:
    """One fan-out's shared state: the next item, the results, the first failure, the items under way."""

    def __init__(self, fn: Callable, items: list, pool: Executor | None):
        self.fn, self.items, self.pool = fn, items, pool
        self.results: list = [None] * len(items)
        self.failures: list[BaseException] = []
        self.next_index = iter(range(len(items)))
        self.busy = 0  # items taken and not finished
        self.lock = threading.Condition()

    def work(self) -> None:
        """Take items until none is left (or one failed)."""
        while True:
            with self.lock:
                index = None if self.failures else next(self.next_index, None)
                if index is None:
                    return
                self.busy += 1
            try:
                self.results[index] = self.fn(self.items[index])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller of fan_out
                with self.lock:
                    self.failures.append(exc)
            finally:
                with self.lock:
                    self.busy -= 1
                    self.lock.notify_all()

    def help(self) -> None:
        """A pooled helper's task: work under the same pool, so a nested fan-out borrows from it too."""
        with worker_pool(self.pool):
            self.work()

    def wait_for_helpers(self) -> None:
        with self.lock:
            while self.busy:
                self.lock.wait()


def fan_out(fn: Callable[[T], R], items: Iterable[T], concurrency: int = DEFAULT_CONCURRENCY) -> list[R]:
    """fn(item) for every item, results in item order, at most `concurrency` at once; the first failure is
    raised (the scanner is then incomplete: a partial answer must never pass for a complete one)."""
    items = list(items)
    if not items:
        return []
    if len(items) == 1:
        return [fn(items[0])]
    pool = current_pool()
    run = _Run(fn, items, pool)
    helpers = min(concurrency, len(items)) - 1
    if pool is None:  # outside an audit: a pool of this fan-out's own
        with ThreadPoolExecutor(max_workers=helpers + 1, thread_name_prefix="fan-out") as own:
            for _ in range(helpers + 1):
                own.submit(run.work)
    else:
        for _ in range(helpers):
            try:
                pool.submit(run.help)
            except RuntimeError:  # the audit's pool is shut down (past its deadline): the caller goes on alone
                break
        run.work()  # the caller's own share; a helper that starts after the items ran out returns at once
        run.wait_for_helpers()
        run.fn, run.items = None, []  # a helper still queued in the pool must not keep the items alive
    if run.failures:
        raise run.failures[0]
    return run.results
