"""Rendering the pre-flight report: a terminal table, Markdown (for a change ticket) or JSON."""
from __future__ import annotations

import json

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shared.preflight import Category, Preflight

VERDICT_STYLE = {"blocked": "bold red", "risky": "bold yellow", "clear": "bold green"}


def _key_rows(p: Preflight) -> list[tuple[str, str]]:
    k = p.key
    rotation = k.automatic_rotation or "n/a"
    if k.automatic_rotation == "Enabled":
        rotation += f" every {k.rotation_interval}, next {k.next_rotation_date or '?'}"
    if k.last_rotation_date:
        rotation += f", last {k.last_rotation_date}"
    rows = [
        ("Key", k.key_id), ("ARN", k.arn), ("Aliases", ", ".join(k.aliases) or "none"), ("Region", k.region),
        ("Account", k.account_id), ("State", k.state + (f" (deleted at {k.delete_date})" if k.delete_date else "")),
        ("Deletion protection", k.deletion_protection + (f": {k.deletion_protection_description}" if k.deletion_protection_description else "")),
        ("Rotation", rotation),
        ("Spec / origin", " / ".join(x for x in (k.key_spec, k.key_usage, k.origin, k.protection_level) if x)),
    ]
    if k.kms_instance:
        rows.append(("KMS instance", k.kms_instance))
    if k.description:
        rows.append(("Description", k.description))
    return rows


def _status(c: Category) -> str:
    return "complete" if c.complete else f"INCOMPLETE: {c.reason}"


def _usage_rows(c: Category) -> list[tuple[str, ...]]:
    return [(d.resource_id, d.detail.get("account", ""), d.detail.get("source_ip", ""), d.detail.get("user_agent", ""),
             d.detail.get("first_use", ""), d.detail.get("last_use", ""), d.usage) for d in c.dependents]


USAGE_HEADERS = ("Caller", "Account", "Source IP", "User agent", "First use", "Last use", "Calls")


def render_json(p: Preflight) -> str:
    data = p.model_dump(mode="json")
    data["dependentCount"] = len(p.dependents)
    return json.dumps(data, indent=2, ensure_ascii=False)


def render_markdown(p: Preflight) -> str:
    out = [f"# Pre-flight: {p.action} KMS key `{p.key.key_id}`", "", f"Generated {p.generated_at}; "
           f"audit {'complete' if p.audit_complete else '**INCOMPLETE**'}, {len(p.dependents)} dependent(s), "
           f"{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms.", "", "## 1. Key", "",
           "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in _key_rows(p)]
    out += ["", "## 2. Dependents", "", "| Category | Scanner | Status | Count | Dependents |", "|---|---|---|---|---|"]
    for c in p.categories:
        deps = "<br>".join(f"`{d.resource_id}` ({d.state}, {d.usage})" for d in c.dependents) or (c.note or "none")
        out.append(f"| {c.service} | {c.scanner} | {_status(c)} | {c.count} | {deps} |")
    notes = [c for c in p.categories if c.note and c.dependents]
    out += [f"- {c.service}: {c.note}" for c in notes]
    out += ["", f"## 3. Usage evidence (last {p.usage_window_days} days)", "", f"Status: {_status(p.usage)}."]
    if p.usage.note:
        out.append(f"{p.usage.note}")
    if p.usage_evidence_read:
        out.append(p.usage_evidence_read)
    if p.usage.dependents:
        out += ["", "| " + " | ".join(USAGE_HEADERS) + " |", "|" + "---|" * len(USAGE_HEADERS)]
        out += ["| " + " | ".join(row) + " |" for row in _usage_rows(p.usage)]
    else:
        out.append("No crypto call named the key in the window.")
    out += ["", "## 4. Disable versus delete", ""]
    for a in p.assessments.values():
        out.append(f"- **{a.action}: {a.verdict.upper()}**: {a.summary} Reversible: {a.reversible}.")
    out += ["", f"**Recommendation:** {p.recommendation}", "", "## 5. Deletion window", "", p.deletion_window, "",
            "## 6. Rollback", ""]
    out += [f"- {action}: {text}" for action, text in p.rollback.items()]
    out += ["", "## 7. Confirm before acting", ""] + [f"- [ ] {c}" for c in p.confirmations]
    out += ["", "## 8. After the change", ""] + [f"- [ ] {c}" for c in p.post_checks]
    return "\n".join(out) + "\n"


def render_table(p: Preflight, console: Console) -> None:
    key = Table.grid(padding=(0, 2))
    key.add_column(style="bold")
    key.add_column(overflow="fold")  # an ARN is copied from here: never cut short
    for name, value in _key_rows(p):
        key.add_row(name, value)
    console.print(Panel(key, title=f"Pre-flight: {p.action} key", border_style="cyan"))

    deps = Table(title="Dependents per category", show_lines=False, expand=True)
    for col in ("Category", "Status", "Count", "Dependents"):
        deps.add_column(col, overflow="fold")
    for c in p.categories:
        status = Text("complete", style="green") if c.complete else Text(f"INCOMPLETE: {c.reason}", style="bold red")
        listed = "\n".join(f"{d.resource_id} ({d.state}, {d.usage})" for d in c.dependents) or (c.note or "-")
        deps.add_row(f"{c.service}\n[dim]{c.scanner}[/dim]", status, str(c.count), listed)
    console.print(deps)

    usage = Table(title=f"Usage evidence: crypto calls naming the key, last {p.usage_window_days} days", expand=True)
    for col in USAGE_HEADERS:
        usage.add_column(col, overflow="fold")
    for row in _usage_rows(p.usage):
        usage.add_row(*row)
    if not p.usage.dependents:
        usage.add_row("none" if p.usage.complete else f"INCOMPLETE: {p.usage.reason}", *[""] * (len(USAGE_HEADERS) - 1))
    console.print(usage)
    if p.usage.note:
        console.print(f"[dim]{p.usage.note}[/dim]")
    if p.usage_evidence_read:
        console.print(f"[dim]{p.usage_evidence_read}[/dim]")

    verdicts = Group(*[Text.assemble((f"{a.action}: {a.verdict.upper()}  ", VERDICT_STYLE[a.verdict]), a.summary,
                                     f" Reversible: {a.reversible}.") for a in p.assessments.values()],
                     Text(""), Text.assemble(("Recommendation: ", "bold"), p.recommendation),
                     Text.assemble(("Deletion window: ", "bold"), p.deletion_window))
    console.print(Panel(verdicts, title="Disable versus delete", border_style=VERDICT_STYLE[p.assessments[p.action].verdict]))
    rollback = "\n".join(f"{a}: {t}" for a, t in p.rollback.items())
    console.print(Panel(rollback, title="Rollback", border_style="blue"))
    console.print(Panel("\n".join(f"[ ] {c}" for c in p.confirmations), title="Confirm before acting", border_style="magenta"))
    console.print(Panel("\n".join(f"[ ] {c}" for c in p.post_checks), title="After the change", border_style="blue"))
    console.print(f"[dim]{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms; audit "
                  f"{'complete' if p.audit_complete else 'INCOMPLETE'}.[/dim]")
