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
    head.add_row("minimum calls (fewest documented)", str(r["minimum_calls"]), "", "")
    head.add_row("calls ratio to minimum", f"{r['calls_ratio_to_minimum']}", "", f"<= 1.1  {_ok(meets['calls_ratio_to_minimum'])}")
    head.add_row("peak RSS (MB)", f"{r['peak_rss_mb']}", f"{seq.get('peak_rss_mb', '-')}",
                 f"<= 256  {_ok(meets['peak_rss_mb'])} (interpreter + SDKs alone: {r['baseline_rss_mb']})")
    if "speedup_vs_sequential" in r:
        head.add_row("speed-up vs sequential", f"{r['speedup_vs_sequential']}x", "", "reported")
    head.add_row("found = planted", "yes" if meets["found_everything"] else "NO", "", "")
    console.print(head)
    if "warm" in r:
        console.print(_warm_table(r))

    per = Table(title="API calls per product")
    per.add_column("product")
    per.add_column("project", justify="right")
    per.add_column("sequential", justify="right")
    products = sorted(set(r["api_calls_per_product"]) | set(seq.get("api_calls_per_product", {})))
    for p in products:
        per.add_row(p, str(r["api_calls_per_product"].get(p, 0)), str(seq.get("api_calls_per_product", {}).get(p, "-")))
    console.print(per)
    if r.get("minimum_per_product"):
        console.print(_minimum_table(r["minimum_per_product"]))

    quotas = Table(title="Per-API quotas used (QPS) and calls: made / minimum")
    for col in ("API", "QPS", "made", "minimum", "source"):
        quotas.add_column(col, overflow="fold")
    for q in r["quotas"]:
        quotas.add_row(q["api"], f"{q['qps']:g}", str(r["api_calls_per_api"].get(q["api"], 0)),
                       str(r["minimum_calls_per_api"].get(q["api"], 0)), q["source"])
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


# ---- the honest minimum, part by part (rows from kms_steward/bench_region.minimum_by_product) ----
def _minimum_table(rows: list[dict]) -> Table:
    """Both counts per part; the fewest strategy and the reason only where the audit's strategy makes more
    (every row's strategy and source are in the JSON, and cited in bench_region)."""
    table = Table(title="Minimum calls per product, cold audit: the audit's strategy vs the fewest any documented strategy "
                        "needs (a warm audit, remembering immutable facts, can go below)")
    for col, justify in (("product", "left"), ("finds", "left"), ("audit's strategy", "right"), ("fewest documented", "right"),
                         ("where the audit makes more: the fewest strategy, and why the audit's differs", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for row in rows:
        why = row["why_audit_differs"]
        table.add_row(row["product"], row["finds"], f"[yellow]{row['audit_strategy']}[/yellow]" if why else str(row["audit_strategy"]),
                      str(row["fewest_documented"]),
                      f"fewest: {row['fewest_strategy']}\n[yellow]audit: {why}[/yellow]" if why else "same")
    table.add_row("total", "", str(sum(row["audit_strategy"] for row in rows)), str(sum(row["fewest_documented"] for row in rows)), "")
    return table


# ---- the warm run: the same audit once the region has grown, with the facts the cold run remembered ----
def _warm_table(r: dict) -> Table:
    w, meets = r["warm"], r["meets_targets"]
    added = sum(w["added"].values())
    table = Table(title=f"Warm audit: the region grown by {w['growth']:.0%} ({added} resources created since), "
                        "immutable facts remembered from the cold run")
    for col, justify in (("figure", "left"), ("cold", "right"), ("warm", "right"), ("target", "left")):
        table.add_column(col, justify=justify)
    calls = w["api_calls_per_api"]
    table.add_row("wall time (s)", f"{r['wall_s']:.2f}", f"{r['warm_wall_s']:.2f}", f"warm / cold = {w['wall_to_cold_wall']}")
    table.add_row("ratio to the cold quota bound", f"{r['ratio_to_quota_bound']}", f"{r['warm_ratio_to_quota_bound']}",
                  f"warm <= 0.1  {_ok(meets['warm_ratio_to_quota_bound'])}")
    table.add_row("API calls", str(r["api_calls"]), str(w["api_calls"]), "")
    table.add_row("kms:DescribeSecret", str(r["api_calls_per_api"].get("kms:DescribeSecret", 0)), str(calls.get("kms:DescribeSecret", 0)),
                  "only new secrets, and those on the key (read fresh)")
    table.add_row("bound set by the warm run's own calls (s)", "", f"{w['own_calls_quota_bound_s']:.2f}", w["own_calls_bound_api"])
    table.add_row("cold audit of the grown region (s)", f"{w['cold_wall_s_grown_region']:.2f}", "", "")
    table.add_row("same dependents as that cold audit", "", "yes" if r["warm_same_dependents"] else "NO",
                  _ok(meets["warm_same_dependents"]))
    return table
