"""A clock the rate limiter tests move by hand: `sleep` advances it instead of waiting."""
from __future__ import annotations


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
