"""Reads `s.yaml` (Serverless Devs, fc3 component) the way `s deploy` would: resolves the variables
it uses (`${env('X', 'default')}`, `${vars.x}`, `${config('AccountID')}`, `${this.props.x}`) and
exposes each fc3 resource with its triggers, so the local cloud is wired from the same file."""
from __future__ import annotations

import copy
import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ServerlessError(ValueError):
    pass


@functools.lru_cache(maxsize=8)
def _parsed(text: str) -> Any:
    """s.yaml parsed once per text: every local cloud a test suite starts reads the same file, and the
    pure-Python parser took a sixth of an end-to-end test's time. libyaml's loader where it is installed."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@dataclass
class Trigger:
    name: str
    type: str
    config: dict[str, Any]


@dataclass
class TimerTrigger:
    """A time trigger's triggerConfig (TimerTriggerConfig: cronExpression, enable, payload;
    https://alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-timertriggerconfig). `payload` is the
    string FC passes on unchanged in the event's "payload" (Trigger Message); absent means "" (UNCONFIRMED)."""

    name: str
    cron_expression: str
    enable: bool
    payload: str
    qualifier: str = "LATEST"


# FC's default when asyncInvokeConfig sets no maxAsyncEventAgeInSeconds: 86400 s ("Default value: 86400",
# PutAsyncInvokeConfigInput, https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putasyncinvokeconfiginput).
DEFAULT_MAX_ASYNC_EVENT_AGE = 86400
DESTINATION_KINDS = ("onFailure", "onSuccess")
PACKAGE_DIR = "dist"  # `kms-steward package` puts each function's package in dist/<resource>


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
        """Where the local cloud loads the handler from. A function whose code is its package (`dist/<resource>`,
        which `kms-steward package` builds from the project, its handler and library files copied unchanged) runs from
        the project itself: the same files, without a build before every test; tests/test_package.py proves that each
        package imports and runs on its own."""
        code = self.props.get("code", "./")
        code = code.get("src", "./") if isinstance(code, dict) else code
        resolved = (self.base_dir / code).resolve()
        if resolved == (self.base_dir / PACKAGE_DIR / self.resource).resolve():
            return self.base_dir.resolve()
        return resolved

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
    def region(self) -> str | None:
        return self.props.get("region")

    @property
    def async_invoke_config(self) -> dict[str, Any]:
        return self.props.get("asyncInvokeConfig") or {}

    @property
    def max_async_retries(self) -> int:
        return int(self.async_invoke_config.get("maxAsyncRetryAttempts", 3))

    @property
    def max_async_event_age(self) -> int:
        """Seconds an asynchronous event may wait before FC stops (re)trying it (maxAsyncEventAgeInSeconds)."""
        return int(self.async_invoke_config.get("maxAsyncEventAgeInSeconds", DEFAULT_MAX_ASYNC_EVENT_AGE))

    def destination(self, kind: str) -> str | None:
        """asyncInvokeConfig.destinationConfig.<kind>.destination (fc3 schema IDestinationConfig), kind onFailure or onSuccess."""
        if kind not in DESTINATION_KINDS:
            raise ValueError(f"destination kind must be one of {DESTINATION_KINDS}, not {kind!r}")
        config = (self.async_invoke_config.get("destinationConfig") or {}).get(kind) or {}
        return config.get("destination") or None

    @property
    def triggers(self) -> list[Trigger]:
        return [Trigger(t["triggerName"], t["triggerType"], t.get("triggerConfig") or {}) for t in self.props.get("triggers") or []]

    @property
    def timer_triggers(self) -> list[TimerTrigger]:
        timers = []
        for raw in self.props.get("triggers") or []:
            if raw.get("triggerType") != "timer":
                continue
            config = raw.get("triggerConfig") or {}
            if "cronExpression" not in config:
                raise ServerlessError(f"timer trigger {raw.get('triggerName')!r} of {self.resource} has no cronExpression "
                                      "(fc3 schema ITimerTriggerConfig requires cronExpression and enable)")
            payload = config.get("payload", "")
            timers.append(TimerTrigger(name=raw["triggerName"], cron_expression=str(config["cronExpression"]),
                                       enable=bool(config.get("enable", True)),
                                       # the schema types payload as a string; a YAML mapping is sent as its JSON text
                                       payload=payload if isinstance(payload, str) else json.dumps(payload),
                                       qualifier=raw.get("qualifier") or "LATEST"))
        return timers

    def timer_trigger(self, name: str | None = None) -> TimerTrigger:
        timers = self.timer_triggers
        if name is None:
            if len(timers) != 1:
                raise ServerlessError(f"{self.resource} has {len(timers)} timer triggers ({', '.join(t.name for t in timers) or 'none'}); "
                                      "name the one to fire")
            return timers[0]
        timer = next((t for t in timers if t.name == name), None)
        if timer is None:
            raise ServerlessError(f"{self.resource} has no timer trigger named {name!r} "
                                  f"(timer triggers: {', '.join(t.name for t in timers) or 'none'})")
        return timer

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
            raw = copy.deepcopy(_parsed(path.read_text(encoding="utf-8")))
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

    def function_named(self, function_name: str) -> FunctionSpec | None:
        """The fc3 resource whose props.functionName is `function_name` (what an FC ARN names), or None."""
        return next((f for f in self.functions.values() if f.function_name == function_name), None)

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


class _Unresolved(str):
    """A variable kept as written (`${config('AccountID')}` when no account id is given)."""


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
                return self._through(self.expr(whole[1].strip(), this), this)
            # an embedded ${...} is resolved through as well: ${vars.region} inside an ARN names ${env('REGION', ...)}
            return _VAR.sub(lambda m: str(self._through(self.expr(m[1].strip(), this), this)), node)
        return node

    def _through(self, value: Any, this: dict | None) -> Any:
        # What a variable names is resolved in turn, except a variable left as it is (no account id known): resolving
        # that one again would never end.
        return value if isinstance(value, _Unresolved) else self.resolve(value, this)

    def expr(self, text: str, this: dict | None) -> Any:
        if m := re.fullmatch(r"env\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)", text):
            value = self.env.get(m[1], m[2])
            if value is None:
                raise ServerlessError(f"s.yaml needs the environment variable {m[1]} (no default given)")
            return value
        if m := re.fullmatch(r"config\(\s*'([^']+)'\s*\)", text):
            if m[1] == "AccountID":
                return self.account_id or _Unresolved("${config('AccountID')}")
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
