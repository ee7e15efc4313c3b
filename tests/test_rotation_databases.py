"""Secret rotation against REAL PostgreSQL and MariaDB servers (tests/database_servers.py) and the local
cloud's Secrets Manager: after every rotation the new credential logs in, the old one stops working
(single user) or keeps working until the next rotation (alternating users), a rotation killed at any
point is finished by the next run with the database and ACSCurrent in agreement, and failures are loud
and leave ACSCurrent as it was."""
from __future__ import annotations

import pytest

from shared.rotation.driver import RotationHooks
from shared.rotation.errors import RotationError, StepFailed
from shared.rotation.protocol import STEPS
from tests.rotation_kit import cloud, db, mariadb_server, postgres_server  # noqa: F401 (fixtures)
from tests.rotation_kit import (single_user_secret, ADMIN_TAG, NOW, STRATEGY_TAG, Crash, admin_sql, alerts, create_secret, create_user, holder,
                                invoke, logs_in, reads_its_table, rotate_now, rotation_account, rotation_records, stages,
                                unique, value)


def alternating_secret(cloud, db):
    user, password = unique("alt"), "Original-pw-5678"
    create_user(db, user, password)
    admin_name = f"db/admin-{user}"
    create_secret(cloud, admin_name, db.admin_value())
    name = f"db/{user}"
    create_secret(cloud, name, db.secret_value(user, password),
                  tags={STRATEGY_TAG: "alternating-users", ADMIN_TAG: admin_name})
    return name, user, password


def assert_converged(cloud, db, name):
    """One version ACSCurrent, none pending, and the database takes exactly what ACSCurrent says."""
    versions = stages(cloud, name)
    assert not any("ACSPending" in s for s in versions.values()), versions
    assert sum("ACSCurrent" in s for s in versions.values()) == 1
    current = value(cloud, name)
    assert logs_in(db, current["username"], current["password"])
    return current


# ---------------------------------------------------------------- the strategies


def test_single_user_new_password_logs_in_and_the_old_one_stops(cloud, db):
    name, user, old = single_user_secret(cloud, db)
    outcome = rotate_now(cloud, name)
    assert outcome.strategy == "single-user" and not outcome.resumed
    current = assert_converged(cloud, db, name)
    assert current["username"] == user and current["password"] != old
    assert not logs_in(db, user, old)
    assert stages(cloud, name) == {"v1": ["ACSPrevious"], outcome.version_id: ["ACSCurrent"]}
    assert value(cloud, name, "ACSPrevious")["password"] == old
    # other fields are carried over as they were
    assert {k: v for k, v in current.items() if k != "password"} == {k: v for k, v in db.secret_value(user, old).items()
                                                                     if k != "password"}

    second = rotate_now(cloud, name)
    newest = assert_converged(cloud, db, name)
    assert not logs_in(db, user, current["password"]) and newest["password"] != current["password"]
    assert stages(cloud, name)[outcome.version_id] == ["ACSPrevious"] and second.version_id != outcome.version_id


def test_alternating_users_old_login_works_until_the_next_rotation(cloud, db):
    name, user, original = alternating_secret(cloud, db)
    first = rotate_now(cloud, name)
    assert first.strategy == "alternating-users"
    current = assert_converged(cloud, db, name)
    assert current["username"] == f"{user}_rt"
    assert reads_its_table(db, current["username"], current["password"], user), "the clone took the original's grants"
    assert logs_in(db, user, original), "the previous login still works"

    rotate_now(cloud, name)
    newest = assert_converged(cloud, db, name)
    assert newest["username"] == user and newest["password"] != original
    assert logs_in(db, f"{user}_rt", current["password"]), "the previous login (the _rt user) still works"
    assert not logs_in(db, user, original), "the login two rotations old is gone"
    assert reads_its_table(db, user, newest["password"], user)


