"""Adversarial tests of the warm audit (shared/audit/facts.py, shared/audit/scanners/kms_secrets.py): ways a remembered
fact could make a secret on the audited key look like it is on another key, and ways the store could break what the
pre-flight promises. The local cloud with the official SDKs throughout; where a test changes the local cloud's records
directly, it is to model what the service does without a public API (as tests/test_cancel_deletion_key_gone.py does)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_kms20160120 import models as kms

from localcloud.products.kms_state import KmsSecret
from shared.audit.facts import Fact, FactStore, settled
from shared.audit.scanners.kms_secrets import FACTS_PRODUCT
from shared.clients import Clients, Credentials
from shared.preflight import build_preflight
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms
from tests.support.resources import secret
from tests.support.scanners import clients
from tests.test_audit_facts import (FACTS_KEY, LONG_AGO, PLACE, STATE_BUCKET, aged, audit, cold_target, dependents,
                                    put_store, stored, warm_target)

def others(n: int = 5) -> list[dict]:
    return [aged(f"team/other-{i:02d}", OTHER_KEY) for i in range(n)]


def recreate_in_place(cloud, name: str, key: str, create_time: str) -> None:
    """The secret `name` deleted and created again with `key`, the new one's CreateTime spelled `create_time` (the
    service's spelling of a moment that cannot tell the two apart): done to the local cloud's records, as no API
    lets a caller choose a CreateTime."""
    with cloud.account.lock:
        cloud.account.kms.secrets = [s for s in cloud.account.kms.secrets if s.SecretName != name]
        cloud.account.kms.secrets.append(KmsSecret(**secret(name, key, CreateTime=create_time)))


# ---------------------------------------------------------------- identity: a CreateTime coarser than a second


@pytest.mark.parametrize("coarse", [pytest.param("2026-01-01T00:00", id="minutes"),
                                    pytest.param("2026-01-01", id="day"),
                                    pytest.param("2026-01-01T00", id="hour")])
def test_a_create_time_coarser_than_a_second_never_identifies_a_secret(start_cloud, coarse):
    """The SETTLE argument (a name re-created within the second of its creation) holds only for times to the second:
    a CreateTime spelled to the minute or the day is the same for every incarnation created within it, so a fact
    about one would rule out the next, on the audited key, created later that minute or day."""
    cloud = start_cloud(make_account(kms={"secrets": [secret("app/db", OTHER_KEY, CreateTime=coarse), *others()]}))
    audit(cloud, warm_target())  # fills the store with whatever it may keep
    recreate_in_place(cloud, "app/db", KEY, coarse)

    warm, _ = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert "app/db" in {d.resource_id for d in cold.dependents}
    assert dependents(warm) == dependents(cold)
    assert "app/db" not in stored(cloud)["facts"]


@pytest.mark.parametrize("created,ok", [
    ("2026-01-01T00:00:00Z", True), ("2026-01-01T08:00:00+08:00", True), ("2025-12-31T16:00:00-08:00", True),
    ("2026-01-01T00:00:00.123Z", True), ("2026-01-01 00:00:00Z", True),
    ("2026-01-01T00:00:00", False), ("2026-01-01 00:00:00", False),  # no zone: UTC or the region's time?
    ("2026-01-01T00:00Z", False), ("2026-01-01", False), ("2026-01-01T00", False), ("", False), (None, False),
    ("1767225600", False), ("not a time", False),
])
def test_only_a_creation_time_to_the_second_is_settled(created, ok):
    assert settled(created, time.time()) is ok


def test_a_stored_fact_with_a_coarse_creation_time_makes_the_store_untrusted(start_cloud):
    """Written by an older version, or by hand: never read as a fact."""
    now = int(time.time())
    cloud = start_cloud(make_account(kms={"secrets": [secret("app/db", KEY, CreateTime="2026-01-01"), *others()]}))
    put_store(cloud, json.dumps({"schema": "kms-steward/audit-facts", "version": 1, "account": ACCOUNT_ID, "region": REGION,
                                "product": FACTS_PRODUCT, "written": now, "facts": {"app/db": ["2026-01-01", OTHER_KEY, now]}}))
    warm, described = audit(cloud, warm_target())
    assert "app/db" in {d.resource_id for d in warm.dependents} and described == 6


# ---------------------------------------------------------------- identity: clocks


@pytest.mark.xfail(strict=True, reason="SETTLE is judged by the function's clock against the service's CreateTime, so a skew "
                   "past 10 minutes defeats it; a fix needs the service's time (e.g. the HTTP Date header of the ListSecrets "
                   "answer, which the local cloud sends from the wall clock, not its own) or a second look at each fact "
                   "before it is trusted: not small")
def test_a_name_recreated_within_its_second_is_not_confused_even_with_the_local_clock_ahead(start_cloud):
    """SETTLE (10 minutes) is judged by the function's clock against the service's CreateTime: with the function's
    clock an hour ahead of the service's, a secret described within the second of its creation is remembered, and the
    same name created again within that second on the audited key is then ruled out."""
    service_now = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
    cloud = start_cloud(make_account(kms={"secrets": others()}), now=service_now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    api = alice_kms(cloud)  # the service's clock stands still: every call below is within one of its seconds
    api.create_secret(kms.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="not printed",
                                              encryption_key_id=OTHER_KEY))
    audit(cloud, warm_target())
    api.delete_secret(kms.DeleteSecretRequest(secret_name="app/db", force_delete_without_recovery="true"))
    api.create_secret(kms.CreateSecretRequest(secret_name="app/db", version_id="v1", secret_data="not printed",
                                              encryption_key_id=KEY))

    warm, _ = audit(cloud, warm_target())
    cold, _ = audit(cloud, cold_target())
    assert "app/db" in {d.resource_id for d in cold.dependents}
    assert dependents(warm) == dependents(cold)


# ---------------------------------------------------------------- how the key is named


@pytest.mark.parametrize("named", [
    pytest.param(f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", id="arn"),
    pytest.param("alias/payments", id="alias"),
    pytest.param(f"acs:kms:{REGION}:{ACCOUNT_ID}:alias/payments", id="alias-arn"),
    pytest.param(f"key/{KEY}", id="key-path"),
])
def test_a_secret_remembered_with_its_key_named_otherwise_is_still_described_and_reported(start_cloud, named):
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db", named), *others()]}))
    audit(cloud, warm_target())
    assert stored(cloud)["facts"]["app/db"][1] == named

    warm, described = audit(cloud, warm_target())
    assert "app/db" in {d.resource_id for d in warm.dependents} and described == 1


def test_a_secret_whose_listing_has_no_create_time_is_always_described(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": [secret("app/db", KEY), *others()]}))
    audit(cloud, warm_target())
    assert "app/db" not in stored(cloud)["facts"]
    warm, described = audit(cloud, warm_target())
    assert "app/db" in {d.resource_id for d in warm.dependents} and described == 1


# ---------------------------------------------------------------- a store that cannot be trusted


def _doc(facts, **over) -> str:
    now = int(time.time())
    return json.dumps({"schema": "kms-steward/audit-facts", "version": 1, "account": ACCOUNT_ID, "region": REGION,
                       "product": FACTS_PRODUCT, "written": now, "facts": facts, **over})


@pytest.mark.parametrize("content", [
    pytest.param("[]", id="a-list"),
    pytest.param(_doc([]), id="facts-a-list"),
    pytest.param(_doc({"app/db": [LONG_AGO, OTHER_KEY, float("nan")]}), id="nan-learned"),
    pytest.param(_doc({"app/db": [LONG_AGO, OTHER_KEY, True]}), id="bool-learned"),
    pytest.param(_doc({"app/db": [LONG_AGO, OTHER_KEY, 1.5e9]}), id="float-learned"),
    pytest.param(_doc({"app/db": [LONG_AGO, OTHER_KEY, int(time.time())]}).replace(
        str(int(time.time())) + "]", "9" * 5000 + "]"), id="huge-int"),
    pytest.param(_doc({"app/db": [LONG_AGO, None, int(time.time())]}), id="null-key"),
    pytest.param(_doc({"app/db": [LONG_AGO, [OTHER_KEY], int(time.time())]}), id="list-key"),
    pytest.param(_doc({"app/db": {"created": LONG_AGO}}), id="dict-fact"),
    pytest.param(_doc({}, written=True), id="bool-written"),
    pytest.param("[" * 200_000 + "]" * 200_000, id="deeply-nested"),
    pytest.param(_doc({"app/db\u0000": [LONG_AGO, OTHER_KEY, int(time.time())], "app/db": None}), id="nul-and-null"),
])
def test_an_oddly_typed_store_makes_the_audit_cold_and_correct(start_cloud, content):
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db"), *others()]}))
    put_store(cloud, content)
    warm, described = audit(cloud, warm_target())
    assert warm.complete and "app/db" in {d.resource_id for d in warm.dependents} and described == 6


def test_a_fact_dated_in_the_future_is_not_used_and_a_write_replaces_it(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db"), *others()]}))
    put_store(cloud, _doc({"app/db": [LONG_AGO, OTHER_KEY, 10 ** 12]}))
    warm, described = audit(cloud, warm_target())
    assert "app/db" in {d.resource_id for d in warm.dependents} and described == 6


def test_facts_learned_in_one_region_are_not_read_for_another(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db"), *others()]}))
    api = clients(cloud)
    elsewhere = FactStore(api, PLACE, ACCOUNT_ID, "cn-shanghai", FACTS_PRODUCT)
    elsewhere.save({"app/db": Fact(LONG_AGO, OTHER_KEY, int(time.time()))})
    # The other region's object copied over this region's: its own header says where it belongs.
    body = api.oss_bucket(STATE_BUCKET, REGION).get_object(elsewhere.key).read()
    put_store(cloud, body)
    warm, described = audit(cloud, warm_target())
    assert "app/db" in {d.resource_id for d in warm.dependents} and described == 6


# ---------------------------------------------------------------- the pre-flight's promise


def test_the_preflight_writes_nothing_even_with_a_state_bucket_in_its_environment(start_cloud, monkeypatch):
    monkeypatch.setenv("STATE_BUCKET", STATE_BUCKET)
    monkeypatch.setenv("FC_REGION", REGION)
    cloud = start_cloud(make_account(kms={"secrets": [aged("app/db"), *others()]}))
    api = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url(REGION))
    cloud.calls.reset()
    report = build_preflight(api, KEY, REGION)
    assert "app/db" in {d.resource_id for d in report.dependents}
    assert cloud.calls.get("oss:PutObject") == 0 and "oss:PutObject" not in report.api_calls


# ---------------------------------------------------------------- the sweep over other accounts


def test_a_sweep_of_a_member_account_never_touches_the_home_state_bucket_with_the_members_credentials(caplog):
    import logging

    from localcloud.cloud import LocalCloud
    from localcloud.clock import Clock
    from tests.support.accounts import S_YAML
    from tests.test_sweep_fanout import ENV, MEMBER, _accounts

    accounts = _accounts()  # the home account, a member whose role the sweep enters, and one it cannot enter
    for account in accounts:
        account.kms.secrets = [KmsSecret(**secret("app/db", None, CreateTime=LONG_AGO))]
    with LocalCloud(accounts, project=S_YAML, env={**ENV, "SWEEP_CHECKS": "deletion_protection"},
                    clock=Clock("2030-01-01T00:00:00Z")) as cloud:
        with caplog.at_level(logging.INFO, logger="shared.audit.facts"):
            assert cloud.fc.fire_timer("compliance-sweep").ok
            assert cloud.fc.drain(60)
        written = json.loads(Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url(REGION))
                             .oss_bucket(STATE_BUCKET, REGION).get_object(FACTS_KEY).read())
    assert written["facts"]["app/db"][1] == ""  # the home account's facts were remembered: the feature ran
    member_paths = [r.getMessage() for r in caplog.records if f"/audit/facts/{MEMBER}/" in r.getMessage()]
    assert member_paths == []
