"""The per-resource fan-out every scanner uses: ordered results, and a failure stops the rest."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.audit.fanout import fan_out, worker_pool


def test_results_come_back_in_item_order_with_bounded_concurrency():
    running, peak, lock = [0], [0], threading.Lock()

    def slow_square(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.001)
        with lock:
            running[0] -= 1
        return n * n

    assert fan_out(slow_square, range(500), concurrency=8) == [n * n for n in range(500)]
    assert 1 < peak[0] <= 8


@pytest.fixture(params=["own threads", "one pool per audit"])
def workers(request):
    """fan_out on its own threads, or on the audit's shared pool (shared.audit.fanout.worker_pool)."""
    if request.param == "own threads":
        yield
        return
    with ThreadPoolExecutor(max_workers=4) as pool, worker_pool(pool):
        yield


def test_the_first_failure_is_raised_and_the_remaining_items_are_not_called(workers):
    called = []

    def describe(n: int) -> int:
        called.append(n)
        if n == 3:
            raise PermissionError("Forbidden.RAM")
        return n

    with pytest.raises(PermissionError):
        fan_out(describe, range(10_000), concurrency=4)
    assert len(called) < 100  # the workers stop at the failure instead of describing all 10,000


def test_a_fan_out_on_a_thread_that_never_joined_an_audit_runs_on_threads_of_its_own():
    # A sweep's or a handler's own thread has never entered worker_pool: its fan-outs must still run.
    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(fan_out(lambda n: n + 1, [1, 2, 3])))
    thread.start()
    thread.join()

    assert answer == [[2, 3, 4]]


def test_every_call_up_to_the_concurrency_is_in_flight_at_once_whatever_the_machine_has_cores():
    # The calls wait on the network, not the CPU: a pool sized by the machine's cores (6 threads on 2 cores)
    # would make a region's 10,000 describes take more than twice as long. Twelve calls that can only finish
    # together finish only if all twelve run at once.
    together = threading.Barrier(12, timeout=20)

    def call(n: int) -> int:
        together.wait()  # BrokenBarrierError after 20 s unless all twelve are waiting
        return n

    assert fan_out(call, range(12), concurrency=12) == list(range(12))
