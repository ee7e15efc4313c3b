"""Each function's RAM role (ram/<role>.json, rendered for the function: localcloud/ram_access.py) is enforced by the
local cloud for every call the function makes. Both directions are proven on scenarios that reach every API each
function calls:
- sufficient: no call of any scenario is refused;
- minimal: every Action of every statement is the only grant of some call, so removing any single action (or
  statement) refuses a call a scenario makes, and the sufficiency test fails. A spot check removes a few for real.
And separation of duties, from the policies themselves: no function may schedule a key's deletion, delete key
material, change a key or secret policy, or read a secret value it does not rotate; key-guard may cancel a deletion
but never schedule one."""
from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import timedelta

import pytest
from alibabacloud_kms20160120 import models as kms

from localcloud.account import Account
from localcloud.cloud import LocalCloud
from localcloud.clock import Clock
from localcloud.ram_access import render_policy
from localcloud.ram_policy import Policy, allow_grants, evaluate
from tests.support.accounts import (ACCOUNT_ID, BASE_ACCOUNT, KEY, REGION, ROOT, S_YAML, make_account)
from tests.support.clients import alice_kms
from tests.support.resources import (TRAIL, ack_cluster, alb_listener, bucket, cas_certificate, crypto_event, disk,
                                     ecs_image, file_system, image_snapshot, iso, logstore, mongodb_instance,
                                     polardb_cluster, rds_instance, redis_instance, replicating_bucket, replication_rule,
                                     secret, slb_https_listener, slb_server_certificate, snapshot)

def _s_yaml_roles() -> list[str]:
    from localcloud.ram_access import ROLE_ARN
    from localcloud.serverless import ServerlessProject

    project = ServerlessProject.load(S_YAML, account_id=ACCOUNT_ID, env={})
    return sorted({ROLE_ARN.fullmatch(spec.role)[1] for spec in project.functions.values()})


ROLES = _s_yaml_roles()  # every role a function of s.yaml runs with
SCHEDULE = json.loads((ROOT / "events" / "schedule_key_deletion.json").read_text())
DISABLE = json.loads((ROOT / "events" / "disable_key.json").read_text())
DELETE_SECRET = json.loads((ROOT / "events" / "delete_secret.json").read_text())
INSTANCE = "kst-hzz65f1e2d3c4b5a6"


def every_dependent() -> Account:
    """One dependent of the key in every product key-guard audits, so each scanner reads all the way through."""
    return make_account(
        disks=[disk("d-app1")], snapshots=[snapshot("s-app1"), image_snapshot("s-img1")],
        buckets=[bucket("acme-invoices"), replicating_bucket("acme-backup", replication_rule("r1", "acme-invoices"))],
        ecs={"images": [ecs_image("m-app1", "s-img1")], "encryption_defaults": [{"RegionId": REGION, "KMSKeyId": KEY}]},
        rds={"instances": [rds_instance("rm-app1", tde=KEY)]}, polardb={"clusters": [polardb_cluster("pc-app1", tde=KEY)]},
        mongodb={"instances": [mongodb_instance("dds-app1", tde=KEY)]}, redis={"instances": [redis_instance("r-app1")]},
        nas={"file_systems": [file_system("nas-app1")]},
        cs={"clusters": [ack_cluster("c-app1"), {**ack_cluster("c-bare"), "meta_data": None}]},  # the second read in detail
        sls={"logstores": [logstore("app-logs", "payments")]}, kms={"secrets": [secret("db/payments")]})


def trail_and_instance_log(account: Account) -> Account:
    """The same account with the trail's logstore and a KMS-instance key whose access log is configured."""
    data = account.to_data()
    now = Clock().now()
    trail = {**TRAIL, "StartLoggingTime": iso(now - timedelta(days=60)), "CreateTime": iso(now - timedelta(days=60))}
    data.setdefault("actiontrail", {}).setdefault("trails", []).append(trail)
    data["actiontrail"].setdefault("events", []).append(crypto_event(when=now - timedelta(days=2)))
    data["kms"]["keys"][0]["DKMSInstanceId"] = INSTANCE
    data["sls"]["logstores"] += [logstore("kms-instance-logs", "kms-access-log", key=None, encrypted=False)]
    return Account.from_data(data)


LOGS_ENV = {"TRAIL_SLS_PROJECT": TRAIL["SlsProjectArn"], "TRAIL_SLS_LOGSTORE": "actiontrail_audit-trail",
            "KMS_INSTANCE_LOG_PROJECT": "kms-instance-logs", "KMS_INSTANCE_LOG_LOGSTORE": "kms-access-log",
            "GUARD_DISABLE_MODE": "enforce"}


