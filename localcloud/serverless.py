"""Reads `s.yaml` (Serverless Devs, fc3 component) the way `s deploy` would: resolves the variables
it uses (`${env('X', 'default')}`, `${vars.x}`, `${config('AccountID')}`, `${this.props.x}`) and
exposes each fc3 resource with its triggers, so the local cloud is wired from the same file."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ServerlessError(ValueError):
    pass


@dataclass
class Trigger:
    name: str
    type: str
    config: dict[str, Any]


@dataclass
class FunctionSpec:
    resource: str  # the s.yaml resource name, e.g. key-guard
    props: dict[str, Any]
    base_dir: Path

    @property
    def function_name(self) -> str:
        return self.props["functionName"]

    @property
    def handler(self) -> str:
        return self.props["handler"]

    @property
    def code_dir(self) -> Path:
        code = self.props.get("code", "./")
        code = code.get("src", "./") if isinstance(code, dict) else code
        return (self.base_dir / code).resolve()

    @property
    def environment(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.props.get("environmentVariables") or {}).items()}

    @property
    def role(self) -> str | None:
        return self.props.get("role")

    @property
    def timeout(self) -> int:
        return int(self.props.get("timeout", 3))

    @property
    def max_async_retries(self) -> int:
        return int((self.props.get("asyncInvokeConfig") or {}).get("maxAsyncRetryAttempts", 3))

    @property
    def triggers(self) -> list[Trigger]:
        return [Trigger(t["triggerName"], t["triggerType"], t.get("triggerConfig") or {}) for t in self.props.get("triggers") or []]

    def eventbridge_patterns(self) -> list[tuple[Trigger, str]]:
        return [(t, t.config["eventRuleFilterPattern"]) for t in self.triggers
                if t.type == "eventbridge" and t.config.get("triggerEnable", True)]


@dataclass
class ServerlessProject:
    path: Path
    data: dict[str, Any]
    functions: dict[str, FunctionSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, *, account_id: str = "", env: dict[str, str] | None = None) -> "ServerlessProject":
        path = Path(path).resolve()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ServerlessError(f"{path}: cannot read s.yaml: {exc}") from None
        if not isinstance(raw, dict) or "resources" not in raw:
            raise ServerlessError(f"{path}: not a Serverless Devs project (no resources)")
        resolver = _Resolver(raw, account_id=account_id, env=os.environ if env is None else env)
        data = resolver.resolve(raw)
        project = cls(path=path, data=data)
        for name, res in (data.get("resources") or {}).items():
            if res.get("component") == "fc3":
                project.functions[name] = FunctionSpec(resource=name, props=res.get("props") or {}, base_dir=path.parent)
        return project

    def function(self, resource: str) -> FunctionSpec:
        spec = self.functions.get(resource)
        if spec is None:
            by_name = {f.function_name: f for f in self.functions.values()}
            spec = by_name.get(resource)
        if spec is None:
            raise ServerlessError(f"no fc3 resource or function named {resource!r} in {self.path.name} "
                                  f"(known: {', '.join(self.functions)})")
        return spec


_VAR = re.compile(r"\$\{([^{}]+)\}")


class _Resolver:
    """The subset of Serverless Devs' variable syntax s.yaml uses; anything else is an error."""

    def __init__(self, raw: dict, *, account_id: str, env):
        self.raw = raw
        self.account_id = account_id
        self.env = env

    def resolve(self, node: Any, this: dict | None = None) -> Any:
        if isinstance(node, dict):
            if this is None and "props" in node and "component" in node:
                this = node
            return {k: self.resolve(v, this) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v, this) for v in node]
        if isinstance(node, str):
            whole = _VAR.fullmatch(node.strip())
            if whole:  # a lone ${...} keeps the type of what it names (a map for ${vars.env})
                return self.resolve(self.expr(whole[1].strip(), this), this)
            return _VAR.sub(lambda m: str(self.expr(m[1].strip(), this)), node)
        return node

    def expr(self, text: str, this: dict | None) -> Any:
        if m := re.fullmatch(r"env\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)", text):
            value = self.env.get(m[1], m[2])
            if value is None:
                raise ServerlessError(f"s.yaml needs the environment variable {m[1]} (no default given)")
            return value
        if m := re.fullmatch(r"config\(\s*'([^']+)'\s*\)", text):
            if m[1] == "AccountID":
                return self.account_id or "${config('AccountID')}"
            raise ServerlessError(f"s.yaml: unsupported config({m[1]!r})")
        if text.startswith("vars."):
            return self._path(self.raw.get("vars") or {}, text[len("vars."):])
        if text.startswith("this.") and this is not None:
            return self._path(this, text[len("this."):])
        raise ServerlessError(f"s.yaml: unsupported variable ${{{text}}}")

    def _path(self, node: Any, dotted: str) -> Any:
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ServerlessError(f"s.yaml: {dotted} is not defined")
            node = node[part]
        return node
