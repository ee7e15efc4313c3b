"""The operator's first hour: every command right the first time, and usable in scripts. Each test runs
the CLI as a user does (click's CliRunner, or a subprocess for `local up`), never the function beneath."""
from __future__ import annotations

import copy
import json
import queue
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest
import yaml
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from click.testing import CliRunner

from kms_steward.cli import main
from kms_steward.local import DEMO_ACCOUNT
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, BASE_ACCOUNT, KEY, OTHER_KEY, REGION, ROOT, make_account
from tests.support.resources import bucket, disk, snapshot

EXAMPLE = ROOT / "examples" / "account-pending-deletion.yaml"
SCHEDULE = str(ROOT / "events" / "schedule_key_deletion.json")
EXAMPLE_DELETE_DATE = "2024-05-21T06:12:31Z"  # the example key's DeleteDate
SHANGHAI_KEY = "5e1a9c3b-7d2f-4b8e-9a61-3c5d7e9f1b2a"
DEMO_SECRETS = ("demo-alice-local-only-secret", "demo-payments-local-only-secret")


def cli(*args, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def write(tmp_path, data: dict, name: str = "account.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def with_dependents(tmp_path, **changes) -> str:
    """The test account with a disk, a snapshot and a bucket on KEY (OTHER_KEY: nothing)."""
    data = copy.deepcopy(BASE_ACCOUNT)
    data["ecs"]["disks"] = [{k: v for k, v in disk("d-app1").items() if v is not None}]
    data["ecs"]["snapshots"] = [snapshot("s-app1")]
    data["oss"]["buckets"].append(bucket("acme-invoices"))
    data.update(changes)
    return write(tmp_path, data)


def two_regions(tmp_path) -> str:
    data = copy.deepcopy(BASE_ACCOUNT)
    data["regions"] = [{"RegionId": REGION}, {"RegionId": "cn-shanghai"}]
    data["kms"]["keys"].append({"KeyId": SHANGHAI_KEY, "RegionId": "cn-shanghai", "KeyState": "Enabled", "Origin": "Aliyun_KMS",
                                "Creator": ACCOUNT_ID})
    data["ecs"]["disks"] = [{k: v for k, v in {**disk("d-sh-app"), "RegionId": "cn-shanghai", "KMSKeyId": SHANGHAI_KEY}.items()
                             if v is not None}]
    return write(tmp_path, data)


# ---------------------------------------------------------------- 1. a key whose deletion completed


def test_local_invoke_says_when_the_keys_deletion_completed():
    # The README's example a year and a half after its DeleteDate: key-guard finds no key (as in the cloud),
    # and the local cloud, which completed the deletion, says when.
    result = cli("local", "invoke", "key-guard", "--event", SCHEDULE, "--account", str(EXAMPLE), "--now", "2025-11-25T00:00:00Z")
    assert result.exit_code == 0, result.output
    [decision] = json.loads(result.stdout)["results"]  # stdout stays the function's result, for scripts
    assert decision["status"] == "rejected" and "not found" in decision["reason"]
    assert (f"the key's deletion completed at {EXAMPLE_DELETE_DATE} (the local clock is 2025-11-25T00:00:00Z)"
            in result.stderr)


def test_preflight_says_when_the_keys_deletion_completed():
    for ref in (KEY, "alias/payments"):
        result = cli("preflight", "--key-id", ref, "--account", str(EXAMPLE), "--now", "2025-11-25T00:00:00Z")
        assert result.exit_code == 2
        assert (f"the key's deletion completed at {EXAMPLE_DELETE_DATE} (the local clock is 2025-11-25T00:00:00Z)"
                in result.output), result.output
    before = cli("preflight", "--key-id", KEY, "--account", str(EXAMPLE), "--format", "json", "--fail-on", "none")
    assert before.exit_code == 0 and json.loads(before.stdout)["key"]["state"] == "PendingDeletion"


def test_a_key_missing_from_a_real_account_stays_not_found(start_cloud):
    # Without --account the CLI speaks to "Alibaba Cloud" (here the local cloud behind the endpoint override):
    # it cannot know why a key is missing, and does not guess.
    account = make_account(key_state="PendingDeletion")
    account.kms.keys[0].DeleteDate = "2024-01-01T00:00:00Z"
    cloud = start_cloud(account, now="2025-01-01T00:00:00Z")
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": ALICE_AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ALICE_SECRET,
           "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override()}
    result = cli("preflight", "--key-id", KEY, "--region", REGION, env=env)
    assert result.exit_code == 2
    assert "no such key in this region" in result.output and "deletion completed" not in result.output
    assert ALICE_SECRET not in result.output


# ---------------------------------------------------------------- 2. exit codes a script can stop on


@pytest.mark.parametrize("key, action, fail_on, code, outcome", [
    (OTHER_KEY, "delete", [], 0, "clear"),
    (KEY, "delete", [], 4, "blocked"),
    (KEY, "disable", [], 3, "risky"),
    (KEY, "disable", ["--fail-on", "blocked,incomplete"], 0, "risky"),  # risky let through
    (KEY, "delete", ["--fail-on", "risky", "--fail-on", "blocked"], 4, "blocked"),
    (KEY, "delete", ["--fail-on", "none"], 0, "blocked"),
])
def test_preflight_exits_with_the_outcome(tmp_path, key, action, fail_on, code, outcome):
    result = cli("preflight", "--key-id", key, "--account", with_dependents(tmp_path), "--action", action, "--format", "json", *fail_on)
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["outcome"] == outcome


def test_an_incomplete_audit_is_its_own_exit_code(tmp_path):
    path = with_dependents(tmp_path, faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}])
    result = cli("preflight", "--key-id", OTHER_KEY, "--account", path, "--format", "json")
    assert result.exit_code == 5 and json.loads(result.stdout)["outcome"] == "incomplete"
    # Found dependents outrank the gap: the deletion is blocked either way.
    assert cli("preflight", "--key-id", KEY, "--account", path, "--format", "json").exit_code == 4
    assert cli("preflight", "--key-id", OTHER_KEY, "--account", path, "--fail-on", "blocked").exit_code == 0


