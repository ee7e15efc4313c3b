"""`kms-steward rotate` against a running local cloud (the credentials and the endpoint override from the
environment, as an operator points it at `local up`), and a tiny `kms-steward bench rotation` run."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kms_steward.cli import main
from tests.conftest import ALICE_AK, ALICE_SECRET, REGION
from tests.database_servers import postgres_server  # noqa: F401 (fixture)
from tests.rotation_kit import NOW, create_secret, holder, rotation_account, stages


@pytest.fixture
def cli_env(start_cloud):
    cloud = start_cloud(rotation_account(), now=NOW)
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": ALICE_AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ALICE_SECRET,
           "ALIBABA_CLOUD_REGION_ID": REGION, "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": cloud.endpoint_override(REGION)}
    return cloud, env


def test_rotate_prints_each_step_and_exits_0(cli_env):
    cloud, env = cli_env
    create_secret(cloud, "api/cli", "initial-token-cli-01")
    result = CliRunner().invoke(main, ["rotate", "api/cli"], env=env)
    assert result.exit_code == 0, result.output
    assert "rotated api/cli: version kms-steward-" in result.output and "finish_secret" in result.output
    assert "initial-token-cli-01" not in result.output
    assert holder(cloud, "api/cli", "ACSCurrent") != "v1"


def test_rotate_one_step_as_json(cli_env):
    cloud, env = cli_env
    create_secret(cloud, "api/cli-step", "initial-token-cli-02")
    result = CliRunner().invoke(main, ["rotate", "api/cli-step", "--step", "create_secret", "--version-id", "v2", "--json"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "step-done"
    assert stages(cloud, "api/cli-step") == {"v1": ["ACSCurrent"], "v2": ["ACSPending"]}


def test_rotate_failure_exits_1_naming_the_step_and_bad_usage_exits_2(cli_env):
    cloud, env = cli_env
    create_secret(cloud, "db/cli-gone", {"engine": "mysql", "host": "127.0.0.1", "port": 1, "username": "app",
                                         "password": "Cli-nobody-listens-1"})
    failed = CliRunner().invoke(main, ["rotate", "db/cli-gone"], env=env)
    assert failed.exit_code == 1 and "failed: db/cli-gone at set_secret" in failed.stderr
    assert "Cli-nobody-listens-1" not in failed.stderr + failed.stdout
    assert CliRunner().invoke(main, ["rotate", "api/x", "--version-id", "v2"], env=env).exit_code == 2
    assert CliRunner().invoke(main, ["rotate", "api/x"], env={**env, "ALIBABA_CLOUD_REGION_ID": ""}).exit_code == 2


def test_bench_rotation_smoke(postgres_server):
    """Three secrets only (the full bench is 100): every one rotated, every new credential logs in."""
    result = CliRunner().invoke(main, ["bench", "rotation", "--secrets", "3", "--json"])
    assert result.exit_code == 0, result.output + result.stderr
    figures = json.loads(result.stdout)
    assert figures["engine"] == "postgresql"
    assert figures["rotated"] == figures["newCredentialsWorking"] == 3
    assert figures["apiCalls"]["kms:PutSecretValue"] == 3 and figures["alterRoleMs"]["statements"] == 3