# tests/test_package.py runs the same scenarios with every function run from its deployable package: it sets
# RUN_OPTIONS["packages"] to the folder of packages, and reads each run's invocations in LAST_RUN.
RUN_OPTIONS: dict = {}
LAST_RUN: dict = {}


def run(account, env, *steps, accounts=(), duplicate_delivery=False, edit=None):
    """The decisions RAM made on every call of `steps`; `edit(role)` may change a role's policies first."""
    cloud = LocalCloud([account, *accounts], project=S_YAML, env=env, duplicate_delivery=duplicate_delivery)
    cloud.fc.packages = RUN_OPTIONS.get("packages")
    if edit is not None:
        edit(cloud.ram)
    cloud.start()
    try:
        for step in steps:  # each delivered and decided before the next
            step(cloud)
            assert cloud.bus.drain(timeout=120) and cloud.fc.drain(timeout=120)
        LAST_RUN["invocations"] = list(cloud.fc.invocations)
        return list(cloud.ram.log.decisions)
    finally:
        cloud.stop()


def schedule(cloud):
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))


def disable(cloud):
    alice_kms(cloud).disable_key(kms.DisableKeyRequest(key_id=KEY))


def invoke(resource, event):
    return lambda cloud: cloud.fc.invoke(resource, json.dumps(event).encode(), region=REGION)


def timer(resource, name=None):
    return lambda cloud: cloud.fc.fire_timer(resource, name)


def clock_at(now: str):
    return lambda cloud: setattr(cloud, "clock", Clock(now)) or cloud.clock


def app_reads_the_secret(cloud):
    from tests.test_secret_guard import app_reads

    app_reads(cloud)


def alice_deletes_the_secret(cloud):
    from tests.test_secret_guard import SECRET

    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))


def secret_guard_account(faults=()):
    from tests.test_secret_guard import account, secret as guarded_secret

    data = account(guarded_secret(DKMSInstanceId=INSTANCE), faults=faults).to_data()
    data["sls"]["logstores"] += [logstore("kms-instance-logs", "kms-access-log", key=None, encrypted=False)]
    return Account.from_data(data)


def rotation_steps(cloud):
    from tests.rotation_kit import INTERVAL_TAG, create_secret

    create_secret(cloud, "api/weekly", "initial-token-000007", tags={INTERVAL_TAG: "7d"})
    create_secret(cloud, "api/typo", "initial-token-000009", tags={INTERVAL_TAG: "monthly"})  # refused and alerted
    cloud.clock.advance(timedelta(days=8))
    assert cloud.fc.fire_timer("secret-rotation").ok


def compliance_account() -> Account:
    """Keys and secrets in a KMS instance with their policies, dependents in every inventoried product."""
    from tests.test_sweep_policies import KEYS, SECRETS

    dependents = every_dependent().to_data()
    data = copy.deepcopy(BASE_ACCOUNT)
    for product in ("ecs", "oss", "polardb", "nas", "cs", "sls"):
        data[product] = dependents[product]
    data["sls"]["logstores"] += [{"projectName": "kms-steward-logs", "logstoreName": name, "RegionId": REGION}
                                 for name in ("compliance-sweep-findings", "cert-sweep-findings")]
    data["kms"]["keys"] += [{**k, "RegionId": REGION} for k in KEYS]
    data["kms"]["secrets"] = [{**s, "RegionId": REGION} for s in SECRETS]
    return Account.from_data(data)


def cert_account() -> Account:
    from tests.test_sweep_cert_regions import account

    data = account().to_data()
    data["slb"] = {"server_certificates": [slb_server_certificate("cert-shop", "2030-01-05T00:00Z")],
                   "listeners": [slb_https_listener("lb-shop", "cert-shop")]}
    return Account.from_data(data)


MEMBER_POLICY = ROOT / "ram" / "member" / "kms-steward-sweep.json"


def fanned_out_accounts():
    """The home account, a member whose sweep role (SWEEP_ROLE_NAME) holds ram/member/kms-steward-sweep.json, as the
    README has it created, and an account without the role."""
    from tests.test_sweep_fanout import ROLE, _accounts

    home, member, locked = _accounts()
    data = member.to_data()
    role = next(r for r in data["ram"]["roles"] if r["RoleName"] == ROLE)
    role["Policies"] = [{"PolicyName": ROLE, "PolicyDocument": MEMBER_POLICY.read_text()}]
    return [home, Account.from_data(data), locked]


