"""Every command in the README's ```bash blocks, run as a reader runs it: from a working directory laid
out like the repository (so `.venv/bin/kms-steward`, `events/...`, `examples/...` resolve, and the
`state.yaml` the README writes lands there, not in the working tree), once today and once a year from now.

Why a year from now: the example and demo account files describe a moment (`as_of`), and the local
cloud's clock starts there, so the README's commands must give the same results whatever day a reader
runs them. The machine's clock is what moves with the reader, not the local cloud's: the year-ahead run
fakes the wall clock of the child process (a `sitecustomize` on PYTHONPATH that moves `time.time`,
`time.gmtime`/`localtime` and `datetime.now`/`utcnow`/`today` by 365 days; standard library only), and
leaves every command as printed. An example that read the wall clock (a DeleteDate that passes, usage
evidence that slides out of its 30-day window) would fail there, as the pending-deletion example did
before it had an `as_of`. Passing `--now` instead would not prove this: it moves the local clock on
purpose, and a key pending deletion a year later is rightly gone.

What is not run, each skipped with its reason: what needs a real account or the network (`npm install`,
`s config add`, `s deploy`, the preflight line marked "real account"); `make demo` and `make test` (make
installs into .venv, and `make test` is this suite; the demo's own command is run a year ahead below,
today by tests/test_cli.py); `bench faults` (a matrix over every API key-guard calls, minutes long).
`local up` runs in the background until its banner, then gets Ctrl-C (SIGINT). `bench audit` runs at its
smallest size, today only (it builds a synthetic region from the clock it runs at: nothing in it is dated).
Synopsis lines (`[--option VALUE]`) run without their optional parts; every option they name, and every
option of the command, must match `--help`.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kms_steward.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
YEAR = 365 * 24 * 3600
EXIT_CODES = {"clear": 0, "risky": 3, "blocked": 4, "incomplete": 5}  # README's table of preflight exit codes
# Credentials of the shipped account files: printed by `local up` on purpose (they open only the local
# cloud), never by any other command.
ACCOUNT_SECRETS = ("demo-alice-local-only-secret", "demo-payments-local-only-secret")
NOT_LINKED = {".git", ".pytest_cache", ".hypothesis", "state.yaml", "mutants"}
TIMEOUT = 600


@dataclass
class Command:
    line: str  # as printed (continuations joined)
    argv: list[str]
    comment: str
    block: int
    synopsis: bool = False  # has [optional] parts
    named_options: list[str] = field(default_factory=list)  # every --option the line names, optional ones too

    @property
    def id(self) -> str:
        words = [w for w in self.argv if not w.startswith("/") and "=" not in w][:5]
        return re.sub(r"[^\w.-]+", "_", " ".join(w.rsplit("/", 1)[-1] for w in words))


def readme_commands() -> list[Command]:
    commands = []
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(), re.M | re.S)
    for number, block in enumerate(blocks, 1):
        for line in re.sub(r"\\\n\s*", "", block).splitlines():
            code, _, comment = line.partition("  #")
            code = code.strip()
            if not code or code.startswith("#"):
                continue
            tokens = shlex.split(code)
            optional, argv, depth = [], [], 0
            for token in tokens:
                if token.startswith("["):
                    depth += 1
                (optional if depth else argv).append(token.strip("[]"))
                if token.endswith("]"):
                    depth -= 1
            named = [t for t in tokens if t.strip("[]").startswith("--")]
            commands.append(Command(code, argv, comment.strip(), number, bool(optional), [t.strip("[]") for t in named]))
    return commands


COMMANDS = readme_commands()


def program(command: Command) -> tuple[str, list[str]]:
    """The program (past VAR=value prefixes) and its arguments."""
    argv = list(command.argv)
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
        argv.pop(0)
    return (argv[0] if argv else ""), argv[1:]


def command_path(args: list[str]) -> tuple[list[str], click.Command]:
    """The kms-steward subcommand the arguments name (["local", "invoke"]) and its click command."""
    node: click.Command = main
    path = []
    for arg in args:
        if isinstance(node, click.Group) and arg in node.commands:
            node = node.commands[arg]
            path.append(arg)
        else:
            break
    return path, node


def skip_reason(command: Command) -> str | None:
    prog, args = program(command)
    name = Path(prog).name
    if "real account" in command.comment:
        return "needs a real Alibaba Cloud account (marked 'real account')"
    if name == "npm":
        return f"`npm {' '.join(args[:2])}` needs the network (the npm registry)"
    if name == "s":
        return f"`s {' '.join(args[:2])}` (Serverless Devs) needs the network and a real Alibaba Cloud account"
    if name == "make" and args[:1] in (["demo"], ["test"]):
        return (f"`make {args[0]}` is not re-run from inside the test suite (make installs into .venv; make test is "
                "this suite); the demo's own command runs a year ahead in test_the_demo_works_a_year_ahead")
    if name == "aliyun" and not shutil.which("aliyun"):
        return "the aliyun CLI is not installed here"
    if name == "kms-steward":
        path, _ = command_path(args)
        if path == ["bench", "faults"]:
            return "bench faults runs a fault matrix over every API key-guard calls (minutes); its own tests cover it"
    return None


def known(command: Command) -> bool:
    prog, args = program(command)
    return Path(prog).name in ("kms-steward", "npm", "s", "make", "aliyun")


# ---------------------------------------------------------------- the environment of a run


SITECUSTOMIZE = '''
"""Test-only: the wall clock of this process, moved by KMS_STEWARD_TEST_CLOCK_OFFSET seconds."""
import datetime as _dt
import os as _os
import time as _time

_offset = float(_os.environ.get("KMS_STEWARD_TEST_CLOCK_OFFSET", "0"))
if _offset:
    _real = {name: getattr(_time, name) for name in ("time", "time_ns", "gmtime", "localtime", "strftime", "ctime", "asctime")}
    _time.time = lambda: _real["time"]() + _offset
    _time.time_ns = lambda: _real["time_ns"]() + int(_offset * 1e9)
    _time.gmtime = lambda secs=None: _real["gmtime"](_time.time() if secs is None else secs)
    _time.localtime = lambda secs=None: _real["localtime"](_time.time() if secs is None else secs)
    _time.strftime = lambda fmt, t=None: _real["strftime"](fmt, _time.localtime() if t is None else t)
    _time.ctime = lambda secs=None: _real["ctime"](_time.time() if secs is None else secs)
    _time.asctime = lambda t=None: _real["asctime"](_time.localtime() if t is None else t)
    _RealDateTime, _RealDate = _dt.datetime, _dt.date

    class _Same(type):
        # Every datetime is still an instance of the patched class (objects made in C are real datetimes).
        def __instancecheck__(cls, obj):
            return isinstance(obj, cls._real)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, cls._real)

    class datetime(_RealDateTime, metaclass=_Same):
        _real = _RealDateTime

        @classmethod
        def now(cls, tz=None):
            return _RealDateTime.fromtimestamp(_time.time(), tz)

        @classmethod
        def utcnow(cls):
            return _RealDateTime.utcfromtimestamp(_time.time())

        @classmethod
        def today(cls):
            return _RealDateTime.fromtimestamp(_time.time())

    class date(_RealDate, metaclass=_Same):
        _real = _RealDate

        @classmethod
        def today(cls):
            return _RealDate.fromtimestamp(_time.time())

    _dt.datetime, _dt.date = datetime, date
'''


@pytest.fixture(scope="module")
def year_ahead_env(tmp_path_factory) -> dict:
    site = tmp_path_factory.mktemp("year-ahead")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {"PYTHONPATH": str(site), "KMS_STEWARD_TEST_CLOCK_OFFSET": str(YEAR)}


def environment(when: str, year_ahead: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "KMS_STEWARD_TEST_"))}
    env.pop("PYTHONPATH", None)
    env.update(COLUMNS="120", NO_COLOR="1")
    if when == "a-year-ahead":
        env.update(year_ahead)
    return env


@pytest.fixture
def workdir(tmp_path) -> Path:
    """A directory laid out like the repository (links to its files), where the README's commands write."""
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED:
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


