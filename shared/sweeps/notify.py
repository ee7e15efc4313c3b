"""What a sweep tells people, without storms: one CloudMonitor custom event per sweep (KmsStewardSweepSummary), one
per CRITICAL finding not alerted before (KmsStewardCriticalFinding), an SLS record per finding that appears, rises or
clears, and metrics (PutCustomMetric).

Remembered between runs (shared/sweeps/memory.py), per account/region/check:
- a CRITICAL finding alerts once; on later runs it alerts again only if its severity rose since the last run (WARN
  yesterday, CRITICAL today) or its alert could not be sent then;
- a finding of the last run not found now is recorded as resolved, but only when the check looked everywhere: an
  incomplete check keeps the unseen findings open (carried), since it cannot tell "fixed" from "not looked at";
- a state that cannot be read is alerted (KmsStewardSweepStateUnreadable) and the run goes on as if nothing were known:
  loud (every CRITICAL alerts again) rather than quiet.

Sizes: PutCustomEvent takes at most 50 events and 500 KB a call, PutCustomMetric at most 21 metrics a call (API
references, https://www.alibabacloud.com/help/doc-detail/115012.html and https://www.alibabacloud.com/help/doc-detail/115004.html);
the summary lists at most MAX_SUMMARY_ROWS check results and names no more than MAX_IDS resources per list.
Nothing is sent one call per item: the CRITICAL events of a run go in PutCustomEvent calls of up to 50 events, 500 KB
and a URL query of QUERY_BYTES_PER_CALL (shared/alerts.py raise_alerts; a refused or lost call leaves all its findings un-alerted, so the next run sends them
again), and the run's records in PutLogs calls of up to 4096 logs and under the 5 MB LogGroup limit
(shared/records.py write_records; a refused call's records go to stdout).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from alibabacloud_cms20190101 import models as cms

from shared.alerts import raise_alert, raise_alerts
from shared.clients import Clients, describe_error
from shared.records import write_records
from shared.sweeps.findings import SEVERITIES, CheckResult, Finding, severity_rank
from shared.sweeps.memory import FindingMemory, StateUnreadable
from shared.sweeps.settings import SweepSettings

SUMMARY_EVENT = "KmsStewardSweepSummary"
CRITICAL_EVENT = "KmsStewardCriticalFinding"
STATE_UNREADABLE_EVENT = "KmsStewardSweepStateUnreadable"
RECORD_TOPIC = "compliance-sweep"
METRICS_PER_CALL = 21
MAX_SUMMARY_ROWS = 100
MAX_IDS = 10


@dataclass
class Delta:
    """One check result against what the last run found."""
    new: list[Finding] = field(default_factory=list)
    rose: list[tuple[Finding, str]] = field(default_factory=list)  # (finding, its severity last run)
    ongoing: list[Finding] = field(default_factory=list)
    resolved: list[tuple[str, dict]] = field(default_factory=list)  # (finding id, what was known of it)
    carried: list[tuple[str, dict]] = field(default_factory=list)  # unseen by an incomplete check: still open


def compare(previous: dict[str, dict], result: CheckResult) -> Delta:
    delta = Delta()
    current = {f.finding_id: f for f in result.findings}
    for finding_id, finding in current.items():
        before = previous.get(finding_id)
        if before is None:
            delta.new.append(finding)
        elif severity_rank(finding.severity) > severity_rank(before.get("severity", "")):
            delta.rose.append((finding, before.get("severity", "")))
        else:
            delta.ongoing.append(finding)
    for finding_id, before in previous.items():
        if finding_id not in current:
            (delta.resolved if result.complete else delta.carried).append((finding_id, before))
    return delta


def needs_alert(finding: Finding, before: Optional[dict]) -> bool:
    """A CRITICAL finding alerts when it is new, rose to CRITICAL since the last run, or its last alert failed."""
    if finding.severity != "CRITICAL":
        return False
    return before is None or not before.get("alerted") or severity_rank(before.get("severity", "")) < severity_rank("CRITICAL")


@dataclass
class Published:
    summary: dict[str, Any]
    alerts_sent: list[str] = field(default_factory=list)  # finding ids alerted this run
    resolved: list[str] = field(default_factory=list)


class SweepPublisher:
    def __init__(self, clients: Clients, settings: SweepSettings, *, account: str, region: str, now: str, run_id: str):
        self.clients = clients
        self.settings = settings
        self.account = account
        self.region = region  # alerts, records, metrics and state stay in the function's region
        self.now = now
        self.run_id = run_id
        self.memory = FindingMemory(clients, settings.state_bucket, region) if settings.state_bucket else None
        self.problems: list[str] = []  # what went wrong telling people (alert, record, metric, state writes)
        self.state_problems: list[str] = []
        self._pending_records: list[dict] = []

    # ------------------------------------------------------------ the run

    def publish(self, results: list[CheckResult], rejections: list[dict], config_problems: tuple[str, ...] = ()) -> Published:
        published = Published(summary={})
        if self.memory is None:
            self.state_problems.append("STATE_BUCKET is not set or not valid: previous findings are not known")
        prepared = []
        for result in results:
            previous, known = self._previous(result)
            prepared.append((result, previous, known, compare(previous, result)))
        accepted = self._alert_critical(prepared, published)
        rows, states = [], []
        for result, previous, known, delta in prepared:
            row, state = self._publish_result(result, previous, delta, accepted, published)
            rows.append(row)
            states.append((result, known, state))
        self._flush_records()  # the findings' records, then the state that says they were recorded
        for result, known, state in states:
            self._save(result, known, state)
        metrics_sent = self._put_metrics(results)
        totals = {sev: sum(row["findings"].get(sev, 0) for row in rows) for sev in SEVERITIES}
        summary = {
            "runId": self.run_id, "account": self.account, "at": self.now,
            "totals": totals, "incomplete": sum(1 for row in rows if not row["complete"]),
            "newCritical": len(published.alerts_sent), "resolved": len(published.resolved),
            "results": rows[:MAX_SUMMARY_ROWS], "resultsOmitted": max(0, len(rows) - MAX_SUMMARY_ROWS),
            "rejected": rejections[:MAX_IDS], "configProblems": list(config_problems)[:MAX_IDS],
            "stateProblems": self.state_problems[:MAX_IDS], "metricsSent": metrics_sent,
        }
        if self.state_problems and self.memory is not None:
            self._alert(STATE_UNREADABLE_EVENT, {"severity": "WARN", "runId": self.run_id, "account": self.account,
                                                  "problems": self.state_problems[:MAX_IDS],
                                                  "effect": "previous findings unknown: every CRITICAL finding alerted "
                                                            "again, nothing recorded as resolved"})
        summary["sendProblems"] = self.problems[:MAX_IDS]
        self._alert(SUMMARY_EVENT, _fitted({"severity": _top(totals), **{k: v for k, v in summary.items() if k != "results"},
                                            "results": [_short(row) for row in rows[:MAX_SUMMARY_ROWS]]},
                                           self.settings.alert_group_id))
        summary["sendProblems"] = self.problems[:MAX_IDS]
        self._record({"kind": "sweep_summary", **summary})
        self._flush_records()
        published.summary = summary
        return published

    def _alert_critical(self, prepared: list, published: Published) -> set[str]:
        """One KmsStewardCriticalFinding per CRITICAL finding that needs one, sent in as few PutCustomEvent calls as
        its limits allow (shared/alerts.py raise_alerts). Returns the ids whose call was accepted: every finding of a
        refused or lost call stays un-alerted in memory, so the next run sends it again (loud, never quiet)."""
        ids, events = [], []
        for result, previous, _known, _delta in prepared:
            for finding in result.findings:
                before = previous.get(finding.finding_id)
                if needs_alert(finding, before):
                    ids.append(finding.finding_id)
                    events.append((CRITICAL_EVENT, {**finding.as_dict(), "runId": self.run_id,
                                                    "previousSeverity": before.get("severity") if before else None}))
        if not events:
            return set()
        try:
            outcome = raise_alerts(self.clients, self.region, events, self.settings.alert_group_id)
        except Exception as exc:  # never raised: every event of the run counts as not sent
            outcome = [exc] * len(events)
        seen_errors: list[int] = []
        accepted = set()
        for finding_id, error in zip(ids, outcome):
            if error is None:
                accepted.add(finding_id)
                published.alerts_sent.append(finding_id)
            elif id(error) not in seen_errors:  # one problem per refused call, not per event in it
                seen_errors.append(id(error))
                self.problems.append(f"{CRITICAL_EVENT}: {describe_error(error)}")
        return accepted

    def _publish_result(self, result: CheckResult, previous: dict, delta: Delta, accepted: set[str],
                        published: Published) -> tuple[dict[str, Any], dict[str, dict]]:
        state: dict[str, dict] = {}
        for finding in result.findings:
            before = previous.get(finding.finding_id)
            alerted = bool(before and before.get("alerted"))
            if needs_alert(finding, before):
                alerted = finding.finding_id in accepted
            state[finding.finding_id] = {"severity": finding.severity, "alerted": alerted, "kind": finding.kind,
                                         "resourceId": finding.resource_id, "message": finding.message[:300],
                                         "firstSeen": before.get("firstSeen", self.now) if before else self.now,
                                         "lastSeen": self.now}
        for finding_id, before in delta.carried:
            state[finding_id] = before
        for finding in delta.new:
            self._record({"kind": "finding", "status": "new", **finding.as_dict()})
        for finding, was in delta.rose:
            self._record({"kind": "finding", "status": "severity_rose", "previousSeverity": was, **finding.as_dict()})
        for finding_id, before in delta.resolved:
            published.resolved.append(finding_id)
            self._record({"kind": "finding", "status": "resolved", "findingId": finding_id, "check": result.check,
                          "account": result.account, "region": result.region, "resourceId": before.get("resourceId"),
                          "lastSeverity": before.get("severity"), "firstSeen": before.get("firstSeen"),
                          "lastSeen": before.get("lastSeen"), "resolvedAt": self.now})
        counts = {sev: sum(1 for f in result.findings if f.severity == sev) for sev in SEVERITIES}
        return ({"check": result.check, "region": result.region, "account": result.account, "complete": result.complete,
                 "reason": result.reason, "findings": {k: v for k, v in counts.items() if v}, "new": len(delta.new),
                 "rose": len(delta.rose), "resolved": len(delta.resolved), "carried": len(delta.carried)}, state)

    def _save(self, result: CheckResult, known: Optional[bool], state: dict[str, dict]) -> None:
        if self.memory is not None and known is not None:
            try:
                self.memory.save(result.account, result.region, result.check, state, self.now)
            except Exception as exc:
                self.state_problems.append(f"saving {FindingMemory.object_key(result.account, result.region, result.check)}: "
                                           f"{describe_error(exc)}")

    def _previous(self, result: CheckResult) -> tuple[dict, Optional[bool]]:
        """(previous findings, True when read; None when unknown). Unreadable: said and alerted, never quietly {}.
        The object is then still rewritten (a body that is not ours is repaired; a denied read likely fails the write
        too, which is said as well)."""
        if self.memory is None:
            return {}, None
        try:
            return self.memory.load(result.account, result.region, result.check), True
        except StateUnreadable as exc:
            self.state_problems.append(str(exc))
            return {}, False

    # ------------------------------------------------------------ sending

    def _alert(self, name: str, content: dict) -> bool:
        try:
            raise_alert(self.clients, self.region, name, content, self.settings.alert_group_id)
            return True
        except Exception as exc:  # a lost alert is written down (and, for a finding, retried next run), never raised
            self.problems.append(f"{name}: {describe_error(exc)}")
            return False

    def _record(self, record: dict) -> None:
        """Kept until _flush_records writes the run's records in as few PutLogs calls as its limits allow."""
        self._pending_records.append({"runId": self.run_id, **record})

    def _flush_records(self) -> None:
        records, self._pending_records = self._pending_records, []
        if not records:
            return
        where = write_records(records, clients=self.clients, project=self.settings.records_project,
                              logstore=self.settings.records_logstore, region=self.region, topic=RECORD_TOPIC)
        unwritten = "records: SLS could not be written; they went to stdout"
        if where["stdout"] and self.settings.records_project and unwritten not in self.problems:
            self.problems.append(unwritten)

    def _put_metrics(self, results: list[CheckResult]) -> int:
        items = []
        stamp = str(int(_instant(self.now).timestamp() * 1000))  # UNIX milliseconds (UNCONFIRMED that Time takes them)
        for result in results:
            dims = {"account": result.account, "region": result.region, "check": result.check}
            for sev in SEVERITIES:
                items.append(("KmsStewardFindings", {**dims, "severity": sev},
                              sum(1 for f in result.findings if f.severity == sev)))
            items.append(("KmsStewardCheckIncomplete", dims, 0 if result.complete else 1))
            for metric in result.metrics:
                if isinstance(metric.get("name"), str) and isinstance(metric.get("value"), (int, float)):
                    items.append((metric["name"], dims, metric["value"]))
        sent = 0
        for start in range(0, len(items), METRICS_PER_CALL):
            batch = [cms.PutCustomMetricRequestMetricList(
                metric_name=name, group_id=self.settings.alert_group_id, type="0", time=stamp,
                dimensions=json.dumps(dims, separators=(",", ":")), values=json.dumps({"value": value}))
                for name, dims, value in items[start:start + METRICS_PER_CALL]]
            try:
                body = self.clients.call("cms:PutCustomMetric", self.clients.cms(self.region).put_custom_metric,
                                         cms.PutCustomMetricRequest(metric_list=batch), write=True).body
                if str(body.code) != "200":
                    raise RuntimeError(f"PutCustomMetric answered {body.code}: {body.message}")
                sent += len(batch)
            except Exception as exc:
                self.problems.append(f"PutCustomMetric: {describe_error(exc)}")
        return sent