SCENARIOS = {
    # a deletion and a disable of a key every product depends on, with the trail and the instance log read
    "key-guard": lambda: run(trail_and_instance_log(every_dependent()), LOGS_ENV, schedule, disable),
    # a transient failure releases the claim (DeleteObject); no disk at all (the silent-denial probe); a secret; the
    # safety net lists keys and today's claims
    "key-guard, retried": lambda: run(make_account(kms={"secrets": [secret("db/app")]}, key_state="PendingDeletion", faults=[
        {"Api": "kms:DescribeKey", "Kind": "throttled", "Remaining": 4}]), {}, invoke("key-guard", SCHEDULE),
        invoke("key-guard", SCHEDULE), timer("key-guard", "safety-net")),
    # a read secret deleted (restored), its reads in the trail's logstore and the instance's log; its safety net
    "secret-guard": lambda: run(secret_guard_account(faults=[{"Api": "kms:DescribeSecret", "Kind": "throttled", "Remaining": 4}]),
                                LOGS_ENV, app_reads_the_secret, alice_deletes_the_secret, timer("secret-guard", "secret-safety-net"),
                                duplicate_delivery=True),  # the second delivery reads the claim
    "secret-rotation": lambda: run(rotation_account_(), {}, rotation_steps),
    "compliance-sweep": lambda: run(compliance_account(), {"SWEEP_FANOUT": "off", "SWEEP_REGIONS": "all"},
                                    timer("compliance-sweep")),
    "compliance-sweep, fanned out": lambda: run(*fanned_out_accounts()[:1], fanout_env(), timer("compliance-sweep"),
                                                accounts=fanned_out_accounts()[1:]),
    "cert-sweep": lambda: run(cert_account(), {"SWEEP_REGIONS": "all"}, timer("cert-sweep")),
    "cert-sweep, fanned out": lambda: run(*fanned_out_accounts()[:1], fanout_env(), timer("cert-sweep"),
                                          accounts=fanned_out_accounts()[1:]),
    # a sweep invocation FC gives up on (too old to run): its failure destination alerts and records it
    "sweep failures": lambda: run(compliance_account(), {}, aged("compliance-sweep"), aged("cert-sweep")),
}


def aged(resource):
    def step(cloud):
        from tests.support.sweeps import invoke_aged

        invoke_aged(cloud, resource, json.dumps({"triggerTime": "2030-01-01T00:00:00Z", "triggerName": "daily",
                                                 "payload": "{}"}).encode())
    return step


def rotation_account_():
    from tests.rotation_kit import rotation_account

    return rotation_account()


def fanout_env():
    from tests.test_sweep_fanout import ENV

    return ENV


@pytest.fixture(scope="module")
def decisions() -> dict[str, list]:
    by_role = defaultdict(list)
    for scenario in SCENARIOS.values():
        for decision in scenario():
            by_role[decision.role].append(decision)
    return by_role


def test_every_function_runs_its_scenarios_with_no_call_refused(decisions):
    refused = [(d.role, d.call.action, d.call.resource) for ds in decisions.values() for d in ds if not d.allowed]
    assert not refused, f"refused: {refused}"


