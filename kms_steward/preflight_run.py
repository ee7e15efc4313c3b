"""`kms-steward preflight`: build the clients (Alibaba Cloud, or a local cloud seeded from an account
file), run the read-only audit with a progress display on stderr, print the report on stdout, and exit
with the code of the outcome so that a script can stop on it."""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from shared.audit.scanners import SCANNERS
from shared.clients import Clients, Credentials, CredentialsMissing, describe_error, error_code

# The exit status of each outcome (shared.preflight.Outcome), documented in `preflight --help` and the README.
EXIT_CODES = {"clear": 0, "risky": 3, "blocked": 4, "incomplete": 5}
# No report: a bad option, an unreadable key, a bad account file, no credentials (click's own usage errors exit 2 too).
EXIT_CANNOT_RUN = 2
FAIL_ON_CHOICES = ("risky", "blocked", "incomplete", "any", "none")
NOT_CLEAR = frozenset({"risky", "blocked", "incomplete"})

# A key's ARN as DescribeKey's Arn spells it, or an alias's (the RAM resource form, acs:kms:<region>:<uid>:alias/<name>).
KEY_ARN = re.compile(r"acs:kms:(?P<region>[a-z0-9-]+):(?P<account>\d+):(?:key/(?P<key>[A-Za-z0-9_-]+)|(?P<alias>alias/[A-Za-z0-9_/-]+))")
NO_CREDENTIALS = ("no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
                  "(and ALIBABA_CLOUD_SECURITY_TOKEN for STS credentials), or run against a local cloud with --account FILE")


def fail_on_outcomes(values: tuple[str, ...]) -> frozenset[str]:
    """--fail-on values (repeatable, comma-separated) as the set of outcomes that exit non-zero."""
    outcomes: set[str] = set()
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            if item not in FAIL_ON_CHOICES:
                raise click.BadParameter(f"{item!r} is not one of {', '.join(FAIL_ON_CHOICES)}", param_hint="'--fail-on'")
            outcomes |= NOT_CLEAR if item == "any" else set() if item == "none" else {item}
    return frozenset(outcomes)


def exit_code(outcome: str, fail_on: frozenset[str]) -> int:
    return EXIT_CODES[outcome] if outcome in fail_on else 0


@dataclass
class _Arn:
    region: str
    account: str


def _parse_arn(key_ref: str) -> Optional[_Arn]:
    """The region and account an ARN names (None for an id or alias); something ARN-like that is not a KMS key
    or alias ARN is a bad --key-id, never passed on to be half understood."""
    if not key_ref.startswith("acs:"):
        return None
    match = KEY_ARN.fullmatch(key_ref)
    if match is None:
        raise click.BadParameter(f"{key_ref!r} is not a KMS key ARN (acs:kms:<region>:<account id>:key/<key id>)",
                                 param_hint="'--key-id'")
    return _Arn(match["region"], match["account"])


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


@dataclass
class _Target:
    credentials: Credentials
    region: str
    endpoint: str
    as_of: Optional[str]  # the local clock's instant (the usage window ends there); None: now
    cloud: Any = None  # the local cloud, when there is one
    account_id: Optional[str] = None  # the account file's, when there is one


