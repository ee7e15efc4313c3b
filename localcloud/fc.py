"""Function Compute 3.0, python3.10 runtime, run in-process: the handler named in s.yaml is loaded
from its code directory and called as FC calls it, `handler(event: bytes, context)`.

What FC gives a function is given here too: the s.yaml environment variables, the FC system
variables (FC_FUNCTION_NAME, FC_REGION, FC_ACCOUNT_ID, ALIBABA_CLOUD_* credentials), a context with
`request_id`, `credentials` (temporary STS credentials of the function's role), `function`,
`region` and `account_id`. Asynchronous invocations are retried on an unhandled error up to
`asyncInvokeConfig.maxAsyncRetryAttempts`, as FC does; a returned value counts as success.

Asynchronous invocations, as FC 3.0 runs them (sources: "Asynchronous invocations" / retry policy,
https://help.aliyun.com/zh/functioncompute/retry-policy; "Result callback",
https://help.aliyun.com/zh/functioncompute/user-guide/result-callback; DestinationConfig,
https://alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-destinationconfig; PutAsyncInvokeConfigInput,
https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putasyncinvokeconfiginput):

- Every attempt is its own execution with its own request id (`context.request_id`): nothing in FC
  promises the same id across retries. `Invocation.first_request_id` (the first attempt's id, the one the
  asynchronous invocation is known by) and `Invocation.attempt` tie the attempts together. Retries here
  happen at once, without FC's backoff.
- An event older than `maxAsyncEventAgeInSeconds` (counted from `queued_at`, on `cloud.clock`) is not
  (re)tried; it goes to the onFailure destination. Default 86400 s (PutAsyncInvokeConfigInput).
- When every attempt failed (or the event got too old), FC sends a record to
  `asyncInvokeConfig.destinationConfig.onFailure.destination`; after a success, to `onSuccess`. The record
  is the result-callback doc's "event content" (MNS, FC and RocketMQ destinations get the same):
      {"timestamp": 1660120276975,
       "requestContext": {"requestId": ..., "functionArn": "acs:fc:{regionid}:{accountid}:functions/{name}",
                          "condition": ..., "approximateInvokeCount": 3},
       "requestPayload": "...", "responseContext": {"statusCode": 200, "functionError": "..."},
       "responsePayload": "..."}
  timestamp is epoch milliseconds (the sample's magnitude). A destination ARN
  `acs:fc:<region>:<account>:functions/<name>` (the fc3 ARN the doc sample and the alicloud_fcv3_async_invoke_config
  example use) naming a function of this project (by functionName) is invoked with that record as its
  event, asynchronously (with its own retries and destinations) before `invoke` returns. Every record sent
  is kept in `FunctionRuntime.destinations_sent`, so a destination that is not a function of this project
  (MNS, EventBridge, RocketMQ, another account's function) is recorded, not dropped.
  UNCONFIRMED: the condition values (the doc calls it the invocation error code and shows
  FunctionResourceExhausted; an unhandled exception is reported as UnhandledInvocationError, FC's error
  type, an event past its age as EventAgeExceeded, as AWS Lambda names it, a success as ""); functionError
  (the error message here) and responsePayload (the JSON text of the function's result, or of its error
  body {"errorMessage", "errorType", "stackTrace"}); requestPayload as the event's text; requestId as the
  first attempt's id.
- Time triggers (`fire_timer`) invoke with the FC 3.0 timer event, "formats of event for different
  triggers" (https://www.alibabacloud.com/help/en/fc/formats-of-event-for-different-triggers):
  {"triggerTime": "2023-12-26T07:49:00Z", "triggerName": "timer-trigger", "payload": "awesome-fc"}, payload
  being the trigger's configured string, triggerTime the local clock. They invoke asynchronously (the FC 2.0
  "event triggering" page, https://help.aliyun.com/zh/functioncompute/fc-2-0/user-guide/event-triggering, lists
  time triggers among the triggers that run asynchronous tasks; UNCONFIRMED for FC 3.0 in the time-trigger
  doc itself). Firing follows no schedule here: a test or the operator calls `fire_timer`.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from localcloud.account import Credential
from localcloud.clock import iso
from localcloud.packaged import PackagedError, run_packaged
from localcloud.serverless import FunctionSpec, ServerlessError

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud.fc")

# The process environment is global; FC instances are separate processes. One invocation at a time
# keeps each function's environment its own.
_ENV_LOCK = threading.RLock()

# An fc3 function ARN, as destinationConfig names one (result-callback doc sample; alicloud_fcv3_async_invoke_config).
FUNCTION_ARN = re.compile(r"acs:fc:([a-z0-9-]*):(\d*):functions/([A-Za-z0-9_-]+)")
# requestContext.condition values (UNCONFIRMED, see the module docstring).
CONDITION_UNHANDLED = "UnhandledInvocationError"
CONDITION_EVENT_AGE = "EventAgeExceeded"
CONDITION_SUCCESS = ""
# Destinations invoking destinations (a function whose onFailure is itself, or a cycle) stop this deep;
# FC itself does not guard against such a loop, but a local run must end.
MAX_DESTINATION_DEPTH = 5


@dataclass
class Invocation:
    """One attempt. The attempts of one asynchronous invocation share `first_request_id`."""

    function: str
    request_id: str  # this attempt's own request id (context.request_id)
    attempt: int  # 1, 2, ...; 0 for an asynchronous event that got too old before its first attempt (never run)
    invocation_type: str  # Sync | Async
    event: bytes
    result: Any = None
    error: dict | None = None  # {"errorMessage", "errorType", "stackTrace"} as FC reports UnhandledInvocationError
    source: str = ""  # e.g. eventbridge:<trigger name>, timer:<trigger name>, destination:onFailure:<resource>
    first_request_id: str = ""  # the first attempt's request id (equal to request_id on attempt 1)
    queued_at: datetime | None = None  # when FC accepted the asynchronous event (its age counts from here)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class DestinationRecord:
    """One record FC sent to an asynchronous invocation's destination."""

    kind: str  # onFailure | onSuccess
    destination: str  # the ARN asyncInvokeConfig.destinationConfig names
    payload: dict  # the record sent (result-callback doc "event content")
    source_function: str  # the s.yaml resource whose invocation ended
    request_id: str  # the asynchronous invocation's first request id
    function: str | None = None  # the s.yaml resource the destination names, if it is a function of this project
    invocation: Invocation | None = None  # the destination function's last attempt, if it was invoked
    note: str = ""  # why a project function was not invoked (destination chain too deep)


