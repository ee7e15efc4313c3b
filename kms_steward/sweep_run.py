"""`kms-steward sweep`: every check (the compliance checks and the certificate check), read-only, over the regions of a
local cloud seeded from an account file (or of Alibaba Cloud with ALIBABA_CLOUD_* credentials), run synchronously with a
progress display on stderr (only when stderr is a terminal, so piped output stays clean), printed as a report: a
Markdown table by severity, JSON, or one self-contained HTML page (kms_steward/sweep_report.py). Nothing is alerted,
recorded or remembered: that is the compliance-sweep function's job.

Without --check every check runs: a person who asks for "the sweep" expects everything, not the compliance-sweep
function's subset. A check whose module could not be loaded is then an incomplete result in the report (its reason
said), not a missing row; a check named with --check that is unknown or could not be loaded is refused (exit 2).

Exit status: 0 nothing at WARN or above and every check complete; 3 findings at WARN or above; 5 a check could not
look everywhere (incomplete: treat its silence as unknown); 2 no report (unknown check, bad account file, no
credentials).
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from kms_steward.sweep_report import outcome, render_html, render_json, render_markdown
from shared.clients import Clients, Credentials, CredentialsMissing
from shared.sweeps.findings import CheckResult, SweepTarget
from shared.sweeps.settings import SweepSettings

EXIT_CLEAR, EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_CANNOT_RUN = 0, 3, 5, 2
EXIT_CODES = {"clear": EXIT_CLEAR, "findings": EXIT_FINDINGS, "incomplete": EXIT_INCOMPLETE}
FORMATS = ("md", "json", "html")
CAS_HOME_REGION = "cn-hangzhou"  # where the certificate check reads CAS by default (cert_expiry DEFAULT_CAS_REGION)

__all__ = ["run_sweep_report", "exit_code", "render_json", "render_markdown", "render_html", "default_checks"]


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


def default_checks() -> tuple[list[str], dict[str, str]]:
    """The checks a sweep with no --check runs: the compliance checks first, then every other check (cert_expiry);
    and, of those, the ones that could not be loaded, with why."""
    from shared.sweeps.checks import CHECKS, COMPLIANCE_CHECKS, UNAVAILABLE

    names = list(COMPLIANCE_CHECKS) + sorted((set(CHECKS) | set(UNAVAILABLE)) - set(COMPLIANCE_CHECKS))
    return names, {name: UNAVAILABLE[name] for name in names if name in UNAVAILABLE}


def cert_settings(swept: tuple[str, ...]) -> dict:
    """The certificate check reads CAS (one list for the whole account) in one run only, cert_cas_region's: the CLI
    makes that a swept region (cn-hangzhou when swept, else the first), and judges CAS certificates with the listeners
    of every swept region, so none is left unread because the account has no cn-hangzhou."""
    if not swept:
        return {}
    return {"cert_cas_region": CAS_HOME_REGION if CAS_HOME_REGION in swept else swept[0], "cert_regions": list(swept)}


def run_sweep_report(*, checks: tuple[str, ...], account_file: str | None, regions: tuple[str, ...], fmt: str,
                     now: str | None, key_rotation_days: int, secret_rotation_days: int,
                     allowed_accounts: tuple[str, ...], output: str | None = None) -> int:
    from localcloud.account import AccountError
    from shared.sweeps.runner import run_checks, select_checks

    unloadable: dict[str, str] = {}
    if checks:
        selected, rejected = select_checks(checks)
    else:
        names, unloadable = default_checks()
        selected, rejected = select_checks([n for n in names if n not in unloadable])
    if rejected:
        for rejection in rejected:
            click.echo(f"error: {rejection.what}: {rejection.reason}", err=True)
        return EXIT_CANNOT_RUN
    if now and account_file is None:
        raise click.UsageError("--now sets the local cloud's clock: it needs --account")
    settings = SweepSettings(key_rotation_days=key_rotation_days, secret_rotation_days=secret_rotation_days,
                             allowed_accounts=allowed_accounts).check_settings()
    names = [check.name for check in selected] + list(unloadable)
    err = Console(stderr=True)
    try:
        with _clouds(account_file, regions, now) as (clients_for, account, swept, cloud):
            instant = (cloud.clock.now() if cloud is not None else None)
            stamp = instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant else _wall_clock()
            target_settings = {**settings, **cert_settings(tuple(swept))}
            targets = [SweepTarget(account=account, region=region, now=stamp, settings=target_settings) for region in swept]
            per_region: dict[str, Clients] = {}

            def clients(target: SweepTarget):  # one Clients per region, shared by its checks (and their listings)
                if target.region not in per_region:
                    per_region[target.region] = clients_for(target.region)
                return per_region[target.region]

            results: list[CheckResult] = []
            with _progress(err, len(targets) * len(names)) as advance:
                for target in targets:
                    for check in selected:  # one at a time, so the display moves with each check
                        results.extend(run_checks([check], [target], clients))
                        advance(results[-1])
                    for name, why in unloadable.items():
                        results.append(CheckResult(check=name, account=account, region=target.region, complete=False,
                                                   reason=f"the check could not be loaded ({why})"))
                        advance(results[-1])
    except (AccountError, CredentialsMissing) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_CANNOT_RUN
    if fmt == "json":
        report = render_json(results, stamp) + "\n"
    elif fmt == "html":
        report = render_html(results, stamp, regions=swept, checks=names)
    else:
        report = render_markdown(results, stamp)
    if output:
        Path(output).write_text(report, encoding="utf-8")
        click.echo(f"report written to {output}", err=True)
    else:
        click.echo(report, nl=False)
    return exit_code(results)


@contextlib.contextmanager
def _progress(console: Console, total: int) -> Iterator[Callable[[CheckResult], None]]:
    """A progress bar on stderr while the checks run, only when stderr is a terminal (piped, it prints nothing)."""
    if not console.is_terminal:
        yield lambda result: None
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("sweeping", total=total)

    def advance(result: CheckResult) -> None:
        state = f"{len(result.findings)} finding(s)" if result.complete else "INCOMPLETE"
        progress.update(task, advance=1, description=f"{result.check} {result.region}: {state}")

    with progress:
        yield advance


def _wall_clock() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def exit_code(results: list[CheckResult]) -> int:
    return EXIT_CODES[outcome(results)]
