"""The warm audit (shared/audit/facts.py): what cannot change is remembered in the state bucket, only what is new is
described, and the answer is always the cold audit's. Everything runs on the local cloud with the official SDKs;
the call counts are the local cloud's."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_kms20160120 import models as kms

from shared.audit.facts import MAX_AGE, PREFIX, Fact, FactsPlace, FactStore
from shared.audit.runner import run_audit
from shared.audit.scanners import SCANNERS
from shared.audit.scanners.kms_secrets import FACTS_PRODUCT, KmsSecretsScanner
from shared.sweeps.inventory import build_inventory
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms
from tests.support.guard import decision_records, schedule_deletion
from tests.support.resources import disk, secret
from tests.support.scanners import clients, target

STATE_BUCKET = "kms-steward-state"  # in tests.support.accounts.BASE_ACCOUNT
PLACE = FactsPlace(STATE_BUCKET, REGION)
LONG_AGO = "2026-01-01T00:00:00Z"
FACTS_KEY = f"{PREFIX}{ACCOUNT_ID}/{REGION}/{FACTS_PRODUCT}.json"
SECRETS_ONLY = (KmsSecretsScanner(),)


def aged(name: str, key: str | None = KEY, **extra) -> dict:
    """A secret created long before any audit (ListSecrets and DescribeSecret give its CreateTime)."""
    return secret(name, key, CreateTime=LONG_AGO, **extra)


def region_secrets() -> list[dict]:
    """30 secrets: 4 on the key (one of them pending deletion, one naming it by alias), the rest on another key or on
    the service's own key."""
    on_key = [aged("app/db"), aged("app/api-token"), aged("old/report", PlannedDeleteTime="2099-01-01T00:00:00Z"),
              aged("app/by-alias", "alias/payments")]
    others = [aged(f"team/other-{i:02d}", OTHER_KEY if i % 3 else None) for i in range(26)]
    return on_key + others


def warm_target():
    return replace(target(), aliases=("alias/payments",), facts=PLACE)


def dependents(report) -> list[dict]:
    return sorted((d.model_dump() for d in report.dependents), key=lambda d: (d["service"], d["resource_id"]))


def audit(cloud, tgt, scanners=SECRETS_ONLY):
    """(report, DescribeSecret calls it made)."""
    cloud.calls.reset()
    report = run_audit(tgt, clients(cloud), scanners=scanners)
    return report, cloud.calls.get("kms:DescribeSecret")


def cold_target():
    return replace(target(), aliases=("alias/payments",))


def stored(cloud) -> dict:
    return json.loads(clients(cloud).oss_bucket(STATE_BUCKET, REGION).get_object(FACTS_KEY).read())


def put_store(cloud, data: bytes | str) -> None:
    clients(cloud).oss_bucket(STATE_BUCKET, REGION).put_object(FACTS_KEY, data)


def fill_store(cloud) -> None:
    report, described = audit(cloud, warm_target())
    assert report.complete and len(stored(cloud)["facts"]) == described


# ---------------------------------------------------------------- same answer, fewer describes


def test_the_warm_audit_reports_exactly_the_cold_audits_dependents_with_far_fewer_describes(start_cloud):
    cloud = start_cloud(make_account(disks=[disk("d-app1")], kms={"secrets": region_secrets()}))
    cold, cold_described = audit(cloud, cold_target(), scanners=SCANNERS)
    first, first_described = audit(cloud, warm_target(), scanners=SCANNERS)  # empty store: cold, fills it
    warm, warm_described = audit(cloud, warm_target(), scanners=SCANNERS)

    assert cold.complete and first.complete and warm.complete
    assert dependents(warm) == dependents(first) == dependents(cold)
    assert {d.resource_id for d in warm.dependents if d.service == "Secrets Manager"} == {
        "app/db", "app/api-token", "old/report", "app/by-alias"}
    assert cold_described == first_described == 30
    # Only the secrets remembered on the audited key are described again (their state may have changed).
    assert warm_described == 4
    assert cloud.calls.get("kms:ListSecrets") == 1  # the listing always runs


def test_a_known_secret_on_the_key_is_described_fresh_so_its_state_is_todays(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    fill_store(cloud)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name="app/db", recovery_window_in_days=7))

    warm, _ = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert dependents(warm) == dependents(cold)
    [db] = [d for d in warm.dependents if d.resource_id == "app/db"]
    assert db.state == "inert" and "scheduled for deletion" in db.usage


