"""`kms-steward doctor` against a local cloud, through the official SDKs over HTTP: every check passes on a prepared
account; an unprepared one is named piece by piece with its fix; and doctor only reads."""
from __future__ import annotations

import copy
import json
import shutil

import yaml
from click.testing import CliRunner

from kms_steward.cli import main
from kms_steward.doctor import Doctor, _trusts_fc
from localcloud.account import Account
from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from localcloud.ram_access import function_policy
from localcloud.serverless import ServerlessProject
from shared.clients import Clients, Credentials
from tests.support.accounts import ROOT, S_YAML

READY = ROOT / "examples" / "account-ready-for-doctor.yaml"
AK, SECRET = "LTAI5tDemoAlice0000000001", "demo-alice-local-only-secret"
READS = {"actiontrail:DescribeTrails", "actiontrail:GetTrailStatus", "oss:GetBucketInfo", "sls:GetProject", "sls:GetLogStore",
         "sls:GetLogs", "ram:GetRole", "ram:ListPoliciesForRole", "ram:GetPolicy", "fc:GetFunction", "fc:ListTriggers",
         "fc:GetAsyncInvokeConfig"}


def ready_data() -> dict:
    return yaml.safe_load(READY.read_text())


def doctor(args: list[str]):
    return CliRunner().invoke(main, ["doctor", "--project", str(S_YAML), *args])


def unprepared_data() -> dict:
    """No state bucket, no cert-sweep-findings logstore, the trail stopped, and secret-guard's role attached a policy
    one action short of ram/kms-steward-secret-guard.json (kms:RestoreSecret)."""
    data = ready_data()
    data["oss"]["buckets"] = []
    data["sls"]["logstores"] = [s for s in data["sls"]["logstores"] if s["logstoreName"] != "cert-sweep-findings"]
    data["actiontrail"]["trails"][0].update(Status="Disable", StopLoggingTime="2026-11-01T00:00:00Z")
    spec = ServerlessProject.load(S_YAML, account_id=data["account_id"]).function("secret-guard")
    role, policy = function_policy(spec, ROOT)
    short = copy.deepcopy(policy)
    for statement in short["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != "kms:RestoreSecret"]
    short["Statement"] = [s for s in short["Statement"] if s["Action"]]
    assert short != policy, "ram/kms-steward-secret-guard.json grants kms:RestoreSecret"
    data["ram"] = {"roles": [{"RoleName": role, "AssumeRolePolicyDocument": json.dumps(
        {"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}],
         "Version": "1"}), "Policies": [{"PolicyName": role, "PolicyDocument": short}]}]}
    return data


def deployed_without_cert_timer(tmp_path):
    """s.yaml as deployed, less cert-sweep's cert-daily trigger (its ram/ beside it, as the project's)."""
    raw = yaml.safe_load(S_YAML.read_text())
    del raw["resources"]["cert-sweep"]["props"]["triggers"]
    shutil.copytree(ROOT / "ram", tmp_path / "ram")
    path = tmp_path / "s.yaml"
    path.write_text(S_YAML.read_text().split("resources:")[0] + yaml.safe_dump({"resources": raw["resources"]}, sort_keys=False))
    return path


def run(cloud: LocalCloud):
    project = ServerlessProject.load(S_YAML, account_id=cloud.account.account_id)
    clients = Clients(Credentials(AK, SECRET), "cn-hangzhou", endpoint_override=cloud.endpoint_override())
    return Doctor(project, clients, "cn-hangzhou", account_id=cloud.account.account_id, now=cloud.clock.now()).run()


def test_a_prepared_account_passes_every_check():
    result = doctor(["--account", str(READY)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    for name in ("credentials", "actiontrail trail", "state bucket kms-steward-state", "logstore kms-steward-logs/cert-sweep-findings",
                 "role kms-steward-key-guard", "trigger kms-steward-key-guard/kms-key-mutations",
                 "failure destination of kms-steward-key-guard", "latest invocation of kms-steward-cert-sweep"):
        assert name in result.output
    # no invocation nor record yet is a note, not a failure
    assert "NOTE  latest invocation of kms-steward-key-guard" in result.output

    as_json = json.loads(doctor(["--account", str(READY), "--json"]).output)
    assert as_json["ok"] is True and all(c["ok"] for c in as_json["checks"])


def test_an_unprepared_account_names_each_missing_piece_with_its_fix(tmp_path):
    account_file = tmp_path / "unprepared.yaml"
    account_file.write_text(yaml.safe_dump(unprepared_data()))
    result = doctor(["--account", str(account_file), "--json"])
    assert result.exit_code == 1, result.output
    failed = {c["name"]: c for c in json.loads(result.output)["checks"] if not c["ok"]}
    assert set(failed) == {"state bucket kms-steward-state", "logstore kms-steward-logs/cert-sweep-findings",
                           "actiontrail trail", "role kms-steward-secret-guard"}
    assert failed["state bucket kms-steward-state"]["fix"] == "aliyun oss mb oss://kms-steward-state --region cn-hangzhou"
    assert "create the logstore cert-sweep-findings in project kms-steward-logs" in failed["logstore kms-steward-logs/cert-sweep-findings"]["fix"]
    assert "not logging" in failed["actiontrail trail"]["detail"]
    assert failed["actiontrail trail"]["fix"] == "aliyun actiontrail StartLogging --Name kms-steward-trail --region cn-hangzhou"
    role = failed["role kms-steward-secret-guard"]
    assert "kms:RestoreSecret" in role["detail"]
    assert "attach ram/kms-steward-secret-guard.json to role kms-steward-secret-guard" in role["fix"]
    assert "kms-steward policy secret-guard" in role["fix"]

    text = doctor(["--account", str(account_file)])
    assert text.exit_code == 1 and "fix: aliyun oss mb oss://kms-steward-state --region cn-hangzhou" in text.output


def test_a_role_function_compute_may_not_assume_is_named_with_its_fix(tmp_path):
    """A role that trusts a person rather than fc.aliyuncs.com gives its function no credentials at all."""
    data = unprepared_data()
    role = data["ram"]["roles"][0]
    role["AssumeRolePolicyDocument"] = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {
        "RAM": [f"acs:ram::{data['account_id']}:root"]}}], "Version": "1"})
    account_file = tmp_path / "untrusted.yaml"
    account_file.write_text(yaml.safe_dump(data))
    failed = {c["name"]: c for c in json.loads(doctor(["--account", str(account_file), "--json"]).output)["checks"]
              if not c["ok"]}
    trust = failed["role kms-steward-secret-guard trust"]
    assert "does not let Function Compute assume it" in trust["detail"]
    assert trust["fix"].startswith("aliyun ram UpdateRole --RoleName kms-steward-secret-guard --NewAssumeRolePolicyDocument")
    assert "fc.aliyuncs.com" in trust["fix"]
    assert "role kms-steward-key-guard trust" not in failed  # the function roles s.yaml wires trust FC


