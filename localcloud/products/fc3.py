"""Function Compute 3.0 (2023-03-30) InvokeFunction over its ROA protocol, run by the local FunctionRuntime
(localcloud/fc.py) on the project's functions (s.yaml).

Sources: "InvokeFunction" (FC 3.0 API reference, https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-invokefunction;
the request as alibabacloud-fc20230330 4.8.3 sends it: `POST /2023-03-30/functions/{functionName}/invocations`, query
`qualifier`, headers `x-fc-invocation-type` (Sync | Async), `x-fc-log-type` (None | Tail), `x-fc-async-task-id`, the
event as the body, the answer read as bytes); "Invocation examples" (https://help.aliyun.com/en/functioncompute/call-example:
"For a successful asynchronous invocation ... a status code of 202"); the 2023-03-30 Error structure
(https://help.aliyun.com/zh/functioncompute/api-fc-2023-03-30-struct-error: `{"Code": "FunctionNotFound", "Message":
"function not found", "RequestId": ...}`); "Error handling" (https://www.alibabacloud.com/help/en/functioncompute/fc/error-handling-1-1):
a function that raises answers with the header `X-Fc-Error-Type: UnhandledInvocationError` and the body
`{"errorMessage", "errorType", "stackTrace"}`; "Error codes" (https://www.alibabacloud.com/help/en/functioncompute/error-codes):
InvalidArgument 400, EntityTooLarge 400 "payload size exceeds maximum allowed size (%s bytes)".

- Sync runs the handler now and answers 200 with its return value (bytes as they are, a str as UTF-8, anything else
  as JSON), or with the error above; `x-fc-request-id` names the invocation.
- Async answers 202 at once with `x-fc-request-id` (the first attempt's request id, `context.request_id` of attempt
  1) and queues the event: the runtime's dispatcher runs it later with FC's asynchronous semantics (retries up to
  maxAsyncRetryAttempts, maxAsyncEventAgeInSeconds, destinations). `cloud.fc.drain()` waits for the queue.
- An asynchronous event is at most ASYNC_PAYLOAD_LIMIT bytes, a synchronous one SYNC_PAYLOAD_LIMIT (FC 3.0 "Limits":
  128 KB and 32 MB; UNCONFIRMED which of KB/KiB: 128 * 1024 here), else EntityTooLarge.
- The functions are the home account's (where the project is deployed): another account, or a name that is not a
  function of the project, gets FunctionNotFound (404). A qualifier other than LATEST (versions and aliases are not
  emulated) gets AliasNotFound (404; the 2023-03-30 code for it is UNCONFIRMED).

What is deployed, read back (no writes: `kms-steward doctor` reads them): the project's functions as s.yaml declares
them, in their s.yaml region (another region's endpoint: FunctionNotFound).
- GetFunction, `GET /2023-03-30/functions/{functionName}` ("GetFunction",
  https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-getfunction): the
  Function structure (functionName, functionArn, functionId, description, runtime, handler, memorySize, timeout,
  instanceConcurrency, role, environmentVariables, logConfig, state, lastUpdateStatus).
- ListTriggers, `GET /2023-03-30/functions/{functionName}/triggers` with prefix, limit, nextToken ("ListTriggers",
  https://alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-listtriggers): the
  s.yaml triggers, `triggerConfig` as JSON text (TimerTriggerConfig: cronExpression, enable, payload;
  EventBridgeTriggerConfig: triggerEnable, asyncInvocationType, eventRuleFilterPattern, eventSourceConfig, as s.yaml
  gives them), `targetArn` the function's ARN. limit's default (20) and the token's form are UNCONFIRMED; a bad token
  is InvalidArgument. `status` is left out (its values UNCONFIRMED).
- GetAsyncInvokeConfig, `GET /2023-03-30/functions/{functionName}/async-invoke-config` ("GetAsyncInvokeConfig",
  https://help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-getasyncinvokeconfig): AsyncConfig
  (functionArn, maxAsyncRetryAttempts, maxAsyncEventAgeInSeconds, destinationConfig, asyncTask). A function whose
  s.yaml sets no asyncInvokeConfig: AsyncConfigNotExists, 404 (UNCONFIRMED).
"""
from __future__ import annotations

import base64
import json

from alibabacloud_fc20230330 import models as fc
from werkzeug.wrappers import Response

from localcloud import errors
from localcloud.roa import JSON, RoaCall, RoaProduct, roa_api

INVOCATION_TYPES = ("Sync", "Async")
ASYNC_PAYLOAD_LIMIT = 128 * 1024
SYNC_PAYLOAD_LIMIT = 32 * 1024 * 1024