def test_only_new_secrets_are_described(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    fill_store(cloud)
    api = alice_kms(cloud)
    for i, key in enumerate((KEY, OTHER_KEY, OTHER_KEY)):
        api.create_secret(kms.CreateSecretRequest(secret_name=f"new/secret-{i}", version_id="v1", secret_data="not printed",
                                                  encryption_key_id=key))

    warm, described = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert dependents(warm) == dependents(cold)
    assert "new/secret-0" in {d.resource_id for d in warm.dependents}
    assert described == 4 + 3  # those on the key, and the three new ones
    # Created moments ago: not remembered yet (a name re-created within the same second would look the same).
    assert not any(name.startswith("new/") for name in stored(cloud)["facts"])


# ---------------------------------------------------------------- identity: name AND creation time


@pytest.mark.parametrize("old_key,new_key", [(OTHER_KEY, KEY), (KEY, OTHER_KEY)])
def test_a_secret_deleted_and_recreated_under_its_name_with_another_key_is_not_confused(start_cloud, old_key, new_key):
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db", old_key), *region_secrets()[4:]]}))
    fill_store(cloud)
    assert stored(cloud)["facts"]["app/db"][1] == old_key
    api = alice_kms(cloud)
    api.delete_secret(kms.DeleteSecretRequest(secret_name="app/db", force_delete_without_recovery="true"))
    api.create_secret(kms.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="not printed",
                                              encryption_key_id=new_key))

    warm, _ = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert dependents(warm) == dependents(cold)
    assert ("app/db" in {d.resource_id for d in warm.dependents}) == (new_key == KEY)
    assert "app/db" not in stored(cloud)["facts"]  # the old incarnation's fact is dropped, the new one too young


def test_a_remembered_secret_on_the_key_that_no_longer_exists_is_not_reported(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    fill_store(cloud)
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name="app/api-token", force_delete_without_recovery="true"))

    warm, _ = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert warm.complete and dependents(warm) == dependents(cold)
    assert "app/api-token" not in {d.resource_id for d in warm.dependents}
    assert "app/api-token" not in stored(cloud)["facts"]


# ---------------------------------------------------------------- a store that cannot be trusted: cold, and correct


def _stale_store() -> str:
    old = int(time.time() - MAX_AGE.total_seconds() - 3600)
    return json.dumps({"schema": "kms-steward/audit-facts", "version": 1, "account": ACCOUNT_ID, "region": REGION,
                       "product": FACTS_PRODUCT, "written": old,
                       "facts": {s["SecretName"]: [LONG_AGO, OTHER_KEY, old] for s in region_secrets()}})


def _lying_young_facts() -> str:
    """Facts saying every secret is on another key, but learned within seconds of its creation: not trusted."""
    now = int(time.time())
    return json.dumps({"schema": "kms-steward/audit-facts", "version": 1, "account": ACCOUNT_ID, "region": REGION,
                       "product": FACTS_PRODUCT, "written": now,
                       "facts": {s["SecretName"]: [LONG_AGO, OTHER_KEY, int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())]
                                 for s in region_secrets()}})


def _foreign_account() -> str:
    now = int(time.time())
    return json.dumps({"schema": "kms-steward/audit-facts", "version": 1, "account": "9999999999999999", "region": REGION,
                       "product": FACTS_PRODUCT, "written": now,
                       "facts": {s["SecretName"]: [LONG_AGO, OTHER_KEY, now] for s in region_secrets()}})


@pytest.mark.parametrize("content", [
    pytest.param(None, id="missing"),
    pytest.param("{\"schema\": \"kms-steward/audit-facts\", \"facts\": {tru", id="corrupt"),
    pytest.param('{"schema": "something-else", "version": 1}', id="wrong-schema"),
    pytest.param('{"schema": "kms-steward/audit-facts", "version": 1, "account": "1234567890123456", "region": "cn-hangzhou", '
                 '"product": "kms_secrets", "written": 9999999999, "facts": {"app/db": "other-key"}}', id="malformed-fact"),
    pytest.param(_stale_store(), id="stale"),
    pytest.param(_lying_young_facts(), id="unsettled-facts"),
    pytest.param(_foreign_account(), id="another-account"),
])
def test_a_store_that_cannot_be_trusted_makes_the_audit_cold_and_correct(start_cloud, content):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    if content is not None:
        put_store(cloud, content)

    warm, described = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert warm.complete and dependents(warm) == dependents(cold) and len(warm.dependents) == 4
    assert described == 30
    assert stored(cloud)["schema"] == "kms-steward/audit-facts"  # rewritten from what this run learned