def test_no_report_is_exit_code_2_and_a_bad_fail_on_is_the_options_error(tmp_path):
    assert cli("preflight", "--key-id", "alias/nope", "--account", with_dependents(tmp_path)).exit_code == 2
    bad = cli("preflight", "--key-id", KEY, "--account", with_dependents(tmp_path), "--fail-on", "sometimes")
    assert bad.exit_code == 2 and "Invalid value for '--fail-on'" in bad.output


def test_help_and_readme_document_the_same_exit_codes():
    help_text = cli("preflight", "--help").output
    readme = (ROOT / "README.md").read_text()
    for code, outcome in (("0", "clear"), ("3", "risky"), ("4", "blocked"), ("5", "incomplete"), ("2", "no report")):
        assert re.search(rf"^\s*{code}\s+{outcome}\b", help_text, re.M), f"--help lacks exit code {code} ({outcome})"
        assert re.search(rf"^\|\s*`{code}`\s*\|\s*{outcome}\b", readme, re.M), f"README lacks exit code {code} ({outcome})"
    assert "--fail-on" in help_text and "--fail-on" in readme


# ---------------------------------------------------------------- 3. --action disable speaks of disabling


def test_a_disable_report_speaks_of_disabling_not_deletion(tmp_path):
    path = with_dependents(tmp_path)
    report = json.loads(cli("preflight", "--key-id", KEY, "--account", path, "--action", "disable", "--format", "json").stdout)
    assert report["recommendation"].startswith("Do not disable yet")
    assert report["deletion_window"] is None and "Rejected.Disabled" in report["while_disabled"]
    assert not any("daily" in c or "window ends" in c for c in report["post_checks"])
    assert not any("PendingDeletion" in c for c in report["post_checks"])
    md = cli("preflight", "--key-id", KEY, "--account", path, "--action", "disable", "--format", "md").stdout
    table = cli("preflight", "--key-id", KEY, "--account", path, "--action", "disable").stdout
    for text in (md, table):
        assert "Do not delete" not in text and "Deletion window" not in text and "daily" not in text
        assert "While disabled" in text
    clear = json.loads(cli("preflight", "--key-id", OTHER_KEY, "--account", path, "--action", "disable", "--format", "json").stdout)
    assert clear["recommendation"].startswith("Disabling is the safe way")
    # A deletion still gets its window and its daily re-run.
    delete = json.loads(cli("preflight", "--key-id", KEY, "--account", path, "--format", "json").stdout)
    assert delete["recommendation"].startswith("Do not delete") and "7 to 366 days" in delete["deletion_window"]
    assert any("daily" in c for c in delete["post_checks"])


# ---------------------------------------------------------------- 4. ARNs understood whole


