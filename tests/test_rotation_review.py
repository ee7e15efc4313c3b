"""Regressions from an adversarial review of secret rotation, against REAL PostgreSQL and MariaDB servers and
the local cloud's Secrets Manager: concurrent runs of one secret, alternating users asked to copy an
administrator, a half-done rotation of a secret with no schedule, a pending stage removed after set_secret,
a database credential with a JSON typo, and a rotation event that is not JSON."""
from __future__ import annotations

import json
import threading

import pytest

from shared.rotation.credentials import parse_secret_value
from shared.rotation.driver import RotationHooks, rotate
from shared.rotation.errors import RotationError, RotationRefused
from shared.rotation.protocol import (NEXT_VERSION_PREFIX, PENDING_TAG, RotationEventRejected, Step, next_version_id,
                                      parse_request)
from shared.rotation.service import _content
from tests.conftest import alice_kms
from tests.rotation_kit import cloud, db, mariadb_server, postgres_server  # noqa: F401 (fixtures)
from tests.rotation_kit import (single_user_secret, stop_after, ADMIN_TAG, STRATEGY_TAG, Crash, admin_sql, alerts, create_secret, create_user,
                                every_value, holder, invoke, logs_in, rotate_now, rotation_records, stages,
                                store_for, unique, value)
from alibabacloud_kms20160120 import models as kms


def assert_converged(cloud, db, name):
    versions = stages(cloud, name)
    assert not any("ACSPending" in s for s in versions.values()), versions
    current = value(cloud, name)
    assert logs_in(db, current["username"], current["password"])
    return current


def tags_of(cloud, name) -> dict:
    body = alice_kms(cloud).describe_secret(kms.DescribeSecretRequest(secret_name=name, fetch_tags="true")).body
    return {t.tag_key: t.tag_value for t in ((body.tags.tag if body.tags else None) or [])}


# ---------------------------------------------------------------- 1. concurrent runs of one secret


@pytest.mark.parametrize("current_id, expected", [
    ("v1", "kms-steward-after-v1"),
    ("kms-steward-after-v1", "kms-steward-after-kms-steward-after-v1"),
])
def test_the_next_version_id_is_derived_from_the_current_one(current_id, expected):
    assert next_version_id(current_id) == next_version_id(current_id) == expected
    assert next_version_id(current_id, 2) == expected + "-2"


def test_a_derived_version_id_fits_versionid_limits():
    long_id = "x" * 64
    derived = {next_version_id(long_id, n) for n in (1, 2, 10)}
    assert len(derived) == 3
    assert all(len(v) <= 64 and v.startswith(NEXT_VERSION_PREFIX) for v in derived)
    assert next_version_id("a b/with spaces") != next_version_id("a b/with spaces ")  # outside the id set: hashed


def test_two_concurrent_rotations_of_one_secret_leave_it_working(cloud, postgres_server):
    """The timer and an on-demand call both find no pending version; B's PutSecretValue comes after A changed the
    password. B must be refused (same derived version id, another value) and A must finish."""
    db = postgres_server
    name, user, _ = single_user_secret(cloud, db, "race")
    store_a, store_b = store_for(cloud), store_for(cloud)
    b_read, a_set, b_put = threading.Event(), threading.Event(), threading.Event()
    put_a, put_b, versions_b = store_a.put_pending, store_b.put_pending, store_b.versions

    def slow_put_a(*args, **kwargs):
        b_read.wait(10)
        return put_a(*args, **kwargs)

    def watched_versions_b(name_, step, **kwargs):
        out = versions_b(name_, step, **kwargs)
        if step == "create_secret":
            b_read.set()
        return out

    def late_put_b(*args, **kwargs):
        a_set.wait(10)
        try:
            return put_b(*args, **kwargs)
        finally:
            b_put.set()

    store_a.put_pending, store_b.put_pending, store_b.versions = slow_put_a, late_put_b, watched_versions_b

    def after_a(step, version_id):
        if step == Step.SET:
            a_set.set()
            b_put.wait(10)

    results: dict = {}

    def run(label, store, hooks=None):
        try:
            results[label] = rotate(store, name, hooks=hooks)
        except RotationError as exc:
            results[label] = exc

    thread_b = threading.Thread(target=run, args=("B", store_b))
    thread_b.start()
    run("A", store_a, RotationHooks(after_step=after_a))
    thread_b.join(30)
    assert not isinstance(results["A"], Exception), results["A"]
    assert isinstance(results["B"], RotationRefused) and results["B"].step == "create_secret"
    assert "stored by another rotation run first" in results["B"].reason
    assert results["A"].version_id == "kms-steward-after-v1"
    current = assert_converged(cloud, db, name)
    assert holder(cloud, name, "ACSCurrent") == "kms-steward-after-v1"
    assert PENDING_TAG not in tags_of(cloud, name)
    # The next run rotates as usual.
    rotate_now(cloud, name)
    assert not logs_in(db, user, current["password"])
    assert_converged(cloud, db, name)