@contextlib.contextmanager
def _target_cloud(account_file: str | None, region: str | None, now: str | None):
    """A local cloud from the account file, or the real one."""
    if account_file is None:
        region = region or os.environ.get("ALIBABA_CLOUD_REGION_ID")
        if not region:
            raise click.UsageError("--region is required (or set ALIBABA_CLOUD_REGION_ID)")
        try:
            credentials = Credentials.resolve(None)
        except CredentialsMissing:
            raise CredentialsMissing(NO_CREDENTIALS) from None  # the library's message speaks of FC's context
        yield _Target(credentials, region, os.environ.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", ""), None)
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
        yield _Target(Credentials(cred.AccessKeyId, cred.AccessKeySecret), region, cloud.endpoint_override(), as_of, cloud,
                      cloud.account.account_id)


def _unreadable(target: _Target, key_id: str, exc: Exception) -> str:
    """Why the key could not be read. A local cloud knows the keys whose deletion it completed; for a real
    account a key that is not found is just that."""
    code = error_code(exc)
    if target.cloud is not None and code in ("Forbidden.KeyNotFound", "Forbidden.AliasNotFound"):
        deleted = target.cloud.products["kms"].deletion_completed(key_id, target.region)
        if deleted:
            return (f"the key's deletion completed at {deleted['DeleteDate']} (the local clock is {target.as_of}): it is "
                    f"gone, as it would be in Alibaba Cloud; a --now before {deleted['DeleteDate']} shows it as it was "
                    f"[{code}]")
    hint = " (no such key in this region)" if code in ("Forbidden.KeyNotFound", "Forbidden.AliasNotFound") else ""
    return describe_error(exc) + hint


def run_preflight(*, key_id: str, region: str | None, action: str, fmt: str, account_file: str | None, window_days: int,
                  trail_project: str | None, trail_logstore: str | None, now: str | None,
                  fail_on: frozenset[str] = NOT_CLEAR) -> int:
    from kms_steward.preflight_view import render_json, render_markdown, render_table
    from localcloud.account import AccountError
    from shared.preflight import KeyInAnotherAccount, build_preflight

    err = Console(stderr=True)
    arn = _parse_arn(key_id)
    if arn and region and region != arn.region:
        raise click.BadParameter(f"the ARN names region {arn.region}, but --region is {region}: drop --region, or name the key "
                                 "by its id", param_hint="'--key-id'")
    if arn:
        region = arn.region  # an ARN says where the key is: no default region may override it
    if now and account_file is None:
        raise click.UsageError("--now sets the local cloud's clock: it needs --account (Alibaba Cloud keeps its own time)")
    try:
        with _target_cloud(account_file, region, now) as target:
            if arn and target.account_id and arn.account != target.account_id:
                raise click.BadParameter(f"the ARN names account {arn.account}, but the account file is account "
                                         f"{target.account_id}", param_hint="'--key-id'")
            clients = Clients(target.credentials, target.region, endpoint_override=target.endpoint)
            progress, on_result = _progress(err)
            try:
                with progress:
                    report = build_preflight(clients, key_id, target.region, action=action, usage_window_days=window_days,
                                             trail_project=trail_project, trail_logstore=trail_logstore, as_of=target.as_of,
                                             on_result=on_result, expected_account=arn.account if arn else None)
            except (KeyInAnotherAccount, click.ClickException):
                raise
            except Exception as exc:  # the key could not be read: say why (SDK messages carry no secrets)
                click.echo(f"error: cannot read key {key_id} in {target.region}: {_unreadable(target, key_id, exc)}", err=True)
                return EXIT_CANNOT_RUN
    except (AccountError, CredentialsMissing, KeyInAnotherAccount) as exc:
        click.echo(f"error: {exc}", err=True)  # one line, unwrapped: a script's log greps it
        return EXIT_CANNOT_RUN
    return _print(report, fmt, fail_on, render_json, render_markdown, render_table)


def _print(report, fmt: str, fail_on: frozenset[str], render_json, render_markdown, render_table) -> int:
    """The report on stdout in `fmt`; its outcome's exit code."""
    if fmt == "json":
        click.echo(render_json(report))
    elif fmt == "md":
        click.echo(render_markdown(report), nl=False)
    else:
        render_table(report, Console())
    return exit_code(report.outcome, fail_on)


def run_secret_preflight(*, name: str, region: str | None, fmt: str, account_file: str | None, window_days: int,
                         trail_project: str | None, trail_logstore: str | None, now: str | None,
                         fail_on: frozenset[str] = NOT_CLEAR) -> int:
    """`preflight --secret NAME`: the secret's readers, and the outcome of deleting it, as its exit code."""
    from kms_steward.secret_preflight_view import render_json, render_markdown, render_table
    from localcloud.account import AccountError
    from shared.keys import NotFound
    from shared.secret_preflight import build_secret_preflight

    if now and account_file is None:
        raise click.UsageError("--now sets the local cloud's clock: it needs --account (Alibaba Cloud keeps its own time)")
    try:
        with _target_cloud(account_file, region, now) as target:
            clients = Clients(target.credentials, target.region, endpoint_override=target.endpoint)
            try:
                report = build_secret_preflight(clients, name, target.region, usage_window_days=window_days,
                                                trail_project=trail_project, trail_logstore=trail_logstore, as_of=target.as_of,
                                                account_id=target.account_id or "")
            except Exception as exc:  # the secret could not be read: say why (SDK messages carry no secret values)
                why = str(exc) if isinstance(exc, NotFound) else describe_error(exc)
                click.echo(f"error: cannot read secret {name} in {target.region}: {why}", err=True)
                return EXIT_CANNOT_RUN
    except (AccountError, CredentialsMissing) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_CANNOT_RUN
    return _print(report, fmt, fail_on, render_json, render_markdown, render_table)
