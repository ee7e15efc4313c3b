"""The last mutmut run, per module: kill rate, and every surviving mutant with the line it changed.

    .venv/bin/python scripts/mutation_report.py      (from the repository root, after `mutmut run`)

Reads mutmut's own results (mutants/<module>.meta, through mutmut's classes, so the statuses are the
ones `mutmut results` prints). A survivor listed in MUTATION.md is judged equivalent: shown as such and
left out of the adjusted kill rate. An entry is a line "- `NAME` @HASH: why", HASH being the first 8
characters of mutmut's hash of the function as it was judged (the report prints it beside each survivor).
mutmut numbers mutants per function, so once the function changes a number may name another mutation:
the judgment then lapses and the survivor is shown again, as "stale judgment". Exits 1 when a survivor
is not explained, so a new one cannot go unnoticed.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = ("not checked", "skipped")  # outside this run: counted in no rate


def equivalents(path: Path) -> dict[str, str]:
    """{mutant name: the function hash it was judged at} for the lines "- `shared.policy.x_f__mutmut_3` @1a2b3c4d: why"
    in MUTATION.md ("" for an entry without a hash, which matches no function)."""
    if not path.exists():
        return {}
    entries = re.findall(r"^\s*[-*]\s*`([^`]+__mutmut_\d+)`(?:\s*@([0-9a-f]{8}))?", path.read_text(encoding="utf-8"), re.M)
    return {name: stamp for name, stamp in entries}


def function_hash(name: str, data: SourceFileMutationData) -> str:
    """The first 8 characters of mutmut's hash of the function a mutant belongs to, as this run generated it."""
    function = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]  # shared.guard.xǁKeyGuardǁ_f__mutmut_3 -> xǁKeyGuardǁ_f
    return (data.hash_by_function_name.get(function) or "")[:8]


def changed_lines(name: str, module: Path) -> str:
    """The mutated line(s), as `-old` / `+new`, from the diff `mutmut show` prints."""
    try:
        diff = get_diff_for_mutant(name, path=module)
    except Exception as exc:  # a stale mutants/ copy: still list the survivor
        return f"(diff unavailable: {exc})"
    lines = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    return "  |  ".join(ln[0] + " " + ln[1:].strip() for ln in lines)


def main() -> int:
    explained = equivalents(ROOT / "MUTATION.md")
    metas = sorted((ROOT / "mutants").rglob("*.py.meta"))
    if not metas:
        print("no mutmut results: run `make mutation` (or .venv/bin/mutmut run) first")
        return 1
    unexplained = 0
    print(f"{'module':42} {'mutants':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'no tests':>8} {'other':>5}"
          f" {'kill rate':>9} {'adjusted':>8}")
    survivors: list[tuple[str, str, Path]] = []
    misjudged: list[str] = []  # judged equivalent, yet killed: the entry names another mutation than it describes
    for meta in metas:
        module = meta.relative_to(ROOT / "mutants").with_suffix("")  # shared/policy.py
        data = SourceFileMutationData(path=module)
        data.load()
        status = {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}
        run = {n: s for n, s in status.items() if s not in NOT_RUN}
        if not run:
            continue
        count = Counter(run.values())
        killed = count["killed"] + count["timeout"] + count["caught by type check"]
        survived = [n for n, s in run.items() if s == "survived"]
        stamp = {n: function_hash(n, data) for n in survived}
        equiv = [n for n in survived if explained.get(n) and explained[n] == stamp[n]]
        other = len(run) - killed - len(survived) - count["no tests"]
        rate = killed / len(run)
        adjusted = killed / (len(run) - len(equiv)) if len(run) > len(equiv) else 1.0
        print(f"{str(module):42} {len(run):7} {killed:6} {len(survived):8} {len(equiv):5} {count['no tests']:8} {other:5}"
              f" {rate:9.1%} {adjusted:8.1%}")
        survivors += [(n, "equivalent" if n in equiv else "stale judgment" if n in explained else run[n], module,
                       stamp[n]) for n in survived]
        survivors += [(n, s, module, function_hash(n, data)) for n, s in sorted(run.items())
                      if s not in ("killed", "survived", "timeout", "caught by type check")]
        misjudged += [n for n, s in sorted(run.items()) if s == "killed" and n in explained]
    if survivors:
        print("\nnot killed (mutmut show <name> prints the whole diff):")
    for name, what, module, at in survivors:
        if what != "equivalent":
            unexplained += 1
        print(f"  [{what}] {name} @{at}: {changed_lines(name, module)}")
    if misjudged:
        print("\njudged equivalent but killed (the entry's number names another mutation now: judge its survivor anew):")
        for name in misjudged:
            print(f"  {name}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