def test_a_run_that_finds_the_other_runs_version_pending_resumes_it(cloud):
    create_secret(cloud, "api/token", "initial-token-000001")
    with pytest.raises(Crash):
        rotate_now(cloud, "api/token", stop_after(Step.CREATE))
    outcome = rotate_now(cloud, "api/token")
    assert outcome.resumed and outcome.version_id == "kms-steward-after-v1"
    assert holder(cloud, "api/token", "ACSCurrent") == "kms-steward-after-v1"


def test_a_version_that_took_the_pending_stage_is_not_touched_by_the_run_that_lost_it(cloud, postgres_server):
    """Right after storing, create_secret reads the stages back: a run whose version lost the pending stage (to a
    value another writer stored under another id) stops before touching the database."""
    db = postgres_server
    name, user, password = single_user_secret(cloud, db, "steal")
    store = store_for(cloud)
    put = store.put_pending

    def put_then_overtaken(secret, version_id, data, step):
        put(secret, version_id, data, step)
        alice_kms(cloud).put_secret_value(kms.PutSecretValueRequest(
            secret_name=secret, version_id="other-writer", secret_data=data.replace("postgresql", "postgres"),
            version_stages=json.dumps(["ACSPending"])))

    store.put_pending = put_then_overtaken
    with pytest.raises(RotationRefused, match="lost ACSPending right after it was stored"):
        rotate(store, name)
    assert logs_in(db, user, password)  # the database was not touched


# ---------------------------------------------------------------- 4. the pending stage removed after set_secret


def test_removing_the_pending_stage_after_set_secret_is_recovered_by_the_next_run(cloud, db):
    name, user, password = single_user_secret(cloud, db, "rm")
    with pytest.raises(Crash):
        rotate_now(cloud, name, stop_after(Step.SET))
    abandoned = holder(cloud, name, "ACSPending")
    assert not logs_in(db, user, password)  # the database already takes only the pending value
    alice_kms(cloud).update_secret_version_stage(kms.UpdateSecretVersionStageRequest(
        secret_name=name, version_stage="ACSPending", remove_from_version=abandoned))
    outcome = rotate_now(cloud, name)
    assert outcome.version_id not in (abandoned, "v1")  # an abandoned id is never given a new value
    set_note = next(s["result"] for s in outcome.steps if s["step"] == "set_secret")
    assert f"logged in with version {abandoned} (no stage)" in set_note
    assert_converged(cloud, db, name)


def test_with_no_stored_password_logging_in_set_secret_still_fails_loudly(cloud, postgres_server):
    db = postgres_server
    name, user, _ = single_user_secret(cloud, db, "lost")
    admin_sql(db, f"ALTER ROLE {user} PASSWORD 'Changed-elsewhere-99'")
    with pytest.raises(RotationError, match="no stored password") as caught:
        rotate_now(cloud, name)
    assert caught.value.step == "set_secret" and holder(cloud, name, "ACSCurrent") == "v1"


# ---------------------------------------------------------------- 2. alternating users and administrators


