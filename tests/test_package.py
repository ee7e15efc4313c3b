"""`kms-steward package`: each function's deployable code holds what the function imports and nothing else, and it runs
on its own. Each artifact's zip is unpacked into an empty folder; the local cloud then runs every function from its
unpacked package, in a fresh interpreter whose only code is that package and the standard library
(localcloud/packaged.py), through the scenarios that reach every API each function calls (tests/test_ram_policies.py).
Each must behave exactly as the project's own code does in-process: the same invocations succeeding or failing, the
same calls made and allowed by the function's role."""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from kms_steward.package import PackageError, _check_pins, build, runs_fc_wheels
from kms_steward.package_graph import import_graph
from localcloud.packaged import CLEAN_INTERPRETER
from tests import test_ram_policies as scenarios
from tests.support.accounts import ROOT

# what differs between two runs of one scenario: event ids, the hashes of claims, a sweep run's start time
RUN_ID = re.compile(r"[0-9a-f]{32,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{8}T\d{6}Z", re.I)
FUNCTIONS = ["key-guard", "key-guard-failures", "secret-guard", "secret-guard-failures", "secret-rotation",
             "secret-rotation-failures", "compliance-sweep", "compliance-sweep-failures", "cert-sweep", "cert-sweep-failures"]


# ---------------------------------------------------------------- what goes in (read from the source)

def _graph(handler_dir: str):
    return import_graph(ROOT, f"functions.{handler_dir}.index")


def test_a_function_ships_only_the_library_never_the_cli_the_local_cloud_or_the_tests():
    for handler_dir in ("key_guard", "secret_rotation", "compliance_sweep"):
        files = [p.relative_to(ROOT).parts[0] for p in _graph(handler_dir).files]
        assert set(files) == {"shared", "functions"}, handler_dir


def test_a_product_sdk_ships_only_with_a_function_that_asks_for_its_client():
    rotation = {name.split(".")[0] for name in _graph("secret_rotation").third_party}
    guard = {name.split(".")[0] for name in _graph("key_guard").third_party}
    sweep = {name.split(".")[0] for name in _graph("cert_sweep").third_party}
    assert "alibabacloud_kms20160120" in rotation and "pg8000" in rotation
    assert "alibabacloud_ecs20140526" not in rotation and "alibabacloud_rds20140815" not in rotation
    assert "alibabacloud_ecs20140526" in guard and "pg8000" not in guard  # the audit reads ECS; no database driver
    assert "alibabacloud_slb20140515" in sweep and "alibabacloud_slb20140515" not in guard


def _graph_of(tmp_path, index: str, **shared_modules: str):
    """The import graph of a small project: functions/f/index.py and the shared package's modules, by name."""
    (tmp_path / "functions" / "f").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "__init__.py").write_text("")
    (tmp_path / "functions" / "f" / "index.py").write_text(textwrap.dedent(index))
    for name, text in shared_modules.items():
        (tmp_path / "shared" / f"{name}.py").write_text(textwrap.dedent(text))
    return import_graph(tmp_path, "functions.f.index")


def test_an_import_counts_when_the_function_holding_it_is_called_and_type_checking_imports_never(tmp_path):
    graph = _graph_of(tmp_path, "from shared.lib import used\n\ndef handler(e, c):\n    return used()\n", lib="""\
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            import typed_only
        def used():
            import used_sdk
            return _sdk_client("kms20160120")
        def never_called():
            import unused_sdk
        """)
    assert "used_sdk" in graph.third_party and "alibabacloud_kms20160120.client" in graph.third_party
    assert "unused_sdk" not in graph.third_party and "typed_only" not in graph.third_party
    assert {p.relative_to(tmp_path).as_posix() for p in graph.files} == {
        "functions/f/index.py", "shared/__init__.py", "shared/lib.py"}


def test_an_import_in_a_method_python_calls_implicitly_is_shipped(tmp_path):
    graph = _graph_of(
        tmp_path, "from shared.lib import Store, Session\n\ndef handler(e, c):\n    with Session() as s:\n        return Store()\n",
        helper="", lib="""\
        class Store:
            def __init__(self):
                import oss2
                from shared import helper
        class Session:
            def __enter__(self):
                import aliyun.log
                return self
            def __exit__(self, *exc):
                return False
        """)
    files = {p.relative_to(tmp_path).as_posix() for p in graph.files}
    assert "oss2" in graph.third_party and "aliyun.log" in graph.third_party, graph.third_party
    assert "shared/helper.py" in files, files


def test_a_method_a_library_calls_by_name_ships_its_lazy_import(tmp_path):
    """A lazy import in a method the standard library calls by its own name (logging.Handler.emit, Thread.run,
    JSONEncoder.default) is never spelled in the project: the graph leaves its module out of the package."""
    graph = _graph_of(tmp_path, """
        import logging
        from shared.h import SlsHandler
        logging.getLogger().addHandler(SlsHandler())
        def handler(event, context):
            logging.getLogger().warning("x")
    """, h="""
        import logging
        class SlsHandler(logging.Handler):
            def emit(self, record):
                from aliyun.log import LogClient
    """)
    assert any(name.startswith("aliyun.log") for name in graph.third_party), graph.third_party


