"""The operator CLI: `demo`, `preflight`, `sweep`, `rotate`, `policy`, `doctor`, `bench audit`, `bench faults`, `bench rotation`, `local up`,
`local invoke`."""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from kms_steward.options import INSTANT, KEY_REF, StateOut


PRODUCTS_SERVED = "KMS, ECS, RDS, PolarDB, NAS, Redis, MongoDB, ACK (CS), ActionTrail, CMS, OSS, SLS"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kms-steward", prog_name="kms-steward")
def main() -> None:
    """kms-steward: no data lost to a deleted KMS key."""


@main.command()
@click.option("--duplicate-delivery", is_flag=True, help="EventBridge delivers every event twice (idempotency shown).")
def demo(duplicate_delivery: bool) -> None:
    """Someone schedules the deletion of a key that still encrypts live data; key-guard stops it."""
    from kms_steward.demo import run_demo

    sys.exit(run_demo(duplicate_delivery=duplicate_delivery))


@main.command()
@click.option("--key-id", type=KEY_REF, help="The key: id, alias (alias/...) or ARN (its region is the ARN's).")
@click.option("--secret", "secret_name", metavar="NAME",
              help="Instead of a key: a Secrets Manager secret (its name) about to be deleted: its readers.")
@click.option("--region", help="The key's region (default: the ARN's, else ALIBABA_CLOUD_REGION_ID, else the account file's first region).")
@click.option("--action", type=click.Choice(["delete", "disable"]), default="delete", show_default=True, help="The change planned.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "json"]), default="table", show_default=True)
@click.option("--account", "account_file", type=click.Path(exists=True, dir_okay=False),
              help="Run against a local cloud seeded from this account file instead of Alibaba Cloud.")
@click.option("--window-days", type=click.IntRange(1, 90), default=30, show_default=True, help="Usage evidence window.")
@click.option("--trail-project", help="SLS project of the ActionTrail trail (adds its logstore to the usage evidence).")
@click.option("--trail-logstore", help="SLS logstore of the ActionTrail trail.")
@click.option("--now", type=INSTANT, help="With --account: the local clock's time (ISO 8601).")
@click.option("--fail-on", "fail_on", multiple=True, default=("any",), show_default=True, metavar="OUTCOME[,OUTCOME]",
              help="The outcomes that exit non-zero: risky, blocked, incomplete, any (all three) or none; "
                   "repeatable. The others exit 0.")
def preflight(key_id, secret_name, region, action, fmt, account_file, window_days, trail_project, trail_logstore, now,
              fail_on) -> None:
    """Read-only pre-flight report before disabling or deleting a KMS key (--key-id), or deleting a Secrets Manager
    secret (--secret): what would break.

    The outcome of the planned --action is also the exit status, so that a script or pipeline can stop on it:

    \b
      0  clear       nothing found that the action would break
      3  risky       disabling would break something live (--action disable)
      4  blocked     deleting would destroy data or break a caller (--action delete; for a secret: it is read)
      5  incomplete  nothing found, but part of the audit could not run: treat it as blocked
      2  no report   bad option, key not readable, bad account file, no credentials

    --fail-on narrows which outcomes exit with their code (e.g. --fail-on blocked,incomplete lets risky pass
    with 0; --fail-on none always exits 0 once the report is printed).
    """
    from kms_steward.preflight_run import fail_on_outcomes, run_preflight, run_secret_preflight

    outcomes = fail_on_outcomes(fail_on)
    if bool(key_id) == bool(secret_name):
        raise click.UsageError("name a key (--key-id) or a secret (--secret), one of them")
    if bool(trail_project) != bool(trail_logstore):
        # as TRAIL_SLS_PROJECT/LOGSTORE: half a logstore is none, and would be left out without a word
        raise click.UsageError("--trail-project and --trail-logstore name the trail's logstore together: give both, or neither")
    if secret_name:
        if action != "delete":
            raise click.UsageError("a secret's pre-flight is for its deletion: --action disable is for keys")
        sys.exit(run_secret_preflight(name=secret_name, region=region, fmt=fmt, account_file=account_file,
                                      window_days=window_days, trail_project=trail_project, trail_logstore=trail_logstore,
                                      now=now, fail_on=outcomes))
    sys.exit(run_preflight(key_id=key_id, region=region, action=action, fmt=fmt, account_file=account_file,
                           window_days=window_days, trail_project=trail_project, trail_logstore=trail_logstore, now=now,
                           fail_on=outcomes))


@main.command()
@click.option("--check", "checks", multiple=True, metavar="NAME",
              help="Run only this check (key_rotation, secret_rotation, deletion_protection, policies, cert_expiry); "
                   "repeatable. Default: every check.")
@click.option("--account", "account_file", type=click.Path(exists=True, dir_okay=False),
              help="Run against a local cloud seeded from this account file instead of Alibaba Cloud.")
@click.option("--region", "regions", multiple=True, help="Sweep this region (repeatable; default: every region of the account "
                                                         "file, else ALIBABA_CLOUD_REGION_ID).")
@click.option("--format", "fmt", type=click.Choice(["md", "json", "html"]), default="md", show_default=True,
              help="md: tables by severity; json: every result; html: one self-contained page for an auditor "
                   "(certificate expiry timeline, findings by severity, what was not looked at).")
@click.option("--output", "output", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write the report to FILE instead of stdout.")
@click.option("--now", type=INSTANT, help="With --account: the local clock's time (ISO 8601).")
@click.option("--key-rotation-days", type=click.IntRange(7, 730), default=365, show_default=True,
              help="Longest automatic rotation interval allowed for a key.")
@click.option("--secret-rotation-days", type=click.IntRange(1, 365), default=90, show_default=True,
              help="Oldest a generic secret's current value may be when nothing rotates it.")
@click.option("--allow-account", "allowed_accounts", multiple=True, metavar="ACCOUNT_ID",
              help="An account key and secret policies may grant besides the swept one; repeatable.")
def sweep(checks, account_file, regions, fmt, output, now, key_rotation_days, secret_rotation_days, allowed_accounts) -> None:
    """Read-only sweep: key rotation, secret rotation, deletion protection of keys something depends on, key and
    secret policies, and certificate expiry (CAS, SLB, ALB). Runs synchronously (a progress bar on stderr when it is
    a terminal) and prints a report by severity (md), JSON, or a self-contained HTML page (html); alerts and
    remembers nothing.

    \b
      0  clear       no finding at WARN or above, every check complete
      3  findings    a finding at WARN or above
      5  incomplete  no finding at WARN or above, but a check could not look everywhere
      2  no report   unknown check, bad account file, no credentials
    """
    from kms_steward.sweep_run import run_sweep_report

    sys.exit(run_sweep_report(checks=checks, account_file=account_file, regions=regions, fmt=fmt, now=now,
                              key_rotation_days=key_rotation_days, secret_rotation_days=secret_rotation_days,
                              allowed_accounts=allowed_accounts, output=output))


@main.command()
@click.argument("secret_name")
@click.option("--region", help="The secret's region (default: ALIBABA_CLOUD_REGION_ID).")
@click.option("--step", type=click.Choice(["create_secret", "set_secret", "test_secret", "finish_secret"]),
              help="Run only this step (with --version-id), as a flow calling the function step by step does.")
@click.option("--version-id", help="The version the --step works on.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
def rotate(secret_name, region, step, version_id, as_json) -> None:
    """Rotate SECRET_NAME now: a new credential is created, set on its database, logged in with, and only then made
    ACSCurrent (a rotation left half done is resumed). Uses ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET; exit 1 when a step
    fails (the step and why are printed; ACSCurrent is left as it was), 2 for bad usage."""
    from kms_steward.rotate_run import run_rotate

    sys.exit(run_rotate(secret_name, region=region, step=step, version_id=version_id, as_json=as_json))


@main.command()
@click.argument("function")
@click.option("--project", default="s.yaml", show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="The Serverless Devs project naming the function and its role.")
def policy(function, project) -> None:
    """Print the RAM policy of FUNCTION's role (its s.yaml resource or function name), made concrete for the function:
    ram/<role>.json with each ${SETTING} its s.yaml environment's value (the ${env(...)} variables read from this
    shell, as `s deploy` reads them), resources of settings left empty dropped. It is the policy to create and attach
    to the role (README, "Roles"); the local cloud enforces the same one."""
    from pathlib import Path as _Path

    from localcloud.ram_access import SettingError, function_policy
    from localcloud.serverless import ServerlessError, ServerlessProject

    try:
        spec = ServerlessProject.load(project).function(function)
    except ServerlessError as exc:
        _fail(str(exc))
    try:
        found = function_policy(spec, _Path(project).resolve().parent)
    except SettingError as exc:  # a setting that would widen the policy
        _fail(f"{spec.resource}: {exc}")
    if found is None:
        _fail(f"{spec.resource}: no policy file for its role {spec.role!r} (ram/<role name>.json)")
    click.echo(json.dumps(found[1], indent=2))


@main.command()
@click.option("--region", help="The region checked (default: the s.yaml functions' region, else ALIBABA_CLOUD_REGION_ID).")
@click.option("--project", default="s.yaml", show_default=True, type=click.Path(exists=True, dir_okay=False),
              help="The Serverless Devs project whose functions are checked.")
@click.option("--account", "account_file", type=click.Path(exists=True, dir_okay=False),
              help="Run against a local cloud started from this account file (wired from --project) instead of Alibaba Cloud.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON object.")
def doctor(region, project, account_file, as_json) -> None:
    """Read-only readiness and health check of the functions of s.yaml. Before a deploy: credentials, the ActionTrail
    trail (logging; delivering to TRAIL_SLS_* when set), STATE_BUCKET, the SLS project and logstores, each role and the
    actions its ram/<role>.json grants. After: each function, its triggers and failure destination as s.yaml declares
    them, the latest record and invocation. Each check prints PASS or FAIL with its fix; exit 0 when all pass, 1 if
    one fails, 2 for a bad s.yaml or account file."""
    from kms_steward.doctor_run import run_doctor

    sys.exit(run_doctor(project_path=project, account_file=account_file, region=region, as_json=as_json))


@main.command()
@click.argument("functions", nargs=-1, metavar="[FUNCTION]...")
@click.option("--out", default="dist", show_default=True, type=click.Path(file_okay=False),
              help="Where each artifact goes: OUT/<resource>/ (what s.yaml deploys) and OUT/<resource>.zip.")
@click.option("--json", "as_json", is_flag=True, help="Print the artifacts as one JSON object.")
def package(functions, out, as_json) -> None:
    """Build each function's deployable code (all of s.yaml's when none is named): its handler, the project modules it
    imports, and the distributions they load, as wheels for FC's python3.10 (CPython 3.10, manylinux x86_64).
    Prints each artifact's size and how long its handler takes to import from the artifact alone."""
    from pathlib import Path as _Path

    from kms_steward.package import PackageError, build, render

    progress = (lambda message: None) if as_json else (lambda message: click.echo(message, err=True))
    try:
        artifacts = build(list(functions) or None, out=_Path(out).resolve(), progress=progress)
    except PackageError as exc:
        _fail(str(exc))
    click.echo(json.dumps({"artifacts": [a.as_dict() for a in artifacts]}, indent=2) if as_json else render(artifacts))


@main.group()
def bench() -> None:
    """Benchmarks against the local cloud."""


@bench.command("coldstart")
@click.option("--runs", type=click.IntRange(1, 20), default=3, show_default=True, help="Runs per figure (medians).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench_coldstart(runs, as_json) -> None:
    """What a cold FC instance pays: each function's handler imported in a fresh interpreter (time, peak RSS, heaviest
    imports), key-guard from import to its first decision on the demo account, and `kms-steward --help`."""
    from kms_steward.bench_coldstart import render_coldstart, run_coldstart

    result = run_coldstart(runs, progress=lambda msg: click.echo(f"bench: {msg} ...", err=True))
    click.echo(json.dumps(result, indent=2) if as_json else render_coldstart(result))


@bench.command("audit")
@click.option("--scale", type=click.FloatRange(0.001, 100), default=1.0, show_default=True,
              help="Size of the synthetic region relative to the default (10k disks, 10k snapshots, 5k secrets, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option("--no-growth", is_flag=True, help="Skip the 1/10 and 10x runs.")
@click.option("--no-sequential", is_flag=True, help="Skip the sequential runbook scan.")
@click.option("--latency-ms", type=click.IntRange(0, 1000), default=20, show_default=True)
@click.option("--concurrent", type=click.IntRange(2, 100), default=None, metavar="N",
              help="Then N audits at once, each in its own process (N FC instances), on one cloud enforcing the quotas "
                   "(at --scale): throttled share and total time against the concurrent quota bound.")
def bench_audit(scale, as_json, no_growth, no_sequential, latency_ms, concurrent) -> None:
    """The audit against a synthetic region under published quotas, next to the quota lower bound
    and a sequential runbook scan."""
    from kms_steward.bench import run_bench
    from kms_steward.bench_concurrent import extend, render_concurrent, run_concurrent
    from kms_steward.bench_view import render_bench

    progress = lambda msg: click.echo(f"bench: {msg} ...", err=True)  # noqa: E731
    result = run_bench(scale, growth=not no_growth, sequential=not no_sequential, latency_ms=latency_ms, progress=progress)
    result = extend(result, run_concurrent(concurrent, scale, latency_ms=latency_ms, progress=progress) if concurrent else None)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        render_bench(result)
        if concurrent:
            render_concurrent(result["concurrent"])


@bench.command("faults")
@click.option("--json", "as_json", is_flag=True, help="Print the cells and the counts as one JSON object.")
@click.option("--api", "apis", multiple=True, metavar="PATTERN", help="Only these APIs (product:Action, * allowed); repeatable.")
@click.option("--fault", "kinds", multiple=True, type=click.Choice(["throttled", "server_error", "timeout", "denied", "malformed",
                                                                    "page_cap"]), help="Only these fault kinds; repeatable.")
@click.option("--workers", type=click.IntRange(1, 16), default=6, show_default=True, help="Worker processes running cells.")
def bench_faults(as_json, apis, kinds, workers) -> None:
    """key-guard's promise under every fault (throttled, 5xx, timeout, denied, malformed, page cap) of
    every API it calls: a key with a dependent must end cancelled or with KmsKeyGuardFailed."""
    from kms_steward.bench_faults import render_faults, run_matrix

    try:
        result = run_matrix(api_patterns=apis, kinds=kinds, workers=workers,
                            progress=lambda msg: click.echo(f"bench: {msg}", err=True))
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps({k: result[k] for k in ("cells", "wrongly_allowed", "misnamed_alerts")}, indent=2))
    else:
        render_faults(result, "kms-steward " + " ".join(sys.argv[1:]))
    sys.exit(0 if result["wrongly_allowed"] == 0 and result["misnamed_alerts"] == 0 else 1)


@bench.command("sweep")
@click.option("--scale", type=click.FloatRange(0.001, 10), default=1.0, show_default=True,
              help="Size of the estate relative to the default (3 accounts x 20 regions: 10k keys, 10k secrets, 5k "
                   "certificates).")
@click.option("--latency-ms", type=click.IntRange(0, 1000), default=20, show_default=True, help="Latency of every call.")
@click.option("--no-sequential", is_flag=True, help="Skip the same sweep run sequentially in one process.")
@click.option("--accounts", type=click.IntRange(1, 3), default=3, show_default=True, help="Accounts of the estate (fewer: a quick run).")
@click.option("--regions", type=click.IntRange(1, 20), default=20, show_default=True, help="Regions of the estate (fewer: a quick run).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench_sweep(scale, latency_ms, no_sequential, accounts, regions, as_json) -> None:
    """The compliance and certificate sweeps fanned out over 3 accounts x 20 regions (one FC instance per target)
    under per-API quotas: wall time, slowest worker against the function's timeout, API calls against the minimum
    the chosen APIs need, peak RSS per worker, and the same sweep sequentially in one process."""
    from kms_steward.bench_sweep import run_sweep_bench
    from kms_steward.bench_sweep_view import render_sweep_bench

    result = run_sweep_bench(scale, latency_ms=latency_ms, sequential=not no_sequential, accounts=accounts, regions=regions,
                             progress=lambda msg: click.echo(f"bench: {msg} ...", err=True))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        render_sweep_bench(result)


@bench.command("rotation")
@click.option("--secrets", type=click.IntRange(1, 1000), default=100, show_default=True, help="Secrets rotated in the run.")
@click.option("--engine", type=click.Choice(["auto", "postgresql", "generic"]), default="auto", show_default=True,
              help="postgresql: a real server started for the bench; generic: tokens with no target; auto: postgresql "
                   "when installed.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Secrets the function rotates at once (ROTATION_CONCURRENCY).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def bench_rotation(secrets, engine, concurrency, as_json) -> None:
    """One scheduled run of secret-rotation rotating N secrets: wall time, API calls, time per secret, against
    the database's own cost of a password change (ALTER ROLE alone)."""
    from kms_steward.bench_rotation import render_rotation_bench, run_rotation_bench

    try:
        result = run_rotation_bench(secrets, engine=engine, concurrency=concurrency,
                                    progress=lambda msg: click.echo(f"bench: {msg} ...", err=True))
    except ValueError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        render_rotation_bench(result, click.echo)
    sys.exit(0 if result["rotated"] == result["secrets"] == result["newCredentialsWorking"] else 1)


@main.group()
def local() -> None:
    """Run the local cloud (an offline Alibaba Cloud the official SDKs talk to)."""


@local.command("up")
@click.option("--account", "account_file", type=click.Path(exists=True, dir_okay=False), help="Account file (default: the demo account).")
@click.option("--project", type=click.Path(exists=True, dir_okay=False), help="s.yaml wiring the functions (default: ./s.yaml, else the project's).")
@click.option("--now", type=INSTANT, help="Freeze the local clock at this ISO 8601 instant (default: the account file's as_of, else wall time).")
@click.option("--duplicate-delivery", is_flag=True, help="Deliver every EventBridge event twice.")
@click.option("--state-out", type=StateOut(), help="Write the account state here on exit (checked writable at start; mode 0600).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Serve the first region on this port, the next regions on the ports after it (0: free ports).")
@click.option("--latency-ms", type=click.IntRange(0, 10_000), default=0, show_default=True, help="Answer every call after this latency.")
@click.option("--enforce-quotas", is_flag=True, help="Enforce Alibaba's published per-API QPS quotas (Throttling.User).")
@click.option("--quiet", "-q", is_flag=True, help="No live log of the events delivered to the functions and what they did.")
def local_up(account_file, project, now, duplicate_delivery, state_out, port, latency_ms, enforce_quotas, quiet) -> None:
    """Serve the local cloud until interrupted; print endpoints and credentials, then a live log of every
    event delivered to a function of s.yaml and what it decided and did."""
    from kms_steward.local import build_cloud
    from kms_steward.local_log import LiveLog
    from localcloud.account import AccountError
    from localcloud.gateway import Network
    from localcloud.serverless import ServerlessError

    try:
        cloud = build_cloud(account_file, project=project, now=now, duplicate_delivery=duplicate_delivery)
    except (AccountError, ServerlessError, ValueError) as exc:
        _fail(str(exc))
    cloud.network = Network.published(latency_ms) if enforce_quotas else Network(latency_ms)
    # Ctrl-C and SIGTERM end the session the same way, the state written after. Handled from here on (a Ctrl-C
    # right after the banner must not abort), and not left to KeyboardInterrupt, which may hit any line and
    # which a shell's background job ignores.
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        cloud.start(port=port)
    except OSError as exc:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _fail(f"--port {port}: cannot serve on 127.0.0.1 from port {port} ({exc.strerror or exc})")
    sys.stdout.reconfigure(line_buffering=True)  # the endpoint lines must reach a pipe at once
    cred = next((c for c in cloud.account.credentials if not c.SecurityToken), None)
    click.echo(f"local cloud for account {cloud.account.account_id} is up")
    for region in cloud.account.region_ids:
        click.echo(f"  {region:16} http://{cloud.endpoint(region)}   (every product: {PRODUCTS_SERVED})")
    if cred:
        click.echo("\nlocal-only credentials (they open this emulated account and nothing else):")
        click.echo(f"  export ALIBABA_CLOUD_ACCESS_KEY_ID={cred.AccessKeyId}")
        click.echo(f"  export ALIBABA_CLOUD_ACCESS_KEY_SECRET={cred.AccessKeySecret}")
    region = cloud.default_region
    click.echo("\nofficial SDKs:  Config(access_key_id=..., access_key_secret=..., "
               f"endpoint=\"{cloud.endpoint(region)}\", protocol=\"http\", region_id=\"{region}\")")
    click.echo(f"aliyun CLI:     aliyun kms ListKeys --endpoint {cloud.endpoint(region)} --region {region} --insecure "
               "--access-key-id $ALIBABA_CLOUD_ACCESS_KEY_ID --access-key-secret $ALIBABA_CLOUD_ACCESS_KEY_SECRET"
               "   (--insecure: plain HTTP)")
    functions = ", ".join(cloud.project.functions) if cloud.project else "none"
    click.echo(f"functions wired from s.yaml: {functions}")
    click.echo(f"local clock: {cloud.clock.now().strftime('%Y-%m-%dT%H:%M:%SZ')}"
               + (" (frozen)" if (now or cloud.account.as_of) else " (wall time)"))
    if not quiet:
        LiveLog(cloud, click.echo).attach()
        click.echo("live log below: each event delivered to a function, and what the function did (--quiet hides it)")
    click.echo("Ctrl-C to stop.")
    try:
        while not stop.wait(0.5):  # a plain wait() would not return to let the signal handler run
            pass
    finally:
        cloud.stop()
    if state_out:
        try:
            cloud.dump_state(state_out)
        except OSError as exc:
            _fail(f"cannot write the state to {state_out} ({exc.strerror or exc})")
        click.echo(f"account state written to {state_out}")


@local.command("invoke")
@click.argument("function")
@click.option("--event", "event_file", required=True, type=click.Path(exists=True, dir_okay=False), help="Event payload file, sent as bytes.")
@click.option("--account", "account_file", type=click.Path(exists=True, dir_okay=False), help="Account file (default: the demo account).")
@click.option("--project", type=click.Path(exists=True, dir_okay=False), help="s.yaml wiring the functions (default: ./s.yaml, else the project's).")
@click.option("--state-out", type=StateOut(), help="Write the account state here afterwards (checked writable first; mode 0600).")
@click.option("--now", type=INSTANT, help="Set the local clock to this ISO 8601 instant (default: the account file's as_of, else wall time).")
def local_invoke(function, event_file, account_file, project, state_out, now) -> None:
    """Run FUNCTION (its s.yaml resource name, e.g. key-guard) once against a local cloud; print its JSON result."""
    from kms_steward.local import build_cloud
    from kms_steward.local_log import deletion_note
    from localcloud.account import AccountError
    from localcloud.serverless import ServerlessError

    try:
        cloud = build_cloud(account_file, project=project, now=now)
        cloud.project.function(function)
    except (AccountError, ServerlessError, ValueError) as exc:
        _fail(str(exc))
    payload = Path(event_file).read_bytes()
    with cloud:
        invocation = cloud.fc.invoke(function, payload)
        cloud.bus.drain()
    if state_out:
        try:
            cloud.dump_state(state_out)
        except OSError as exc:
            _fail(f"cannot write the state to {state_out} ({exc.strerror or exc})")
    if invocation.ok:
        click.echo(json.dumps(invocation.result, indent=2, ensure_ascii=False))
        results = invocation.result.get("results") if isinstance(invocation.result, dict) else None
        for result in results if isinstance(results, list) else []:
            note = deletion_note(cloud, result)
            if note:  # on stderr: stdout stays the function's own result, for scripts
                click.echo(f"note: key {result.get('keyId') or result.get('keyRef')}: {note}", err=True)
        return
    click.echo(json.dumps({"errorType": invocation.error["errorType"], "errorMessage": invocation.error["errorMessage"]}, indent=2))
    sys.exit(1)


if __name__ == "__main__":
    main()