def test_a_records_logstore_that_cannot_be_searched_fails_rather_than_shows_nothing_yet(tmp_path):
    """A logstore without an index takes the records but no search can read them: doctor says so, with the fix,
    instead of the "no record yet" note that passes."""
    data = ready_data()
    for store in data["sls"]["logstores"]:
        if store["logstoreName"] in ("key-guard-decisions", "fc-logs"):
            store["indexed"] = False
    account_file = tmp_path / "unindexed.yaml"
    account_file.write_text(yaml.safe_dump(data))
    result = doctor(["--account", str(account_file), "--json"])
    assert result.exit_code == 1
    failed = {c["name"]: c for c in json.loads(result.output)["checks"] if not c["ok"]}
    record = failed["latest record kms-steward-logs/key-guard-decisions"]
    assert "IndexConfigNotExist" in record["detail"] and "index" in record["fix"]
    assert "latest invocation of kms-steward-key-guard" in failed
    assert "latest record kms-steward-logs/cert-sweep-findings" not in failed  # its logstore is indexed


def test_a_trail_of_read_events_only_is_named(tmp_path):
    data = ready_data()
    data["actiontrail"]["trails"][0]["EventRW"] = "Read"
    account_file = tmp_path / "reads-only.yaml"
    account_file.write_text(yaml.safe_dump(data))
    failed = {c["name"]: c for c in json.loads(doctor(["--account", str(account_file), "--json"]).output)["checks"]
              if not c["ok"]}
    assert "read events only" in failed["actiontrail trail"]["detail"]
    assert "UpdateTrail --Name kms-steward-trail --EventRW All" in failed["actiontrail trail"]["fix"]


def test_a_setting_that_would_widen_a_role_policy_is_a_failed_check_not_a_crash():
    """STATE_BUCKET=* would grant every bucket: the role check says so, and the other checks still run."""
    result = CliRunner().invoke(main, ["doctor", "--project", str(S_YAML), "--account", str(READY), "--json"],
                                env={"STATE_BUCKET": "*"})
    assert result.exit_code == 1, result.output
    failed = {c["name"]: c for c in json.loads(result.stdout)["checks"] if not c["ok"]}
    assert "STATE_BUCKET='*' is not a name" in failed["role kms-steward-key-guard"]["detail"]
    assert "is not a bucket name" in failed["state bucket *"]["detail"]


