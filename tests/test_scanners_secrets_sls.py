"""The Secrets Manager and SLS logstore scanners against the local cloud over HTTP through the official
SDKs: contract tests replaying the API docs' sample responses, the scanners on seeded accounts (what
they call, what they skip, when they give up), and key-guard end to end (a found dependent blocks the
deletion; a scanner that could not look everywhere blocks it too)."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms
from aliyun.log import LogException

from shared.audit.scanners.kms_secrets import KmsSecretsScanner
from shared.audit.scanners.sls_logstores import SlsLogstoresScanner
from shared.log_client import make_log_client
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import alerts, only_record, schedule_deletion
from tests.support.resources import SLS_CMK_ROLE as ROLE, logstore, secret
from tests.support.scanners import clients, sample, target


# ---------------------------------------------------------------- contract: the docs' sample responses


def test_secrets_contract_doc_samples_secret_is_found(start_cloud):
    listing, described = sample("kms", "ListSecrets"), sample("kms", "DescribeSecret")
    key_id = described["response"]["EncryptionKeyId"]
    cloud = start_cloud(make_account())
    # The sample's key is a KMS-instance style id the account file does not take (it wants UUIDs): the
    # scanner's DescribeKey of it is answered with the SDK model, naming no KMS instance.
    cloud.faults.respond("kms:DescribeKey", kms.DescribeKeyResponseBody(
        key_metadata=kms.DescribeKeyResponseBodyKeyMetadata(key_id=key_id, key_state="Enabled")).to_map())
    # The sample is one page cut from a listing of 55: replayed as a whole listing, its total is what it holds
    # (a page that says more exist could never prove the listing whole, and would be incomplete).
    page = listing["response"]
    cloud.faults.respond("kms:ListSecrets", {**page, "TotalCount": len(page["SecretList"]["Secret"])})
    cloud.faults.respond("kms:DescribeSecret", described["response"])
    c = clients(cloud)

    found = {d.resource_id: d for d in KmsSecretsScanner().scan(target(key_id), c)}

    # every DescribeSecret answers with the sample, so each listed secret reads as secret001 does
    dep = found["secret001"]
    assert (dep.resource_type, dep.state, dep.service) == ("ACS::KMS::Secret", "live", "Secrets Manager")
    assert dep.usage == "Rds secret values encrypted with the key"
    assert dep.detail == {"type": "Rds", "rotation": "Enabled", "arn": described["response"]["Arn"]}
    # one page, one describe per listed secret
    assert c.calls.counts == {"kms:DescribeKey": 1, "kms:ListSecrets": 1, "kms:DescribeSecret": 2}


def test_sls_contract_doc_sample_logstore_is_found(start_cloud):
    store = sample("sls", "GetLogStore")["response"]
    cmk = store["encrypt_conf"]["user_cmk_info"]
    cloud = start_cloud(make_account(sls={"logstores": [logstore("project-ba", store["logstoreName"], key=None)]}))
    cloud.faults.respond("sls:GetLogStore", store)
    c = clients(cloud)

    found = {d.resource_id: d for d in SlsLogstoresScanner().scan(target(cmk["cmk_key_id"]), c)}

    # every GetLogStore answers with the sample, so each listed logstore reads as it does
    dep = found["project-ba/my-logstore"]
    assert (dep.resource_type, dep.state, dep.name) == ("ACS::SLS::Logstore", "live", "my-logstore")
    assert dep.usage == "logstore encryption with the key (default)" and dep.detail == {"project": "project-ba", "role": cmk["arn"]}
    # the base account's project and project-ba: one listing each, one read per logstore
    assert c.calls.counts == {"sls:ListProject": 1, "sls:ListLogStores": 2, "sls:GetLogStore": 3}


def test_sls_list_project_answers_in_the_shape_of_the_doc_sample(start_cloud):
    """The sample's projects are masked (`datalab-174649******745-...`), names no Host can carry, so the
    scanner cannot be replayed against it; the local answer is held to its shape instead."""
    doc = sample("sls", "ListProject")["response"]
    cloud = start_cloud(make_account())
    answer = make_log_client(cloud.endpoint(REGION), ALICE_AK, ALICE_SECRET).list_project(0, 500).body

    assert answer.keys() == doc.keys() and answer["count"] == answer["total"] == 1
    assert [p.keys() for p in answer["projects"]] == [doc["projects"][0].keys()]
    assert answer["projects"][0]["projectName"] == "kms-steward-logs" and answer["projects"][0]["region"] == REGION


# ---------------------------------------------------------------- the SLS listings the scanner walks


def test_sls_lists_the_regions_projects_from_the_bare_endpoint_and_pages_offset_size(start_cloud):
    cloud = start_cloud(make_account(sls={"logstores": [logstore(f"p{i}", "s", encrypted=False) for i in range(3)]
                                          + [logstore("p0", f"extra{i}", encrypted=False) for i in range(4)]}))
    log = make_log_client(cloud.endpoint(REGION), ALICE_AK, ALICE_SECRET)

    everything = log.list_project(0, 500)
    assert everything.get_total() == 4 and [p["projectName"] for p in everything.get_projects()] == ["kms-steward-logs", "p0", "p1", "p2"]
    page = log.list_project(1, 2)
    assert (page.get_count(), page.get_total(), [p["projectName"] for p in page.get_projects()]) == (2, 4, ["p0", "p1"])
    stores = log.list_logstore("p0", None, 2, 2)
    assert (stores.get_logstores(), stores.get_total()) == (["extra2", "extra3"], 5)
    with pytest.raises(LogException) as err:  # the SDK splits a size over 500 itself: ask the server directly
        log._send("GET", None, None, "/", {"offset": "0", "size": "501"}, {})
    assert (err.value.get_error_code(), err.value.resp_status) == ("ParameterInvalid", 400)


def test_get_logstore_answers_encrypt_conf_as_the_sdk_reads_it(start_cloud):
    cloud = start_cloud(make_account(sls={"logstores": [logstore("app", "byok"), logstore("app", "service", key=None),
                                                        logstore("app", "plain", encrypted=False)]}))
    log = make_log_client(cloud.endpoint(REGION), ALICE_AK, ALICE_SECRET)

    assert log.get_logstore("app", "byok").get_encrypt_conf() == {
        "enable": True, "encrypt_type": "default", "user_cmk_info": {"cmk_key_id": KEY, "arn": ROLE, "region_id": REGION}}
    assert log.get_logstore("app", "service").get_encrypt_conf() == {"enable": True, "encrypt_type": "default"}
    assert log.get_logstore("app", "plain").get_encrypt_conf() is None


# ---------------------------------------------------------------- the scanners on seeded accounts


def test_secrets_scanner_pages_the_listing_and_describes_each_secret_once(start_cloud):
    secrets = [secret(f"app/{i:03d}", key=OTHER_KEY) for i in range(230)] + [
        secret("db/payments"), secret("old/payments", PlannedDeleteTime="2099-01-01T00:00:00Z"), secret("web/plain", key=None),
        secret("by/arn", key=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}")]
    c = clients(start_cloud(make_account(kms={"secrets": secrets})))

    found = {d.resource_id: d for d in KmsSecretsScanner().scan(target(), c)}

    assert {k: d.state for k, d in found.items()} == {"db/payments": "live", "old/payments": "inert", "by/arn": "live"}
    assert "scheduled for deletion at 2099-01-01T00:00:00Z" in found["old/payments"].usage
    assert c.calls.counts == {"kms:DescribeKey": 1, "kms:ListSecrets": 3, "kms:DescribeSecret": 234}


def test_secrets_scanner_narrows_to_the_keys_kms_instance(start_cloud):
    instance_key = {"KeyId": "5d3c2b1a-0000-4000-8000-00000000aaaa", "RegionId": REGION, "KeyState": "Enabled",
                    "Creator": ACCOUNT_ID, "DKMSInstanceId": "kst-hzz1"}
    secrets = [secret("in/instance", key=instance_key["KeyId"], DKMSInstanceId="kst-hzz1"),
               secret("in/instance-other", key=OTHER_KEY, DKMSInstanceId="kst-hzz1"), *[secret(f"shared/{i}") for i in range(5)]]
    c = clients(start_cloud(make_account(kms={"keys": [instance_key], "secrets": secrets})))

    [dep] = KmsSecretsScanner().scan(target(instance_key["KeyId"]), c)

    assert dep.resource_id == "in/instance" and dep.detail["kms_instance"] == "kst-hzz1"
    assert c.calls.counts["kms:DescribeSecret"] == 2  # the listing held only the instance's secrets


def test_secrets_scanner_skips_a_secret_deleted_between_list_and_describe(start_cloud):
    cloud = start_cloud(make_account(kms={"secrets": [secret("db/payments")]}))
    cloud.faults.add("kms:DescribeSecret", "Forbidden.ResourceNotFound", status=404, remaining=1)

    assert KmsSecretsScanner().scan(target(), clients(cloud)) == []


@pytest.mark.parametrize("api, code, status", [("kms:ListSecrets", "Forbidden.NoPermission", 403),
                                               ("kms:DescribeSecret", "Forbidden.NoPermission", 403),
                                               ("kms:ListSecrets", "Forbidden.KmsServiceNotEnabled", 403)])
def test_secrets_scanner_raises_when_it_cannot_look(start_cloud, api, code, status):
    cloud = start_cloud(make_account(kms={"secrets": [secret("db/payments")]}, faults=[{"Api": api, "Code": code, "Status": status}]))
    with pytest.raises(Exception) as err:
        KmsSecretsScanner().scan(target(), clients(cloud))
    assert getattr(err.value, "code", None) == code


def test_sls_scanner_reads_every_logstore_of_every_project(start_cloud):
    stores = [logstore("app-logs", "payments"), logstore("app-logs", "web", OTHER_KEY), logstore("app-logs", "service", None),
              logstore("app-logs", "plain", encrypted=False), logstore("audit-logs", "trail"), logstore("audit-logs", "old", enable=False),
              logstore("sh-logs", "elsewhere", KEY) | {"RegionId": "cn-shanghai"}]
    c = clients(start_cloud(make_account(sls={"logstores": stores})))

    found = {d.resource_id: d for d in SlsLogstoresScanner().scan(target(), c)}

    assert {k: d.state for k, d in found.items()} == {"app-logs/payments": "live", "audit-logs/trail": "live", "audit-logs/old": "inert"}
    assert "switched off" in found["audit-logs/old"].usage and found["app-logs/payments"].detail == {"project": "app-logs", "role": ROLE}
    # the region's three projects (the base account's kms-steward-logs too), one listing each, one read per logstore
    assert c.calls.counts == {"sls:ListProject": 1, "sls:ListLogStores": 3, "sls:GetLogStore": 8}


def test_sls_scanner_skips_a_logstore_deleted_between_list_and_read(start_cloud):
    cloud = start_cloud(make_account(sls={"logstores": [logstore("app-logs", "payments")]}))
    cloud.faults.add("sls:GetLogStore", "LogStoreNotExist", status=404)

    assert SlsLogstoresScanner().scan(target(), clients(cloud)) == []


@pytest.mark.parametrize("api", ["sls:ListProject", "sls:ListLogStores", "sls:GetLogStore"])
def test_sls_scanner_raises_when_access_is_denied(start_cloud, api):
    cloud = start_cloud(make_account(sls={"logstores": [logstore("app-logs", "payments")]},
                                     faults=[{"Api": api, "Code": "Unauthorized", "Status": 401}]))
    with pytest.raises(LogException) as err:
        SlsLogstoresScanner().scan(target(), clients(cloud))
    assert err.value.get_error_code() == "Unauthorized"


# ---------------------------------------------------------------- key-guard end to end


def together(*sections: dict) -> dict:
    """make_account sections holding every record of each."""
    out: dict = {}
    for section in sections:
        for product, collections in section.items():
            for name, records in collections.items():
                out.setdefault(product, {}).setdefault(name, []).extend(records)
    return out


# scanner -> (service, the dependent on KEY as seeded, its resource id, the same resource on OTHER_KEY, an access-denied fault)
SCENARIOS = {
    "kms_secrets": ("Secrets Manager", {"kms": {"secrets": [secret("db/payments-password")]}}, "db/payments-password",
                    {"kms": {"secrets": [secret("db/web-password", key=OTHER_KEY)]}},
                    {"Api": "kms:ListSecrets", "Code": "Forbidden.NoPermission", "Status": 403}),
    "sls_logstores": ("SLS", {"sls": {"logstores": [logstore("app-logs", "payments")]}}, "app-logs/payments",
                      {"sls": {"logstores": [logstore("app-logs", "web", OTHER_KEY)]}},
                      {"Api": "sls:ListProject", "Code": "Unauthorized", "Status": 401}),
}


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_cancels_a_deletion_that_would_hit_the_dependent(start_cloud, scanner):
    service, on_key, resource, on_other, _ = SCENARIOS[scanner]
    cloud = start_cloud(make_account(**together(on_key, on_other)))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked" and alert["dependents"][service]["ids"] == [resource]
    record = only_record(cloud)
    assert record["decision"] == "block" and record["auditComplete"] is True
    assert len(record["dependents"][service]) == 1 and resource in record["dependents"][service][0]


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_lets_a_deletion_through_when_only_another_key_is_used(start_cloud, scanner):
    _, _, _, on_other, _ = SCENARIOS[scanner]
    cloud = start_cloud(make_account(**on_other))
    schedule_deletion(cloud)

    assert key_state(cloud) == "PendingDeletion" and alerts(cloud) == []
    record = only_record(cloud)
    assert record["decision"] == "allow" and record["dependentCount"] == 0 and record["auditComplete"] is True


@pytest.mark.parametrize("scanner", SCENARIOS)
def test_key_guard_treats_a_scanner_it_could_not_run_as_live_dependents(start_cloud, scanner):
    *_, fault = SCENARIOS[scanner]
    cloud = start_cloud(make_account(faults=[fault]))
    schedule_deletion(cloud)

    assert key_state(cloud) == "Enabled"
    [alert] = alerts(cloud)
    assert alert["Name"] == "KmsKeyDeletionBlocked"
    assert [part["part"] for part in alert["auditIncomplete"]] == [scanner]
    assert "access denied" in alert["auditIncomplete"][0]["reason"] and fault["Code"] in alert["auditIncomplete"][0]["reason"]
    record = only_record(cloud)
    assert record["auditComplete"] is False and record["dependentCount"] == 0 and record["decision"] == "block"
