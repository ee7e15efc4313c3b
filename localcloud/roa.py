"""The ROA protocol the tea-openapi SDKs speak for REST-style products (CS/ACK; later FC and others):
a real path (`GET /api/v1/clusters`, `GET /clusters/{ClusterId}`), parameters in the query string and
the path, an optional JSON body, and the same ACS3-HMAC-SHA256 signature as RPC.

What the SDK sends (alibabacloud-tea-openapi 0.4.6 `do_request`, observed with alibabacloud-cs20151215
7.2.3): the product's path and query, headers `x-acs-action` and `x-acs-version` (as for RPC),
`x-acs-content-sha256` of the body (of the empty body for a GET), and `Authorization` signing the
method, the path, the canonical query and the signed headers. `verify_roa_signature` recomputes that
with the SDK's own canonicalisation (`pop.verify_acs3_signature` over the path as sent), so the
signature is verified exactly as for RPC.

A product is picked by `x-acs-version` (one listener serves every product, as the regional endpoints
do by host name), then a route by (method, path pattern). The call is counted as `<code>:<Action>`
(`cs:DescribeClustersV1`), meets injected faults and canned answers, and is recorded in ActionTrail,
as an RPC call is.

Errors: what the POP gateway refuses before the product sees the call (signature, AccessKey,
throttling, an injected Forbidden.RAM, an unknown route) is answered with the gateway's error body,
the one RPC answers with: an ROA call with an unknown AccessKey answers `InvalidAccessKeyId.NotFound`,
404, "Specified access key is not found." as RPC does (seen on CS in aliyun/ack-set-context#2). What
the product refuses is answered with the product's own body (`RoaProduct.error_body`). The SDK reads
either: `do_request` takes `Code` or `code`, `Message` or `message`, `RequestId` or `requestId` from
the JSON error body, raises ClientException (4xx) / ServerException (5xx) with `.code`, `.status_code`
and the whole body as `.data`, and ThrottlingException when `x-acs-retry-after` is present.
"""
from __future__ import annotations

import json
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from localcloud import errors, fault_kinds, pop
from localcloud.products.base import Call, Product

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

JSON = "application/json;charset=utf-8"
_PARAM = re.compile(r"\{(\w+)\}")


def roa_api(action: str, method: str, path: str, *, write: bool = False, json_body: bool = True,
            locked: bool = True) -> Callable:
    """Mark a product method as the handler of ROA API `action` at `method path` (`{Name}` is a path
    parameter, e.g. "/clusters/{ClusterId}"); writes reach ActionTrail and EventBridge as RPC writes do."""

    def mark(fn):
        # locked: the handler runs holding the account's lock, as every state read-modify-write does; an API that
        # runs user code which calls the cloud back (FC InvokeFunction) takes what locks it needs itself.
        fn.roa_route = (action, method.upper(), path, json_body, locked)
        fn.api_write = write
        return fn

    return mark


@dataclass(frozen=True)
class Route:
    action: str
    method: str
    template: str
    pattern: re.Pattern
    handler: Callable[["RoaCall"], Any]
    json_body: bool = True  # the body is JSON (decoded into RoaCall.body); else only RoaCall.raw_body
    locked: bool = True

    @classmethod
    def of(cls, action: str, method: str, template: str, json_body: bool, locked: bool, handler) -> "Route":
        regex = "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(_PARAM.split(template)))
        return cls(action, method, template, re.compile(f"^{regex}/?$"), handler, json_body, locked)

    def match(self, method: str, path: str) -> Optional[dict[str, str]]:
        if method != self.method:
            return None
        m = self.pattern.match(path)
        return None if m is None else {k: unquote(v) for k, v in m.groupdict().items()}


@dataclass
class RoaCall(Call):
    """An ROA call: `params` holds the query and the path parameters (the names the API documents);
    `path_params` the path's alone; `body` the decoded JSON body, if any."""

    path_params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw_body: bytes = b""  # the body as sent (an API whose body is not JSON: FC InvokeFunction's event)
    headers: dict[str, str] = field(default_factory=dict)  # the request's headers, names in lower case


class RoaProduct(Product):
    """An emulated ROA product. Subclasses set the identity and mark handlers with @roa_api."""

    # The query parameter that names the region a call is about, when the API has one: faults given a
    # RegionId and the ActionTrail record use it; otherwise the endpoint's region.
    regional_param: Optional[str] = None

    def __init__(self, cloud: "LocalCloud"):
        super().__init__(cloud)
        self.routes: list[Route] = []
        self._writes: set[str] = set()
        for attr in dir(type(self)):
            fn = getattr(self, attr)
            spec = getattr(fn, "roa_route", None)
            if spec:
                self.routes.append(Route.of(*spec, fn))
                if fn.api_write:
                    self._writes.add(spec[0])

    def match(self, method: str, path: str) -> Optional[tuple[Route, dict[str, str]]]:
        for route in self.routes:
            found = route.match(method, path)
            if found is not None:
                return route, found
        return None

    def is_write(self, action: str) -> bool:
        return action in self._writes

    def error_body(self, err: errors.ApiError, request_id: str) -> dict[str, Any]:
        """The product's own error body (what its service answers, past the gateway). The lower-case keys
        are what ROA services such as CS answer; beyond code/message/requestId (what the SDK reads),
        the exact key set is UNCONFIRMED."""
        return {"code": err.code, "message": err.message, "requestId": request_id}