def test_a_function_called_by_a_spelled_string_or_registered_by_a_decorator_ships_its_lazy_import(tmp_path):
    """getattr(client, "open_bucket") and a decorated function are called where their names are never written as code."""
    graph = _graph_of(tmp_path, "from shared.lib import Client\n\ndef handler(e, c):\n    return getattr(Client(), 'open_bucket')()\n",
                      lib="""\
        import functools
        class Client:
            def open_bucket(self):
                import oss2
            def never_named(self):
                import unused_sdk
        @functools.lru_cache(maxsize=None)
        def registered():
            import tenacity
        """)
    assert "oss2" in graph.third_party and "tenacity" in graph.third_party
    assert "unused_sdk" not in graph.third_party


def test_packaging_refuses_versions_that_drifted_from_the_pins():
    """What deploys is what requirements.txt pins: an older environment is refused, not shipped."""
    pinned = next(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                  if line.startswith("pydantic=="))
    _check_pins({pinned[0]: pinned[1], "some-unpinned-dist": "1.0"})  # the pinned version, and one requirements.txt leaves free
    with pytest.raises(PackageError, match=r"pydantic 0\.0\.1 \(pinned "):
        _check_pins({"pydantic": "0.0.1"})


# ---------------------------------------------------------------- the artifacts, built and run

needs_fc_python = pytest.mark.skipif(not runs_fc_wheels(), reason="the packages hold wheels for CPython 3.10 on Linux "
                                     "x86_64 (FC's python3.10); this interpreter cannot import them")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    built = build(FUNCTIONS, out=out, wheels=ROOT / "dist" / ".wheels")  # wheels kept between runs: downloaded once
    unpacked = tmp_path_factory.mktemp("unpacked")
    for artifact in built:
        folder = unpacked / artifact.resource
        folder.mkdir()
        with zipfile.ZipFile(artifact.zip_path) as archive:
            archive.extractall(folder)
    return {a.resource: a for a in built}, unpacked


@needs_fc_python
def test_each_artifact_holds_its_handler_its_library_files_unchanged_and_no_unused_dependency(artifacts):
    built, unpacked = artifacts
    assert sorted(built) == sorted(FUNCTIONS)
    for resource, artifact in built.items():
        folder = unpacked / resource
        for relative in artifact.project_files:  # byte for byte the project's: what the local cloud runs in-process
            assert (folder / relative).read_bytes() == (ROOT / relative).read_bytes(), relative
        assert not (folder / "localcloud").exists() and not (folder / "kms_steward").exists()
        assert not (folder / "tests").exists()
        # aliyun-log-python-sdk requires these, but no import of the SLS calls loads them
        assert not any(folder.glob("elasticsearch*")) and not any(folder.glob("dateparser*")), resource
        assert 0 < artifact.zip_bytes < 500 * 2**20 and artifact.import_s is not None
        # bytecode for CPython 3.10 beside the project's modules: FC's code folder is read-only, nothing compiled is kept
        assert (folder / "shared" / "__pycache__" / "clients.cpython-310.pyc").is_file(), resource
        # crcmod publishes no wheel for FC: shipped as its pure-Python fallback, never with this machine's extension
        if "crcmod" in artifact.distributions:
            assert artifact.without_extensions == ["crcmod"] and not list((folder / "crcmod").glob("*.so"))
    assert "alibabacloud-ecs20140526" not in built["secret-rotation"].distributions
    assert "pg8000" in built["secret-rotation"].distributions and "pg8000" not in built["key-guard"].distributions


@needs_fc_python
def test_a_handler_imports_from_its_unpacked_artifact_alone(artifacts):
    """Nothing but the artifact and the standard library: the project and this environment's site-packages are not
    importable in the child."""
    built, unpacked = artifacts
    for resource in ("key-guard", "secret-rotation"):
        folder = unpacked / resource
        code = (f"import sys; sys.path.insert(0, {str(folder)!r}); import pydantic, shared; "
                "print(pydantic.__file__); print(shared.__file__); import pytest")
        done = subprocess.run([*CLEAN_INTERPRETER, "-c", code], capture_output=True, text=True)
        assert done.stdout.split() == [str(folder / "pydantic" / "__init__.py"), str(folder / "shared" / "__init__.py")]
        assert "No module named 'pytest'" in done.stderr


def _outcome(scenario: str) -> tuple[list, Counter]:
    decisions = scenarios.SCENARIOS[scenario]()
    invocations = [(inv.function, inv.attempt, inv.ok, (inv.error or {}).get("errorType"))
                   for inv in scenarios.LAST_RUN["invocations"]]
    calls = Counter((d.role, d.call.action, RUN_ID.sub("<id>", d.call.resource), d.allowed) for d in decisions)
    return invocations, calls


@needs_fc_python
@pytest.mark.parametrize("scenario", list(scenarios.SCENARIOS))
def test_every_function_behaves_from_its_package_as_from_the_project(scenario, artifacts, monkeypatch):
    _, unpacked = artifacts
    in_process = _outcome(scenario)
    monkeypatch.setitem(scenarios.RUN_OPTIONS, "packages", unpacked)
    packaged = _outcome(scenario)
    assert packaged[0] == in_process[0]  # the same invocations, each succeeding or failing alike
    assert packaged[1] == in_process[1]  # the same calls, each allowed or refused by the role alike
    assert any(ok for _, _, ok, _ in packaged[0])
