"""A measured child process's own memory and CPU, shared by every bench child (bench audit: bench_child; bench
sweep: bench_sweep_child, bench_sweep_instance).

Peak RSS is VmHWM from /proc/self/status, the high-water mark of the process's own memory since it was exec'd. Not
getrusage's ru_maxrss: on Linux that keeps the high-water mark of the forked copy of the parent (the bench or the
local cloud, hundreds of MB) from before the exec (getrusage(2): "the resource usages ... are preserved across
execve"), so a child would report its parent's peak."""
from __future__ import annotations

import resource


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak resident set since exec (VmHWM); ru_maxrss only where /proc is missing."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def current_rss_mb() -> float:
    """The resident set now (VmRSS)."""
    now = _status_mb("VmRSS")
    return now if now is not None else peak_rss_mb()