class RoaGateway:
    """Serves ROA calls for the cloud's ROA products (see the module docstring)."""

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud

    def product_for(self, request: Request) -> Optional[RoaProduct]:
        if request.path == "/" or not request.headers.get("x-acs-action"):
            return None
        return self.cloud.roa_products_by_version.get(request.headers.get("x-acs-version", ""))

    def serves(self, request: Request) -> bool:
        return self.product_for(request) is not None

    def handle(self, request: Request, region: str) -> Response:
        request_id = pop.new_request_id()
        product = self.product_for(request)
        found = product.match(request.method, request.path)
        action = found[0].action if found else request.headers.get("x-acs-action", "")
        self.cloud.calls.count(product.code, action)
        body = request.get_data()
        call = None
        try:
            caller = verify_roa_signature(request, body, self.cloud.account, self.cloud.clock.now)
            if found is None:
                raise errors.unsupported_operation(f"{request.method} {request.path}")
            route, path_params = found
            params = {**{k: v for k, v in request.args.items()}, **path_params}
            if product.regional_param and params.get(product.regional_param):
                region = params[product.regional_param]
            self.cloud.ram.check_pop(self.cloud.account, caller.credential, product.code, action, region, params,
                                     request.remote_addr or "127.0.0.1")
            met = self.cloud.faults.apply(product.code, action, region, params)
            call = RoaCall(cloud=self.cloud, product=product.code, action=action, params=params, region=region, caller=caller,
                           request_id=request_id, user_agent=request.headers.get("User-Agent", ""),
                           source_ip=request.remote_addr or "127.0.0.1", path_params=path_params,
                           body=_json_body(request, body) if route.json_body else None, raw_body=body,
                           headers={k.lower(): v for k, v in request.headers.items()})
            try:
                with self.cloud.account.lock if route.locked else nullcontext():
                    result = route.handler(call)
            except errors.ApiError as err:  # the product's own refusal
                self.cloud.trail.record(product, call, error=err)
                return _json(product.error_body(err, request_id), err.status, request_id, err.retry_after)
        except errors.CannedResponse as canned:
            return _canned(canned, request_id)
        except errors.ApiError as err:  # the gateway's refusal
            if call is not None:
                self.cloud.trail.record(product, call, error=err)
            return _json(pop.error_body(err, request_id, request.host), err.status, request_id, err.retry_after)
        self.cloud.trail.record(product, call)
        if (lost := fault_kinds.lost_answer(met, product.code, action)) is not None:  # done, but the caller never learns it
            return _json(pop.error_body(lost, request_id, request.host), lost.status, request_id, lost.retry_after)
        if isinstance(result, Response):  # an API whose answer is not JSON (FC InvokeFunction: the function's bytes)
            return result
        return _json(result, 200, request_id)


def verify_roa_signature(request: Request, body: bytes, account, now) -> pop.Caller:
    """Verify an ROA request's ACS3-HMAC-SHA256 signature and the caller's credential; the caller. ROA requests
    are signed as "Request syntax and signature method V3" describes for every API style, the canonical URI
    being the path as sent (`signed_path`), e.g. `/clusters/c-1%2A`."""
    return pop.verify_acs3_signature(request, body, account, now, pathname=signed_path(request))


def signed_path(request: Request) -> str:
    """The path as the client sent it (still percent-encoded), which is what it signed."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return raw.split("?", 1)[0]
    return request.path


def _json_body(request: Request, body: bytes) -> Any:
    if not body:
        return None
    if request.mimetype != "application/json":
        return body
    try:
        return json.loads(body)
    except ValueError:
        raise errors.ApiError("InvalidParameter", "The request body is not valid JSON.", 400) from None


def _json(body: Any, status: int, request_id: str, retry_after: Optional[int] = None) -> Response:
    headers = {"x-acs-request-id": request_id}
    if retry_after:
        headers["x-acs-retry-after"] = str(retry_after)
    return Response(json.dumps(body), status=status, content_type=JSON, headers=headers)


def _canned(canned: errors.CannedResponse, request_id: str) -> Response:
    """A fixed answer (a doc sample), sent as is: an ROA body carries no RequestId of its own."""
    if isinstance(canned.body, (dict, list)):
        return _json(canned.body, 200, request_id)
    return Response(str(canned.body), status=200, content_type=canned.content_type or JSON, headers={"x-acs-request-id": request_id})
