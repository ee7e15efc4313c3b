"""`kms-steward bench sweep`'s figures as tables: the headline against the targets, the calls per API against the
minimum, and the workers."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _ok(flag: bool) -> str:
    return "[green]meets[/green]" if flag else "[bold red]MISSES[/bold red]"


def _slowest(r: dict) -> str:
    return (f"{r['slowest_worker_s']:.1f} ({r['slowest_worker']}; {r['slowest_worker_cpu_s']} s CPU, "
            f"{r['slowest_worker_process_s']:.1f} s with its cold start)")


def headline(r: dict) -> list[tuple[str, ...]]:
    """(figure, daily run fanned out, first run fanned out, sequential, target) rows."""
    meets, seq, first = r["meets_targets"], r.get("sequential") or {}, r.get("first_run") or {}
    fmeets = first.get("meets_targets") or {}
    t = r["targets"]

    def seq_s(key: str) -> str:
        return f"{r[key]:.1f}" if r.get(key) is not None else "-"

    return [
        ("wall time (s)", f"{r['wall_s']:.1f}", f"{first['wall_s']:.1f}" if first else "-", seq_s("sequential_wall_s"), ""),
        ("slowest worker (s)", _slowest(r), _slowest(first) if first else "-", "",
         f"< {t['slowest_worker_s_below']:g} (1/3 of the {r['function_timeout_s']} s timeout)  {_ok(meets['slowest_worker_s'])}"
         + (f" / first run {_ok(fmeets['slowest_worker_s'])}" if fmeets else "")),
        ("API calls / minimum", f"{r['api_calls']} / {r['minimum_calls']} = {r['calls_ratio_to_minimum']}",
         f"{first['api_calls']} / {r['minimum_calls']} = {first['calls_ratio_to_minimum']}" if first else "-",
         f"{seq.get('api_calls', '-')} / {seq.get('minimum_calls', '-')} = {seq.get('calls_ratio_to_minimum', '-')} (no fan-out)",
         f"<= {t['calls_ratio_to_minimum_at_most']}  {_ok(meets['calls_ratio_to_minimum'])}"
         + (f" / first run {_ok(fmeets['calls_ratio_to_minimum'])}" if fmeets else "")),
        ("peak RSS per worker (MB)", f"max {r['worker_rss_mb']['max']}, min {r['worker_rss_mb']['min']} "
         f"(before any call: {r['worker_rss_mb']['baseline']})", f"max {first['peak_rss_mb']}" if first else "-",
         f"{seq.get('peak_rss_mb', '-')}", f"memorySize {r['memory_mb']}"),
        ("findings (planted)", f"{r['findings']} ({r['planted_total']})", f"{first['findings']}" if first else "-",
         f"{sum(seq['findings'].values())}" if seq else "-", "equal"),
    ]


def render_sweep_bench(r: dict, console: Console | None = None) -> None:
    console = console or Console(width=max(150, Console().width))
    s = r["seeded"]
    first = r.get("first_run") or {}
    head = Table(title=f"Sweep of {s['accounts']} accounts x {s['regions']} regions ({s['keys']} keys, {s['secrets']} secrets, "
                       f"{s['certificates']} certificates; {r['latency_ms']} ms per call, per-API quotas per account and region)")
    for col in ("figure", "daily run, fanned out", "first run (empty state)", "sequential (one process)", "target"):
        head.add_column(col, overflow="fold")
    for row in headline(r):
        head.add_row(*row)
    console.print(head)
    for label, run in (("daily run", r), ("first run", first)):
        if run.get("stages"):
            console.print(f"{label}: " + "; ".join(
                f"{st['function']} {st['wall_s']:.1f} s ({st['workers']} workers, coordinator {st['coordinator_s']} s, "
                f"{st['summaries']} summary)" for st in run["stages"]))
        if run.get("incomplete") or run.get("failed_workers"):
            console.print(f"[bold red]{label} incomplete:[/bold red] {run['incomplete'][:5]} failed workers: {len(run['failed_workers'])}")

    per = Table(title="API calls per API: made by the fanned-out sweep / the minimum its chosen APIs need")
    for col in ("API", "daily run", "minimum", "extra", "first run", "sequential", "throttled (daily / first)"):
        per.add_column(col, justify="right" if col != "API" else "left")
    made, minimum = r["api_calls_per_api"], r["minimum_calls_per_api"]
    seq, cold = (r.get("sequential") or {}).get("api_calls_per_api", {}), first.get("api_calls_per_api", {})
    for api in sorted(set(made) | set(minimum) | set(cold)):
        extra = made.get(api, 0) - minimum.get(api, 0)
        throttled = (r["throttled_per_api"].get(api), first.get("throttled_per_api", {}).get(api))
        per.add_row(api, str(made.get(api, 0)), str(minimum.get(api, 0)), f"{extra:+d}" if extra else "", str(cold.get(api, "-")),
                    str(seq.get(api, "-")), " / ".join(str(n or 0) for n in throttled) if any(throttled) else "")
    console.print(per)

    workers = Table(title="Slowest workers of the daily run (one FC instance each)")
    for col in ("function", "target", "handler (s)", "CPU (s)", "with cold start (s)", "peak RSS (MB)"):
        workers.add_column(col, justify="right" if col not in ("function", "target") else "left")
    for w in r["per_worker"][:8]:
        workers.add_row(w.get("function", ""), f"{w['account']}/{w['region']}", str(w["handler_s"]), str(w.get("cpu_s")),
                        str(w.get("process_s")), str(w["peak_rss_mb"]))
    console.print(workers)
