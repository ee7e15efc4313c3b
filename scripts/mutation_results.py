"""mutmut's verdicts, kept in the repository so that a run goes on where the last one stopped.

    .venv/bin/python scripts/mutation_results.py restore   (before `mutmut run`: what mutants/ lacks)
    .venv/bin/python scripts/mutation_results.py save      (after it: every verdict mutants/ holds)

mutmut keeps a verdict per mutant in mutants/<module>.meta, beside each function's hash, and on its next
run re-tests only the functions whose hash changed. mutants/ is a build directory that a fresh checkout
lacks, and a full run of the decision path takes longer than one sitting on two cores, so the .meta files
are copied to mutation-results/ and committed; `make mutation` restores them first. A restored verdict
stands for the function as it was hashed: change the function and mutmut runs its mutants again.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
KEPT = ROOT / "mutation-results"


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


def main(argv: list[str]) -> int:
    if argv[1:] == ["restore"]:
        # never over a newer local result: mutants/ wins where it has one
        print(f"restored {copy_metas(KEPT, MUTANTS, overwrite=False)} module result file(s) from {KEPT.name}/")
        return 0
    if argv[1:] == ["save"]:
        print(f"saved {copy_metas(MUTANTS, KEPT, overwrite=True)} module result file(s) to {KEPT.name}/")
        return 0
    print("usage: mutation_results.py restore|save", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
