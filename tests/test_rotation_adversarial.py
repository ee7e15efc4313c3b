"""Adversarial probes of secret rotation, against REAL PostgreSQL and MariaDB servers and the local cloud's Secrets
Manager through the official SDK: a stage move (or PutSecretValue) the service answers OK but does not do, throttled
stage moves, an FC retry, a person's PutSecretValue in the middle of a rotation, an alternating-users secret naming
another secret's user, user names holding quotes and MariaDB's SHOW GRANTS keywords, a grant replay that fails, a
failed read of ACSPrevious, object reprs, steps run out of order, and bad input to both rotation functions. Each one asserts that ACSCurrent keeps logging in, that no user outside the
secret's own pair is touched, and that every refusal is recorded and alerted."""
from __future__ import annotations

import json

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.rotation.driver import RotationHooks
from shared.rotation.errors import RotationError, RotationRefused, StepFailed
from shared.rotation.protocol import PENDING_TAG, Step
from tests.conftest import alice_kms
from tests.rotation_kit import cloud, db, mariadb_server, postgres_server  # noqa: F401 (fixtures)
from tests.rotation_kit import (single_user_secret, stop_after, ADMIN_TAG, NOW, STRATEGY_TAG, Crash, admin_sql, alerts, create_secret, create_user, holder,
                                invoke, logs_in, rotate_now, rotation_account, rotation_records, stages, unique, value)


def alternating_secret(cloud, db, username, password, admin_name=None):
    if admin_name is None:
        admin_name = "db/admin-" + unique("a")
        create_secret(cloud, admin_name, db.admin_value())
    name = "db/" + unique("alt")
    create_secret(cloud, name, db.secret_value(username, password),
                  tags={STRATEGY_TAG: "alternating-users", ADMIN_TAG: admin_name})
    return name, admin_name


def put_current(cloud, name, version_id, data: dict) -> None:
    """A person's PutSecretValue (VersionStages left out: the new version becomes ACSCurrent)."""
    alice_kms(cloud).put_secret_value(kms.PutSecretValueRequest(secret_name=name, version_id=version_id,
                                                                secret_data=json.dumps(data)))


def put_pending(cloud, name, version_id, data: dict) -> None:
    alice_kms(cloud).put_secret_value(kms.PutSecretValueRequest(secret_name=name, version_id=version_id,
                                                                secret_data=json.dumps(data),
                                                                version_stages=json.dumps(["ACSPending"])))


def set_db_password(db, user, password) -> None:
    admin_sql(db, f"ALTER ROLE {user} PASSWORD '{password}'" if db.engine == "postgresql"
              else f"ALTER USER '{user}'@'%' IDENTIFIED BY '{password}'")


def current_logs_in(cloud, db, name) -> bool:
    current = value(cloud, name)
    return logs_in(db, current["username"], current["password"])


# ---------------------------------------------------------------- (b) a stage move answered OK but not done


def test_a_stage_move_answered_ok_but_not_done_is_not_reported_as_rotated(cloud, postgres_server):
    """UpdateSecretVersionStage answers 200 and does nothing (a front end that lost the write). In a single-user
    rotation the database already takes only the new password: reporting "rotated" while ACSCurrent still holds the
    old one leaves a secret that does not log in and nothing said about it."""
    db = postgres_server
    name, user, old = single_user_secret(cloud, db, "noop")
    cloud.faults.respond("kms:UpdateSecretVersionStage", {"SecretName": name}, remaining=3)
    [first] = invoke(cloud, {"SecretName": name}).result["results"]
    assert holder(cloud, name, "ACSCurrent") == "v1"  # the service really did nothing
    assert (first["status"], first["step"]) == ("failed", "finish_secret"), first
    assert "ACSCurrent" in first["reason"]
    assert [a["step"] for a in alerts(cloud) if a["Name"] == "SecretRotationFailed"] == ["finish_secret"]
    # The in-flight tag stays, so the timer resumes it even without an interval tag.
    run = cloud.fc.fire_timer("secret-rotation")
    assert run.ok and run.result["sweep"]["rotated"] == 1, run.result
    assert holder(cloud, name, "ACSCurrent") == first["versionId"] and current_logs_in(cloud, db, name)
    assert not logs_in(db, user, old)


