"""Rendering the pre-flight report: a terminal table, Markdown (for a change ticket) or JSON."""
from __future__ import annotations

import io
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
        # A pending key's DeleteDate is ahead: the key still exists (a passed one means no key to report).
        ("Account", k.account_id), ("State", k.state + (f" (deletion scheduled for {k.delete_date})" if k.delete_date else "")),
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
    data["dependent_count"] = len(p.dependents)  # snake_case, as every other key of the report
    return json.dumps(data, indent=2, ensure_ascii=False)


def window_section(p: Preflight) -> tuple[str, str]:
    """Section 5: the deletion window of a deletion, or what disabling means: (title, text)."""
    if p.action == "disable":
        return "While disabled", p.while_disabled or ""
    return "Deletion window", p.deletion_window or ""


def render_markdown(p: Preflight) -> str:
    out = [f"# Pre-flight: {p.action} KMS key `{p.key.key_id}`", "", f"Generated {p.generated_at}; "
           f"audit {'complete' if p.audit_complete else '**INCOMPLETE**'}, {len(p.dependents)} dependent(s), "
           f"{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms; outcome **{p.outcome}**.", "",
           "## 1. Key", "",
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
    title, text = window_section(p)
    out += ["", f"**Recommendation:** {p.recommendation}", "", f"## 5. {title}", "", text, "", "## 6. Rollback", ""]
    out += [f"- {action}: {text}" for action, text in p.rollback.items()]
    out += ["", "## 7. Confirm before acting", ""] + [f"- [ ] {c}" for c in p.confirmations]
    out += ["", "## 8. After the change", ""] + [f"- [ ] {c}" for c in p.post_checks]
    return "\n".join(out) + "\n"


def render_table(p: Preflight, console: Console) -> None:
    """The report as terminal panels and tables. Identifiers (the ARN, ids, callers, dates) are copied from
    here: the output is made as wide as it takes never to break one across lines (prose wraps at spaces)."""
    renderables = _table_renderables(p)
    console.width = _unbroken_width(renderables, _identifiers(p), console.width)  # print(width=) cannot exceed it
    for renderable in renderables:
        console.print(renderable)


def _table_renderables(p: Preflight) -> list:
    key = Table.grid(padding=(0, 2))
    key.add_column(style="bold", no_wrap=True)
    key.add_column()
    for name, value in _key_rows(p):
        key.add_row(name, value)
    out: list = [Panel(key, title=f"Pre-flight: {p.action} key", border_style="cyan")]

    deps = Table(title="Dependents per category", show_lines=False, expand=True)
    for col in ("Category", "Status", "Count", "Dependents"):
        deps.add_column(col)
    for c in p.categories:
        status = Text("complete", style="green") if c.complete else Text(f"INCOMPLETE: {c.reason}", style="bold red")
        listed = Text("\n".join(f"{d.resource_id} ({d.state}, {d.usage})" for d in c.dependents))
        if c.note:  # a caveat (what the scanner cannot see) counts as much beside dependents as without them
            listed.append(("\n" if c.dependents else "") + c.note, style="dim" if c.dependents else "")
        deps.add_row(Text.assemble(c.service, "\n", (c.scanner, "dim")), status, str(c.count), listed if listed.plain else "-")
    out.append(deps)

    usage = Table(title=f"Usage evidence: crypto calls naming the key, last {p.usage_window_days} days", expand=True)
    for col in ("Caller (account, user agent)", "Source IP", "First / last use", "Calls"):
        usage.add_column(col)
    for d in p.usage.dependents:
        caller = Text.assemble(d.resource_id, "\n", f"account {d.detail.get('account', '?')}", "\n", (d.detail.get("user_agent", ""), "dim"))
        usage.add_row(caller, d.detail.get("source_ip", ""), f"{d.detail.get('first_use', '')}\n{d.detail.get('last_use', '')}", d.usage)
    if not p.usage.dependents:
        usage.add_row("none" if p.usage.complete else Text(f"INCOMPLETE: {p.usage.reason}", style="bold red"), "", "", "")
    out.append(usage)
    if p.usage.note:
        out.append(Text(p.usage.note, style="dim"))
    if p.usage_evidence_read:
        out.append(Text(p.usage_evidence_read, style="dim"))

    title, text = window_section(p)
    verdicts = Group(*[Text.assemble((f"{a.action}: {a.verdict.upper()}  ", VERDICT_STYLE[a.verdict]), a.summary,
                                     f" Reversible: {a.reversible}.") for a in p.assessments.values()],
                     Text(""), Text.assemble(("Recommendation: ", "bold"), p.recommendation),
                     Text.assemble((f"{title}: ", "bold"), text))
    out.append(Panel(verdicts, title="Disable versus delete", border_style=VERDICT_STYLE[p.assessments[p.action].verdict]))
    out.append(Panel(Text("\n".join(f"{a}: {t}" for a, t in p.rollback.items())), title="Rollback", border_style="blue"))
    out.append(Panel(Text("\n".join(f"[ ] {c}" for c in p.confirmations)), title="Confirm before acting", border_style="magenta"))
    out.append(Panel(Text("\n".join(f"[ ] {c}" for c in p.post_checks)), title="After the change", border_style="blue"))
    out.append(Text(f"{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms; audit "
                    f"{'complete' if p.audit_complete else 'INCOMPLETE'}; outcome {p.outcome}.", style="dim"))
    return out


def _identifiers(p: Preflight) -> list[str]:
    """What an operator copies out of the table: none of it may be broken across lines."""
    k = p.key
    ids = [k.key_id, k.arn, k.account_id, *k.aliases, *(x for x in (k.delete_date, k.kms_instance) if x)]
    ids += [d.resource_id for c in p.categories for d in c.dependents]
    for d in p.usage.dependents:
        ids += [d.resource_id, *(d.detail.get(f, "") for f in ("account", "source_ip", "first_use", "last_use"))]
    return [i for i in ids if i]


def _unbroken_width(renderables: list, identifiers: list[str], width: int, limit: int = 400) -> int:
    """The narrowest width, from `width` (at least 100) up, at which every identifier is printed whole: rich
    wraps text at spaces and folds a word longer than its column, which would cut an ARN in two."""
    width = max(100, width)
    plain = [_plain(r) for r in renderables]
    wanted = {i: sum(t.count(i) for t in plain) for i in set(identifiers) if not any(c.isspace() for c in i)}
    while width < limit:
        buffer = io.StringIO()
        probe = Console(file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False)
        for renderable in renderables:
            probe.print(renderable)
        text = buffer.getvalue()
        if all(text.count(i) >= n for i, n in wanted.items()):
            return width
        width += 4
    return limit


def _plain(renderable) -> str:
    """The text a renderable holds, unwrapped (what the report says, however wide it is printed)."""
    buffer = io.StringIO()
    Console(file=buffer, width=1000, color_system=None, force_terminal=False).print(renderable)
    return buffer.getvalue()