def test_tls_secret_rotates_over_tls_and_a_plain_connection_is_refused(cloud, db):
    user, password = "tls_app", "Tls-original-pw-1"
    create_user(db, user, password, tls_only=True)  # PostgreSQL: pg_hba.conf takes tls_app over TLS only
    create_secret(cloud, "db/tls", db.secret_value(user, password, ssl=True, ssl_ca=db.tls_ca_pem))
    assert not logs_in(db, user, password) and logs_in(db, user, password, tls=True)
    rotate_now(cloud, "db/tls")
    current = value(cloud, "db/tls")
    assert current["ssl"] is True and current["ssl_ca"] == db.tls_ca_pem
    assert logs_in(db, user, current["password"], tls=True) and not logs_in(db, user, password, tls=True)

    # The same login without "ssl": refused by the server: the rotation fails, loud, and ACSCurrent is untouched.
    create_secret(cloud, "db/tls-plain", db.secret_value(user, current["password"]))
    with pytest.raises(StepFailed) as failed:
        rotate_now(cloud, "db/tls-plain")
    assert failed.value.step == "set_secret"
    assert holder(cloud, "db/tls-plain", "ACSCurrent") == "v1"
    admin_sql(db, f"DROP TABLE t_{user}", f"DROP USER {user}" if db.engine == "postgresql" else f"DROP USER '{user}'@'%'")


# ---------------------------------------------------------------- killed at every point, finished by the next run

CRASH_POINTS = [f"after:{step.value}" for step in STEPS] + [
    "in:create_secret:stored", "in:finish_secret:previous-moved", "in:finish_secret:current-moved"]


def crash_at(point: str) -> RotationHooks:
    def after_step(step, version_id):
        if point == f"after:{step.value}":
            raise Crash(point)

    def checkpoint(where):
        if point == f"in:{where}":
            raise Crash(point)

    return RotationHooks(after_step=after_step, checkpoint=checkpoint)


@pytest.mark.parametrize("strategy", ["single-user", "alternating-users"])
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_rotation_killed_anywhere_is_finished_by_the_next_run(cloud, db, strategy, point):
    if strategy == "single-user":
        name, user, old = single_user_secret(cloud, db)
    else:
        name, user, old = alternating_secret(cloud, db)
    with pytest.raises(Crash):
        rotate_now(cloud, name, hooks=crash_at(point))
    left = stages(cloud, name)
    pending = holder(cloud, name, "ACSPending")
    promoted = point in ("after:finish_secret", "in:finish_secret:current-moved")
    # ACSCurrent moves only inside finish_secret, after its promotion point: before that it is the old value.
    assert (holder(cloud, name, "ACSCurrent") != "v1") is promoted, left
    if strategy == "alternating-users" or point in ("after:create_secret", "in:create_secret:stored"):
        assert logs_in(db, user, old), "the old credential still works while the rotation is half done"

    if point != "after:finish_secret":  # killed after the last step, the rotation is already whole
        second = rotate_now(cloud, name)
        assert second.resumed is (pending is not None)
        if pending is not None:
            assert second.version_id == pending, "the pending version is finished, not recreated"
    current = assert_converged(cloud, db, name)
    assert len(stages(cloud, name)) == 2, "no version was made twice"
    if strategy == "single-user":
        assert current["username"] == user and not logs_in(db, user, old)
    else:
        assert current["username"] == f"{user}_rt" and logs_in(db, user, old)


# ---------------------------------------------------------------- the local cloud fails a call


def test_a_failed_stage_move_is_alerted_and_the_next_invocation_finishes(start_cloud, postgres_server):
    db = postgres_server
    cloud = start_cloud(rotation_account(faults=[{"Api": "kms:UpdateSecretVersionStage", "Kind": "server_error",
                                                  "Remaining": 1}]), now=NOW)
    name, user, old = single_user_secret(cloud, db)
    first = invoke(cloud, {"SecretName": name})
    assert first.ok and first.attempt == 1, "a recorded, alerted failure is not retried by FC"
    [result] = first.result["results"]
    assert (result["status"], result["step"]) == ("failed", "finish_secret")
    assert "UpdateSecretVersionStage" in result["reason"]
    assert holder(cloud, name, "ACSCurrent") == "v1", "ACSCurrent untouched"
    [alert] = [a for a in alerts(cloud) if a["Name"] == "SecretRotationFailed"]
    assert (alert["secretName"], alert["step"], alert["versionId"]) == (name, "finish_secret", result["versionId"])
    assert rotation_records(cloud)[-1]["status"] == "failed"

    second = invoke(cloud, {"SecretName": name})
    [done] = second.result["results"]
    assert (done["status"], done["resumed"], done["versionId"]) == ("rotated", True, result["versionId"])
    current = assert_converged(cloud, db, name)
    assert current["password"] != old and not logs_in(db, user, old)