def test_an_unreadable_and_unwritable_store_is_never_fatal(start_cloud, caplog):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    fill_store(cloud)
    cloud.faults.add("oss:GetObject", kind="denied")
    cloud.faults.add("oss:PutObject", kind="denied")
    alice_kms(cloud).create_secret(kms.CreateSecretRequest(secret_name="new/one", version_id="v1", secret_data="x",
                                                           encryption_key_id=KEY))

    with caplog.at_level(logging.WARNING, logger="shared.audit.facts"):
        warm, described = audit(cloud, warm_target())
    assert warm.complete and len(warm.dependents) == 5 and described == 31  # read denied: cold
    assert any("not used" in r.getMessage() for r in caplog.records)


def test_a_write_failure_is_logged_and_the_audit_stands(start_cloud, caplog):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    cloud.faults.add("oss:PutObject", kind="denied")
    with caplog.at_level(logging.WARNING, logger="shared.audit.facts"):
        warm, described = audit(cloud, warm_target())
    assert warm.complete and len(warm.dependents) == 4 and described == 30
    assert any("not written" in r.getMessage() for r in caplog.records)


def test_the_store_never_makes_an_incomplete_audit_complete(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    fill_store(cloud)
    cloud.faults.add("kms:ListSecrets", kind="denied")
    warm, _ = audit(cloud, warm_target())
    assert not warm.complete and warm.incomplete[0].scanner == "kms_secrets" and warm.may_have_dependents


def test_the_store_is_bounded_and_merges_concurrent_writers(start_cloud):
    cloud = start_cloud(make_account())
    api = clients(cloud)
    now = time.time()
    one = FactStore(api, PLACE, ACCOUNT_ID, REGION, FACTS_PRODUCT)
    one.save({"a": Fact(LONG_AGO, KEY, int(now))})
    FactStore(api, PLACE, ACCOUNT_ID, REGION, FACTS_PRODUCT).save({"b": Fact(LONG_AGO, "", int(now))})
    assert set(one.load()) == {"a", "b"}  # the second writer kept the first one's fact
    later = (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    one.save({"a": Fact(later, OTHER_KEY, int(now) - 5)})  # a later incarnation wins the name, whoever learned it first
    assert one.load()["a"].value == OTHER_KEY


# ---------------------------------------------------------------- who fills the store


def test_the_sweeps_inventory_fills_the_store_the_audit_then_reuses(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    inventory = build_inventory(clients(cloud), REGION, account_id=ACCOUNT_ID, facts=PLACE)
    assert inventory.complete and len(stored(cloud)["facts"]) == 30

    warm, described = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert dependents(warm) == dependents(cold) and described == 4


def test_key_guard_remembers_between_two_deletions(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))  # s.yaml: STATE_BUCKET=kms-steward-state
    schedule_deletion(cloud)
    cloud.calls.reset()
    schedule_deletion(cloud)

    first, second = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert first["decision"] == second["decision"] == "block" and first["auditComplete"] and second["auditComplete"]
    assert second["dependentCount"] == first["dependentCount"] and second["dependents"] == first["dependents"]
    assert first["apiCalls"]["kms:DescribeSecret"] == 30
    assert second["apiCalls"]["kms:DescribeSecret"] == 4  # only the secrets remembered on the key (one by its alias)


def test_the_deletion_protection_sweep_fills_the_store_from_state_bucket(start_cloud, monkeypatch):
    from shared.sweeps.checks.deletion_protection import CHECK
    from tests.support.sweeps import run

    monkeypatch.setenv("STATE_BUCKET", STATE_BUCKET)
    monkeypatch.setenv("FC_REGION", REGION)
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    result = run(cloud, CHECK, now=LONG_AGO, home_account=ACCOUNT_ID)  # the function's own account
    assert result.complete
    facts = stored(cloud)["facts"]
    assert len(facts) == 30 and facts["app/db"] == [LONG_AGO, KEY, facts["app/db"][2]]

    warm, described = audit(cloud, warm_target())
    assert described == 4 and len(warm.dependents) == 4


def test_without_a_state_bucket_the_sweep_writes_nothing(start_cloud, monkeypatch):
    from shared.sweeps.checks.deletion_protection import CHECK
    from tests.support.sweeps import run

    monkeypatch.delenv("STATE_BUCKET", raising=False)
    cloud = start_cloud(make_account(kms={"secrets": region_secrets()}))
    assert run(cloud, CHECK, now=LONG_AGO, home_account=ACCOUNT_ID).complete
    assert cloud.calls.get("oss:PutObject") == 0 and cloud.calls.get("oss:GetObject") == 0