@pytest.mark.parametrize("role", ROLES)
def test_every_action_of_the_policy_is_the_only_grant_of_some_call(decisions, role):
    # A statement is named by its Action list (each is unique in its file): rendering may leave a statement out
    # A role shared by functions with different settings holds one rendering of its file for each (the sweeps'
    # failure destinations): a call granted by the same statement of each rendering is granted by that one statement.
    needed = {grant for d in decisions[role] if len(grant_set := {(g.statement_actions, g.action) for g in d.grants}) == 1
              for grant in grant_set}
    document = json.loads((ROOT / "ram" / f"{role}.json").read_text())
    granted = set()
    for statement in document["Statement"]:
        actions = tuple(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        granted |= {(actions, a) for a in actions}
    missing = sorted(a for _, a in granted - needed)
    assert not missing, f"granted but needed by no call of the scenarios: {missing}"


# What only the home account's sweep does: enter the members, invoke its workers, keep its state, write its records and
# alerts, list the regions and the resource directory's accounts.
HOME_ONLY = {"sts:AssumeRole", "fc:InvokeFunction", "oss:ListObjects", "oss:GetObject", "oss:PutObject",
             "log:PostLogStoreLogs", "cms:PutCustomEvent", "cms:PutCustomMetric", "resourcemanager:ListAccounts",
             "ecs:DescribeRegions"}


def _grants(path) -> set[tuple[str, str]]:
    return set(allow_grants(json.loads(path.read_text())))


def test_a_member_accounts_sweep_role_may_do_exactly_the_sweeps_reads():
    """The role the sweeps enter in other accounts runs the same checks there: it is granted each read of the two sweep
    roles, on the same resources (each the only grant of some call of their scenarios, above), and nothing the home
    account's sweep alone does. The fanned-out scenarios run with it: no call is refused (the sufficiency test)."""
    sweeps = _grants(ROOT / "ram" / "kms-steward-compliance-sweep.json") | _grants(ROOT / "ram" / "kms-steward-cert-sweep.json")
    assert _grants(MEMBER_POLICY) == {(a, r) for a, r in sweeps if a not in HOME_ONLY}
    assert {a for a, _ in sweeps} & HOME_ONLY == HOME_ONLY  # each of them is one the sweep roles hold


def test_the_member_role_is_enforced_in_the_fanned_out_scenarios():
    decisions = SCENARIOS["compliance-sweep, fanned out"]() + SCENARIOS["cert-sweep, fanned out"]()
    member = [d for d in decisions if d.role.lower() == "kms-steward-sweep"]
    assert member and all(d.allowed for d in member)
    assert {"kms:ListKeys", "yundun-cert:ListUserCertificateOrder"} <= {d.call.action for d in member}


def without(action: str, role: str):
    """An edit removing one action from a function role's policy (and the statement, when it was its only action)."""
    def edit(access):
        documents = []
        for document in access.function_policies(role):
            statements = []
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if kept := [a for a in actions if a != action]:
                    statements.append({**statement, "Action": kept})
            documents.append({**document, "Statement": statements})
        access.set_function_policies(role, documents)
    return edit


@pytest.mark.parametrize("role, action, scenario", [
    ("kms-steward-key-guard", "kms:CancelKeyDeletion", "key-guard, retried"),
    ("kms-steward-key-guard", "ecs:DescribeDisks", "key-guard"),
    ("kms-steward-secret-guard", "kms:RestoreSecret", "secret-guard"),
    ("kms-steward-compliance-sweep", "kms:ListSecretVersionIds", "compliance-sweep"),
])
def test_removing_an_action_refuses_a_call_of_its_scenario_for_real(role, action, scenario, monkeypatch):
    # The minimality test reads which grant let each call through; here the policy is changed and the scenario run
    # again, to show that reading stands for what the local cloud then does.
    import tests.test_ram_policies as me

    original = me.run
    monkeypatch.setattr(me, "run", lambda *a, **k: original(*a, **k, edit=without(action, role)))
    refused = [d for d in SCENARIOS[scenario]() if not d.allowed]
    assert refused and {d.call.action for d in refused} == {action} and {d.role for d in refused} == {role}


def rendered(role: str) -> list[Policy]:
    """The role's policy as the local cloud wired from s.yaml enforces it (every setting given a value)."""
    cloud = LocalCloud(make_account(), project=S_YAML, env={**LOGS_ENV, "SWEEP_ROLE_NAME": "kms-steward-sweep"})
    return [Policy.parse(role, d) for d in cloud.ram.function_policies(role)]


NEVER = ["kms:ScheduleKeyDeletion", "kms:DeleteKeyMaterial", "kms:DisableKey", "kms:SetKeyPolicy", "kms:SetSecretPolicy",
         "kms:DeleteSecret", "kms:UpdateKeyDescription", "kms:CreateKey", "ram:AttachPolicyToRole", "ram:CreatePolicy"]
ANY_KEY = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
ANY_SECRET = f"acs:kms:{REGION}:{ACCOUNT_ID}:secret/payments/db-password"


@pytest.mark.parametrize("role", ROLES)
def test_no_function_may_delete_a_key_its_material_or_a_secret_nor_change_a_policy(role):
    policies = rendered(role)
    for action in NEVER:
        for resource in (ANY_KEY, ANY_SECRET, "*"):
            assert not evaluate(policies, action, resource, {}).allowed, (action, resource)
    for action in ("kms:TagResource", "kms:UntagResource"):  # the allow-list tag is a key's: no function sets it
        assert not evaluate(policies, action, ANY_KEY, {}).allowed, action


@pytest.mark.parametrize("role", ROLES)
def test_only_the_rotation_role_reads_or_writes_secret_values(role):
    policies = rendered(role)
    for action in ("kms:GetSecretValue", "kms:PutSecretValue"):
        assert evaluate(policies, action, ANY_SECRET, {}).allowed is (role == "kms-steward-secret-rotation"), action


def test_key_guard_may_cancel_a_deletion_but_never_schedule_one():
    policies = rendered("kms-steward-key-guard")
    assert evaluate(policies, "kms:CancelKeyDeletion", ANY_KEY, {}).allowed
    assert not evaluate(policies, "kms:ScheduleKeyDeletion", ANY_KEY, {}).allowed


@pytest.mark.parametrize("function, role", [("key-guard", "kms-steward-key-guard"), ("secret-rotation", "kms-steward-secret-rotation"),
                                            ("kms-steward-cert-sweep", "kms-steward-cert-sweep")])
def test_the_policy_command_prints_the_policy_the_local_cloud_enforces(function, role):
    from click.testing import CliRunner

    from kms_steward.cli import main

    env = {**LOGS_ENV, "SWEEP_ROLE_NAME": "kms-steward-sweep"}
    printed = CliRunner().invoke(main, ["policy", function, "--project", str(S_YAML)], env=env)
    assert printed.exit_code == 0, printed.output
    cloud = LocalCloud(make_account(), project=S_YAML, env=env)
    assert [json.loads(printed.output)] == cloud.ram.function_policies(role)
    assert cloud.home.ram.role(role) is None  # enforced, not written into the account's data (a saved state)


def test_the_policy_command_names_a_function_it_does_not_know():
    from click.testing import CliRunner

    from kms_steward.cli import main

    printed = CliRunner().invoke(main, ["policy", "no-such-function", "--project", str(S_YAML)])
    assert printed.exit_code == 2 and "no fc3 resource or function named 'no-such-function'" in printed.output


@pytest.mark.parametrize("setting, value, widened", [
    ("STATE_BUCKET", "*", "acs:oss:*:*:*/kms-steward/*"), ("KMS_INSTANCE_LOG_LOGSTORE", "kms-*", "logstore/kms-*"),
    ("SWEEP_ROLE_NAME", "admin/*", "role/admin/*"), ("TRAIL_SLS_PROJECT", "a?", "project/a?")])
def test_a_setting_that_would_widen_a_policy_is_refused_not_rendered(setting, value, widened):
    """RAM reads `*` and `?` in a Resource as wildcards: a bucket named `*` would grant every bucket."""
    from click.testing import CliRunner

    from kms_steward.cli import main

    function, role = (("compliance-sweep", "kms-steward-compliance-sweep") if setting == "SWEEP_ROLE_NAME"
                      else ("key-guard", "kms-steward-key-guard"))
    env = {**LOGS_ENV, "SWEEP_ROLE_NAME": "kms-steward-sweep", setting: value}
    printed = CliRunner().invoke(main, ["policy", function, "--project", str(S_YAML)], env=env)
    assert printed.exit_code == 2 and f"{setting}={value!r} is not a name" in printed.output
    # the local cloud grants nothing on it (the function itself refuses such a setting: tests/test_guard_promise.py)
    resources = [r for d in LocalCloud(make_account(), project=S_YAML, env=env).ram.function_policies(role)
                 for st in d["Statement"] for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
    assert resources and not any(widened in r for r in resources)


def test_an_fc_function_name_starting_with_an_underscore_is_a_name():
    """FC 3.0 function names: letters, digits, `_` and `-`, not starting with a digit or `-`; `_x` is legal but
    SETTING_NAME requires a letter or digit first."""
    template = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "fc:InvokeFunction",
                                               "Resource": "acs:fc:*:*:functions/${FUNCTION_NAME}"}]}
    rendered = render_policy(template, {"FUNCTION_NAME": "_kms-steward-sweep"})
    assert rendered["Statement"][0]["Resource"] == "acs:fc:*:*:functions/_kms-steward-sweep"


def test_every_role_a_function_runs_with_has_its_policy_file_and_no_file_is_left_over():
    assert sorted(p.stem for p in (ROOT / "ram").glob("*.json")) == ROLES


def test_a_function_whose_role_has_no_policy_file_is_said_not_silently_unchecked(tmp_path, caplog):
    import shutil

    shutil.copy(S_YAML, tmp_path / "s.yaml")
    shutil.copytree(ROOT / "ram", tmp_path / "ram")
    (tmp_path / "ram" / "kms-steward-cert-sweep.json").unlink()  # renamed, say, or a new function without one

    cloud = LocalCloud(make_account(), project=tmp_path / "s.yaml", env={})

    assert cloud.ram.function_policies("kms-steward-cert-sweep") is None
    assert "function cert-sweep: no policy file ram/<role>.json" in caplog.text and "not evaluated" in caplog.text
    assert cloud.ram.function_policies("kms-steward-key-guard")  # the others are enforced as ever
