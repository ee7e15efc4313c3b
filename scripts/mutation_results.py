"""mutmut's verdicts, kept in the repository so that a run goes on where the last one stopped.

    .venv/bin/python scripts/mutation_results.py restore   (before `mutmut run`: what mutants/ lacks)
    .venv/bin/python scripts/mutation_results.py save      (after it: every verdict mutants/ holds)
    .venv/bin/python scripts/mutation_results.py survivors-to-rerun   (names in mutation-results/rerun.txt still survived)

mutmut keeps a verdict per mutant in mutants/<module>.meta, beside each function's hash, and on its next
run re-tests only the functions whose hash changed. mutants/ is a build directory that a fresh checkout
lacks, and a full run of the decision path takes longer than one sitting on two cores, so the .meta files
are copied to mutation-results/ and committed; `make mutation` restores them first. A restored verdict
stands for the function as it was hashed: change the function and mutmut runs its mutants again.

A survivor stays one until it is run again by name, even once a new test kills it: mutmut re-tests only changed
functions. Such mutants are listed in mutation-results/rerun.txt (one name a line, `#` for comments), and
`make mutation` runs again, by name, those of them still marked survived.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
KEPT = ROOT / "mutation-results"
RERUN = KEPT / "rerun.txt"


def copy_metas(source: Path, target: Path, *, overwrite: bool) -> int:
    copied = 0
    for meta in sorted(source.rglob("*.py.meta")):
        destination = target / meta.relative_to(source)
        if destination.exists() and not overwrite:
            continue
        text = meta.read_text(encoding="utf-8")
        try:  # saved while a run goes on, a file mutmut is rewriting may be cut short: keep the last whole one
            json.loads(text)
        except ValueError:
            print(f"skipped {meta.relative_to(ROOT)}: not whole JSON (being written?)", file=sys.stderr)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        copied += 1
    return copied


def survivors_to_rerun() -> list[str]:
    """The names in rerun.txt whose verdict in mutants/ is still "survived" (mutmut's exit code 0)."""
    if not RERUN.exists():
        return []
    wanted = {line.split("#")[0].strip() for line in RERUN.read_text(encoding="utf-8").splitlines()} - {""}
    survived = set()
    for meta in MUTANTS.rglob("*.py.meta"):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        survived |= {name for name, code in codes.items() if code == 0}
    return sorted(wanted & survived)


def main(argv: list[str]) -> int:
    if argv[1:] == ["restore"]:
        # never over a newer local result: mutants/ wins where it has one
        print(f"restored {copy_metas(KEPT, MUTANTS, overwrite=False)} module result file(s) from {KEPT.name}/")
        return 0
    if argv[1:] == ["save"]:
        print(f"saved {copy_metas(MUTANTS, KEPT, overwrite=True)} module result file(s) to {KEPT.name}/")
        return 0
    if argv[1:] == ["survivors-to-rerun"]:
        print(" ".join(survivors_to_rerun()))
        return 0
    print("usage: mutation_results.py restore|save|survivors-to-rerun", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
