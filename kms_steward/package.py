"""`kms-steward package`: each function's deployable code, as s.yaml deploys it (`code: ./dist/<resource>`).

An artifact holds the function's handler, the project modules it imports (kms_steward/package_graph.py), and the
distributions those imports load, unpacked from wheels built for FC's python3.10 runtime: CPython 3.10 on Debian 10,
x86_64 ("Python runtimes", https://www.alibabacloud.com/help/en/functioncompute/user-guide/runtime-overview-2), so
manylinux wheels up to glibc 2.28. Nothing else goes in: not the CLI, not the local cloud, not a dependency that no
import of the function loads (aliyun-log-python-sdk requires elasticsearch and dateparser, which the SLS calls never
import).

Which distributions an import loads is seen, not guessed: a child interpreter of this environment imports the function's
third-party modules and names the distribution of every file loaded. The versions shipped are this environment's,
the ones the tests ran against (`make setup` installs them under requirements.txt's pins).

The artifact is a folder (dist/<resource>/, what `s deploy` zips and uploads) and its zip (dist/<resource>.zip, the
size FC counts). Its handler's import time is measured in a fresh interpreter that has only the artifact on its path,
where this machine can run FC's wheels (Linux x86_64, CPython 3.10).
"""
from __future__ import annotations

import compileall
import json
import os
import py_compile
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from kms_steward.package_graph import import_graph
from localcloud.packaged import CLEAN_INTERPRETER

