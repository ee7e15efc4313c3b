"""`kms-steward local up` serves the local cloud as a process; the official SDK uses what it prints."""
from __future__ import annotations

import re
import signal
import subprocess
import sys

import yaml
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.utils_models import Config

from tests.support.accounts import ROOT


def test_local_up_prints_a_working_endpoint_and_credentials(tmp_path):
    state = tmp_path / "state.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "kms_steward.cli", "local", "up", "--state-out", str(state)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        text = "".join(lines)
        endpoint = re.search(r"cn-hangzhou\s+http://(127\.0\.0\.1:\d+)", text)[1]
        ak = re.search(r"ALIBABA_CLOUD_ACCESS_KEY_ID=(\S+)", text)[1]
        secret = re.search(r"ALIBABA_CLOUD_ACCESS_KEY_SECRET=(\S+)", text)[1]
        client = KmsClient(Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http", region_id="cn-hangzhou"))
        keys = client.list_keys(kms.ListKeysRequest()).body
        assert keys.total_count == 2
        # DisableKey takes the key id only ("The ID of the CMK", DisableKey API reference): the alias is resolved first.
        scratch = client.describe_key(kms.DescribeKeyRequest(key_id="alias/scratch")).body.key_metadata.key_id
        client.disable_key(kms.DisableKeyRequest(key_id=scratch))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    after = yaml.safe_load(state.read_text())
    assert {k["Description"]: k["KeyState"] for k in after["kms"]["keys"]}["scratch key from a finished experiment"] == "Disabled"
