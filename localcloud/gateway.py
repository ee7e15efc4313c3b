"""The HTTP front door: one listener per region on 127.0.0.1 (a free port each), routing every request
to the protocol it speaks, as the regional endpoints of the real cloud would.

- POP RPC (x-acs-action on `/`): KMS, ECS, CMS, ...; products told apart by x-acs-version.
- POP ROA (x-acs-action on a product path, e.g. `GET /api/v1/clusters`): CS/ACK; localcloud/roa.py.
- SLS REST (x-log-apiversion header), OSS REST/XML (everything else).

Every request is counted per product/action, may meet an injected fault, and is answered with the
real error codes and HTTP statuses.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Callable
from urllib.parse import parse_qs

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from localcloud import errors, fault_kinds, pop
from localcloud.products.base import Call
from localcloud.quota_gate import ScopedQuotaGate
from localcloud.roa import RoaGateway

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

log = logging.getLogger("localcloud")
# werkzeug logs every request at INFO; the call counter is the record of what was called.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class Listener:
    """A werkzeug server on 127.0.0.1 bound to one region, serving on its own thread."""

    def __init__(self, gateway: "Gateway", region: str, port: int = 0):
        self.region = region
        self.server = make_server("127.0.0.1", port, lambda env, sr: gateway.wsgi(env, sr, region), threaded=True)
        self.thread = threading.Thread(target=lambda: self.server.serve_forever(poll_interval=0.05), name=f"localcloud-{region}", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gateway:
    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud
        self.roa = RoaGateway(cloud)
        # SignatureNonces of RPC signature v1 requests (classic SDKs, aliyun CLI): a reuse is refused.
        self.rpc_nonces = pop.NonceBook()

    def wsgi(self, environ, start_response, region: str):
        request = Request(environ)
        # Served for the account that owns the AccessKey the request is signed with (LocalCloud.acting_for).
        with self.cloud.acting_for(access_key_of(request)):
            return self._serve(request, region)(environ, start_response)

    def _serve(self, request: Request, region: str) -> Response:
        try:
            if request.path == "/" and (request.headers.get("x-acs-action") or _rpc_v1_query(request)):
                response = self.rpc(request, region)
            elif self.roa.serves(request):
                response = self.roa.handle(request, region)
            elif request.headers.get("x-log-apiversion"):
                response = self.cloud.sls.handle(request, region)
            else:
                response = self.cloud.oss.handle(request, region)
        except Exception:  # a bug in the emulator must answer 500, not hang the SDK
            log.exception("local cloud failed on %s %s", request.method, request.path)
            err = errors.ApiError("InternalError", "The request processing has failed due to some unknown error.", 500)
            response = self._json_error(err, pop.new_request_id(), request.host)
        return response

    # ------------------------------------------------------------ POP RPC

    def rpc(self, request: Request, region: str) -> Response:
        request_id = pop.new_request_id()
        # The SDKs name the action in x-acs-action/x-acs-version; a request built as the RPC request structure
        # documents it names them in the Action and Version parameters only.
        action = request.headers.get("x-acs-action") or request.args.get("Action", "")
        version = request.headers.get("x-acs-version") or request.args.get("Version", "")
        body = request.get_data()
        product = self.cloud.products_by_version.get(version)
        product_code = product.code if product else f"version:{version}"
        self.cloud.calls.count(product_code, action)
        if product is None:
            return self._json_error(errors.ApiError("InvalidVersion", f"Specified parameter Version is not valid. ({version})", 400),
                                    request_id, request.host)
        call = None
        try:
            caller = pop.authenticate(request, body, self.cloud.account, self.cloud.clock.now, rpc_nonces=self.rpc_nonces)
            params = pop.request_params(request, body)
            if product.regional_param and params.get(product.regional_param):
                region = params[product.regional_param]
            self.cloud.ram.check_pop(self.cloud.account, caller.credential, product.code, action, region, params,
                                     request.remote_addr or "127.0.0.1")
            met = self.cloud.faults.apply(product.code, action, region, params)
            call = Call(cloud=self.cloud, product=product.code, action=action, params=params, region=region, caller=caller,
                        request_id=request_id, user_agent=request.headers.get("User-Agent", ""),
                        source_ip=request.remote_addr or "127.0.0.1", faults=met)
            with self.cloud.account.lock:
                result = product.handle(call)
            lost = fault_kinds.lost_answer(met, product.code, action)
            if lost is not None:  # done, but the caller never learns it
                self.cloud.trail.record(product, call)
                return self._json_error(lost, request_id, request.host)
        except errors.CannedResponse as canned:
            return canned.response(request_id)
        except errors.ApiError as err:
            if call is not None:
                self.cloud.trail.record(product, call, error=err)
            return self._json_error(err, request_id, request.host)
        self.cloud.trail.record(product, call)
        result = {"RequestId": request_id, **{k: v for k, v in result.items() if k != "RequestId"}}
        return Response(json.dumps(result), status=200, content_type="application/json;charset=utf-8",
                        headers={"x-acs-request-id": request_id})

    @staticmethod
    def _json_error(err: errors.ApiError, request_id: str, host: str) -> Response:
        headers = {"x-acs-request-id": request_id}
        if err.retry_after:
            headers["x-acs-retry-after"] = str(err.retry_after)
        return Response(json.dumps(pop.error_body(err, request_id, host)), status=err.status,
                        content_type="application/json;charset=utf-8", headers=headers)


# Where each protocol names the AccessKey: ACS3 (`Credential=<ak>,`), OSS V4 (`Credential=<ak>/date/...`), OSS V1
# (`OSS <ak>:sig`), SLS (`LOG <ak>:sig`); RPC v1 and presigned OSS URLs in the query.
_KEY_IN_AUTHORIZATION = re.compile(r"(?:Credential=|^OSS |^LOG )([^,/:\s]+)")


def access_key_of(request: Request) -> str | None:
    """The AccessKeyId a request is signed with, wherever its protocol puts it; None when it names none."""
    match = _KEY_IN_AUTHORIZATION.search(request.headers.get("Authorization", ""))
    if match:
        return match.group(1)
    for name in ("AccessKeyId", "OSSAccessKeyId"):
        if request.args.get(name):
            return request.args[name]
    credential = request.args.get("x-oss-credential", "")
    if credential:
        return credential.split("/", 1)[0]
    if request.mimetype == "application/x-www-form-urlencoded" and request.method == "POST":
        # get_data caches the body, so the protocol handlers read it again as it came.
        keys = parse_qs(request.get_data(as_text=True)).get("AccessKeyId")
        return keys[0] if keys else None
    return None


def _rpc_v1_query(request: Request) -> bool:
    """An RPC call built as the docs' request structure shows it (`/?Action=...&Version=...&Signature=...`,
    "Request structure" / "Signature mechanism" for RPC APIs) without the SDKs' x-acs-* headers."""
    return bool(request.args.get("Action") and request.args.get("Version") and request.args.get("Signature"))