def _instant(text: str) -> datetime:
    from shared.rotation.secret_store import parse_time

    return parse_time(text) or datetime.now().astimezone()


def _top(totals: dict[str, int]) -> str:
    return next((sev for sev in reversed(SEVERITIES) if totals.get(sev)), "INFO")


SUMMARY_REASON_CHARS = 300


def _fitted(content: dict, group_id: str) -> dict:
    """The summary event made to fit one PutCustomEvent call. A result's reason grows by one gap per resource its check
    could not judge (check_kit.add_gap: 500 secrets unreadable make ~80 KB), and the event carried it whole: its query
    over what a call carries (the local cloud answers 414), so the summary was refused on every run while the gap
    lasted, the one alert saying the sweep is blind (tests/test_sweep_notify_batching.py). Reasons are clipped here,
    then rows dropped from the end (counted in resultsOmitted) until it fits; the summary record keeps them whole."""
    from shared.alerts import QUERY_BYTES_PER_CALL, _query_bytes

    rows = [{**r, "reason": r["reason"][:SUMMARY_REASON_CHARS] + "…"} if isinstance(r.get("reason"), str)
            and len(r["reason"]) > SUMMARY_REASON_CHARS else r for r in content.get("results", [])]
    content = {**content, "results": rows}
    while rows and _query_bytes(SUMMARY_EVENT, json.dumps(content, separators=(",", ":")), group_id) > QUERY_BYTES_PER_CALL:
        rows = rows[:-1]
        content = {**content, "results": rows, "resultsOmitted": content.get("resultsOmitted", 0) + 1}
    return content


def _short(row: dict) -> dict:
    return {k: v for k, v in row.items() if v not in (None, 0, {}) or k in ("complete",)}