def test_a_pending_stage_removal_answered_ok_but_not_done_is_finished_later(cloud):
    create_secret(cloud, "api/noop-remove", "initial-token-000003")
    moves = []

    def only_the_removal_is_lost(point):
        if point == "finish_secret:current-moved":
            cloud.faults.respond("kms:UpdateSecretVersionStage", {"SecretName": "api/noop-remove"}, remaining=1)
            moves.append(point)

    with pytest.raises(StepFailed, match="ACSPending") as caught:
        rotate_now(cloud, "api/noop-remove", RotationHooks(checkpoint=only_the_removal_is_lost))
    assert moves and caught.value.step == "finish_secret"
    outcome = rotate_now(cloud, "api/noop-remove")
    assert outcome.resumed and not any("ACSPending" in s for s in stages(cloud, "api/noop-remove").values())


def test_a_put_secret_value_answered_ok_but_not_stored_touches_no_database(cloud, db):
    name, user, old = single_user_secret(cloud, db, "noput")
    cloud.faults.respond("kms:PutSecretValue", {"SecretName": name}, remaining=1)
    with pytest.raises(RotationRefused, match="lost ACSPending right after it was stored") as caught:
        rotate_now(cloud, name)
    assert caught.value.step == "create_secret"
    assert logs_in(db, user, old) and list(stages(cloud, name)) == ["v1"]
    rotate_now(cloud, name)
    assert current_logs_in(cloud, db, name) and not logs_in(db, user, old)


def test_throttled_stage_moves_are_retried_within_the_run(start_cloud, postgres_server):
    db = postgres_server
    cloud = start_cloud(rotation_account(faults=[{"Api": "kms:UpdateSecretVersionStage", "Kind": "throttled",
                                                  "Remaining": 2}]), now=NOW)
    name, user, old = single_user_secret(cloud, db, "thr")
    [done] = invoke(cloud, {"SecretName": name}).result["results"]
    assert done["status"] == "rotated", done
    assert current_logs_in(cloud, db, name) and not logs_in(db, user, old)


# ---------------------------------------------------------------- (b) a person's PutSecretValue during a rotation


def test_a_person_resetting_the_password_during_the_single_user_gap_is_converged(cloud, db):
    """The rotation stops after set_secret (the database takes only the pending password); a person, seeing the
    application fail, sets a password by hand and stores it as ACSCurrent. The next run must end with an
    ACSCurrent that logs in (it takes the person's login to set the pending password again)."""
    name, user, old = single_user_secret(cloud, db, "gap")
    with pytest.raises(Crash):
        rotate_now(cloud, name, stop_after(Step.SET))
    set_db_password(db, user, "By-hand-pw-98765")
    put_current(cloud, name, "by-hand", {**value(cloud, name), "password": "By-hand-pw-98765"})
    outcome = rotate_now(cloud, name)
    assert outcome.resumed and holder(cloud, name, "ACSCurrent") == outcome.version_id
    assert holder(cloud, name, "ACSPrevious") == "by-hand"
    assert current_logs_in(cloud, db, name) and not logs_in(db, user, "By-hand-pw-98765")


def test_a_value_a_person_stored_during_the_rotation_is_not_overwritten_by_a_stale_one(cloud, db):
    """A person moves the application (here: a setting of the connection; in life, another database or host) with
    PutSecretValue while a rotation derived from the old value is pending. Promoting the pending value would silently
    put the old settings back: the rotation must refuse, loudly, and leave the person's ACSCurrent as stored."""
    name, user, old = single_user_secret(cloud, db, "mig")
    with pytest.raises(Crash):
        rotate_now(cloud, name, stop_after(Step.CREATE))
    pending = holder(cloud, name, "ACSPending")
    moved = {**value(cloud, name), "pool_size": 20}
    put_current(cloud, name, "moved", moved)
    [record] = invoke(cloud, {"SecretName": name}).result["results"]
    assert (record["status"], record["step"]) == ("refused", "set_secret"), record
    assert "ACSCurrent" in record["reason"] and "changed" in record["reason"]
    assert holder(cloud, name, "ACSCurrent") == "moved" and value(cloud, name) == moved
    assert logs_in(db, user, old), "refused before the database was touched"
    assert holder(cloud, name, "ACSPending") == pending and alerts(cloud)[-1]["step"] == "set_secret"


def test_a_value_a_person_stored_after_set_secret_is_not_overwritten_at_finish(cloud, postgres_server):
    db = postgres_server
    name, user, old = single_user_secret(cloud, db, "late")
    with pytest.raises(Crash):
        rotate_now(cloud, name, stop_after(Step.TEST))
    pending = holder(cloud, name, "ACSPending")
    pending_value = json.loads(alice_kms(cloud).get_secret_value(kms.GetSecretValueRequest(
        secret_name=name, version_id=pending)).body.secret_data)
    # The person's value takes the password the database has now, with another setting.
    put_current(cloud, name, "moved", {**pending_value, "dbname": db.dbname, "application_name": "v2"})
    result = invoke(cloud, {"SecretName": name, "Step": "finish_secret", "VersionId": pending}).result["results"][0]
    assert (result["status"], result["step"]) == ("refused", "finish_secret"), result
    assert holder(cloud, name, "ACSCurrent") == "moved" and current_logs_in(cloud, db, name)


