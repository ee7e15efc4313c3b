"""`kms-steward doctor`: the clients (Alibaba Cloud with ALIBABA_CLOUD_* credentials, or a local cloud started from an
account file and wired from the same s.yaml), the checks (kms_steward/doctor.py), and what is printed: one line per
check, PASS / FAIL / NOTE, each failure followed by its fix; or one JSON object.

Exit status: 0 every check passed; 1 a check failed (missing credentials included: that is the first check); 2 no
report (a bad s.yaml or account file, a region the account file does not have).
"""
from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from typing import Callable, Iterator

import click

from kms_steward.doctor import AFTER, BEFORE, Check, Doctor, passed, wall_clock
from shared.clients import Clients, Credentials, CredentialsMissing

EXIT_PASSED, EXIT_FAILED, EXIT_CANNOT_RUN = 0, 1, 2
DEFAULT_REGION = "cn-hangzhou"


@contextlib.contextmanager
def _target(account_file: str | None, project_path: str, region: str | None) -> Iterator[tuple]:
    """(the loaded project, clients or None when there are no credentials, the region, account id, the instant)."""
    from localcloud.serverless import ServerlessProject

    if account_file is None:
        account = os.environ.get("ALIBABA_CLOUD_ACCOUNT_ID", "")
        project = ServerlessProject.load(project_path, account_id=account)
        region = region or _project_region(project) or os.environ.get("ALIBABA_CLOUD_REGION_ID") or DEFAULT_REGION
        try:
            credentials = Credentials.resolve(None)
        except CredentialsMissing:
            yield project, None, region, account, wall_clock()
            return
        override = os.environ.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", "")
        yield project, Clients(credentials, region, endpoint_override=override), region, account, wall_clock()
        return
    from kms_steward.local import build_cloud

    cloud = build_cloud(account_file, project=project_path)
    region = region or _project_region(cloud.project) or cloud.default_region
    if region not in cloud.account.region_ids:
        raise click.UsageError(f"region {region} is not in the account file (regions: {', '.join(cloud.account.region_ids)})")
    cred = next((c for c in cloud.account.credentials if not c.SecurityToken and c.Status == "Active"), None)
    with cloud:
        clients = None
        if cred is not None:
            clients = Clients(Credentials(cred.AccessKeyId, cred.AccessKeySecret), region,
                              endpoint_override=cloud.endpoint_override())
        yield cloud.project, clients, region, cloud.account.account_id, cloud.clock.now()


def _project_region(project) -> str | None:
    return next((spec.region for spec in project.functions.values() if spec.region), None)


def run_checks(project, clients: Clients | None, region: str, account_id: str, now: datetime) -> list[Check]:
    """Every check; without credentials, that one failure alone (nothing else can be asked)."""
    if clients is None:
        return [Check(BEFORE, "credentials", False, "no Alibaba Cloud credentials",
                      "export ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=... (a RAM user's AccessKey "
                      "with read access to RAM, FC, ActionTrail, OSS and SLS), or run against a local cloud with --account FILE")]
    key = clients.credentials.access_key_id
    found = Check(BEFORE, "credentials", True, f"AccessKey {key[:4]}****" + (" (STS)" if clients.credentials.security_token else ""))
    return [found, *Doctor(project, clients, region, account_id=account_id, now=now).run()]


def run_doctor(*, project_path: str, account_file: str | None, region: str | None, as_json: bool,
               echo: Callable[[str], None] = click.echo) -> int:
    from localcloud.account import AccountError
    from localcloud.ram_access import SettingError
    from localcloud.serverless import ServerlessError

    try:
        with _target(account_file, project_path, region) as (project, clients, region, account_id, now):
            checks = run_checks(project, clients, region, account_id, now)
    except (AccountError, ServerlessError, SettingError) as exc:  # the local cloud cannot be wired from them
        click.echo(f"error: {exc}", err=True)
        return EXIT_CANNOT_RUN
    echo(render_json(checks, region, account_id) if as_json else render_lines(checks, region, account_id))
    return EXIT_PASSED if passed(checks) else EXIT_FAILED


def render_json(checks: list[Check], region: str, account_id: str) -> str:
    return json.dumps({"region": region, "account": account_id, "ok": passed(checks),
                       "checks": [c.to_dict() for c in checks]}, indent=2)


def render_lines(checks: list[Check], region: str, account_id: str) -> str:
    width = max((len(c.name) for c in checks), default=0)
    lines = [f"kms-steward doctor: account {account_id or '(unknown)'}, region {region}"]
    for phase in (BEFORE, AFTER):
        mine = [c for c in checks if c.phase == phase]
        if not mine:
            continue
        lines.append(f"\n{phase}:")
        for c in mine:
            verdict = "NOTE" if c.ok and c.note else "PASS" if c.ok else "FAIL"
            lines.append(f"  {verdict}  {c.name:<{width}}  {c.detail}")
            if not c.ok:
                lines.append(f"        {'':<{width}}  fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"\n{len(checks)} checks: {len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)
