"""`kms-steward bench coldstart`: the heaviest imports are read from Python's -X importtime, the project's own
modules left out (what they import is named instead); key-guard's cold start runs to a real decision."""
from __future__ import annotations

from kms_steward.bench_coldstart import _key_guard_first_decision, heaviest_imports

IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:      1000 |     300000 |   alibabacloud_ecs20140526.client
import time:       500 |     900000 | shared.guard
import time:       200 |      50000 |     oss2.models
import time:       100 |     120000 |   oss2
import time:       100 |     400000 |   alibabacloud_ecs20140526
"""


def test_the_heaviest_imports_are_third_party_packages_by_their_largest_cumulative_time():
    assert heaviest_imports(IMPORTTIME) == [("alibabacloud_ecs20140526", 0.4), ("oss2", 0.12)]


def test_key_guard_cold_start_ends_in_its_first_decision():
    figures = _key_guard_first_decision(1)
    assert figures["status"] == "acted"  # the demo account's key has dependents: its deletion is cancelled
    assert 0 < figures["import_s"] < figures["first_decision_s"] and figures["peak_rss_mb"] > 0
