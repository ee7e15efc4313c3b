"""What the secret-rotation tests share: secrets created through the official KMS SDK on the local cloud, the
rotation driver and the function pointed at it, the records and alerts it left, and logins checked
directly against the real database servers (tests/database_servers.py), never through the code under test."""
from __future__ import annotations

import json
import secrets
from typing import Any

import pg8000.native
import pytest
import pymysql
from alibabacloud_kms20160120 import models as kms

from kms_steward.local_databases import DatabaseServer
from localcloud.cloud import LocalCloud
from shared.clients import Clients, Credentials
from shared.rotation.driver import RotationHooks, rotate
from shared.rotation.errors import Redactor
from shared.rotation.secret_store import SecretStore
from tests.database_servers import mariadb_server, postgres_server  # noqa: F401 (fixtures, re-exported with db)
from tests.conftest import ALICE_AK, ALICE_SECRET, KEY, REGION, alice_kms, make_account

NOW = "2030-01-01T00:00:00Z"
ROTATION_LOGSTORE = "secret-rotation-decisions"
INTERVAL_TAG = "kms-steward:rotation-interval"
STRATEGY_TAG = "kms-steward:rotation-strategy"
ADMIN_TAG = "kms-steward:rotation-admin-secret"


class Crash(BaseException):
    """Stops a rotation where it stands, as a killed process would (not an Exception: nothing catches it)."""


def stop_after(step_to_stop) -> RotationHooks:
    """Hooks that kill the rotation right after `step_to_stop`, as a timeout or a crashed instance would."""
    def after(step, version_id):
        if step == step_to_stop:
            raise Crash(step)
    return RotationHooks(after_step=after)


def single_user_secret(cloud: LocalCloud, db: DatabaseServer, prefix: str = "app", **extra) -> tuple[str, str, str]:
    """A database user with a known password, and a single-user secret `db/<user>` holding it."""
    user, password = unique(prefix), "Original-pw-1234"
    create_user(db, user, password)
    name = f"db/{user}"
    create_secret(cloud, name, db.secret_value(user, password, **extra))
    return name, user, password


def rotation_account(**sections):
    """The test account with the function's decision logstore."""
    logstores = [{"projectName": "kms-steward-logs", "logstoreName": ROTATION_LOGSTORE, "RegionId": REGION}]
    sls = sections.pop("sls", {})
    return make_account(sls={**sls, "logstores": logstores + list(sls.get("logstores", []))}, **sections)


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def create_secret(cloud: LocalCloud, name: str, value: dict | str, *, tags: dict[str, str] | None = None,
                  secret_type: str | None = None, **extra) -> None:
    data = value if isinstance(value, str) else json.dumps(value)
    tag_list = json.dumps([{"TagKey": k, "TagValue": v} for k, v in (tags or {}).items()]) if tags else None
    alice_kms(cloud).create_secret(kms.CreateSecretRequest(secret_name=name, secret_data=data, version_id="v1",
                                                           encryption_key_id=KEY, tags=tag_list, secret_type=secret_type,
                                                           **extra))


def stages(cloud: LocalCloud, name: str) -> dict[str, list[str]]:
    """{version id: its stages} for the versions holding one."""
    body = alice_kms(cloud).list_secret_version_ids(kms.ListSecretVersionIdsRequest(secret_name=name, page_size=100)).body
    return {v.version_id: sorted(v.version_stages.version_stage) for v in body.version_ids.version_id}


def holder(cloud: LocalCloud, name: str, stage: str) -> str | None:
    return next((v for v, s in stages(cloud, name).items() if stage in s), None)


def value(cloud: LocalCloud, name: str, stage: str = "ACSCurrent") -> Any:
    data = alice_kms(cloud).get_secret_value(kms.GetSecretValueRequest(secret_name=name, version_stage=stage)).body.secret_data
    try:
        return json.loads(data)
    except ValueError:
        return data


def every_value(cloud: LocalCloud, name: str) -> list[str]:
    """Every stored value of the secret (the secrets a leak check looks for)."""
    client = alice_kms(cloud)
    versions = client.list_secret_version_ids(kms.ListSecretVersionIdsRequest(secret_name=name, include_deprecated="true",
                                                                              page_size=100)).body.version_ids.version_id
    return [client.get_secret_value(kms.GetSecretValueRequest(secret_name=name, version_id=v.version_id)).body.secret_data
            for v in versions]


def store_for(cloud: LocalCloud) -> SecretStore:
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_override(REGION))
    return SecretStore(clients, REGION, Redactor())


def rotate_now(cloud: LocalCloud, name: str, hooks: RotationHooks | None = None):
    """The driver, as the function runs it, with alice's credentials."""
    return rotate(store_for(cloud), name, hooks=hooks)