# ---------------------------------------------------------------- (c) alternating users naming another secret's user


def victim_pair(cloud, db):
    """A team's alternating-users secret, rotated once: its ACSCurrent is <victim>_rt, ACSPrevious <victim>."""
    victim = unique("vic")
    create_user(db, victim, "Victim-pw-123456")
    name, admin_name = alternating_secret(cloud, db, victim, "Victim-pw-123456")
    rotate_now(cloud, name)
    current = value(cloud, name)
    assert current["username"] == victim + "_rt" and logs_in(db, current["username"], current["password"])
    return name, admin_name, victim, current


@pytest.mark.parametrize("named", ["victim", "victim_rt"])
def test_a_secret_naming_another_secrets_user_does_not_reset_its_alternate(cloud, db, named):
    """Whoever can write secret A (and tag it alternating-users with the shared admin secret) names the user of
    another team's secret, with a password they do not know. The administrator must not be used to reset the
    other user of that pair: that would hand A's writer a login with the victim's grants and break the victim's
    ACSCurrent or ACSPrevious."""
    victim_name, admin_name, victim, victim_current = victim_pair(cloud, db)
    username = victim if named == "victim" else victim + "_rt"
    attacker, _ = alternating_secret(cloud, db, username, "I-do-not-know-it", admin_name=admin_name)
    [record] = invoke(cloud, {"SecretName": attacker}).result["results"]
    assert record["status"] == "refused", record
    assert "does not log in" in record["reason"]
    assert logs_in(db, victim_current["username"], victim_current["password"]), "the victim's ACSCurrent still logs in"
    assert logs_in(db, victim, "Victim-pw-123456"), "the victim's ACSPrevious still logs in"
    assert list(stages(cloud, attacker)) == ["v1"]


def test_a_pending_value_naming_a_user_outside_the_pair_is_refused(cloud, db):
    """A's writer has a login of their own (ACSCurrent logs in) and stores a pending version by hand naming the
    victim's alternate user: set_secret must not reset it, since it is not the alternate of A's current user."""
    victim_name, admin_name, victim, victim_current = victim_pair(cloud, db)
    mine = unique("mine")
    create_user(db, mine, "Mine-pw-1234567")
    attacker, _ = alternating_secret(cloud, db, mine, "Mine-pw-1234567", admin_name=admin_name)
    put_pending(cloud, attacker, "by-hand", db.secret_value(victim + "_rt", "Attacker-chosen-pw-1"))
    for step in ("set_secret", "finish_secret"):
        result = invoke(cloud, {"SecretName": attacker, "Step": step, "VersionId": "by-hand"}).result["results"][0]
        assert result["status"] in ("refused", "failed"), result
    assert not logs_in(db, victim + "_rt", "Attacker-chosen-pw-1")
    assert logs_in(db, victim_current["username"], victim_current["password"])
    assert holder(cloud, attacker, "ACSCurrent") == "v1"


def test_a_username_with_quotes_and_sql_in_it_is_only_ever_a_name(cloud, db):
    """Alternating users with a real user whose name holds quotes, a statement and MariaDB's own SHOW GRANTS
    keywords: the alternate user is created under exactly that name plus _rt with exactly its grants, nothing runs."""
    user = "q'\"; IDENTIFIED VIA z " + unique("s")[-4:]  # 29 characters at most with _rt: MySQL's 32
    password, table = "Quoted-pw-123456", "t_" + unique("q")
    if db.engine == "postgresql":
        quoted = '"' + user.replace('"', '""') + '"'
        admin_sql(db, f"CREATE ROLE {quoted} LOGIN PASSWORD '{password}'", f"CREATE TABLE {table} (x int)",
                  f"INSERT INTO {table} VALUES (42)", f"GRANT SELECT ON {table} TO {quoted}")
    else:
        quoted = "'" + user.replace("\\", "\\\\").replace("'", "\\'") + "'@'%'"
        admin_sql(db, f"CREATE USER {quoted} IDENTIFIED BY '{password}'", f"CREATE TABLE {table} (x int)",
                  f"INSERT INTO {table} VALUES (42)", f"GRANT SELECT ON {db.dbname}.{table} TO {quoted}")
    name, _ = alternating_secret(cloud, db, user, password)
    rotate_now(cloud, name)
    current = value(cloud, name)
    assert current["username"] == user + "_rt" and logs_in(db, current["username"], current["password"])
    assert logs_in(db, user, password) and logs_in(db, db.admin_user, db.admin_password)
    if db.engine == "postgresql":
        rows = admin_sql(db, f"SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = '{(user + '_rt').replace(chr(39), chr(39) * 2)}'")
        assert rows == [[False, False]]
    else:
        rows = admin_sql(db, "SELECT COUNT(*) FROM mysql.user WHERE User LIKE 'q%'")
        assert rows[0][0] >= 2


