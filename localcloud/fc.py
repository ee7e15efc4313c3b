"""Function Compute 3.0, python3.10 runtime, run in-process: the handler named in s.yaml is loaded
from its code directory and called as FC calls it, `handler(event: bytes, context)`.

What FC gives a function is given here too: the s.yaml environment variables, the FC system
variables (FC_FUNCTION_NAME, FC_REGION, FC_ACCOUNT_ID, ALIBABA_CLOUD_* credentials), a context with
`request_id`, `credentials` (temporary STS credentials of the function's role), `function`,
`region` and `account_id`. Asynchronous invocations are retried on an unhandled error up to
`asyncInvokeConfig.maxAsyncRetryAttempts`, as FC does; a returned value counts as success.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from localcloud.account import Credential
from localcloud.clock import iso
from localcloud.serverless import FunctionSpec

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.fc")

# The process environment is global; FC instances are separate processes. One invocation at a time
# keeps each function's environment its own.
_ENV_LOCK = threading.RLock()


@dataclass
class Invocation:
    function: str
    request_id: str
    attempt: int
    invocation_type: str  # Sync | Async
    event: bytes
    result: Any = None
    error: dict | None = None  # {"errorMessage", "errorType", "stackTrace"} as FC reports UnhandledInvocationError
    source: str = ""  # e.g. eventbridge:<trigger name>

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class FunctionRuntime:
    cloud: "LocalCloud"
    invocations: list[Invocation] = field(default_factory=list)
    _modules: dict[str, Any] = field(default_factory=dict)

    def invoke(self, resource: str, event: bytes, *, region: str | None = None, invocation_type: str = "Sync",
               source: str = "") -> Invocation:
        """Invoke once; Async retries an unhandled error as FC does. Returns the last attempt."""
        spec = self.cloud.project.function(resource)
        attempts = 1 + (spec.max_async_retries if invocation_type == "Async" else 0)
        request_id = str(uuid.uuid4())
        inv = None
        for attempt in range(1, attempts + 1):
            inv = self._run(spec, event, region or self.cloud.default_region, request_id, attempt, invocation_type, source)
            if inv.ok:
                break
        return inv

    def _run(self, spec: FunctionSpec, event: bytes, region: str, request_id: str, attempt: int, invocation_type: str,
             source: str) -> Invocation:
        inv = Invocation(spec.resource, request_id, attempt, invocation_type, event, source=source)
        creds = self.cloud.assume_role(spec.role, session=spec.function_name)
        context = SimpleNamespace(
            request_id=request_id,
            credentials=SimpleNamespace(access_key_id=creds.AccessKeyId, access_key_secret=creds.AccessKeySecret,
                                        security_token=creds.SecurityToken),
            function=SimpleNamespace(name=spec.function_name, handler=spec.handler, memory=spec.props.get("memorySize", 512),
                                     timeout=spec.timeout, version_id="", qualifier="LATEST"),
            region=region,
            account_id=self.cloud.account.account_id,
            logger=logging.getLogger(f"fc.{spec.function_name}"),
        )
        env = {
            **spec.environment,
            "FC_FUNCTION_NAME": spec.function_name,
            "FC_FUNCTION_HANDLER": spec.handler,
            "FC_REGION": region,
            "FC_ACCOUNT_ID": self.cloud.account.account_id,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": creds.AccessKeyId,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": creds.AccessKeySecret,
            "ALIBABA_CLOUD_SECURITY_TOKEN": creds.SecurityToken,
            # The only thing that tells the code where the cloud is: the endpoint override, per region.
            "ALIBABA_CLOUD_ENDPOINT_OVERRIDE": self.cloud.endpoint_override(region),
        }
        with _ENV_LOCK:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                handler = self._handler(spec)
                inv.result = handler(event, context)
                json.dumps(inv.result)  # FC serialises the return value; a non-JSON result is an error there too
            except Exception as exc:  # FC reports any unhandled exception as UnhandledInvocationError
                inv.result = None
                inv.error = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                             "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:]}
                log.warning("function %s attempt %d failed: %s: %s", spec.resource, attempt, type(exc).__name__, exc)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        self.invocations.append(inv)
        return inv

    def _handler(self, spec: FunctionSpec):
        """Load `file.method` from the code directory, with the code directory on sys.path (as /code is)."""
        if spec.resource in self._modules:
            return self._modules[spec.resource]
        file_part, _, method = spec.handler.rpartition(".")
        path = spec.code_dir / f"{file_part}.py"
        if not path.is_file():
            raise FileNotFoundError(f"handler file {path} for {spec.resource} not found")
        code_dir = str(spec.code_dir)
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        module_name = f"fc_{spec.resource.replace('-', '_')}_{abs(hash(str(path)))}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        handler = getattr(module, method)
        self._modules[spec.resource] = handler
        return handler


def issue_role_credentials(account_id: str, role_arn: str | None, session: str, now) -> Credential:
    """Temporary credentials for a function's role, as STS AssumeRole would issue them."""
    role_name = (role_arn or "").rsplit("/", 1)[-1] or "fc-default-role"
    return Credential(
        AccessKeyId="STS." + secrets.token_hex(12),
        AccessKeySecret=secrets.token_urlsafe(30),
        SecurityToken="CAIS" + secrets.token_urlsafe(48),
        UserName=f"{role_name}:{session}",
        IdentityType="assumed-role",
        RoleName=role_name,
        Expiration=iso(now + timedelta(hours=1)),
    )