def invoke(cloud: LocalCloud, payload: Any, function: str = "secret-rotation"):
    raw = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return cloud.fc.invoke(function, raw.encode() if isinstance(raw, str) else raw, invocation_type="Async")


def rotation_records(cloud: LocalCloud) -> list[dict]:
    out = []
    for log in cloud.account.sls.logs:
        if log.logstoreName == ROTATION_LOGSTORE:
            out.append({k: _maybe_json(v) for k, v in log.contents.items()})
    return out


def _maybe_json(text: str):
    try:
        return json.loads(text) if text[:1] in "[{" or text in ("true", "false") else text
    except ValueError:
        return text


def alerts(cloud: LocalCloud) -> list[dict]:
    return [{"Name": e.Name, **json.loads(e.Content)} for e in cloud.account.cms.events]


# ---------------------------------------------------------------- the databases, checked directly


def logs_in(server: DatabaseServer, username: str, password: str, *, tls: bool = False) -> bool:
    """Whether the server accepts this login (over TLS, verified against the server's certificate, when asked)."""
    import ssl

    context = ssl.create_default_context(cadata=server.tls_ca_pem) if tls else None
    try:
        if server.engine == "postgresql":
            # ssl_context=False: plain; pg8000 would otherwise try TLS on its own
            pg8000.native.Connection(username, host=server.host, port=server.port, password=password,
                                     database=server.dbname, ssl_context=context or False, timeout=10).close()
        else:
            pymysql.connect(host=server.host, port=server.port, user=username, password=password, database=server.dbname,
                            ssl=context, ssl_disabled=not tls, connect_timeout=10).close()
        return True
    except (pg8000.native.DatabaseError, pymysql.err.OperationalError):
        return False


def admin_sql(server: DatabaseServer, *statements: str) -> list:
    """Run statements as the server's administrator; the last one's rows."""
    rows: list = []
    if server.engine == "postgresql":
        conn = pg8000.native.Connection(server.admin_user, host=server.host, port=server.port, password=server.admin_password,
                                        database=server.dbname, timeout=10)
        try:
            for sql in statements:
                rows = conn.run(sql) or []
        finally:
            conn.close()
    else:
        conn = pymysql.connect(host=server.host, port=server.port, user=server.admin_user, password=server.admin_password,
                               database=server.dbname, autocommit=True, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
                    rows = list(cur.fetchall())
        finally:
            conn.close()
    return rows


def create_user(server: DatabaseServer, username: str, password: str, *, tls_only: bool = False) -> None:
    """A login user with SELECT on a table of its own (so the alternate user's grants can be checked)."""
    table = f"t_{username}"
    if server.engine == "postgresql":
        admin_sql(server, f"CREATE ROLE {username} LOGIN PASSWORD '{password}'",
                  f"CREATE TABLE {table} (x int)", f"INSERT INTO {table} VALUES (42)",
                  f"GRANT SELECT ON {table} TO {username}")
    else:
        admin_sql(server, f"CREATE USER '{username}'@'%' IDENTIFIED BY '{password}'" + (" REQUIRE SSL" if tls_only else ""),
                  f"CREATE TABLE {table} (x int)", f"INSERT INTO {table} VALUES (42)",
                  f"GRANT SELECT ON {server.dbname}.{table} TO '{username}'@'%'")


def reads_its_table(server: DatabaseServer, username: str, password: str, table_owner: str) -> bool:
    """Whether this login can read the table created for `table_owner` (the grant the alternate user takes)."""
    table = f"t_{table_owner}"
    try:
        if server.engine == "postgresql":
            conn = pg8000.native.Connection(username, host=server.host, port=server.port, password=password,
                                            database=server.dbname, timeout=10)
            try:
                return conn.run(f"SELECT x FROM {table}") == [[42]]
            finally:
                conn.close()
        conn = pymysql.connect(host=server.host, port=server.port, user=username, password=password, database=server.dbname,
                               connect_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT x FROM {table}")
                return cur.fetchall() == ((42,),)
        finally:
            conn.close()
    except (pg8000.native.DatabaseError, pymysql.err.MySQLError):
        return False


# The fixtures the rotation test files share: import them by name (`from tests.rotation_kit import cloud, db, ...`).
@pytest.fixture(params=["postgresql", "mysql"])
def db(request):
    """A real database server of each engine the rotators support."""
    return request.getfixturevalue("postgres_server" if request.param == "postgresql" else "mariadb_server")


@pytest.fixture
def cloud(start_cloud):
    return start_cloud(rotation_account(), now=NOW)
