"""No secret value leaves a rotation: a canary planted in secret values (a database password, an administrator's
password, a token, a value that cannot be rotated) and every password the rotations generate are looked for in
captured stdout/stderr, every log record, every SLS record, every CloudMonitor event, every function result and
every exception message of rotations that succeed, fail and are refused."""
from __future__ import annotations

import json
import logging
import secrets

import pymysql
import pytest

from shared.rotation.errors import Redactor, RotationError
from shared.rotation.rotators.mysql import MySqlRotator
from tests.database_servers import mariadb_server, postgres_server  # noqa: F401 (fixtures)
from tests.rotation_kit import (ADMIN_TAG, NOW, STRATEGY_TAG, admin_sql, create_secret, create_user, every_value, invoke,
                                rotate_now, rotation_account, unique)

CANARY = "Canary" + secrets.token_hex(8)


def test_no_secret_value_reaches_any_output(start_cloud, postgres_server, mariadb_server, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    cloud = start_cloud(rotation_account(), now=NOW)
    pg, maria = postgres_server, mariadb_server
    planted = {f"{CANARY}pg", f"{CANARY}admin", f"{CANARY}maria", f"{CANARY}token", f"{CANARY}odd", f"{CANARY}drift"}

    pg_user = unique("canary")
    create_user(pg, pg_user, f"{CANARY}pg")
    create_secret(cloud, "db/canary-pg", pg.secret_value(pg_user, f"{CANARY}pg"))
    admin_user = unique("adm")
    admin_sql(maria, f"CREATE USER '{admin_user}'@'%' IDENTIFIED BY '{CANARY}admin'",
              f"GRANT ALL PRIVILEGES ON *.* TO '{admin_user}'@'%' WITH GRANT OPTION")
    create_secret(cloud, "db/canary-admin", maria.secret_value(admin_user, f"{CANARY}admin"))
    maria_user = unique("canary")
    create_user(maria, maria_user, f"{CANARY}maria")
    create_secret(cloud, "db/canary-maria", maria.secret_value(maria_user, f"{CANARY}maria"),
                  tags={STRATEGY_TAG: "alternating-users", ADMIN_TAG: "db/canary-admin"})
    create_secret(cloud, "api/canary", f"{CANARY}token")
    create_secret(cloud, "db/canary-odd", {"engine": "oracle", "password": f"{CANARY}odd"})
    drift_user = unique("drift")
    create_user(pg, drift_user, "Other-password-1")  # the secret's password is not the database's: set_secret fails
    create_secret(cloud, "db/canary-drift", pg.secret_value(drift_user, f"{CANARY}drift"))

    results, errors = [], []
    for name in ("db/canary-pg", "db/canary-maria", "db/canary-maria", "api/canary", "db/canary-odd", "db/canary-drift"):
        invocation = invoke(cloud, {"SecretName": name})
        results.append(invocation.result)
        errors.append(invocation.error)
    results.append(invoke(cloud, {"SecretName": "db/canary-pg", "Password": f"{CANARY}event"}).result)
    for name in ("db/canary-drift", "db/canary-odd"):  # and straight from the driver, its exception messages
        try:
            rotate_now(cloud, name)
        except RotationError as exc:
            errors.append(f"{exc} {exc.reason} {exc!r}")
    statuses = [r["results"][0]["status"] for r in results]
    assert statuses == ["rotated", "rotated", "rotated", "rotated", "refused", "failed", "rejected"]

    generated = set()
    for name in ("db/canary-pg", "db/canary-maria", "api/canary"):
        for data in every_value(cloud, name):
            try:
                generated.add(json.loads(data)["password"])
            except ValueError:
                generated.add(data)
    assert len(generated) >= 6 and planted & generated  # the originals are among the stored values

    out, err = capfd.readouterr()
    haystacks = {
        "stdout": out, "stderr": err,
        "log records": "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records),
        "SLS": json.dumps([log.contents for log in cloud.account.sls.logs]),
        "CloudMonitor": json.dumps([(e.Name, e.Content) for e in cloud.account.cms.events]),
        "results": json.dumps(results), "exceptions": json.dumps(errors, default=str),
    }
    assert cloud.account.sls.logs and cloud.account.cms.events
    for where, text in haystacks.items():
        assert CANARY not in text, f"a planted value reached {where}"
        leaked = [p for p in generated if p in text]
        assert not leaked, f"a generated password reached {where}"


def test_a_database_error_quoting_the_statement_is_redacted():
    redactor = Redactor()
    rotator = MySqlRotator(redactor)
    redactor.add(f"{CANARY}stmt")
    error = rotator._error(pymysql.err.ProgrammingError(1064, f"You have an error near 'IDENTIFIED BY \\'{CANARY}stmt\\''"),
                           "setting the password of 'app'")
    assert CANARY not in str(error) and "[redacted]" in str(error) and "1064" in str(error)


@pytest.mark.parametrize("value", [f"{CANARY}x", f'{CANARY}"quoted\\'])
def test_the_redactor_masks_values_raw_and_json_escaped(value):
    redactor = Redactor()
    redactor.add(value)
    text = f"raw {value} and as JSON {json.dumps({'p': value})}"
    assert CANARY not in redactor.scrub(text)
