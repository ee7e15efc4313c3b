"""`kms-steward bench rotation`: one scheduled run of the secret-rotation function rotating N secrets, on the local
cloud and a real PostgreSQL server started for it (kms_steward/local_databases.py), next to what the database
itself spends on a password change.

N users get a secret each (single-user strategy, tag kms-steward:rotation-interval=1d), the local clock moves two
days on, and the function's timer fires once, as FC fires it. Measured: the run's wall time, the API calls the
local cloud answered during it, time per secret; then ALTER ROLE ... PASSWORD alone, N times on one administrator
connection (the verifier precomputed, as the rotator sends it), which is the database's own cost. Every new
ACSCurrent is then logged in with, so a fast run that rotated nothing cannot pass.

Without PostgreSQL's binaries the bench rotates generic tokens instead (no target system) and says so.
"""
from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config

from kms_steward import local_databases
from localcloud.account import Account
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud

S_YAML = Path(__file__).resolve().parents[1] / "s.yaml"
ACCOUNT_ID = "1234567890123456"
REGION = "cn-hangzhou"
OPERATOR_AK, OPERATOR_SECRET = "LTAI5tBenchRotation0001", "bench-rotation-local-only-secret"
START = "2030-01-01T00:00:00Z"


def _account() -> Account:
    return Account.from_data({
        "account_id": ACCOUNT_ID,
        "credentials": [{"AccessKeyId": OPERATOR_AK, "AccessKeySecret": OPERATOR_SECRET, "UserName": "operator",
                         "IdentityType": "ram-user"}],
        "regions": [{"RegionId": REGION}],
        "sls": {"logstores": [{"projectName": "kms-steward-logs", "logstoreName": "secret-rotation-decisions",
                               "RegionId": REGION}]},
    })


def _kms(cloud: LocalCloud) -> KmsClient:
    return KmsClient(Config(access_key_id=OPERATOR_AK, access_key_secret=OPERATOR_SECRET, endpoint=cloud.endpoint(REGION),
                            protocol="http", region_id=REGION))


def choose_engine(engine: str) -> tuple[str, str]:
    """(engine used, why)."""
    if engine == "generic":
        return "generic", "asked for"
    missing = local_databases.missing_binaries("postgresql")
    if missing is None:
        return "postgresql", "a real PostgreSQL server started on 127.0.0.1"
    if engine == "postgresql":
        raise ValueError(missing)
    return "generic", f"PostgreSQL not available ({missing})"


def run_rotation_bench(secrets: int = 100, *, engine: str = "auto", concurrency: int = 4,
                       progress: Callable[[str], None] = lambda msg: None) -> dict:
    engine_used, why = choose_engine(engine)
    server = local_databases.start_postgresql() if engine_used == "postgresql" else None
    cloud = LocalCloud(_account(), project=S_YAML, env={"ROTATION_CONCURRENCY": str(concurrency)}, clock=Clock(START))
    cloud.start()
    try:
        progress(f"creating {secrets} secrets ({engine_used})")
        client = _kms(cloud)
        users = [f"bench_{i:04d}" for i in range(secrets)]
        if server is not None:
            _admin(server, [f"CREATE ROLE {u} LOGIN PASSWORD 'Initial-{u}-pw'" for u in users])
        for user in users:
            data = json.dumps(server.secret_value(user, f"Initial-{user}-pw")) if server else f"initial-token-{user}"
            client.create_secret(kms.CreateSecretRequest(
                secret_name=f"bench/{user}", secret_data=data, version_id="v1",
                tags=json.dumps([{"TagKey": "kms-steward:rotation-interval", "TagValue": "1d"}])))
        cloud.clock.advance(timedelta(days=2))
        before = cloud.calls.snapshot()
        progress("firing the rotation timer")
        started = time.perf_counter()
        invocation = cloud.fc.fire_timer("secret-rotation")
        wall_s = time.perf_counter() - started
        if not invocation.ok:
            raise RuntimeError(f"the timer run failed: {invocation.error['errorType']}: {invocation.error['errorMessage']}")
        after = cloud.calls.snapshot()
        calls = {api: after[api] - before.get(api, 0) for api in after if after[api] - before.get(api, 0)}
        sweep = invocation.result["sweep"]
        progress("checking every new credential")
        working = _working_credentials(client, server, users)
        alter = _alter_role_cost(server, users) if server else None
        per_secret_ms = wall_s * 1000 / max(1, secrets)
        return {
            "engine": engine_used, "why": why, "secrets": secrets, "concurrency": concurrency,
            "rotated": sweep.get("rotated", 0), "failed": sweep.get("failed", 0), "newCredentialsWorking": working,
            "wallSeconds": round(wall_s, 3), "perSecretMs": round(per_secret_ms, 1),
            "apiCalls": dict(sorted(calls.items())), "apiCallsTotal": sum(calls.values()),
            "apiCallsPerSecret": round(sum(calls.values()) / max(1, secrets), 1),
            "alterRoleMs": alter,
            "overheadRatio": round(per_secret_ms / alter["medianMs"], 1) if alter and alter["medianMs"] else None,
        }
    finally:
        cloud.stop()
        if server is not None:
            server.stop()


