"""`kms-steward preflight`: build the clients (Alibaba Cloud, or a local cloud seeded from an account
file), run the read-only audit with a progress display on stderr, print the report on stdout."""
from __future__ import annotations

import contextlib
import os

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from shared.audit.scanners import SCANNERS
from shared.clients import Clients, Credentials, CredentialsMissing, describe_error, error_code


def _progress(console: Console):
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        console=console, transient=True)
    task = progress.add_task("auditing", total=len(SCANNERS))

    def on_result(result) -> None:
        found = f"{len(result.dependents)} found" if result.complete else f"INCOMPLETE ({result.reason})"
        progress.update(task, advance=1, description=f"{result.scanner}: {found}")
        if not console.is_terminal:
            console.print(f"  {result.scanner}: {found} ({result.duration_ms} ms)")
    return progress, on_result


@contextlib.contextmanager
def _target_cloud(account_file: str | None, region: str | None, now: str | None):
    """(credentials, region, endpoint override, as-of instant): a local cloud from the file, or the real one."""
    if account_file is None:
        region = region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
        if not region:
            raise click.UsageError("--region is required (or set ALIBABA_CLOUD_REGION_ID)")
        yield Credentials.resolve(None), region, os.environ.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", ""), None
        return
    from kms_steward.local import build_cloud

    cloud = build_cloud(account_file, now=now)
    region = region or cloud.default_region
    if region not in cloud.account.region_ids:
        raise click.UsageError(f"region {region} is not in the account file (regions: {', '.join(cloud.account.region_ids)})")
    cred = next((c for c in cloud.account.credentials if not c.SecurityToken and c.Status == "Active"), None)
    if cred is None:
        raise click.UsageError("the account file has no active long-term credential to run the pre-flight with")
    with cloud:
        # The local cloud's clock may be set (an account file's as_of): usage is "the window before it".
        as_of = cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        yield Credentials(cred.AccessKeyId, cred.AccessKeySecret), region, cloud.endpoint_override(), as_of


def run_preflight(*, key_id: str, region: str | None, action: str, fmt: str, account_file: str | None, window_days: int,
                  trail_project: str | None, trail_logstore: str | None, now: str | None) -> int:
    from kms_steward.preflight_view import render_json, render_markdown, render_table
    from localcloud.account import AccountError
    from shared.preflight import build_preflight

    err = Console(stderr=True)
    try:
        with _target_cloud(account_file, region, now) as (credentials, region, endpoint, as_of):
            clients = Clients(credentials, region, endpoint_override=endpoint)
            progress, on_result = _progress(err)
            with progress:
                report = build_preflight(clients, key_id, region, action=action, usage_window_days=window_days,
                                         trail_project=trail_project, trail_logstore=trail_logstore, as_of=as_of,
                                         on_result=on_result)
    except (AccountError, CredentialsMissing) as exc:
        err.print(f"error: {exc}")
        return 2
    except click.UsageError:
        raise
    except Exception as exc:  # the key could not be read: say why (SDK messages carry no secrets)
        code = error_code(exc)
        hint = " (no such key in this region)" if code in ("Forbidden.KeyNotFound", "Forbidden.AliasNotFound") else ""
        err.print(f"error: cannot read key {key_id} in {region}: {describe_error(exc)}{hint}")
        return 2
    if fmt == "json":
        click.echo(render_json(report))
    elif fmt == "md":
        click.echo(render_markdown(report), nl=False)
    else:
        render_table(report, Console(width=max(100, Console().width)))
    return 0