def test_the_year_ahead_clock_reaches_the_child(year_ahead_env):
    probe = ("import datetime, time; print(datetime.datetime.now(datetime.timezone.utc).year, time.gmtime().tm_year, "
             "datetime.date.today().year, isinstance(datetime.datetime.fromisoformat('2020-01-01'), datetime.datetime))")
    today = time.gmtime().tm_year
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", probe], env=environment("a-year-ahead", year_ahead_env),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    years = out.stdout.split()
    assert {int(y) for y in years[:3]} <= {today + 1, today + 2} and years[3] == "True", out.stdout  # (Dec 31 + 365 d)


# ---------------------------------------------------------------- README and --help agree


def test_every_command_is_one_the_test_knows():
    unknown = [c.line for c in COMMANDS if not known(c)]
    assert not unknown, f"README commands this test does not know how to run or skip: {unknown}"


def test_readme_options_match_help():
    for command in COMMANDS:
        prog, args = program(command)
        if Path(prog).name != "kms-steward":
            continue
        path, cmd = command_path(args)
        help_text = CliRunner().invoke(main, [*path, "--help"]).output
        options = {opt for param in cmd.params for opt in param.opts if opt.startswith("--")} - {"--help"}
        for option in command.named_options:
            assert option in options, f"README: {command.line}\n  names {option}, which `{' '.join(path)} --help` lacks"
            assert option in help_text
        if command.synopsis:  # a synopsis lists every option the command has
            missing = sorted(options - set(command.named_options))
            assert not missing, f"README synopsis of `kms-steward {' '.join(path)}` misses {missing}: {command.line}"