def test_an_arn_names_its_region(tmp_path):
    arn = f"acs:kms:cn-shanghai:{ACCOUNT_ID}:key/{SHANGHAI_KEY}"
    result = cli("preflight", "--key-id", arn, "--account", two_regions(tmp_path), "--format", "json")
    report = json.loads(result.stdout)
    assert report["key"]["key_id"] == SHANGHAI_KEY and report["key"]["region"] == "cn-shanghai"
    assert [d["resource_id"] for c in report["categories"] for d in c["dependents"]] == ["d-sh-app"]


def test_an_arn_naming_another_region_or_account_is_refused(tmp_path):
    path = two_regions(tmp_path)
    clash = cli("preflight", "--key-id", f"acs:kms:cn-shanghai:{ACCOUNT_ID}:key/{SHANGHAI_KEY}", "--region", REGION, "--account", path)
    assert clash.exit_code == 2 and "the ARN names region cn-shanghai, but --region is cn-hangzhou" in clash.output
    other = cli("preflight", "--key-id", f"acs:kms:{REGION}:9999999999999999:key/{KEY}", "--account", path)
    assert other.exit_code == 2 and f"the ARN names account 9999999999999999, but the account file is account {ACCOUNT_ID}" in other.output
    # The key id of a cn-hangzhou key in a cn-shanghai ARN names no key there: never the cn-hangzhou key.
    wrong_region = cli("preflight", "--key-id", f"acs:kms:cn-shanghai:{ACCOUNT_ID}:key/{KEY}", "--account", path)
    assert wrong_region.exit_code == 2 and "no such key in this region" in wrong_region.output
    assert cli("preflight", "--key-id", "acs:kms:cn-hangzhou:key", "--account", path).exit_code == 2


