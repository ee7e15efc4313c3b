"""`kms-steward sweep`: the compliance checks, read-only, over the regions of a local cloud seeded from an account
file (or of Alibaba Cloud with ALIBABA_CLOUD_* credentials), printed as a report: a Markdown table by severity, or
JSON. Nothing is alerted, recorded or remembered: that is the compliance-sweep function's job.

Exit status: 0 nothing at WARN or above and every check complete; 3 findings at WARN or above; 5 a check could not
look everywhere (incomplete: treat its silence as unknown); 2 no report (unknown check, bad account file, no
credentials).
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Iterator

import click

from shared.clients import Clients, Credentials, CredentialsMissing
from shared.sweeps.findings import SEVERITIES, CheckResult, SweepTarget, severity_rank
from shared.sweeps.settings import KEY_ROTATION_DAYS, SECRET_ROTATION_DAYS, SweepSettings

EXIT_CLEAR, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_CANNOT_RUN = 0, 3, 5, 2


@contextlib.contextmanager
def _clouds(account_file: str | None, regions: tuple[str, ...], now: str | None) -> Iterator[tuple[Any, str, str, Any]]:
    """(clients for a region, account id, the instant judged, the local cloud or None)."""
    if account_file is None:
        regions = regions or tuple(filter(None, [os.environ.get("ALIBABA_CLOUD_REGION_ID")]))
        if not regions:
            raise click.UsageError("--region is required (or set ALIBABA_CLOUD_REGION_ID)")
        credentials = Credentials.resolve(None)
        account = os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID", "")
        override = os.environ.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", "")
        yield (lambda region: Clients(credentials, region, endpoint_override=override)), account, regions, None
        return
    from kms_steward.local import build_cloud

    cloud = build_cloud(account_file, now=now)
    unknown = [r for r in regions if r not in cloud.account.region_ids]
    if unknown:
        raise click.UsageError(f"region {', '.join(unknown)} is not in the account file (regions: {', '.join(cloud.account.region_ids)})")
    cred = next((c for c in cloud.account.credentials if not c.SecurityToken and c.Status == "Active"), None)
    if cred is None:
        raise click.UsageError("the account file has no active long-term credential to run the sweep with")
    with cloud:
        credentials = Credentials(cred.AccessKeyId, cred.AccessKeySecret)
        yield ((lambda region: Clients(credentials, region, endpoint_override=cloud.endpoint_override())),
               cloud.account.account_id, regions or tuple(cloud.account.region_ids), cloud)


def run_sweep_report(*, checks: tuple[str, ...], account_file: str | None, regions: tuple[str, ...], fmt: str,
                     now: str | None, key_rotation_days: int, secret_rotation_days: int,
                     allowed_accounts: tuple[str, ...]) -> int:
    from localcloud.account import AccountError
    from shared.sweeps.runner import run_checks, select_checks

    selected, rejected = select_checks(checks)
    if rejected:
        for rejection in rejected:
            click.echo(f"error: {rejection.what}: {rejection.reason}", err=True)
        return EXIT_CANNOT_RUN
    if now and account_file is None:
        raise click.UsageError("--now sets the local cloud's clock: it needs --account")
    settings = SweepSettings(key_rotation_days=key_rotation_days, secret_rotation_days=secret_rotation_days,
                             allowed_accounts=allowed_accounts).check_settings()
    try:
        with _clouds(account_file, regions, now) as (clients_for, account, swept, cloud):
            instant = (cloud.clock.now() if cloud is not None else None)
            stamp = instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant else _wall_clock()
            targets = [SweepTarget(account=account, region=region, now=stamp, settings=settings) for region in swept]
            per_region: dict[str, Clients] = {}
            results = run_checks(selected, targets, lambda t: per_region.setdefault(t.region, clients_for(t.region)))
    except (AccountError, CredentialsMissing) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_CANNOT_RUN
    click.echo(render_json(results, stamp) if fmt == "json" else render_markdown(results, stamp), nl=fmt == "json")
    return exit_code(results)


def _wall_clock() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def exit_code(results: list[CheckResult]) -> int:
    if any(severity_rank(f.severity) >= severity_rank("WARN") for r in results for f in r.findings):
        return EXIT_FINDINGS
    return EXIT_CLEAR if all(r.complete for r in results) else EXIT_INCOMPLETE


def render_json(results: list[CheckResult], stamp: str) -> str:
    return json.dumps({"at": stamp, "outcome": {0: "clear", 3: "findings", 5: "incomplete"}[exit_code(results)],
                       "results": [r.as_dict() for r in results]}, indent=2, ensure_ascii=False)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: list[CheckResult], stamp: str) -> str:
    findings = sorted((f for r in results for f in r.findings),
                      key=lambda f: (-severity_rank(f.severity), f.check, f.region, f.resource_id))
    counts = {sev: sum(1 for f in findings if f.severity == sev) for sev in reversed(SEVERITIES)}
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
