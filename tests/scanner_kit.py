"""Still importable for test files written before tests/support existed: the scanner helpers now live in
tests/support/scanners.py, where new tests import them from."""
from tests.support.scanners import SAMPLES, clients, sample, target  # noqa: F401