class CallCounter:
    """How many times each API was called, keyed `product:Action` (e.g. `ecs:DescribeDisks`)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self.listeners: list = []  # called with "product:Action" on every call (live displays)

    def count(self, product: str, action: str) -> None:
        key = f"{product}:{action}"
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
        for listener in list(self.listeners):
            listener(key)

    def get(self, api: str) -> int:
        with self._lock:
            return self._counts.get(api, 0)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class Network:
    """How the whole cloud answers: a latency on every call, and per-API QPS quotas enforced with
    Alibaba's throttling error (Throttling.User with a retry-after). Off unless asked for. Each quota is
    counted per calling account, and per region for a regional API, as Alibaba publishes them
    (localcloud/quota_gate.py, ACCOUNT_WIDE)."""

    def __init__(self, latency_ms: int = 0, quotas: Callable[[str], float | None] | None = None,
                 groups: Callable[[str], str] | None = None):
        self.latency_ms = latency_ms
        self.gate = ScopedQuotaGate(quotas, group_of=groups) if quotas else None

    @classmethod
    def published(cls, latency_ms: int = 0) -> "Network":
        """Alibaba's published per-API quotas (shared/quotas.py), shared groups included."""
        from shared.quotas import Quotas

        quotas = Quotas()
        return cls(latency_ms, quotas.qps, quotas.group)