def test_a_real_account_answering_with_another_accounts_key_is_not_reported(start_cloud):
    # Should a cloud answer an ARN of account A with a key of account B, the report would describe another key
    # than the one asked for: the CLI compares the account DescribeKey names with the ARN's, before any audit.
    cloud = start_cloud(make_account(disks=[disk("d-app1")]))
    other = f"acs:kms:{REGION}:9999999999999999:key/{KEY}"
    cloud.faults.respond("kms:DescribeKey", {"RequestId": "r-1", "KeyMetadata": {"KeyId": KEY, "Arn": other, "KeyState": "Enabled"}})
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": ALICE_AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ALICE_SECRET,
           "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(), "ALIBABA_CLOUD_REGION_ID": "cn-shanghai"}
    before = cloud.calls.get("ecs:DescribeDisks")
    result = cli("preflight", "--key-id", f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", env=env)  # region: the ARN's
    assert result.exit_code == 2, result.output
    assert f"names account {ACCOUNT_ID}, but the key these credentials read is {other}" in result.output
    assert cloud.calls.get("ecs:DescribeDisks") == before  # no audit of the other key


def test_the_local_cloud_finds_no_key_for_an_arn_of_another_region_or_account(start_cloud):
    cloud = start_cloud(make_account())
    client = KmsClient(Config(access_key_id=ALICE_AK, access_key_secret=ALICE_SECRET, endpoint=cloud.endpoint(REGION),
                              protocol="http", region_id=REGION))
    for arn in (f"acs:kms:cn-shanghai:{ACCOUNT_ID}:key/{KEY}", f"acs:kms:{REGION}:9999999999999999:key/{KEY}"):
        with pytest.raises(ClientException) as err:
            client.describe_key(kms.DescribeKeyRequest(key_id=arn))
        assert err.value.code == "Forbidden.KeyNotFound"
    own = client.describe_key(kms.DescribeKeyRequest(key_id=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}")).body.key_metadata
    assert own.key_id == KEY


# ---------------------------------------------------------------- 5. local up: a live log, a port, its state kept


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Session:
    """`kms-steward local up` as a subprocess, its output read line by line."""

    def __init__(self, *args, cwd=ROOT):
        self.proc = subprocess.Popen([sys.executable, "-m", "kms_steward.cli", "local", "up", *args], cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()

    def until(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never printed; output:\n" + "".join(self.seen))

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = self.proc.wait(timeout=60)
        time.sleep(0.2)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code

    def client(self) -> KmsClient:
        text = "".join(self.seen)
        endpoint = re.search(r"cn-hangzhou\s+http://(127\.0\.0\.1:\d+)", text)[1]
        ak = re.search(r"ALIBABA_CLOUD_ACCESS_KEY_ID=(\S+)", text)[1]
        secret = re.search(r"ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\S+)", text)[1]
        return KmsClient(Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http", region_id=REGION))


def test_local_up_logs_each_event_delivered_and_what_key_guard_did(tmp_path):
    port = _free_port()
    state = tmp_path / "state.yaml"
    session = _Session("--port", str(port), "--state-out", str(state))
    try:
        session.until("Ctrl-C to stop")
        assert f"http://127.0.0.1:{port}" in "".join(session.seen)
        session.client().schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
        event = session.until("event ScheduleKeyDeletion")
        decision = session.until("key-guard acted")
    finally:
        code = session.interrupt()
    assert "by ram-user alice" in event and KEY in event and "-> key-guard" in event
    assert "decision block" in decision and "cancel_deletion -> PendingDeletion -> Enabled" in decision
    assert "alert KmsKeyDeletionBlocked" in decision
    assert code == 0, "".join(session.seen)
    # Ctrl-C ends the session with its state written, readable by its owner only (it holds the credentials).
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert yaml.safe_load(state.read_text())["kms"]["keys"][0]["KeyState"] == "Enabled"
    output = "".join(session.seen)
    assert not any(secret in line for secret in DEMO_SECRETS for line in output.splitlines() if "export" not in line)


def test_local_up_quiet_has_no_live_log():
    session = _Session("--quiet")
    try:
        session.until("Ctrl-C to stop")
        client = session.client()
        client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
        deadline = time.monotonic() + 120
        while client.describe_key(kms.DescribeKeyRequest(key_id=KEY)).body.key_metadata.key_state != "Enabled":
            assert time.monotonic() < deadline, "key-guard never cancelled the deletion"
            time.sleep(0.2)
    finally:
        code = session.interrupt()
    assert code == 0
    assert not any("key-guard" in line and re.match(r"\d\d:\d\d:\d\d ", line) for line in session.seen), "".join(session.seen)


def test_local_up_refuses_what_it_cannot_do_before_serving(tmp_path):
    # A state file that cannot be written fails at start, not at Ctrl-C when the session's state is lost.
    for bad in (tmp_path / "missing" / "state.yaml", tmp_path):
        result = cli("local", "up", "--state-out", str(bad))
        assert result.exit_code == 2 and "Invalid value for '--state-out'" in result.output
        assert "is up" not in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("local", "up", "--port", str(port))
    assert result.exit_code == 2 and f"--port {port}" in result.output and "Traceback" not in result.output


def test_local_invoke_checks_state_out_before_anything_runs(tmp_path):
    result = cli("local", "invoke", "key-guard", "--event", SCHEDULE, "--account", str(EXAMPLE),
                 "--state-out", str(tmp_path / "missing" / "state.yaml"))
    assert result.exit_code == 2 and "Invalid value for '--state-out'" in result.output
    assert "results" not in result.output  # the function never ran
    state = tmp_path / "state.yaml"
    ok = cli("local", "invoke", "key-guard", "--event", SCHEDULE, "--account", str(EXAMPLE), "--state-out", str(state))
    assert ok.exit_code == 0 and stat.S_IMODE(state.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".state.yaml.*"))  # the temporary file of the atomic write is gone


# ---------------------------------------------------------------- 7. smaller things a user notices


def test_version():
    result = cli("--version")
    assert result.exit_code == 0 and re.fullmatch(r"kms-steward, version \d+\.\d+\.\d+\S*\n", result.output)


@pytest.mark.parametrize("command", [["preflight", "--key-id", KEY, "--account", str(DEMO_ACCOUNT)], ["local", "up"],
                                     ["local", "invoke", "key-guard", "--event", SCHEDULE]])
def test_a_bad_now_is_the_options_error(command):
    result = cli(*command, "--now", "next tuesday")
    assert result.exit_code == 2
    assert "Invalid value for '--now': 'next tuesday' is not an ISO 8601 instant" in result.output


def test_now_without_a_local_cloud_is_refused():
    result = cli("preflight", "--key-id", KEY, "--region", REGION, "--now", "2026-01-01T00:00:00Z")
    assert result.exit_code == 2 and "--now sets the local cloud's clock: it needs --account" in result.output


@pytest.mark.parametrize("value", ["", "   ", "alias/pay ments"])
def test_an_empty_or_spaced_key_id_is_refused_before_any_call(value):
    result = cli("preflight", "--key-id", value, "--account", str(DEMO_ACCOUNT))
    assert result.exit_code == 2 and "Invalid value for '--key-id'" in result.output
    assert "auditing" not in result.output and "found (" not in result.output


def test_missing_credentials_are_named_in_the_users_words():
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": None, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": None, "ALIBABA_CLOUD_SECURITY_TOKEN": None}
    result = cli("preflight", "--key-id", KEY, "--region", REGION, env=env)
    assert result.exit_code == 2
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in result.output and "--account" in result.output
    assert "context.credentials" not in result.output and "Traceback" not in result.output


def _table(tmp_path, width: int):
    """The table report as a terminal of this width prints it (COLUMNS is what rich reads)."""
    return cli("preflight", "--key-id", "alias/payments", "--account", str(DEMO_ACCOUNT), env={"COLUMNS": str(width)})


def test_the_table_keeps_the_oss_caveat_and_never_breaks_an_identifier(tmp_path):
    arn = f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}"
    for width in (80, 100, 160):
        out = _table(tmp_path, width).stdout
        lines = out.splitlines()
        # Copied from here: each on one line, whole.
        for identifier in (arn, KEY, "ram-user:payments-api", ACCOUNT_ID, "2026-11-12T14:35:00Z", "acme-payments-invoices",
                           "payments/db-password", "d-bp1payments0db01"):
            assert any(identifier in line for line in lines), f"{identifier} broken at width {width}:\n{out}"
        assert "x-oss-server-side-encryption-key-id" in out  # the OSS caveat, beside the bucket it found
    md = cli("preflight", "--key-id", "alias/payments", "--account", str(DEMO_ACCOUNT), "--format", "md").stdout
    assert "x-oss-server-side-encryption-key-id" in md  # the same caveat the md and json show


def test_a_pending_deletion_date_is_worded_as_the_future():
    result = cli("preflight", "--key-id", KEY, "--account", str(EXAMPLE), "--format", "md", "--fail-on", "none")
    assert f"PendingDeletion (deletion scheduled for {EXAMPLE_DELETE_DATE})" in result.stdout
    assert "deleted at" not in result.stdout


def test_the_json_report_is_snake_case_and_every_gap_has_a_reason(tmp_path):
    path = with_dependents(tmp_path, faults=[{"Api": "ecs:DescribeDisks", "Code": "Forbidden.RAM"}])
    report = json.loads(cli("preflight", "--key-id", KEY, "--account", path, "--format", "json").stdout)
    assert "dependentCount" not in report and report["dependent_count"] == 2  # the snapshot and the bucket

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k != "api_calls":  # keyed by API name (product:Action)
                    yield k
                    yield from keys(v)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)
    assert all(re.fullmatch(r"[a-z0-9_]+", k) for k in keys({k: v for k, v in report.items() if k != "assessments"}))
    for category in [*report["categories"], report["usage"]]:
        assert category["complete"] or category["reason"], category
    assert all(a["summary"] for a in report["assessments"].values()) and report["recommendation"]


def test_every_result_that_does_nothing_says_why():
    # The demo account's key is not pending deletion: key-guard re-reads it and does nothing, and says why.
    for event in ("schedule_key_deletion.json", "disable_key.json", "schedule_key_deletion_console.json"):
        result = cli("local", "invoke", "key-guard", "--event", str(ROOT / "events" / event))
        assert result.exit_code == 0, result.output
        for r in json.loads(result.stdout)["results"]:
            if r["status"] in ("no_action", "ignored", "rejected", "already_done", "duplicate"):
                assert r.get("reason"), r


def test_install_has_no_warning_about_kms_steward_data(tmp_path):
    """What `pip install` runs (setuptools' build_py, on a copy of the project): no 'kms_steward.data is absent
    from packages' warning, and the demo account is in the package."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for package in ("kms_steward", "shared", "localcloud"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    run = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "--build-lib", "out"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "kms_steward.data" not in run.stderr + run.stdout
    assert (tmp_path / "out" / "kms_steward" / "data" / "demo-account.yaml").is_file()


def test_the_readme_state_file_is_ignored():
    # `local invoke ... --state-out state.yaml` (README) writes the account's credentials into the working tree.
    if shutil.which("git") and (ROOT / ".git").exists():
        run = subprocess.run(["git", "check-ignore", "-q", "state.yaml"], cwd=ROOT)  # read-only
        assert run.returncode == 0, "state.yaml is not ignored"
    else:
        assert "/state.yaml" in (ROOT / ".gitignore").read_text().splitlines()


def test_no_secret_in_any_report(tmp_path):
    for fmt in ("table", "md", "json"):
        out = cli("preflight", "--key-id", "alias/payments", "--account", str(DEMO_ACCOUNT), "--format", fmt).output
        assert not any(secret in out for secret in DEMO_SECRETS)
