"""The benchmark's figures as tables: the default size, the quotas used, and the growth."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _ok(flag: bool) -> str:
    return "[green]meets[/green]" if flag else "[bold red]MISSES[/bold red]"


def render_bench(r: dict, console: Console | None = None) -> None:
    console = console or Console(width=max(140, Console().width))  # wide enough for the API names and sources
    meets = r["meets_targets"]
    head = Table(title=f"Audit of one key, synthetic region x{r['scale']:g} ({r['latency_ms']} ms per call, published quotas)")
    head.add_column("figure")
    head.add_column("project", justify="right")
    head.add_column("sequential runbook", justify="right")
    head.add_column("target")
    seq = r.get("sequential") or {}
    head.add_row("wall time (s)", f"{r['wall_s']:.2f}", f"{seq.get('wall_s', '-')}", "")
    head.add_row("quota lower bound (s)", f"{r['quota_lower_bound_s']:.2f}", "", r["quota_bound_api"])
    head.add_row("ratio to quota bound", f"{r['ratio_to_quota_bound']}", "", f"<= 1.3  {_ok(meets['ratio_to_quota_bound'])}")
    head.add_row("API calls", str(r["api_calls"]), str(seq.get("api_calls", "-")), "")
    head.add_row("minimum calls (chosen APIs)", str(r["minimum_calls"]), "", "")
    head.add_row("calls ratio to minimum", f"{r['calls_ratio_to_minimum']}", "", f"<= 1.1  {_ok(meets['calls_ratio_to_minimum'])}")
    head.add_row("peak RSS (MB)", f"{r['peak_rss_mb']}", f"{seq.get('peak_rss_mb', '-')}",
                 f"<= 256  {_ok(meets['peak_rss_mb'])} (interpreter + SDKs alone: {r['baseline_rss_mb']})")
    if "speedup_vs_sequential" in r:
        head.add_row("speed-up vs sequential", f"{r['speedup_vs_sequential']}x", "", "reported")
    head.add_row("found = planted", "yes" if meets["found_everything"] else "NO", "", "")
    console.print(head)

    per = Table(title="API calls per product")
    per.add_column("product")
    per.add_column("project", justify="right")
    per.add_column("sequential", justify="right")
    products = sorted(set(r["api_calls_per_product"]) | set(seq.get("api_calls_per_product", {})))
    for p in products:
        per.add_row(p, str(r["api_calls_per_product"].get(p, 0)), str(seq.get("api_calls_per_product", {}).get(p, "-")))
    console.print(per)

    quotas = Table(title="Per-API quotas used (QPS) and calls: made / minimum")
    for col in ("API", "QPS", "made", "minimum", "source"):
        quotas.add_column(col, overflow="fold")
    for q in r["quotas"]:
        quotas.add_row(q["api"], f"{q['qps']:g}", str(r["api_calls_per_api"].get(q["api"], 0)),
                       str(r["minimum_calls_per_api"][q["api"]]), q["source"])
    console.print(quotas)

    if r.get("growth"):
        growth = Table(title="Growth")
        for col in ("scale", "wall (s)", "bound (s)", "ratio", "calls", "minimum", "peak RSS (MB)", "found = planted", "sequential (s)",
                    "speed-up"):
            growth.add_column(col, justify="right")
        rows = [r] + r["growth"]
        for g in sorted(rows, key=lambda g: g["scale"]):
            growth.add_row(f"x{g['scale']:g}", f"{g['wall_s']:.2f}", f"{g['quota_lower_bound_s']:.2f}", f"{g['ratio_to_quota_bound']}",
                           str(g["api_calls"]), str(g["minimum_calls"]), f"{g['peak_rss_mb']}",
                           "yes" if g.get("found_everything", g.get("found") == g.get("expected")) else "NO",
                           str(g.get("sequential_wall_s", (g.get("sequential") or {}).get("wall_s", "-"))),
                           f"{g['speedup_vs_sequential']}x" if "speedup_vs_sequential" in g else "-")
        console.print(growth)