def alternating(cloud, db, username, password):
    admin_name = "db/admin-" + unique("a")
    create_secret(cloud, admin_name, db.admin_value())
    name = "db/" + unique("alt")
    create_secret(cloud, name, db.secret_value(username, password),
                  tags={STRATEGY_TAG: "alternating-users", ADMIN_TAG: admin_name})
    return name


def user_exists(db, username) -> bool:
    if db.engine == "postgresql":
        return bool(admin_sql(db, f"SELECT 1 FROM pg_roles WHERE rolname = '{username}'"))
    return bool(admin_sql(db, f"SELECT 1 FROM mysql.user WHERE User = '{username}'"))


def test_alternating_users_refuses_to_copy_the_administrator(cloud, db):
    """Whoever can write the secret names the administrator as its user (with any password): no `<admin>_rt`."""
    name = alternating(cloud, db, db.admin_user, "not-the-admin-password")
    invocation = invoke(cloud, {"SecretName": name})
    [record] = invocation.result["results"]
    assert invocation.ok and invocation.attempt == 1
    assert record["status"] == "refused" and record["step"] == "create_secret"
    assert "is the administrator" in record["reason"] and "not-the-admin-password" not in json.dumps(record)
    assert [a["secretName"] for a in alerts(cloud) if a["Name"] == "SecretRotationFailed"] == [name]
    assert not user_exists(db, db.admin_user + "_rt")
    assert list(stages(cloud, name)) == ["v1"]  # nothing stored: no pending version to fail every run


