"""The check table: every module of this package is a check, under its `name`: its `CHECK` when that is a check
object (with `name` and `run(target, clients) -> CheckResult`, shared/sweeps/findings.py), else the one class it
defines with a `name` and a `run` (made with no arguments). Adding a check is adding its file; nothing else lists them.

COMPLIANCE_CHECKS are what compliance-sweep and `kms-steward sweep` run when none is named; other checks (the
certificate check of cert-sweep) run when named.

A module that fails to import (a missing dependency, a syntax error in a check being written) does not take the
others down: it is listed in UNAVAILABLE with the reason, and a sweep asking for it gets that reason as a rejection.
"""
from __future__ import annotations

import importlib
import pkgutil

import inspect

COMPLIANCE_CHECKS = ("key_rotation", "secret_rotation", "deletion_protection", "policies")
CHECKS: dict = {}
UNAVAILABLE: dict[str, str] = {}  # module name -> why it could not be loaded


def _load() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        try:
            loaded = importlib.import_module(f"{__name__}.{module.name}")
        except Exception as exc:  # noqa: BLE001 - one broken check must not stop the others
            UNAVAILABLE[module.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            continue
        try:
            check = _check_of(loaded)
        except Exception as exc:  # noqa: BLE001 - its class could not be made: said, the others load
            UNAVAILABLE[module.name] = f"{type(exc).__name__}: {str(exc)[:200]}"
            continue
        if check is not None:
            CHECKS[check.name] = check


def _is_check(obj) -> bool:
    return isinstance(getattr(obj, "name", None), str) and callable(getattr(obj, "run", None))


def _check_of(module):
    declared = getattr(module, "CHECK", None)
    if declared is not None and not isinstance(declared, (str, type)) and _is_check(declared):
        return declared
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass)
               if c.__module__ == module.__name__ and _is_check(c)]
    return classes[0]() if len(classes) == 1 else None


_load()