class FunctionCompute(RoaProduct):
    code = "fc"
    service_name = "FC"
    version = "2023-03-30"
    endpoint_prefix = "fcv3"

    def error_body(self, err: errors.ApiError, request_id: str) -> dict:
        return {"Code": err.code, "Message": err.message, "RequestId": request_id}

    @roa_api("InvokeFunction", "POST", "/2023-03-30/functions/{functionName}/invocations", json_body=False,
             locked=False)
    def invoke_function(self, call: RoaCall):
        name = call.path_params["functionName"]
        project = self.cloud.project
        spec = project.function_named(name) if project is not None and self.account is self.cloud.home else None
        if spec is None:
            raise errors.ApiError("FunctionNotFound", f"function '{name}' does not exist", 404)
        qualifier = call.get("qualifier", "LATEST")
        if qualifier != "LATEST":
            raise errors.ApiError("AliasNotFound", f"alias '{qualifier}' of function '{name}' does not exist", 404)
        kind = call.headers.get("x-fc-invocation-type", "Sync") or "Sync"
        if kind not in INVOCATION_TYPES:
            raise errors.ApiError("InvalidArgument", f"invalid x-fc-invocation-type '{kind}', expected Sync or Async", 400)
        event = call.raw_body or b""
        limit = ASYNC_PAYLOAD_LIMIT if kind == "Async" else SYNC_PAYLOAD_LIMIT
        if len(event) > limit:
            raise errors.ApiError("EntityTooLarge", f"payload size exceeds maximum allowed size ({limit} bytes)", 400)
        region = spec.region or call.region
        if kind == "Async":
            request_id = self.cloud.fc.submit(spec.resource, event, region=region, source=f"InvokeFunction:{call.caller.credential.UserName}")
            return Response(b"", status=202, headers={"x-fc-request-id": request_id, "x-acs-request-id": call.request_id})
        inv = self.cloud.fc.invoke(spec.resource, event, region=region, invocation_type="Sync",
                                   source=f"InvokeFunction:{call.caller.credential.UserName}")
        headers = {"x-fc-request-id": inv.request_id, "x-acs-request-id": call.request_id}
        if not inv.ok:
            headers["x-fc-error-type"] = "UnhandledInvocationError"
            return Response(json.dumps(inv.error), status=200, content_type=JSON, headers=headers)
        result = inv.result
        body = result if isinstance(result, bytes) else result.encode() if isinstance(result, str) else json.dumps(result).encode()
        return Response(body, status=200, content_type="application/octet-stream", headers=headers)

    # ------------------------------------------------------------ what is deployed (read-only)

    def _deployed(self, call: RoaCall):
        """The project function `functionName` names, deployed in the region called; FunctionNotFound otherwise."""
        name = call.path_params["functionName"]
        project = self.cloud.project
        spec = project.function_named(name) if project is not None and self.account is self.cloud.home else None
        if spec is None or (spec.region or call.region) != call.region:
            raise errors.ApiError("FunctionNotFound", f"function '{name}' does not exist", 404)
        return spec

    def _arn(self, spec, region: str) -> str:
        return f"acs:fc:{region}:{self.account.account_id}:functions/{spec.function_name}"

    @roa_api("GetFunction", "GET", "/2023-03-30/functions/{functionName}")
    def get_function(self, call: RoaCall) -> dict:
        spec = self._deployed(call)
        props = spec.props
        log_config = props.get("logConfig") or {}
        # the SDK's own model, so field names and types are the ones its client reads
        return fc.Function(
            function_name=spec.function_name, function_arn=self._arn(spec, call.region), function_id=spec.function_name,
            description=props.get("description", ""), runtime=props.get("runtime", ""), handler=spec.handler,
            memory_size=props.get("memorySize", 128), timeout=spec.timeout,
            instance_concurrency=props.get("instanceConcurrency", 1), role=spec.role or "",
            environment_variables=spec.environment,
            log_config=fc.LogConfig(project=log_config.get("project"), logstore=log_config.get("logstore"),
                                    enable_request_metrics=log_config.get("enableRequestMetrics"),
                                    enable_instance_metrics=log_config.get("enableInstanceMetrics"),
                                    log_begin_rule=log_config.get("logBeginRule")),
            state="Active", last_update_status="Successful").to_map()

    @roa_api("ListTriggers", "GET", "/2023-03-30/functions/{functionName}/triggers")
    def list_triggers(self, call: RoaCall) -> dict:
        spec = self._deployed(call)
        prefix = call.get("prefix") or ""
        raw = [t for t in spec.props.get("triggers") or [] if str(t.get("triggerName", "")).startswith(prefix)]
        try:
            limit = int(call.get("limit") or 20)
            start = int(base64.b64decode(call.get("nextToken")).decode()) if call.get("nextToken") else 0
        except ValueError:
            raise errors.ApiError("InvalidArgument", "invalid limit or nextToken", 400) from None
        if not 1 <= limit <= 100 or start < 0:
            raise errors.ApiError("InvalidArgument", "invalid limit or nextToken", 400)
        arn = self._arn(spec, call.region)
        page = [fc.Trigger(trigger_name=t["triggerName"], trigger_type=t.get("triggerType", ""),
                           trigger_id=f"{spec.function_name}-{t['triggerName']}", description=t.get("description", ""),
                           qualifier=t.get("qualifier") or "LATEST", trigger_config=json.dumps(t.get("triggerConfig") or {}),
                           target_arn=arn, source_arn="", invocation_role="")
                for t in raw[start:start + limit]]
        more = start + limit < len(raw)
        return fc.ListTriggersOutput(triggers=page, next_token=base64.b64encode(str(start + limit).encode()).decode()
                                     if more else None).to_map()

    @roa_api("GetAsyncInvokeConfig", "GET", "/2023-03-30/functions/{functionName}/async-invoke-config")
    def get_async_invoke_config(self, call: RoaCall) -> dict:
        spec = self._deployed(call)
        config = spec.async_invoke_config
        if not config:
            raise errors.ApiError("AsyncConfigNotExists", f"async invoke config of function '{spec.function_name}' does not exist", 404)
        def destination(kind):
            return fc.Destination(destination=spec.destination(kind)) if spec.destination(kind) else None

        destinations = fc.DestinationConfig(on_failure=destination("onFailure"), on_success=destination("onSuccess"))
        return fc.AsyncConfig(function_arn=self._arn(spec, call.region), max_async_retry_attempts=spec.max_async_retries,
                              max_async_event_age_in_seconds=spec.max_async_event_age, async_task=False,
                              destination_config=destinations if spec.destination("onFailure") or spec.destination("onSuccess")
                              else None).to_map()
