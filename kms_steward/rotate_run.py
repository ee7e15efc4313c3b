"""`kms-steward rotate SECRET_NAME`: rotate one secret now, as the secret-rotation function does for the event
{"SecretName": ...} (or run one --step of --version-id), with the ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET credentials
(ALIBABA_CLOUD_ENDPOINT_OVERRIDE points it at `kms-steward local up`). It prints what each step did; a failure
names the step and why, and exits 1 (the function also records and alerts it; the CLI reports to its operator)."""
from __future__ import annotations

import json
import os
import sys

import click

from shared.clients import Clients, Credentials, CredentialsMissing
from shared.rotation.config import RotationConfig
from shared.rotation.driver import rotate, run_one_step
from shared.rotation.errors import Redactor, RotationError, RotationRefused
from shared.rotation.protocol import RotationEventRejected, RotationRequest, parse_request
from shared.rotation.secret_store import SecretStore


def run_rotate(secret_name: str, *, region: str | None, step: str | None, version_id: str | None, as_json: bool) -> int:
    try:
        request: RotationRequest = parse_request({k: v for k, v in (("SecretName", secret_name), ("Step", step),
                                                                     ("VersionId", version_id)) if v is not None})
    except RotationEventRejected as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    region = region or os.environ.get("ALIBABA_CLOUD_REGION_ID", "").strip()
    if not region:
        click.echo("error: no region: pass --region or set ALIBABA_CLOUD_REGION_ID", err=True)
        return 2
    try:
        credentials = Credentials.resolve(None)
    except CredentialsMissing as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    config = RotationConfig.from_env()
    store = SecretStore(Clients(credentials, region, endpoint_override=config.endpoint_override), region, Redactor())
    try:
        if request.step is None:
            outcome = rotate(store, request.secret_name, timeout_s=config.db_timeout_s)
        else:
            outcome = run_one_step(store, request, timeout_s=config.db_timeout_s)
    except RotationError as exc:
        status = "refused" if isinstance(exc, RotationRefused) else "failed"
        if as_json:
            click.echo(json.dumps({"status": status, "secretName": request.secret_name, "step": exc.step, "reason": exc.reason,
                                   "apiCalls": store.clients.calls.counts}, indent=2))
        click.echo(f"{status}: {request.secret_name} at {exc.step}: {exc.reason}", err=True)
        click.echo("ACSCurrent is unchanged unless finish_secret had promoted the new value; run the same command again "
                   "once the cause is fixed: it resumes the pending version.", err=True)
        return 1
    result = {"status": "rotated" if request.step is None else "step-done", **outcome.as_dict(),
              "apiCalls": store.clients.calls.counts}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return 0
    what = "resumed and rotated" if outcome.resumed else ("rotated" if request.step is None else "ran")
    click.echo(f"{what} {outcome.secret_name}: version {outcome.version_id} ({outcome.strategy or 'n/a'}) "
               f"in {outcome.duration_ms} ms, {store.clients.calls.total} API calls")
    for step in outcome.steps:
        click.echo(f"  {step['step']:14} {step['result']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_rotate(sys.argv[1], region=None, step=None, version_id=None, as_json=False))
