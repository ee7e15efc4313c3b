"""The bench children report their own peak RSS, not the high-water mark their parent had before the exec."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A parent that touches ~400 MB, then execs a child that reads its peak the way each bench child does.
PARENT = """
import os, sys
ballast = bytearray(400 * 1024 * 1024)
for i in range(0, len(ballast), 4096):
    ballast[i] = 1
os.execv(sys.executable, [sys.executable, "-c", sys.argv[1]])
"""
CHILD = ("from kms_steward import bench_child, bench_rss, bench_sweep_child, bench_sweep_instance\n"
         "print(bench_child._rss_mb(), bench_sweep_instance.rss_mb(), bench_sweep_child.peak_rss_mb(), bench_rss.peak_rss_mb())")


def test_every_bench_child_measures_its_own_peak_not_its_parents():
    out = subprocess.run([sys.executable, "-c", PARENT, CHILD], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    audit, instance, sweep, shared = (float(v) for v in out.split())
    assert audit < 300 and instance < 300 and sweep < 300, out  # the parent's 400 MB is not the child's
    assert {audit, instance, sweep} <= {shared} | {v for v in (audit, instance, sweep) if abs(v - shared) < 5}