@dataclass
class FunctionRuntime:
    cloud: "LocalCloud"
    invocations: list[Invocation] = field(default_factory=list)
    destinations_sent: list[DestinationRecord] = field(default_factory=list)
    _modules: dict[str, Any] = field(default_factory=dict)
    # A folder of packages (dist/): each function then runs from dist/<resource> in a process of its own, as deployed
    packages: Path | None = None
    _queue: "queue.Queue" = field(default_factory=queue.Queue)
    _pending: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _dispatcher: threading.Thread | None = None

    # ------------------------------------------------------------ the asynchronous queue (InvokeFunction Async)

    def submit(self, resource: str, event: bytes, *, region: str | None = None, source: str = "") -> str:
        """Queue an asynchronous invocation, as FC accepts one (202); its first attempt's request id."""
        request_id = str(uuid.uuid4())
        with self._idle:
            self._pending += 1
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=self._dispatch, name="localcloud-fc-async", daemon=True)
                self._dispatcher.start()
        self._queue.put((resource, event, region, source, self.cloud.clock.now(), request_id))
        return request_id

    def drain(self, timeout: float = 60) -> bool:
        """Wait until every queued asynchronous invocation (and what they queued) has run; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _dispatch(self) -> None:
        while True:
            resource, event, region, source, queued_at, request_id = self._queue.get()
            try:
                self._invoke(resource, event, region=region, invocation_type="Async", source=source, queued_at=queued_at,
                             depth=0, first_request_id=request_id)
            except Exception:  # a project error (unknown function): logged, the queue goes on
                log.exception("asynchronous invocation of %s failed to start", resource)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def invoke(self, resource: str, event: bytes, *, region: str | None = None, invocation_type: str = "Sync",
               source: str = "", queued_at: datetime | None = None) -> Invocation:
        """Invoke `resource` (s.yaml resource or functionName). Sync runs once. Async retries an unhandled error
        up to maxAsyncRetryAttempts, each attempt with its own request id, skips attempts once the event is
        older than maxAsyncEventAgeInSeconds (from `queued_at`, default now), then sends the outcome to the
        onFailure / onSuccess destination. Returns the last attempt (attempt 0 if none ran)."""
        return self._invoke(resource, event, region=region, invocation_type=invocation_type, source=source,
                            queued_at=queued_at, depth=0)

    def fire_timer(self, resource: str, trigger_name: str | None = None, *, region: str | None = None) -> Invocation:
        """Fire a time trigger of `resource` now (by `cloud.clock`), as FC does when its cron expression is due:
        an asynchronous invocation with the timer event. `trigger_name` may be left out when the function has
        one timer trigger. A disabled trigger (enable: false) is refused: FC would not fire it."""
        spec = self._project().function(resource)
        timer = spec.timer_trigger(trigger_name)
        if not timer.enable:
            raise ServerlessError(f"timer trigger {timer.name!r} of {spec.resource} is disabled (enable: false); FC would not fire it")
        event = {"triggerTime": iso(self.cloud.clock.now()), "triggerName": timer.name, "payload": timer.payload}
        return self.invoke(spec.resource, json.dumps(event).encode(), region=region, invocation_type="Async",
                           source=f"timer:{timer.name}")

    def _project(self):
        if self.cloud.project is None:
            raise ServerlessError("this local cloud was started without an s.yaml project: it has no functions")
        return self.cloud.project

    def _invoke(self, resource: str, event: bytes, *, region: str | None, invocation_type: str, source: str,
                queued_at: datetime | None, depth: int, first_request_id: str = "") -> Invocation:
        spec = self._project().function(resource)
        region = region or self.cloud.default_region
        is_async = invocation_type == "Async"
        attempts = 1 + (spec.max_async_retries if is_async else 0)
        queued = (queued_at or self.cloud.clock.now()) if is_async else None
        max_age = timedelta(seconds=spec.max_async_event_age)
        inv = None
        ran = 0
        condition = CONDITION_SUCCESS
        for attempt in range(1, attempts + 1):
            if is_async and self.cloud.clock.now() - queued > max_age:
                condition = CONDITION_EVENT_AGE
                log.warning("function %s: event older than maxAsyncEventAgeInSeconds (%ds) after %d attempt(s); not retried",
                            spec.resource, spec.max_async_event_age, ran)
                break
            request_id = first_request_id if attempt == 1 and first_request_id else str(uuid.uuid4())
            first_request_id = first_request_id or request_id
            inv = self._run(spec, event, region, request_id, attempt, invocation_type, source, first_request_id, queued)
            ran = attempt
            if inv.ok:
                break
        else:
            condition = CONDITION_UNHANDLED  # every attempt raised: retries exhausted
        if inv is None:  # too old before its first attempt: never run, not in `invocations`
            first_request_id = first_request_id or str(uuid.uuid4())
            inv = Invocation(spec.resource, first_request_id, 0, invocation_type, event, source=source,
                             error={"errorMessage": f"the event is older than maxAsyncEventAgeInSeconds ({spec.max_async_event_age}s)",
                                    "errorType": CONDITION_EVENT_AGE, "stackTrace": []},
                             first_request_id=first_request_id, queued_at=queued)
        if is_async:
            kind = "onSuccess" if inv.ok else "onFailure"
            destination = spec.destination(kind)
            if destination:
                payload = self._destination_payload(spec, region, inv, condition, ran)
                self._send(spec, kind, destination, payload, region, depth)
        return inv

    def _destination_payload(self, spec: FunctionSpec, region: str, inv: Invocation, condition: str, ran: int) -> dict:
        """The result-callback record (see the module docstring for its source and what is UNCONFIRMED)."""
        if inv.ok:
            function_error, response = "", json.dumps(inv.result)
        elif ran:
            function_error, response = inv.error["errorMessage"], json.dumps(inv.error)
        else:
            function_error, response = "", ""
        return {
            "timestamp": int(self.cloud.clock.now().timestamp() * 1000),
            "requestContext": {
                "requestId": inv.first_request_id,
                "functionArn": f"acs:fc:{region}:{self.cloud.account.account_id}:functions/{spec.function_name}",
                "condition": condition,
                "approximateInvokeCount": ran,
            },
            "requestPayload": inv.event.decode("utf-8", "replace"),
            "responseContext": {"statusCode": 200, "functionError": function_error},
            "responsePayload": response,
        }

    def _send(self, spec: FunctionSpec, kind: str, destination: str, payload: dict, region: str, depth: int) -> None:
        record = DestinationRecord(kind, destination, payload, spec.resource, payload["requestContext"]["requestId"])
        target, target_region = self._destination_function(destination, region)
        self.destinations_sent.append(record)
        if target is None:
            log.info("function %s: %s record for destination %s kept in destinations_sent (not a function of this project)",
                     spec.resource, kind, destination)
            return
        record.function = target.resource
        if depth + 1 > MAX_DESTINATION_DEPTH:
            record.note = f"not invoked: destinations chained more than {MAX_DESTINATION_DEPTH} deep"
            log.warning("function %s: %s", spec.resource, record.note)
            return
        record.invocation = self._invoke(target.resource, json.dumps(payload).encode(), region=target_region, invocation_type="Async",
                                         source=f"destination:{kind}:{spec.resource}", queued_at=None, depth=depth + 1)

    def _destination_function(self, destination: str, region: str) -> tuple[FunctionSpec | None, str]:
        """The project function an fc3 function ARN names (same account, the function's region), or None."""
        match = FUNCTION_ARN.fullmatch(destination)
        if match is None:
            return None, region
        arn_region, account, name = match.groups()
        spec = self._project().function_named(name)
        if spec is None or account not in ("", self.cloud.account.account_id):
            return None, region
        if arn_region and arn_region != (spec.region or self.cloud.default_region):
            return None, region
        return spec, arn_region or region

    def _run(self, spec: FunctionSpec, event: bytes, region: str, request_id: str, attempt: int, invocation_type: str,
             source: str, first_request_id: str = "", queued_at: datetime | None = None) -> Invocation:
        inv = Invocation(spec.resource, request_id, attempt, invocation_type, event, source=source,
                         first_request_id=first_request_id or request_id, queued_at=queued_at)
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
                if self.packages is not None:  # the deployable package, in a process of its own (localcloud/packaged.py)
                    inv.result = run_packaged(self.packages / spec.resource, spec.handler, event, context, env,
                                              timeout_s=spec.timeout)
                else:
                    handler = self._handler(spec)
                    inv.result = handler(event, context)
                json.dumps(inv.result)  # FC serialises the return value; a non-JSON result is an error there too
            except PackagedError as exc:
                inv.result, inv.error = None, exc.error
                log.warning("function %s attempt %d failed in its package: %s: %s", spec.resource, attempt,
                            exc.error.get("errorType"), exc)
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


def issue_role_credentials(account_id: str, role_arn: str | None, session: str, now, *, seconds: int = 3600) -> Credential:
    """Temporary credentials for a function's role, as STS AssumeRole would issue them."""
    role_name = (role_arn or "").rsplit("/", 1)[-1] or "fc-default-role"
    return Credential(
        AccessKeyId="STS." + secrets.token_hex(12),
        AccessKeySecret=secrets.token_urlsafe(30),
        SecurityToken="CAIS" + secrets.token_urlsafe(48),
        UserName=f"{role_name}:{session}",
        IdentityType="assumed-role",
        RoleName=role_name,
        Expiration=iso(now + timedelta(seconds=seconds)),
    )