class Faults:
    """Injected faults: latency and errors per API (`ecs:DescribeDisks`, `ecs:*`), optionally per region.
    A fault may name a kind (`throttled`, `denied`, `server_error`, `timeout`, `malformed`, `silent_denial`)
    instead of a code: it is answered as the API's product really answers (localcloud/fault_kinds.py)."""

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud

    def add(self, api: str, code: str | None = None, *, message: str | None = None, status: int | None = None,
            latency_ms: int = 0, region: str | None = None, remaining: int | None = None, retry_after_ms: int | None = None,
            body=None, content_type: str | None = None, kind: str | None = None, page_size_cap: int | None = None,
            after: int = 0, answer_lost: bool = False) -> None:
        from localcloud.account import Fault

        if kind == "silent_denial" and not fault_kinds.supports_silent_denial(api.split(":", 1)[0]):
            raise ValueError(f"{api}: silent_denial is modelled for the POP products only ({', '.join(sorted(fault_kinds.SDK_MODELS))})")
        with self.cloud.account.lock:
            self.cloud.account.faults.append(Fault(Api=api, Code=code, Message=message, Status=status, LatencyMs=latency_ms,
                                                   RegionId=region, Remaining=remaining, RetryAfterMs=retry_after_ms,
                                                   Body=body, ContentType=content_type, Kind=kind, PageSizeCap=page_size_cap,
                                                   After=after, AnswerLost=answer_lost))

    def respond(self, api: str, body, *, content_type: str | None = None, remaining: int | None = None) -> None:
        """Answer `api` with a fixed body (a doc sample), instead of the emulated state."""
        self.add(api, body=body, content_type=content_type, remaining=remaining)

    def clear(self) -> None:
        with self.cloud.account.lock:
            self.cloud.account.faults = []

    def apply(self, product: str, action: str, region: str, params: dict[str, str] | None = None) -> list:
        """Meet the faults injected for this call: sleep, refuse or answer as they say. Returns the faults
        met, for those the handler acts on (the paging faults shape the answer, see Call.faults)."""
        network = self.cloud.network
        if network.latency_ms:
            time.sleep(network.latency_ms / 1000)
        if network.gate is not None:
            retry_after = network.gate.admit(f"{product}:{action}", account=self.cloud.account.account_id, region=region)
            if retry_after is not None:
                raise errors.throttled(retry_after=retry_after, product=product)
        with self.cloud.account.lock:
            matching = [f for f in self.cloud.account.faults
                        if f.Api in (f"{product}:{action}", f"{product}:*") and f.RegionId in (None, region)
                        and all((params or {}).get(k) == v for k, v in (f.Params or {}).items())
                        and (f.Remaining is None or f.Remaining > 0)]
            for fault in [f for f in matching if f.After > 0]:
                fault.After -= 1
                matching.remove(fault)
            for fault in matching:
                if fault.Remaining is not None:
                    fault.Remaining -= 1
        for fault in matching:
            if fault.LatencyMs or fault.Kind == "timeout":
                time.sleep((fault_kinds.latency_ms(fault.LatencyMs) if fault.Kind == "timeout" else fault.LatencyMs) / 1000)
        for fault in matching:
            if (fault.Code or fault.Kind in fault_kinds.ERROR_KINDS) and not fault.AnswerLost:
                raise fault_kinds.error_of(fault, product, action)
            if fault.Kind == "malformed":
                raise fault_kinds.malformed(product, action)
            if fault.Kind == "silent_denial":
                # A dry run asks for exactly the permission check the silent answer hides: it is refused
                # loudly (fault_kinds, "silent_denial"); the call itself gets 200 and an empty listing.
                if str((params or {}).get("DryRun", "")).lower() == "true":
                    raise fault_kinds.error(product, "denied", action)
                raise fault_kinds.silent_denial(product, action, params or {})
        for fault in matching:
            if fault.Body is not None:
                raise errors.CannedResponse(fault.Body, fault.ContentType)
        return matching

    @staticmethod
    def cap_page_param(request, met: list, param: str, default: int):
        """For the REST listings (OSS, SLS) that page by a size parameter of their own: under a PageSizeCap
        fault, the request reaches the handler with `param` capped, so it is served as a service that
        silently clamps its page size serves it (the answer reports the size used)."""
        caps = [f.PageSizeCap for f in met if f.PageSizeCap]
        if not caps:
            return
        from werkzeug.datastructures import ImmutableMultiDict

        try:
            asked = int(request.args.get(param) or default)
        except ValueError:
            return  # the handler refuses it as it would without the fault
        request.args = ImmutableMultiDict({**request.args.to_dict(), param: str(min([asked, *caps]))})