# ---------------------------------------------------------------- steps out of order, bad input


def test_finish_secret_on_its_own_never_promotes_a_value_that_was_not_set(cloud, db):
    name, user, old = single_user_secret(cloud, db, "ooo")
    [created] = invoke(cloud, {"SecretName": name, "Step": "create_secret", "VersionId": "flow-1"}).result["results"]
    assert created["status"] == "step-done"
    [finish] = invoke(cloud, {"SecretName": name, "Step": "finish_secret", "VersionId": "flow-1"}).result["results"]
    assert (finish["status"], finish["step"]) == ("failed", "finish_secret")
    assert holder(cloud, name, "ACSCurrent") == "v1" and logs_in(db, user, old)


@pytest.mark.parametrize("payload", [b"\xff\xfe\x00garbage", b"", b"null", b'{"SecretName": {"$ne": 1}}',
                                     b'{"SecretName": "db/x", "Step": "set_secret", "VersionId": "../../etc"}',
                                     b'{"SecretName": "db/x", "Step": null, "VersionId": "v2"}',
                                     b'{"triggerTime": 5, "triggerName": [], "payload": {}}', b"[" * 5000])
def test_bad_events_are_rejected_recorded_and_not_retried(cloud, payload):
    invocation = invoke(cloud, payload)
    assert invocation.ok and invocation.attempt == 1, invocation.error
    [record] = invocation.result["results"]
    assert record["status"] in ("rejected", "refused"), record
    assert rotation_records(cloud)[-1]["status"] == record["status"]
    assert not cloud.fc.destinations_sent


@pytest.mark.parametrize("payload", [b"\xff", b"{}", b'{"requestContext": 1}', json.dumps({
    "timestamp": 1, "requestContext": {"requestId": "r", "functionArn": "f", "condition": "UnhandledInvocationError",
                                       "approximateInvokeCount": 3},
    "requestPayload": json.dumps({"SecretName": "db/x", "Password": "Leaked-pw-0000"}),
    "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"}}).encode()])
def test_the_failure_destination_records_what_it_cannot_read_and_quotes_no_value(cloud, payload):
    invocation = invoke(cloud, payload, function="secret-rotation-failures")
    assert invocation.ok and invocation.attempt == 1, invocation.error
    for thing in (invocation.result, rotation_records(cloud), alerts(cloud)):
        assert "Leaked-pw" not in json.dumps(thing)
    assert rotation_records(cloud)[-1]["status"] in ("rejected", "failed")


def test_the_in_flight_tag_survives_a_refusal_so_the_timer_keeps_alerting(cloud):
    """A pending rotation that cannot go on stays marked: every timer run says so until someone acts."""
    create_secret(cloud, "api/stuck", "initial-token-000004")
    with pytest.raises(Crash):
        rotate_now(cloud, "api/stuck", stop_after(Step.CREATE))
    pending = holder(cloud, "api/stuck", "ACSPending")
    alice_kms(cloud).put_secret_value(kms.PutSecretValueRequest(secret_name="api/stuck", version_id="moved",
                                                                secret_data='{"engine": "generic", "password": "x-token-1"}'))
    run = cloud.fc.fire_timer("secret-rotation")
    assert run.ok and run.result["sweep"]["due"] == 1 and run.result["results"][0]["status"] in ("refused", "failed")
    body = alice_kms(cloud).describe_secret(kms.DescribeSecretRequest(secret_name="api/stuck", fetch_tags="true")).body
    assert {t.tag_key: t.tag_value for t in body.tags.tag}.get(PENDING_TAG) == pending


# ---------------------------------------------------------------- (a) what objects show, (b) a read that fails