def make_privileged(db, user, password):
    if db.engine == "postgresql":
        admin_sql(db, f"CREATE ROLE {user} LOGIN SUPERUSER PASSWORD '{password}'")
    else:
        admin_sql(db, f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'",
                  f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION")


def test_alternating_users_refuses_a_privileged_user(cloud, db):
    user, password = unique("sup"), "Priv-pw-123456"
    make_privileged(db, user, password)
    name = alternating(cloud, db, user, password)
    with pytest.raises(RotationRefused, match="is privileged") as caught:
        rotate_now(cloud, name)
    assert caught.value.step == "create_secret" and password not in caught.value.reason
    assert not user_exists(db, user + "_rt")


def test_alternating_users_refuses_a_member_of_a_superuser_role(cloud, postgres_server):
    db = postgres_server
    boss, user, password = unique("boss"), unique("member"), "Member-pw-12345"
    admin_sql(db, f"CREATE ROLE {boss} NOLOGIN SUPERUSER", f"CREATE ROLE {user} LOGIN PASSWORD '{password}' IN ROLE {boss}")
    name = alternating(cloud, db, user, password)
    with pytest.raises(RotationRefused, match=f"SUPERUSER through role '{boss}'"):
        rotate_now(cloud, name)
    assert not user_exists(db, user + "_rt")


def test_alternating_users_refuses_to_clone_from_a_value_that_does_not_log_in(cloud, db):
    user = unique("nolog")
    create_user(db, user, "Real-pw-1234567")
    name = alternating(cloud, db, user, "Wrong-pw-7654321")
    with pytest.raises(RotationRefused, match="the current value does not log in"):
        rotate_now(cloud, name)
    assert not user_exists(db, user + "_rt") and list(stages(cloud, name)) == ["v1"]


def test_set_secret_refuses_a_privileged_pair_even_when_run_on_its_own(cloud, db):
    """A pending version stored some other way (an operator, an older release) is checked again by set_secret."""
    user, password = unique("sup"), "Priv-pw-654321"
    make_privileged(db, user, password)
    name = alternating(cloud, db, user, password)
    alice_kms(cloud).put_secret_value(kms.PutSecretValueRequest(
        secret_name=name, version_id="manual", secret_data=json.dumps(db.secret_value(user + "_rt", "Pending-pw-123456")),
        version_stages=json.dumps(["ACSPending"])))
    result = invoke(cloud, {"SecretName": name, "Step": "set_secret", "VersionId": "manual"}).result["results"][0]
    assert result["status"] == "refused" and "is privileged" in result["reason"]
    assert not user_exists(db, user + "_rt")


# ---------------------------------------------------------------- 3. half-done rotations without the interval tag


def test_a_half_done_rotation_of_a_secret_without_the_interval_tag_is_resumed_by_the_timer(cloud, postgres_server):
    db = postgres_server
    name, user, password = single_user_secret(cloud, db, "untagged")
    with pytest.raises(Crash):
        rotate_now(cloud, name, stop_after(Step.SET))
    assert tags_of(cloud, name)[PENDING_TAG] == holder(cloud, name, "ACSPending")
    run = cloud.fc.fire_timer("secret-rotation")
    assert run.ok, run.error
    sweep = run.result["sweep"]
    assert (sweep["due"], sweep["rotated"]) == (1, 1)
    assert assert_converged(cloud, db, name)["password"] != password
    assert PENDING_TAG not in tags_of(cloud, name)
    # Finished: the next timer run leaves the secret (no interval tag) alone.
    again = cloud.fc.fire_timer("secret-rotation").result
    assert again["results"] == [] and again["sweep"]["due"] == 0


def test_a_secret_tagged_in_flight_with_nothing_pending_is_not_rotated_by_the_timer(cloud):
    create_secret(cloud, "api/stale", "initial-token-000002", tags={PENDING_TAG: "gone"})
    run = cloud.fc.fire_timer("secret-rotation").result
    assert run["results"] == [] and run["sweep"]["tagged"] == 1 and run["sweep"]["due"] == 0
    assert holder(cloud, "api/stale", "ACSCurrent") == "v1"


def test_the_failure_alert_does_not_promise_that_acscurrent_works():
    content = _content({"status": "failed", "secretName": "db/app", "step": "test_secret", "versionId": "kms-steward-after-v1",
                        "reason": "x"}, "CRITICAL")
    text = json.dumps(content)
    assert "unchanged" not in text
    assert "may already accept only the pending value" in content["database"]
    assert "resumes the pending version" in content["next"]


# ---------------------------------------------------------------- 5. a database credential with a JSON typo


@pytest.mark.parametrize("text", ['{"engine": "postgresql", "host": "h", "password": "Sekret-pw-1234",}',
                                  '  {"engine": "mysql"', '[1, 2', '{'])
def test_a_value_that_starts_like_json_but_does_not_parse_is_refused(text):
    with pytest.raises(RotationRefused, match="starts like JSON but does not parse") as caught:
        parse_secret_value(text)
    assert "Sekret" not in caught.value.reason and "engine" not in caught.value.reason


def test_a_broken_json_credential_is_not_rotated_as_a_token(cloud, postgres_server):
    db = postgres_server
    user, password = unique("bj"), "Original-pw-1234"
    create_user(db, user, password)
    name = f"db/{user}"
    text = json.dumps(db.secret_value(user, password))[:-1] + ",}"
    create_secret(cloud, name, text)
    record = invoke(cloud, {"SecretName": name}).result["results"][0]
    assert record["status"] == "refused" and "starts like JSON" in record["reason"]
    assert password not in json.dumps(record) and password not in json.dumps(alerts(cloud))
    assert list(stages(cloud, name)) == ["v1"] and every_value(cloud, name) == [text]


# ---------------------------------------------------------------- 6. a rotation event that is not JSON


def test_a_non_json_rotation_event_is_rejected_without_quoting_it(cloud):
    pasted = "Zq8xW3kP9mT2vR7nHs4L"
    with pytest.raises(RotationEventRejected, match="not valid JSON") as caught:
        parse_request(pasted.encode())
    assert not any(pasted[i:i + 3] in str(caught.value) for i in range(len(pasted) - 2))
    with pytest.raises(RotationEventRejected) as caught:
        parse_request('{"SecretName": "' + pasted + '"')
    assert "Zq8x" not in str(caught.value) and "Hs4L" not in str(caught.value)
    record = invoke(cloud, pasted).result["results"][0]
    assert record["status"] == "rejected" and "not valid JSON" in record["reason"]
    for thing in [record] + rotation_records(cloud) + alerts(cloud):
        assert "Zq8x" not in json.dumps(thing) and "Hs4L" not in json.dumps(thing)
