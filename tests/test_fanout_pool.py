"""Fan-outs inside an audit share the audit's one bounded pool: nested fan-outs cannot deadlock, and the threads
at work stay within the pool's bound however many fan-outs run (that a failure stops the rest on the pool too is
in tests/test_fanout.py)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared.audit.fanout import fan_out, worker_pool


class Peak:
    """Counts the threads inside a call at once, and which threads they were."""

    def __init__(self):
        self.lock, self.running, self.peak, self.threads = threading.Lock(), 0, 0, set()

    def __enter__(self):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())

    def __exit__(self, *exc):
        with self.lock:
            self.running -= 1


def test_nested_fan_outs_in_a_small_pool_finish_with_every_result_in_order():
    peak = Peak()

    def inner(n: int) -> int:
        with peak:
            time.sleep(0.001)
        return n

    def outer(n: int) -> list[int]:
        return fan_out(inner, range(n * 10, n * 10 + 10), concurrency=8)  # a paged listing inside a per-item call

    with ThreadPoolExecutor(max_workers=2) as pool, worker_pool(pool):
        results = fan_out(outer, range(10), concurrency=8)
    assert results == [list(range(n * 10, n * 10 + 10)) for n in range(10)]
    assert peak.peak <= 3  # the caller and the pool's two workers, however the fan-outs nest


def test_concurrent_fan_outs_share_the_pool_bound():
    peak = Peak()

    def describe(n: int) -> int:
        with peak:
            time.sleep(0.002)
        return n

    pool = ThreadPoolExecutor(max_workers=4)

    def scanner(k: int) -> list[int]:
        with worker_pool(pool):
            return fan_out(describe, range(50), concurrency=16)

    with pool, ThreadPoolExecutor(max_workers=3) as scanners:
        results = list(scanners.map(scanner, range(3)))
    assert results == [list(range(50))] * 3
    assert peak.peak <= 3 + 4  # three callers and four pooled helpers, not three pools of 16


def test_a_shut_down_pool_leaves_the_caller_to_finish_alone():
    pool = ThreadPoolExecutor(max_workers=2)
    pool.shutdown()
    with worker_pool(pool):
        assert fan_out(lambda n: n * 2, range(20)) == [n * 2 for n in range(20)]


def test_the_audit_runs_its_fan_outs_on_one_bounded_pool(monkeypatch):
    from shared.audit import runner
    from shared.audit.scanner import AuditTarget

    monkeypatch.setattr(runner, "AUDIT_HELPERS", 3)
    peak = Peak()

    class FanningScanner:
        service = "TEST"

        def __init__(self, name):
            self.name = name

        def scan(self, target, clients):
            def describe(n):
                with peak:
                    time.sleep(0.002)
                return None

            fan_out(lambda page: fan_out(describe, range(20), concurrency=8), range(4), concurrency=16)
            return []

    class NoClients:
        def scoped(self):
            return self

        def cancel(self):
            pass

    scanners = tuple(FanningScanner(f"s{i}") for i in range(4))
    target = AuditTarget(key_id="k", key_arn="acs:kms:cn-hangzhou:1:key/k", region="cn-hangzhou", account_id="1")
    report = runner.run_audit(target, NoClients(), scanners=scanners, deadline_s=60)
    assert all(r.complete for r in report.results)
    assert peak.peak <= len(scanners) + 3  # a thread per scanner and the three helpers they share


def test_inside_an_audit_the_pool_s_workers_take_part_alongside_the_caller():
    # The caller alone would describe a region's resources one at a time: the pool's workers must help. Five
    # calls that can only finish together finish only if the caller and all four workers run them at once.
    together = threading.Barrier(5, timeout=20)

    def call(n: int) -> int:
        together.wait()  # BrokenBarrierError after 20 s unless all five are waiting
        return n

    with ThreadPoolExecutor(max_workers=4) as pool, worker_pool(pool):
        assert fan_out(call, range(5), concurrency=5) == list(range(5))
