"""What a function imports: the project's modules reachable from its handler, and the third-party modules they load.

Read from the source (Python's `ast`), never by importing it, so packaging needs none of the SDKs' import time and
sees the imports a run would make only later:
- every `import`/`from ... import` at a module's top level, except under `if TYPE_CHECKING:` (never run);
- an import inside a function (the SDKs are imported when a client of theirs is first made, shared/clients.py) counts
  when that function's name is used anywhere in the code reached, `Clients.kms` by a `.kms(` call or a "kms" string
  (getattr), say: a function that never asks for a product's client never ships its SDK; an import inside a function
  that can be called where its name is never spelled always counts: a method Python calls itself (`__init__`,
  `__enter__`, ...), any method of a class that extends another (a base class may call it: `logging.Handler.emit`),
  a decorated function;
- `_sdk_client("kms20160120")` names the module `alibabacloud_kms20160120.client` (shared/clients.py);
- a package that loads its modules by listing its own folder (`importlib.import_module(f"{__name__}.{...}")`, the
  sweep checks' table) reaches every module in it.
A name used in the code reached that happens to match such a function only adds an SDK the function may not need: it
errs on the side of shipping, and the artifact test imports and runs each package from a clean directory.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

OWN_PACKAGES = ("shared", "functions")  # what a handler may import from the project; never the CLI or the local cloud


@dataclass
class _ModuleFacts:
    top_level: set[str] = field(default_factory=set)  # modules imported when this one is
    lazy: dict[str, set[str]] = field(default_factory=dict)  # function name -> modules its body imports
    names_used: set[str] = field(default_factory=set)  # every Name and attribute spelled in the module
    loads_own_folder: bool = False


@dataclass
class ImportGraph:
    files: list[Path]  # the project's files reached, package __init__ files included
    third_party: list[str]  # dotted names of the third-party modules imported (never the standard library)


def _implicitly_called(function_name: str) -> bool:
    return function_name.startswith("__") and function_name.endswith("__")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an ImportFrom can load: the module itself and each imported name as a possible submodule."""
    if node.level:
        parts = module.split(".")
        base_parts = parts if is_package else parts[:-1]
        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.facts = _ModuleFacts()
        self._functions: list[str] = []
        self._called_unseen: list[bool] = []  # per enclosing function: may be called where its name is never spelled
        self._class_extends: list[bool] = []  # per enclosing class body: whether the class extends another

    def _add(self, names: list[str]) -> None:
        # Functions called without their name being spelled in the project count as soon as their module is reached:
        # a method Python calls itself (__init__ on construction, __enter__ by `with`, ...), a method of a class that
        # extends another (logging.Handler.emit, Thread.run: the base calls it), a decorated function (registered).
        if self._functions and not any(self._called_unseen):
            self.facts.lazy.setdefault(self._functions[-1], set()).update(names)
        else:
            self.facts.top_level.update(names)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._class_extends.append(bool(node.bases))
        self.generic_visit(node)
        self._class_extends.pop()

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node) -> None:
        in_subclass = bool(self._class_extends) and self._class_extends[-1]
        self._functions.append(node.name)
        self._called_unseen.append(_implicitly_called(node.name) or bool(node.decorator_list) or in_subclass)
        self._class_extends.append(False)  # a function's own body is not the class's
        self.generic_visit(node)
        self._class_extends.pop()
        self._called_unseen.pop()
        self._functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        self._add([alias.name for alias in node.names])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._add(_resolve_from(node, self.module, self.is_package))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0] if node.args else None
        if name == "_sdk_client" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            self._add([f"alibabacloud_{first.value}.client"])
        elif name == "import_module" and isinstance(first, ast.JoinedStr) and first.values and isinstance(
                first.values[0], ast.FormattedValue) and isinstance(first.values[0].value, ast.Name) \
                and first.values[0].value.id == "__name__":
            self.facts.loads_own_folder = True
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        # getattr(client, "cancel_key_deletion"): a name spelled as a string is used too
        if isinstance(node.value, str) and node.value.isidentifier():
            self.facts.names_used.add(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        self.facts.names_used.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.facts.names_used.add(node.attr)
        self.generic_visit(node)


class _Project:
    def __init__(self, root: Path):
        self.root = root
        self._facts: dict[str, _ModuleFacts] = {}

    def path_of(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        if base.with_suffix(".py").is_file():
            return base.with_suffix(".py")
        return None

    def facts(self, module: str) -> _ModuleFacts:
        if module not in self._facts:
            path = self.path_of(module)
            collector = _Collector(module, path.name == "__init__.py")
            collector.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            self._facts[module] = collector.facts
        return self._facts[module]


def _third_party(name: str) -> bool:
    top = name.split(".")[0]
    return bool(top) and top not in sys.stdlib_module_names and top != "__future__"


def import_graph(root: Path, handler_module: str) -> ImportGraph:
    """The modules a handler (`functions.key_guard.index`) imports, as the handler's package would be run."""
    project = _Project(root)
    reached: set[str] = set()
    third_party: set[str] = set()
    waiting_lazy: list[tuple[str, set[str]]] = []  # (function name, its imports) not yet known to be used
    names_used: set[str] = set()
    queue = [handler_module]

    def take(name: str) -> None:
        top = name.split(".")[0]
        if top in OWN_PACKAGES:
            # a package's __init__ runs before any of its modules
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix not in reached and project.path_of(prefix) is not None:
                    queue.append(prefix)
        elif _third_party(name):
            third_party.add(name)

    while queue or waiting_lazy:
        while queue:
            module = queue.pop()
            if module in reached or project.path_of(module) is None:
                continue
            reached.add(module)
            facts = project.facts(module)
            names_used |= facts.names_used
            for name in facts.top_level:
                take(name)
            waiting_lazy.extend(facts.lazy.items())
            if facts.loads_own_folder:
                folder = project.path_of(module).parent
                for child in folder.glob("*.py"):
                    if child.name != "__init__.py" and not child.name.startswith("_"):
                        take(f"{module}.{child.stem}")
        still_waiting = []
        for function, names in waiting_lazy:
            if function in names_used:
                for name in names:
                    take(name)
            else:
                still_waiting.append((function, names))
        if len(still_waiting) == len(waiting_lazy) and not queue:
            break  # nothing more becomes reachable
        waiting_lazy = still_waiting

    files = sorted(project.path_of(m) for m in reached)
    # "from oss2 import models": the module oss2.models, or a name of oss2: a module that exists is imported,
    # a name is not one; the dependency is the same distribution either way.
    return ImportGraph(files=files, third_party=sorted(third_party))