def _admin(server, statements: list[str]) -> list[float]:
    """Run statements on one administrator connection; each one's seconds."""
    import pg8000.native

    conn = pg8000.native.Connection(server.admin_user, host=server.host, port=server.port, password=server.admin_password,
                                    database=server.dbname, ssl_context=False, timeout=30)
    timings = []
    try:
        for sql in statements:
            started = time.perf_counter()
            conn.run(sql)
            timings.append(time.perf_counter() - started)
    finally:
        conn.close()
    return timings


def _alter_role_cost(server, users: list[str]) -> dict:
    from shared.rotation.rotators.postgresql import scram_sha256_verifier

    verifiers = [scram_sha256_verifier(f"Bench-{u}-{i}") for i, u in enumerate(users)]
    timings = _admin(server, [f"ALTER ROLE {u} PASSWORD '{v}'" for u, v in zip(users, verifiers)])
    return {"statements": len(timings), "medianMs": round(statistics.median(timings) * 1000, 3),
            "totalMs": round(sum(timings) * 1000, 1)}


def _working_credentials(client: KmsClient, server, users: list[str]) -> int:
    """How many secrets' ACSCurrent is a new value the database takes (a token: a new value at all)."""
    import pg8000.native

    working = 0
    for user in users:
        data = client.get_secret_value(kms.GetSecretValueRequest(secret_name=f"bench/{user}")).body.secret_data
        if server is None:
            working += data != f"initial-token-{user}"
            continue
        password = json.loads(data)["password"]
        try:
            pg8000.native.Connection(user, host=server.host, port=server.port, password=password, database=server.dbname,
                                     ssl_context=False, timeout=10).close()
            working += password != f"Initial-{user}-pw"
        except pg8000.native.DatabaseError:
            pass
    return working


def render_rotation_bench(result: dict, echo: Callable[[str], None]) -> None:
    echo(f"engine: {result['engine']} ({result['why']})")
    echo(f"secrets: {result['secrets']} in one scheduled run (concurrency {result['concurrency']}): "
         f"{result['rotated']} rotated, {result['failed']} failed, {result['newCredentialsWorking']} new credentials log in")
    echo(f"wall time: {result['wallSeconds']:.2f} s   per secret: {result['perSecretMs']:.1f} ms")
    echo(f"API calls: {result['apiCallsTotal']} ({result['apiCallsPerSecret']} per secret)")
    for api, count in result["apiCalls"].items():
        echo(f"  {api:32} {count}")
    alter = result["alterRoleMs"]
    if alter:
        echo(f"ALTER ROLE ... PASSWORD alone: median {alter['medianMs']:.3f} ms ({alter['statements']} statements, "
             f"{alter['totalMs']:.1f} ms in all)")
        echo(f"rotation per secret / ALTER ROLE: {result['overheadRatio']}x")
    else:
        echo("ALTER ROLE: not measured (no database)")