def test_no_object_of_a_rotation_shows_a_password_in_its_repr(cloud, postgres_server):
    from shared.rotation.credentials import parse_secret_value
    from shared.rotation.steps import RotationContext
    from shared.rotation.strategies import build_plan
    from tests.rotation_kit import store_for

    db = postgres_server
    admin = db.admin_value()
    credential = parse_secret_value(json.dumps(db.secret_value("app", "Repr-canary-pw-1", ssl_ca="Repr-canary-ca")))
    token = parse_secret_value(json.dumps({"engine": "generic", "password": "Repr-canary-tok", "note": "Repr-canary-doc"}))
    store = store_for(cloud)
    plan = build_plan(credential, {STRATEGY_TAG: "alternating-users", ADMIN_TAG: "db/a"}, redactor=store.redactor,
                      read_admin=lambda name: json.dumps(admin), timeout_s=5)
    ctx = RotationContext(store, "db/x", "v2", {}, store.redactor, plan=plan)
    for thing in (credential, token, plan, ctx, credential.with_login("app_rt", "Repr-canary-pw-2")):
        assert "Repr-canary" not in repr(thing) and admin["password"] not in repr(thing), repr(thing)


def test_a_failed_read_of_acsprevious_is_not_reported_as_a_password_changed_outside(start_cloud, postgres_server):
    """ACSCurrent no longer logs in and ACSPrevious would: if reading ACSPrevious fails (5xx), the step must say so,
    not that no stored password logs in (which sends an operator to reset passwords by hand)."""
    db = postgres_server
    cloud = start_cloud(rotation_account(), now=NOW)
    name, user, old = single_user_secret(cloud, db, "prev")
    rotate_now(cloud, name)  # ACSPrevious = v1 (old), ACSCurrent = the new one
    set_db_password(db, user, old)  # someone puts the old password back
    cloud.faults.add("kms:GetSecretValue", kind="server_error", remaining=20)
    cloud.account.faults[-1].Params = {"VersionId": "v1"}
    with pytest.raises(RotationError) as caught:
        rotate_now(cloud, name)
    assert caught.value.step == "set_secret" and "GetSecretValue" in caught.value.reason, caught.value.reason
    cloud.faults.clear()
    rotate_now(cloud, name)  # the read works again: ACSPrevious logs in and the rotation finishes
    assert current_logs_in(cloud, db, name) and not logs_in(db, user, old)


def test_an_fc_retry_of_a_rotation_whose_failure_could_not_be_alerted_finishes_it(start_cloud, mariadb_server):
    """finish_secret fails once (5xx on a stage move) and CloudMonitor refuses the alert: the invocation raises so
    FC retries it, and the retry (a whole new run of every step) resumes the same version and finishes it."""
    db = mariadb_server
    cloud = start_cloud(rotation_account(faults=[
        {"Api": "kms:UpdateSecretVersionStage", "Kind": "server_error", "Remaining": 1},
        {"Api": "cms:PutCustomEvent", "Code": "Forbidden.NoPermission", "Remaining": 1}]), now=NOW)
    name, user, old = single_user_secret(cloud, db, "retry")
    invocation = invoke(cloud, {"SecretName": name})
    assert invocation.ok and invocation.attempt >= 2, invocation
    [done] = invocation.result["results"]
    assert done["status"] == "rotated" and done["resumed"], done
    assert current_logs_in(cloud, db, name) and not logs_in(db, user, old)
    assert not any("ACSPending" in s for s in stages(cloud, name).values())


def test_a_grant_replay_that_fails_leaves_no_half_made_alternate_user(cloud, mariadb_server):
    """MariaDB keeps a table grant after the table is dropped; replaying it fails. The alternate user must not stay
    behind without its grants: the next run would reset its password and promote a login that cannot work."""
    db = mariadb_server
    user = unique("half")
    create_user(db, user, "Half-pw-1234567")
    admin_sql(db, f"CREATE TABLE gone_{user} (x int)", f"GRANT SELECT ON {db.dbname}.gone_{user} TO '{user}'@'%'",
              f"DROP TABLE gone_{user}")
    name, _ = alternating_secret(cloud, db, user, "Half-pw-1234567")
    with pytest.raises(StepFailed) as caught:
        rotate_now(cloud, name)
    assert caught.value.step == "set_secret"
    assert admin_sql(db, f"SELECT COUNT(*) FROM mysql.user WHERE User = '{user}_rt'")[0][0] == 0
    assert holder(cloud, name, "ACSCurrent") == "v1" and current_logs_in(cloud, db, name)
    admin_sql(db, f"CREATE TABLE gone_{user} (x int)")
    rotate_now(cloud, name)
    assert value(cloud, name)["username"] == user + "_rt" and current_logs_in(cloud, db, name)
