"""The report of a `kms-steward sweep`, in three formats: Markdown (a person at a terminal), JSON (a script) and one
self-contained HTML page (an auditor: opened offline, printed, attached to a ticket).

The HTML page loads nothing: no script, font, style sheet or image from anywhere (its Content-Security-Policy forbids
them, so a name that slipped through escaping still could not run). Its charts are SVG written here. Every text in it
comes from the cloud (resource names, messages, reasons) and is escaped; no secret value is ever in a result (the
checks read ids, names, dates and policies, never values), so none can be in the page.

What the page shows, top to bottom: the sweep's instant, accounts, regions and checks; what was NOT looked at (the
incomplete check runs, with why) before anything else; the findings by severity; a timeline of certificate expiry
(each certificate at its expiry date, colored by its finding's severity, expired ones left of "now", the critical and
warning thresholds marked); the findings table, most severe first; every certificate placed on the timeline; and what
the checks cannot see even when complete (their coverage notes).
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from shared.sweeps.findings import SEVERITIES, CheckResult, Finding, severity_rank

try:  # a broken certificate check must not take the report of the other checks down (checks/__init__.py)
    from shared.sweeps.checks.cert_expiry import (CHECK as CERT_CHECK, DEFAULT_CRITICAL_DAYS, DEFAULT_WARNING_DAYS,
                                                  METRIC as CERT_METRIC)
except Exception:  # noqa: BLE001 - the names it would give, so the timeline still reads whatever results there are
    CERT_CHECK, CERT_METRIC, DEFAULT_WARNING_DAYS, DEFAULT_CRITICAL_DAYS = "cert_expiry", "CertificateDaysToExpiry", 30, 7

OUTCOMES = ("clear", "findings", "incomplete")
OUTCOME_TEXT = {"clear": "clear: no finding at WARN or above, every check complete",
                "findings": "findings at WARN or above",
                "incomplete": "incomplete: no finding at WARN or above, but a check could not look everywhere"}
SEVERITY_COLORS = {"CRITICAL": "#c62828", "WARN": "#e08600", "INFO": "#1565c0", "OK": "#2e7d32"}
CHART_ROWS = 60  # certificates drawn on the timeline (the soonest); every one is listed in the table below it
AXIS_DAYS = 400  # farthest from now the time axis reaches, either way; a certificate beyond is drawn at the edge


def outcome(results: list[CheckResult]) -> str:
    if any(severity_rank(f.severity) >= severity_rank("WARN") for r in results for f in r.findings):
        return "findings"
    return "clear" if all(r.complete for r in results) else "incomplete"


def sorted_findings(results: Iterable[CheckResult]) -> list[Finding]:
    return sorted((f for r in results for f in r.findings),
                  key=lambda f: (-severity_rank(f.severity), f.check, f.account, f.region, f.resource_id))


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    """Most severe first."""
    return {sev: sum(1 for f in findings if f.severity == sev) for sev in reversed(SEVERITIES)}


# ---------------------------------------------------------------- JSON and Markdown


def render_json(results: list[CheckResult], stamp: str) -> str:
    return json.dumps({"at": stamp, "outcome": outcome(results), "results": [r.as_dict() for r in results]},
                      indent=2, ensure_ascii=False)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: list[CheckResult], stamp: str) -> str:
    findings = sorted_findings(results)
    counts = severity_counts(findings)
    lines = [f"# Compliance sweep ({stamp})", "",
             ", ".join(f"{count} {sev}" for sev, count in counts.items()) + f" across {len(results)} check run(s)", ""]
    if findings:
        lines += ["| severity | check | region | resource | finding |", "|---|---|---|---|---|"]
        lines += [f"| {f.severity} | {f.check} | {f.region} | {_cell(f.resource_id)} | {_cell(f.message)} |" for f in findings]
    else:
        lines.append("No findings.")
    lines += ["", "| check | region | status |", "|---|---|---|"]
    for r in results:
        status = "complete" if r.complete else f"INCOMPLETE: {r.reason}"
        if r.note:
            status += f" ({r.note})"
        lines.append(f"| {r.check} | {r.region} | {_cell(status)} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the certificates on the timeline


@dataclass
class CertPoint:
    cert_id: str
    account: str
    region: str
    days_left: int | None          # None: its expiry date could not be read (not on the timeline)
    severity: str = "OK"           # its finding's severity, "OK" when it has none
    kind: str = ""                 # its finding's kind (expired, expiring, unreadable_date)
    not_after: str | None = None   # as the API gave it, where a finding carries it
    domains: list[str] = field(default_factory=list)
    message: str = ""

    def expires(self, now: datetime) -> date | None:
        return None if self.days_left is None else (now + timedelta(days=self.days_left)).date()


def certificate_points(results: list[CheckResult]) -> list[CertPoint]:
    """Every certificate the certificate check read: those with a day count from its metrics (a fine certificate has
    no finding, only its metric), enriched by their findings; those whose date did not read from their findings."""
    points: dict[tuple[str, str, str], CertPoint] = {}
    for r in results:
        if r.check != CERT_CHECK:
            continue
        for m in r.metrics:
            if m.get("MetricName") != CERT_METRIC:
                continue
            dims = m.get("Dimensions") or {}
            value = (m.get("Values") or {}).get("value")
            key = (str(dims.get("account", r.account)), str(dims.get("region", r.region)), str(dims.get("certId", "?")))
            points[key] = CertPoint(key[2], key[0], key[1], value if isinstance(value, int) else None)
        for f in r.findings:
            key = (f.account, f.region, f.resource_id)
            point = points.setdefault(key, CertPoint(f.resource_id, f.account, f.region, f.detail.get("days_left")))
            point.severity, point.kind, point.message = f.severity, f.kind, f.message
            point.not_after = f.detail.get("not_after")
            point.domains = [str(d) for d in f.detail.get("domains") or []]
    return sorted(points.values(), key=lambda p: (p.days_left is None, p.days_left or 0, p.cert_id))


def cert_thresholds(results: list[CheckResult]) -> tuple[int, int]:
    """(critical, warning) days the certificate check judged with: its findings carry them; else its defaults."""
    for r in results:
        for f in r.findings:
            if f.check == CERT_CHECK and "critical_days" in f.detail and "warning_days" in f.detail:
                return int(f.detail["critical_days"]), int(f.detail["warning_days"])
    return DEFAULT_CRITICAL_DAYS, DEFAULT_WARNING_DAYS


# ---------------------------------------------------------------- HTML


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _instant(stamp: str) -> datetime:
    try:
        value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def _when(point: CertPoint) -> str:
    if point.days_left is None:
        return "expiry date unreadable"
    if point.days_left < 0:
        return f"expired {_days(-point.days_left)} ago"
    return "expires today" if point.days_left == 0 else f"in {_days(point.days_left)}"


def severity_chart(counts: dict[str, int]) -> str:
    """One bar per severity, its length the count (relative to the largest)."""
    width, label_w, row_h = 520, 90, 26
    top = max(counts.values()) or 1
    rows = []
    for i, (sev, count) in enumerate(counts.items()):
        y = 6 + i * row_h
        bar = 0 if count == 0 else max(3, round((width - label_w - 60) * count / top))
        rows.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" class="lbl">{_e(sev)}</text>'
                    f'<rect class="sev-bar" data-severity="{_e(sev)}" data-count="{count}" x="{label_w}" y="{y}" '
                    f'width="{bar}" height="{row_h - 8}" fill="{SEVERITY_COLORS[sev]}"/>'
                    f'<text x="{label_w + bar + 6}" y="{y + 15}" class="num">{count}</text>')
    height = 12 + len(counts) * row_h
    return (f'<svg id="severity-chart" role="img" aria-label="findings by severity" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')


def _tick_step(span: int) -> int:
    return next((s for s in (1, 2, 7, 14, 30, 60, 90, 180, 365) if span / s <= 8), 365)


def expiry_timeline(points: list[CertPoint], now: datetime, critical: int, warning: int) -> tuple[str, int]:
    """The timeline SVG and how many certificates were left off it (past CHART_ROWS)."""
    placed = [p for p in points if p.days_left is not None]
    drawn, left_off = placed[:CHART_ROWS], max(0, len(placed) - CHART_ROWS)
    days = [p.days_left for p in drawn]
    low = max(-AXIS_DAYS, min([-14, *(d - 5 for d in days)]))
    high = min(AXIS_DAYS, max([warning + 30, *(d + 10 for d in days)]))
    width, label_w, right_pad, top, row_h = 1000, 250, 30, 62, 22
    x0, x1 = label_w, width - right_pad
    height = top + max(1, len(drawn)) * row_h + 34

    def x(day: float) -> float:
        return round(x0 + (x1 - x0) * (min(max(day, low), high) - low) / (high - low), 1)

    parts = [f'<rect x="{x(low)}" y="{top - 6}" width="{x(0) - x(low)}" height="{height - top - 22}" fill="#fbe4e4"/>',
             f'<rect x="{x(0)}" y="{top - 6}" width="{x(critical) - x(0)}" height="{height - top - 22}" fill="#fde9d9"/>',
             f'<rect x="{x(critical)}" y="{top - 6}" width="{x(warning) - x(critical)}" height="{height - top - 22}" '
             f'fill="#fff6dc"/>']
    step = _tick_step(high - low)
    first = -(-low // step) * step
    for day in range(first, high + 1, step):
        tick = (now + timedelta(days=day)).date().isoformat()
        parts.append(f'<line class="tick" x1="{x(day)}" x2="{x(day)}" y1="{top - 6}" y2="{height - 22}" stroke="#ddd"/>'
                     f'<text x="{x(day)}" y="{height - 6}" text-anchor="middle" class="axis">{tick}</text>')
    # now, then the thresholds: each label in a lane of its own, so that close lines keep readable labels
    for lane, (day, name, color) in enumerate(((0, f"now {now.date().isoformat()}", "#333"),
                                               (critical, f"{critical} days: CRITICAL from here", "#c62828"),
                                               (warning, f"{warning} days: WARN from here", "#a05f00"))):
        if low <= day <= high:
            y_text = top - 46 + 14 * lane
            parts.append(f'<line class="marker" data-days="{day}" x1="{x(day)}" x2="{x(day)}" y1="{y_text + 3}" '
                         f'y2="{height - 22}" stroke="{color}" stroke-width="2" stroke-dasharray="{"0" if day == 0 else "5,3"}"/>'
                         f'<text x="{x(day) + 4}" y="{y_text}" class="axis" fill="{color}">{_e(name)}</text>')
    for i, p in enumerate(drawn):
        y = top + i * row_h + row_h / 2
        label = f"{p.cert_id} · {p.region}"
        if len(label) > 34:
            label = label[:33] + "…"
        day = p.days_left or 0
        prefix, suffix = ("◀ " if day < low else ""), (" ▶" if day > high else "")  # beyond the axis: at its edge
        tip = f"{p.cert_id} ({p.account} {p.region}): {p.severity}, {_when(p)}"
        if p.not_after:
            tip += f" ({p.not_after})"
        if p.domains:
            tip += f"; {', '.join(p.domains)}"
        # the text beside its dot, on the side away from the now line where there is room
        left = x(day) > x1 - 220 or (day < 0 and x(day) - x0 > 220)
        text_x, anchor = (x(day) - 9, "end") if left else (x(day) + 9, "start")
        expires = p.expires(now).isoformat() if p.days_left is not None else ""
        parts.append(f'<text x="{x0 - 8}" y="{y + 4}" text-anchor="end" class="lbl">{_e(label)}</text>'
                     f'<line x1="{x0}" x2="{x1}" y1="{y}" y2="{y}" stroke="#eee"/>'
                     f'<circle class="cert" data-cert="{_e(p.cert_id)}" data-severity="{_e(p.severity)}" '
                     f'data-days="{day}" cx="{x(day)}" cy="{y}" r="6" fill="{SEVERITY_COLORS.get(p.severity, "#777")}" '
                     f'stroke="#fff"><title>{_e(tip)}</title></circle>'
                     f'<text x="{text_x}" y="{y + 4}" text-anchor="{anchor}" class="num">'
                     f'{prefix}{_e(expires)} · {_e(_when(p))} · {_e(p.severity)}{suffix}</text>')
    if not drawn:
        parts.append(f'<text x="{(x0 + x1) / 2}" y="{top + 14}" text-anchor="middle" class="lbl">no certificate with a '
                     'readable expiry date</text>')
    svg = (f'<svg id="expiry-timeline" role="img" aria-label="certificate expiry timeline" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" style="max-width:100%;height:auto" '
           f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
    return svg, left_off


STYLE = """
body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222; margin: 24px 32px; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ccc; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; margin: 10px 0; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
.outcome { display: inline-block; padding: 3px 10px; border-radius: 4px; color: #fff; font-weight: bold; }
.outcome.clear { background: #2e7d32; } .outcome.findings { background: #c62828; } .outcome.incomplete { background: #6a1b9a; }
.notlooked { border: 3px solid #6a1b9a; background: #f6eefa; padding: 8px 14px; margin: 16px 0; }
.notlooked h2 { border: 0; margin-top: 4px; color: #6a1b9a; }
.alllooked { border: 1px solid #2e7d32; background: #eef7ee; padding: 6px 14px; margin: 16px 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td.msg { word-break: break-word; }
td.sev { font-weight: bold; color: #fff; white-space: nowrap; }
td.sev.CRITICAL { background: #c62828; } td.sev.WARN { background: #e08600; } td.sev.INFO { background: #1565c0; }
td.sev.OK { background: #2e7d32; }
svg text { font-family: "DejaVu Sans", Arial, sans-serif; } svg .lbl { font-size: 12px; } svg .num { font-size: 11px; }
svg .axis { font-size: 10px; } td.nw { white-space: nowrap; }
svg .num, svg .axis { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 11px; height: 11px;
  border-radius: 6px; margin-right: 4px; vertical-align: -1px; }
.muted { color: #666; }
@media print { body { margin: 8mm; } .notlooked, table, svg { break-inside: avoid; } }
"""


def render_html(results: list[CheckResult], stamp: str, *, regions: Iterable[str] = (), checks: Iterable[str] = ()) -> str:
    now = _instant(stamp)
    findings = sorted_findings(results)
    counts = severity_counts(findings)
    result = outcome(results)
    accounts = sorted({r.account for r in results}) or [""]
    regions = list(regions) or sorted({r.region for r in results})
    checks = list(checks) or list(dict.fromkeys(r.check for r in results))
    incomplete = [r for r in results if not r.complete]
    points = certificate_points(results)
    critical, warning = cert_thresholds(results)
    cert_runs = [r for r in results if r.check == CERT_CHECK]

    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           # nothing may load or run: the page is whole as written, and a name that escaped escaping still cannot act
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>kms-steward sweep {_e(stamp)}</title><style>{STYLE}</style></head><body>",
           "<h1>kms-steward compliance sweep</h1>",
           '<dl class="meta">',
           f"<dt>Swept at</dt><dd id=\"swept-at\">{_e(stamp)} (UTC; the instant every check judged against)</dd>",
           f"<dt>Account{'s' if len(accounts) > 1 else ''}</dt><dd>{', '.join(_e(a or '(not given)') for a in accounts)}</dd>",
           f"<dt>Regions</dt><dd>{_e(', '.join(regions))}</dd>",
           f"<dt>Checks</dt><dd>{_e(', '.join(checks))} ({len(results)} check run(s): one per check and region)</dd>",
           f'<dt>Outcome</dt><dd><span class="outcome {result}" id="outcome">{_e(OUTCOME_TEXT[result])}</span></dd>',
           "</dl>"]

    if incomplete:
        out += ['<section class="notlooked" id="not-looked-at">',
                f"<h2>NOT looked at: {len(incomplete)} of {len(results)} check run(s) incomplete</h2>",
                "<p>These checks could not read everything they needed. Their silence is not a clean result: what they "
                "would have found there is unknown.</p>",
                "<table><thead><tr><th>check</th><th>account</th><th>region</th><th>why</th></tr></thead><tbody>"]
        out += [f"<tr><td>{_e(r.check)}</td><td>{_e(r.account)}</td><td class='nw'>{_e(r.region)}</td>"
                f'<td class="msg">{_e(r.reason or "no reason given")}</td></tr>' for r in incomplete]
        out += ["</tbody></table></section>"]
    else:
        out.append(f'<p class="alllooked" id="not-looked-at">Every check run ({len(results)}) was complete: each read '
                   "everything it asked for. What the checks cannot see even then is listed at the end.</p>")

    total = sum(counts.values())
    out += ['<h2 id="by-severity">Findings by severity</h2>',
            f"<p>{total} finding(s): " + ", ".join(f"{count} {sev}" for sev, count in counts.items()) + "</p>",
            severity_chart(counts)]

    out.append('<h2 id="certificates">Certificate expiry</h2>')
    if not cert_runs:
        out.append('<p class="muted">The certificate check (cert_expiry) was not run: no certificate was looked at.</p>')
    else:
        svg, left_off = expiry_timeline(points, now, critical, warning)
        legend = "".join(f'<span><i style="background:{color}"></i>{_e(sev if sev != "OK" else "no finding")}</span>'
                         for sev, color in SEVERITY_COLORS.items())
        out += [f"<p>Each certificate at its expiry date; left of <b>now</b> it has expired. Findings from "
                f"{warning} days (WARN) and {critical} days (CRITICAL) before expiry; a certificate no listener serves "
                "is one level lower.</p>", f'<p class="legend">{legend}</p>', svg]
        if left_off:
            out.append(f"<p>{left_off} more certificate(s), all expiring later than those drawn, are listed below.</p>")
        if any(not r.complete for r in cert_runs):
            out.append('<p class="notlooked">The certificate check was incomplete in some run: certificates it could '
                       "not list are missing here (see above).</p>")

    out += ['<h2 id="findings">Findings</h2>']
    if findings:
        out.append('<table id="findings-table"><thead><tr><th>severity</th><th>check</th><th>account</th><th>region</th>'
                   "<th>resource</th><th>finding</th></tr></thead><tbody>")
        out += [f'<tr class="finding" data-severity="{_e(f.severity)}"><td class="sev {_e(f.severity)}">{_e(f.severity)}</td>'
                f"<td>{_e(f.check)}</td><td>{_e(f.account)}</td><td class='nw'>{_e(f.region)}</td>"
                f"<td>{_e(f.resource_type)}<br><code>{_e(f.resource_id)}</code></td>"
                f'<td class="msg">{_e(f.message)}</td></tr>' for f in findings]
        out.append("</tbody></table>")
    else:
        out.append('<p id="findings-table">No findings.</p>')

    if cert_runs:
        out += ['<h2 id="certificate-list">Certificates read</h2>',
                '<table id="certificates-table"><thead><tr><th>status</th><th>certificate</th><th>account</th>'
                "<th>region</th><th>expires</th><th>days left</th></tr></thead><tbody>"]
        for p in points:
            expires = p.not_after or (p.expires(now).isoformat() if p.days_left is not None else "unreadable")
            out.append(f'<tr class="certificate"><td class="sev {_e(p.severity)}">{_e(p.severity)}</td>'
                       f"<td><code>{_e(p.cert_id)}</code>{'<br>' + _e(', '.join(p.domains)) if p.domains else ''}</td>"
                       f"<td>{_e(p.account)}</td><td class='nw'>{_e(p.region)}</td><td>{_e(expires)}</td>"
                       f"<td>{'' if p.days_left is None else p.days_left}</td></tr>")
        if not points:
            out.append('<tr><td colspan="6">No certificate was found.</td></tr>')
        out.append("</tbody></table>")

    out += ['<h2 id="runs">Check runs</h2>',
            '<table id="runs-table"><thead><tr><th>check</th><th>account</th><th>region</th><th>status</th>'
            "<th>findings</th><th>what it cannot see even when complete</th></tr></thead><tbody>"]
    out += [f"<tr><td>{_e(r.check)}</td><td>{_e(r.account)}</td><td class='nw'>{_e(r.region)}</td>"
            f"<td>{'complete' if r.complete else '<b>INCOMPLETE</b>'}</td><td>{len(r.findings)}</td>"
            f'<td class="msg">{_e(r.note or "")}</td></tr>' for r in results]
    out += ["</tbody></table>",
            '<p class="muted">Generated by kms-steward sweep, read-only: nothing was changed, alerted or recorded. '
            "No secret value is read by the checks, so none appears here.</p>",
            "</body></html>"]
    return "\n".join(out) + "\n"