def test_a_trust_policy_that_denies_fc_is_not_a_pass():
    """RAM lets a Deny win over any Allow: FC would get no credentials."""
    allow = {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": ["fc.aliyuncs.com"]}}
    assert _trusts_fc(json.dumps({"Version": "1", "Statement": [allow]}))
    assert _trusts_fc(json.dumps({"Version": "1", "Statement": [{**allow, "Principal": {"Service": "1234@fc.aliyuncs.com"}}]}))
    assert not _trusts_fc(json.dumps({"Version": "1", "Statement": [allow, {**allow, "Effect": "Deny"}]}))
    assert not _trusts_fc(json.dumps({"Version": "1", "Statement": [{**allow, "Principal": {"Service": ["ecs.aliyuncs.com"]}}]}))


def test_the_trail_delivering_to_the_guards_logstore_must_log_write_events(tmp_path):
    data = ready_data()
    data["actiontrail"]["trails"][0]["EventRW"] = "Read"
    account_file = tmp_path / "reads-to-sls.yaml"
    account_file.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["doctor", "--project", str(S_YAML), "--account", str(account_file), "--json"],
                                env={"TRAIL_SLS_PROJECT": "kms-steward-logs", "TRAIL_SLS_LOGSTORE": "actiontrail_kms-steward-trail"})
    failed = {c["name"]: c for c in json.loads(result.output)["checks"] if not c["ok"]}
    delivery = failed["trail delivery kms-steward-logs/actiontrail_kms-steward-trail"]
    assert "of read events only" in delivery["detail"] and "--EventRW All" in delivery["fix"]


def test_a_function_deployed_without_a_trigger_or_a_role_is_named(tmp_path):
    deployed = deployed_without_cert_timer(tmp_path)
    data = ready_data()
    account = Account.from_data(data)
    with LocalCloud(account, project=deployed, clock=Clock(data["as_of"])) as cloud:
        checks = run(cloud)
    failed = {c.name: c for c in checks if not c.ok}
    assert set(failed) == {"trigger kms-steward-cert-sweep/cert-daily"}
    assert failed["trigger kms-steward-cert-sweep/cert-daily"].fix == "s deploy cert-sweep (creates the trigger cert-daily)"


def test_nothing_deployed_names_every_function_and_role(tmp_path):
    data = ready_data()
    with LocalCloud(Account.from_data(data), clock=Clock(data["as_of"])) as cloud:  # not wired from s.yaml: nothing deployed
        checks = run(cloud)
    failed = {c.name: c for c in checks if not c.ok}
    assert failed["function kms-steward-key-guard"].detail == "not deployed in cn-hangzhou"
    assert failed["function kms-steward-key-guard"].fix.startswith("s deploy")
    assert "aliyun ram CreateRole --RoleName kms-steward-key-guard" in failed["role kms-steward-key-guard"].fix
    assert not any(name.startswith("trigger ") for name in failed)  # a function not deployed is one failure, not one per trigger


def test_a_check_that_cannot_be_made_fails_with_the_error_code():
    data = ready_data()
    data["faults"] = [{"Api": "ram:GetRole", "Kind": "denied"}, {"Api": "fc:ListTriggers", "Kind": "throttled"}]
    with LocalCloud(Account.from_data(data), project=S_YAML, clock=Clock(data["as_of"])) as cloud:
        checks = run(cloud)
    failed = {c.name: c for c in checks if not c.ok}
    assert "Forbidden.RAM" in failed["role kms-steward-key-guard"].detail
    assert "ram:GetRole" in failed["role kms-steward-key-guard"].fix
    assert "Throttling.User" in failed["function kms-steward-key-guard"].detail  # retried by Clients.call, then named


def test_doctor_only_reads(tmp_path):
    data = unprepared_data()
    with LocalCloud(Account.from_data(data), project=S_YAML, clock=Clock(data["as_of"])) as cloud:
        before = cloud.state()
        events_before = len(before["actiontrail"]["events"])
        cloud.calls.reset()
        run(cloud)
        after = cloud.state()
        called = set(cloud.calls.snapshot())
    recorded = after["actiontrail"].pop("events")[events_before:]
    before["actiontrail"].pop("events")
    assert after == before  # nothing created or changed
    assert called <= READS, called - READS
    assert recorded and {e["eventRW"] for e in recorded} == {"Read"}