ROOT = Path(__file__).resolve().parents[1]
# FC python3.10: CPython 3.10 on Debian 10 (glibc 2.28), x86_64. pip takes a wheel whose platform tag is one of these.
FC_PYTHON = "3.10"
FC_PLATFORMS = tuple(f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)) + (
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64")
# "Limits" (Function Compute 3.0, https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/limits):
# a code package uploaded with the function is at most 500 MB zipped.
CODE_PACKAGE_LIMIT_BYTES = 500 * 1024 * 1024
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's time: the same code gives the same zip, byte for byte


class PackageError(RuntimeError):
    pass


@dataclass
class Artifact:
    resource: str
    function_name: str
    folder: Path
    zip_path: Path
    project_files: list[str]
    distributions: dict[str, str]  # name -> version
    zip_bytes: int
    unpacked_bytes: int
    import_s: float | None  # None: this machine cannot run FC's wheels
    without_extensions: list[str]  # distributions with no wheel for FC, shipped as pure Python (their fallback)
    bytecode: bool  # compiled for CPython 3.10 (only a 3.10 interpreter can)

    def as_dict(self) -> dict:
        return {"resource": self.resource, "function": self.function_name, "folder": str(self.folder),
                "zip": str(self.zip_path), "zip_bytes": self.zip_bytes, "unpacked_bytes": self.unpacked_bytes,
                "import_s": self.import_s, "without_extensions": self.without_extensions, "bytecode": self.bytecode, "project_files": self.project_files, "distributions": self.distributions}


def runs_fc_wheels() -> bool:
    """Whether this interpreter can import what is built for FC's python3.10 (the import time is measured only then)."""
    return (sys.platform == "linux" and platform.machine() == "x86_64"
            and f"{sys.version_info.major}.{sys.version_info.minor}" == FC_PYTHON)


_OBSERVE = r"""
import importlib, json, sys
sys.path.insert(0, {root!r})
before = set(sys.modules)
for name in {names!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        # "from oss2 import models" names the module oss2.models; "from pydantic import BaseModel" names no module
        # but a name, which pydantic loads when it is first asked for (its __getattr__): ask for it
        parent, _, attribute = name.rpartition(".")
        if parent:
            getattr(importlib.import_module(parent), attribute, None)
files = sorted({{getattr(m, "__file__", None) or "" for n, m in list(sys.modules.items()) if n not in before}} - {{""}})
print(json.dumps(files))
"""


def _file_owners() -> dict[Path, str]:
    owners: dict[Path, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        for file in dist.files or ():
            owners[Path(dist.locate_file(file)).resolve()] = name
    return owners


def loaded_distributions(modules: list[str], owners: dict[Path, str] | None = None) -> dict[str, str]:
    """The distributions (name -> installed version) whose files importing `modules` loads, in a child interpreter."""
    if not modules:
        return {}
    done = subprocess.run([sys.executable, "-c", _OBSERVE.format(root=str(ROOT), names=modules)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    if done.returncode != 0:
        raise PackageError(f"importing the function's dependencies failed: {done.stderr.strip()[-500:]}")
    owners = owners if owners is not None else _file_owners()
    found: dict[str, str] = {}
    for file in json.loads(done.stdout.strip().splitlines()[-1]):
        name = owners.get(Path(file).resolve())
        if name is not None and name != "kms-steward":
            found[name] = metadata.version(name)
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def _check_pins(distributions: dict[str, str]) -> None:
    """What deploys is what requirements.txt pins: an environment that drifted from a pin (installed before the pin
    changed) is refused rather than shipped."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[_normalized(name)] = version.strip()
    drifted = [f"{n} {v} (pinned {pins[_normalized(n)]})" for n, v in distributions.items()
               if _normalized(n) in pins and pins[_normalized(n)] != v]
    if drifted:
        raise PackageError(f"installed versions differ from requirements.txt: {', '.join(drifted)}; "
                           f"`make clean setup` installs the pinned ones")


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _cached_wheel(wheels: Path, name: str, version: str) -> Path | None:
    """The wheel of name==version in `wheels` (a wheel's file name is {distribution}-{version}-{tags}.whl)."""
    for wheel in sorted(wheels.glob("*.whl")):
        parts = wheel.name.split("-")
        if len(parts) >= 3 and _normalized(parts[0]) == _normalized(name) and parts[1] == version:
            return wheel
    return None


def _no_wheel_marker(wheels: Path, name: str, version: str) -> Path:
    return wheels / f"{_normalized(name)}-{version}.no-wheel"


def _compiled(name: str) -> bool:
    return any(str(f).endswith((".so", ".pyd")) for f in metadata.distribution(name).files or ())


def _download(requirements: list[str], wheels: Path) -> subprocess.CompletedProcess:
    platforms = [arg for tag in FC_PLATFORMS for arg in ("--platform", tag)]
    return subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                           "--implementation", "cp", "--python-version", FC_PYTHON, *platforms,
                           "--dest", str(wheels), *requirements], capture_output=True, text=True, timeout=1200)


def fetch_wheels(distributions: dict[str, str], wheels: Path, progress=lambda message: None) -> dict[str, Path | None]:
    """The wheel for FC's runtime of each distribution with compiled code, from `wheels` when there, else downloaded
    there by pip. A pure-Python distribution needs none: its installed files are what its wheel holds, on any
    platform. None: no wheel for FC's platform exists (an sdist-only distribution, crcmod)."""
    wheels.mkdir(parents=True, exist_ok=True)
    compiled = {n: v for n, v in distributions.items() if _compiled(n)}
    missing = [f"{n}=={v}" for n, v in compiled.items()
               if _cached_wheel(wheels, n, v) is None and not _no_wheel_marker(wheels, n, v).exists()]
    if missing:
        progress(f"downloading {len(missing)} wheel(s) for CPython {FC_PYTHON} manylinux x86_64")
        if _download(missing, wheels).returncode != 0:
            for requirement in missing:  # one at a time: which have none
                done = _download([requirement], wheels)
                if done.returncode != 0 and "No matching distribution" not in done.stderr:
                    raise PackageError(f"pip could not download {requirement} for FC's runtime: "
                                       f"{done.stderr.strip()[-800:]}")
                if done.returncode != 0:  # remembered, so the next build does not ask again
                    _no_wheel_marker(wheels, *requirement.split("==")).touch()
    return {n: _cached_wheel(wheels, n, v) for n, v in compiled.items()}


def _copy_installed(name: str, into: Path, *, without_extensions: bool = False) -> None:
    """A distribution's installed files (its RECORD), as its wheel would put them; without its extension modules
    when those were built for this machine rather than for FC."""
    dist = metadata.distribution(name)
    for file in dist.files or ():
        parts = file.parts
        if parts[0] == ".." or "__pycache__" in parts or (without_extensions and file.suffix in (".so", ".pyd")):
            continue  # scripts installed outside site-packages; bytecode of this interpreter
        source = Path(dist.locate_file(file))
        if source.is_file():
            target = into / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _unpack_wheel(wheel: Path, into: Path) -> None:
    """A wheel installed as pip --target would: its files at the root; <name>.data/purelib and platlib merged in."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or "/__pycache__/" in f"/{name}":
                continue
            parts = name.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: not importable code
                name = "/".join(parts[2:])
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


def _compile_bytecode(folder: Path) -> bool:
    """Bytecode for FC's CPython 3.10, when this is CPython 3.10: FC's code directory is read-only, so an instance
    could not cache what it compiles, and every cold start would compile every module it imports again (key-guard's
    import took 4.6 s without, against about 1 s). Checked by hash, never by time: the files' times do not survive
    the upload."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != FC_PYTHON or sys.implementation.name != "cpython":
        return False
    # a file that does not compile (a vendored Python 2 module no import reaches) is left to compile if ever imported
    compileall.compile_dir(str(folder), quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return True


def _write_zip(folder: Path, zip_path: Path) -> None:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), _ZIP_TIME)
            info.external_attr = (path.stat().st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(zip_path)


_IMPORT_CHILD = r"""
import importlib.util, json, sys, time
sys.path.insert(0, {folder!r})
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("index", {handler_file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(getattr(module, {handler_name!r}))
print(json.dumps({{"import_s": time.perf_counter() - started}}))
"""


def handler_import_s(folder: Path, handler: str) -> float:
    """Seconds a fresh interpreter with only the artifact on its path takes to import the handler, as FC loads it."""
    file_part, _, function = handler.rpartition(".")
    code = _IMPORT_CHILD.format(folder=str(folder), handler_file=str(folder / f"{file_part}.py"), handler_name=function)
    done = subprocess.run([*CLEAN_INTERPRETER, "-c", code], capture_output=True, text=True, cwd=folder, timeout=300)
    if done.returncode != 0:
        raise PackageError(f"{folder.name}: its handler does not import from the artifact alone: "
                           f"{done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["import_s"]


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(resources: list[str] | None = None, out: Path | None = None, wheels: Path | None = None,
          project: Path | None = None, progress=lambda message: None) -> list[Artifact]:
    """Build the artifact of each s.yaml function named (resource or function name; all when none)."""
    from localcloud.serverless import ServerlessError, ServerlessProject  # reads s.yaml as `s deploy` does

    project = project or ROOT / "s.yaml"
    out = out or ROOT / "dist"
    wheels = wheels or out / ".wheels"
    loaded = ServerlessProject.load(project, account_id="0", env={})
    try:
        specs = [loaded.function(r) for r in resources] if resources else list(loaded.functions.values())
    except ServerlessError as exc:
        raise PackageError(str(exc)) from None
    owners = _file_owners()
    plans = []
    for spec in specs:
        handler_module = spec.handler.rpartition(".")[0].replace("/", ".")
        graph = import_graph(ROOT, handler_module)
        progress(f"{spec.resource}: {len(graph.files)} project files; finding the distributions its imports load")
        plans.append((spec, graph, loaded_distributions(graph.third_party, owners)))
    every = {name: version for _, _, dists in plans for name, version in dists.items()}
    _check_pins(every)
    wheel_of = fetch_wheels(every, wheels, progress)
    artifacts = []
    for spec, graph, dists in plans:
        folder = out / spec.resource
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name in dists:
            if name not in wheel_of:
                _copy_installed(name, folder)
            elif wheel_of[name] is not None:
                _unpack_wheel(wheel_of[name], folder)
            else:
                _copy_installed(name, folder, without_extensions=True)
        project_files = []
        for path in graph.files:
            relative = path.relative_to(ROOT)
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / relative)
            project_files.append(relative.as_posix())
        compiled_bytecode = _compile_bytecode(folder)
        zip_path = out / f"{spec.resource}.zip"
        _write_zip(folder, zip_path)
        import_s = None
        if runs_fc_wheels():
            progress(f"{spec.resource}: importing its handler from the artifact alone")
            import_s = handler_import_s(folder, spec.handler)
        artifacts.append(Artifact(spec.resource, spec.function_name, folder, zip_path, project_files, dists,
                                  zip_path.stat().st_size, _folder_bytes(folder), import_s,
                                  sorted(n for n in dists if n in wheel_of and wheel_of[n] is None), compiled_bytecode))
    return artifacts


def render(artifacts: list[Artifact]) -> str:
    lines = [f"{'function':<26}{'zip MB':>8}{'unpacked MB':>13}{'import s':>10}  distributions"]
    for a in artifacts:
        imported = f"{a.import_s:.2f}" if a.import_s is not None else "n/a"
        lines.append(f"{a.resource:<26}{a.zip_bytes / 2**20:>8.1f}{a.unpacked_bytes / 2**20:>13.1f}{imported:>10}  "
                     f"{len(a.distributions)} ({len(a.project_files)} project files)")
    if any(a.import_s is None for a in artifacts):
        lines.append(f"import s: measured only on Linux x86_64 with CPython {FC_PYTHON}, which runs FC's wheels")
    if not all(a.bytecode for a in artifacts):
        lines.append(f"built without bytecode (needs CPython {FC_PYTHON}): each cold start on FC compiles what it imports")
    pure = sorted({n for a in artifacts for n in a.without_extensions})
    if pure:
        lines.append(f"no wheel for FC's platform, shipped without its C extension (pure-Python fallback): {', '.join(pure)}")
    over = [a.resource for a in artifacts if a.zip_bytes > CODE_PACKAGE_LIMIT_BYTES]
    if over:
        lines.append(f"over FC's {CODE_PACKAGE_LIMIT_BYTES // 2**20} MB code package limit: {', '.join(over)}")
    return "\n".join(lines)
