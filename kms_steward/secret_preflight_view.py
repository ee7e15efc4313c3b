"""Rendering the secret pre-flight report: a terminal table, Markdown (for a change ticket) or JSON."""
from __future__ import annotations

import json

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kms_steward.preflight_view import VERDICT_STYLE, _unbroken_width
from shared.secret_preflight import SecretPreflight

READER_HEADERS = ("Reader", "Account", "Reads", "First read", "Last read", "Source IPs")


def _secret_rows(p: SecretPreflight) -> list[tuple[str, str]]:
    pending = f"yes: deleted at {p.planned_delete_time} unless restored" if p.pending_deletion else "no"
    rotation = p.automatic_rotation or "not set"
    if p.rotation_interval:
        rotation += f", every {p.rotation_interval}"
    if p.last_rotation_date:
        rotation += f", last {p.last_rotation_date}"
    rows = [("Secret", p.secret_name), ("ARN", p.arn or "-"), ("Region", p.region), ("Type", p.secret_type),
            ("Encryption key", p.encryption_key_id or "Secrets Manager's service key"),
            ("KMS instance", p.kms_instance or "none"), ("Rotation", rotation), ("Created", p.create_time or "-"),
            ("Pending deletion", pending)]
    if p.managed_by:
        rows.append(("Managed by", f"{p.managed_by} (the service uses it, read here or not)"))
    return rows


def _reader_rows(p: SecretPreflight) -> list[tuple[str, ...]]:
    return [(r["caller"], r.get("account", ""), str(r["reads"]) + (f" ({r['failedReads']} failed)" if r.get("failedReads") else ""),
             r.get("firstRead", ""), r.get("lastRead", ""), r.get("sourceIps", "")) for r in p.readers]


def _readers_status(p: SecretPreflight) -> str:
    return "complete" if p.readers_complete else f"INCOMPLETE: {p.readers_incomplete}"


def render_json(p: SecretPreflight) -> str:
    return json.dumps(p.model_dump(mode="json"), indent=2, ensure_ascii=False)


def render_markdown(p: SecretPreflight) -> str:
    out = [f"# Pre-flight: delete secret `{p.secret_name}`", "",
           f"Generated {p.generated_at}; readers {_readers_status(p)}, {len(p.readers)} reader(s), "
           f"{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms; outcome **{p.outcome}**.", "",
           "## 1. Secret", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in _secret_rows(p)]
    out += ["", f"## 2. Readers (GetSecretValue, last {p.usage_window_days} days)", "", f"Status: {_readers_status(p)}."]
    if p.reader_evidence:
        out.append(f"Read from: {p.reader_evidence}.")
    if p.readers:
        out += ["", "| " + " | ".join(READER_HEADERS) + " |", "|" + "---|" * len(READER_HEADERS)]
        out += ["| " + " | ".join(row) + " |" for row in _reader_rows(p)]
    else:
        out.append("No GetSecretValue call named the secret in the window.")
    out += ["", f"**Recommendation:** {p.recommendation}", "", "## 3. Rollback", "",
            f"Within the recovery window: `{p.restore_command}`. A secret deleted with ForceDeleteWithoutRecovery "
            "cannot be restored."]
    return "\n".join(out) + "\n"


def render_table(p: SecretPreflight, console: Console) -> None:
    about = Table.grid(padding=(0, 2))
    about.add_column(style="bold", no_wrap=True)
    about.add_column()
    for name, value in _secret_rows(p):
        about.add_row(name, value)
    readers = Table(title=f"Readers: GetSecretValue calls naming the secret, last {p.usage_window_days} days", expand=True)
    for col in READER_HEADERS:
        readers.add_column(col)
    for row in _reader_rows(p):
        readers.add_row(*row)
    if not p.readers:
        readers.add_row("none" if p.readers_complete else Text(f"INCOMPLETE: {p.readers_incomplete}", style="bold red"),
                        *([""] * (len(READER_HEADERS) - 1)))
    style = VERDICT_STYLE.get(p.outcome, "bold red")
    verdict = Group(Text.assemble((f"delete: {p.outcome.upper()}  ", style), p.recommendation), Text(""),
                    Text.assemble(("Rollback: ", "bold"), p.restore_command, " (within the recovery window)"))
    renderables = [Panel(about, title="Pre-flight: delete secret", border_style="cyan"), readers]
    if p.reader_evidence:
        renderables.append(Text(f"Read from: {p.reader_evidence}", style="dim"))
    renderables += [Panel(verdict, title="Verdict", border_style=style),
                    Text(f"{sum(p.api_calls.values())} read-only API calls in {p.duration_ms} ms; outcome {p.outcome}.",
                         style="dim")]
    identifiers = [p.secret_name, p.arn, p.encryption_key_id, p.kms_instance, p.planned_delete_time]
    identifiers += [r.get(f, "") for r in p.readers for f in ("caller", "account", "firstRead", "lastRead")]
    console.width = _unbroken_width(renderables, [i for i in identifiers if i], console.width)
    for renderable in renderables:
        console.print(renderable)