def test_a_stage_move_whose_answer_is_lost_converges_on_the_next_run(start_cloud, mariadb_server):
    db = mariadb_server
    cloud = start_cloud(rotation_account(faults=[{"Api": "kms:UpdateSecretVersionStage", "Kind": "server_error",
                                                  "AnswerLost": True, "Remaining": 2}]), now=NOW)
    name, user, old = alternating_secret(cloud, db)
    # Two stage moves in a row are done but their answers lost (each run's first): each run fails at finish_secret
    # having moved one stage further; the third run finds the rest and finishes.
    for _ in range(2):
        [failed] = invoke(cloud, {"SecretName": name}).result["results"]
        assert failed["status"] == "failed" and failed["step"] == "finish_secret"
    [done] = invoke(cloud, {"SecretName": name}).result["results"]
    assert done["status"] == "rotated" and done["versionId"] == failed["versionId"]
    assert assert_converged(cloud, db, name)["username"] == f"{user}_rt"


def test_put_secret_value_with_a_lost_answer_is_retried_safely_in_the_same_run(start_cloud, postgres_server):
    db = postgres_server
    cloud = start_cloud(rotation_account(faults=[{"Api": "kms:PutSecretValue", "Kind": "server_error", "AnswerLost": True,
                                                  "Remaining": 1}]), now=NOW)
    name, user, old = single_user_secret(cloud, db)
    [done] = invoke(cloud, {"SecretName": name}).result["results"]
    assert done["status"] == "rotated" and done["apiCalls"]["kms:PutSecretValue"] == 2
    assert_converged(cloud, db, name)
    assert len(stages(cloud, name)) == 2


# ---------------------------------------------------------------- loud failures


def test_a_password_changed_behind_the_rotation_fails_loud_then_resumes_once_fixed(cloud, db):
    name, user, old = single_user_secret(cloud, db)
    set_password = (f"ALTER ROLE {user} PASSWORD '{{}}'" if db.engine == "postgresql"
                    else f"ALTER USER '{user}'@'%' IDENTIFIED BY '{{}}'")
    admin_sql(db, set_password.format("Changed-by-hand-1"))
    [failed] = invoke(cloud, {"SecretName": name}).result["results"]
    assert (failed["status"], failed["step"]) == ("failed", "set_secret")
    assert "logs in" in failed["reason"]
    assert holder(cloud, name, "ACSCurrent") == "v1"
    assert [a["step"] for a in alerts(cloud) if a["Name"] == "SecretRotationFailed"] == ["set_secret"]

    admin_sql(db, set_password.format(old))  # the operator puts back the password ACSCurrent holds
    [done] = invoke(cloud, {"SecretName": name}).result["results"]
    assert done["status"] == "rotated" and done["resumed"] and done["versionId"] == failed["versionId"]
    assert_converged(cloud, db, name)


def test_alternating_without_an_admin_secret_is_refused_before_any_change(cloud, postgres_server):
    db = postgres_server
    user = unique("alt")
    create_user(db, user, "Original-pw-0000")
    create_secret(cloud, "db/noadmin", db.secret_value(user, "Original-pw-0000"), tags={STRATEGY_TAG: "alternating-users"})
    [refused] = invoke(cloud, {"SecretName": "db/noadmin"}).result["results"]
    assert refused["status"] == "refused" and "kms-steward:rotation-admin-secret" in refused["reason"]
    assert stages(cloud, "db/noadmin") == {"v1": ["ACSCurrent"]}


def test_an_unreachable_database_fails_the_step_and_keeps_acs_current(cloud):
    create_secret(cloud, "db/gone", {"engine": "postgresql", "host": "127.0.0.1", "port": 1, "username": "app",
                                     "password": "Nobody-listens-1", "dbname": "x"})
    with pytest.raises(RotationError) as failed:
        rotate_now(cloud, "db/gone")
    assert failed.value.step == "set_secret" and "Nobody-listens-1" not in str(failed.value)
    assert holder(cloud, "db/gone", "ACSCurrent") == "v1" and holder(cloud, "db/gone", "ACSPending")