def test_the_local_up_synopsis_is_complete():
    [synopsis] = [c for c in COMMANDS if c.synopsis and command_path(program(c)[1])[0] == ["local", "up"]]
    for option in ("--now", "--state-out", "--project", "--duplicate-delivery", "--port", "--quiet"):
        assert option in synopsis.named_options


# ---------------------------------------------------------------- the commands, run


def _runnable(command: Command, when: str) -> list[str]:
    """The argv a run uses: the README's own, but a bench at its smallest size."""
    prog, args = program(command)
    path, _ = command_path(args)
    argv = list(command.argv)
    if path == ["bench", "audit"]:
        if when != "today":
            pytest.skip("bench audit builds its synthetic region from the clock it runs at (nothing in it is dated): run today only")
        argv += [a for a in ("--scale", "0.001", "--no-growth", "--no-sequential", "--json") if a not in argv]
    return argv


def _check(command: Command, path: list[str], run: subprocess.CompletedProcess, workdir: Path) -> None:
    output = run.stdout + run.stderr
    assert "Traceback" not in output, output[-3000:]
    assert not any(secret in output for secret in ACCOUNT_SECRETS), "a credential of the account file was printed"
    args = program(command)[1]
    if path == ["preflight"]:
        # A report, and the documented exit code of its outcome (the table's last line names it).
        outcome = re.search(r"outcome\W+(clear|risky|blocked|incomplete)\b", run.stdout)  # table, md and json name it
        assert outcome, output[-3000:]
        fail_on = {v for i, a in enumerate(args[:-1]) if a == "--fail-on" for v in args[i + 1].split(",")} or {"any"}
        failing = set(EXIT_CODES) - {"clear"} if "any" in fail_on else fail_on
        expected = EXIT_CODES[outcome[1]] if outcome[1] in failing else 0
        assert run.returncode == expected, f"outcome {outcome[1]}, exit {run.returncode}\n{output[-3000:]}"
        if "demo-account.yaml" in command.line and "alias/payments" in args:
            # payments-api's recorded use stays inside the usage window on any date (the account's as_of).
            assert "ram-user:payments-api" in run.stdout, run.stdout[-3000:]
        return
    assert run.returncode == 0, output[-3000:]
    if path[:2] == ["local", "invoke"]:
        results = json.loads(run.stdout)["results"]
        assert results and all(r.get("status") for r in results)
        if "schedule_key_deletion.json" in command.line and "account-pending-deletion.yaml" in command.line:
            # The README's example on any date: key-guard cancels the pending deletion it was written for.
            assert results[0]["status"] == "acted" and results[0]["keyStateAfter"] == "Enabled", results
        if "--state-out" in args:
            state = workdir / args[args.index("--state-out") + 1]
            assert state.is_file() and stat.S_IMODE(state.stat().st_mode) == 0o600
    elif path == ["bench", "audit"]:
        assert json.loads(run.stdout)["scale"] == 0.001


def _run_local_up(argv: list[str], env: dict, workdir: Path) -> None:
    """In the background until the banner, then Ctrl-C: it must stop cleanly (exit 0)."""
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 180
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        assert any("Ctrl-C to stop" in line for line in lines), "".join(lines)
        assert any("is up" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    rest = proc.stdout.read()
    assert code == 0 and "Traceback" not in rest, "".join(lines) + rest


@pytest.mark.parametrize("when", ["today", "a-year-ahead"])
@pytest.mark.parametrize("command", COMMANDS, ids=[f"block{c.block}-{c.id}" for c in COMMANDS])
def test_readme_command(command: Command, when: str, workdir: Path, year_ahead_env: dict):
    reason = skip_reason(command)
    if reason:
        pytest.skip(reason)
    prog, args = program(command)
    assert Path(prog).name == "kms-steward", f"no way to run {command.line!r}"
    path, _ = command_path(args)
    argv = _runnable(command, when)
    env = environment(when, year_ahead_env)
    if path == ["local", "up"]:
        _run_local_up(argv, env, workdir)
        return
    run = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    _check(command, path, run, workdir)


def test_the_demo_works_a_year_ahead(workdir, year_ahead_env):
    # What `make demo` runs (its recipe: .venv/bin/kms-steward demo), with the machine's clock a year ahead:
    # the demo account's as_of keeps payments-api's recorded use inside the usage window.
    run = subprocess.run([".venv/bin/kms-steward", "demo"], cwd=workdir, env=environment("a-year-ahead", year_ahead_env),
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "Enabled again" in run.stdout and "ram-user:payments-api" in run.stdout
    assert not any(secret in run.stdout + run.stderr for secret in ACCOUNT_SECRETS)
