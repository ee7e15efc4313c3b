"""A function imports only the SDKs it calls, when it first calls them (shared/clients.py, _sdk_client): its cold
start does not pay for products it never uses. Checked in a fresh interpreter, as FC starts an instance."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.support.accounts import ROOT

# The products secret-rotation never calls: only Secrets Manager (KMS), CloudMonitor and SLS.
NOT_ROTATIONS = ["alibabacloud_ecs20140526", "alibabacloud_rds20140815", "alibabacloud_polardb20170801",
                 "alibabacloud_dds20151201", "alibabacloud_r_kvstore20150101", "alibabacloud_nas20170626",
                 "alibabacloud_cs20151215", "alibabacloud_actiontrail20200706", "alibabacloud_slb20140515",
                 "alibabacloud_alb20200616", "alibabacloud_cas20200407", "alibabacloud_fc20230330", "oss2"]


def imported_by(handler_dir: str) -> set[str]:
    code = (f"import sys, json; sys.path.insert(0, {str(ROOT / handler_dir)!r}); sys.path.insert(0, {str(ROOT)!r}); "
            "import index; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return set(json.loads(out))


def test_the_rotation_handler_imports_no_sdk_of_a_product_it_never_calls():
    assert sorted(set(NOT_ROTATIONS) & imported_by("functions/secret_rotation")) == []
