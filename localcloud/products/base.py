"""What every emulated RPC product shares: the call it is handed and the action registry."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from localcloud import errors
from localcloud.pop import Caller

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud


@dataclass
class Call:
    """One API call as a product sees it: decoded parameters, the region it targets, the caller."""

    cloud: "LocalCloud"
    product: str
    action: str
    params: dict[str, str]
    region: str
    caller: Caller
    request_id: str
    user_agent: str = ""
    source_ip: str = "127.0.0.1"
    # Resources the call touched, for ActionTrail's referencedResources.
    referenced: dict[str, list[str]] = field(default_factory=dict)
    # The injected faults (localcloud.account.Fault) the call met at the gateway; the handler acts on
    # those that shape an answer rather than refuse it (the paging faults, read by paginate_*).
    faults: list = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value in (None, "") else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise errors.missing_parameter(name)
        return value

    def int(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid_parameter(name, f"It must be an integer, got {raw!r}.") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise errors.invalid_parameter(name, f"It must be between {lo} and {hi}.")
        return value

    def bool(self, name: str, default: bool | None = None) -> bool | None:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise errors.invalid_parameter(name, f"It must be true or false, got {raw!r}.")

    def json(self, name: str) -> Any:
        raw = self.get(name)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise errors.invalid_parameter(name, "It must be valid JSON.") from None

    def refer(self, resource_type: str, resource_id: str) -> None:
        self.referenced.setdefault(resource_type, []).append(resource_id)

    @property
    def now(self):
        return self.cloud.clock.now()


def api(name: str, *, write: bool = False) -> Callable:
    """Mark a product method as the handler of API `name`; writes reach ActionTrail and EventBridge."""

    def mark(fn):
        fn.api_name = name
        fn.api_write = write
        return fn

    return mark


class Product:
    """Any emulated product: it serves one account, through the cloud it belongs to."""

    code: str = ""  # lower-case product code, as in the account file, call counts and fault specs: "kms"
    service_name: str = ""  # ActionTrail serviceName: "Kms"
    version: str = ""  # API version (x-acs-version for RPC products)
    endpoint_prefix: str = ""  # kms -> kms.cn-hangzhou.aliyuncs.com in eventSource

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud

    @property
    def account(self):
        return self.cloud.account

    def is_write(self, action: str) -> bool:
        return action.startswith(("Put", "Delete", "Create", "Update"))

    def record_in_trail(self, request, region: str, request_id: str, action: str, credential, params: dict[str, str],
                        error: "errors.ApiError | None" = None) -> None:
        """Record a REST call (OSS, SLS) in ActionTrail as the RPC gateway records every RPC call."""
        call = Call(cloud=self.cloud, product=self.code, action=action, params=params, region=region,
                    caller=Caller(credential, self.account.account_id), request_id=request_id,
                    user_agent=request.headers.get("User-Agent", ""), source_ip=request.remote_addr or "127.0.0.1")
        self.cloud.trail.record(self, call, error=error)


class RpcProduct(Product):
    """An emulated POP RPC product. Subclasses set the identity and mark handlers with @api."""

    regional_param: str | None = "RegionId"  # the parameter that names the region, when the API has one

    def __init__(self, cloud: "LocalCloud"):
        super().__init__(cloud)
        self.handlers: dict[str, Callable[[Call], dict]] = {}
        for attr in dir(type(self)):
            fn = getattr(self, attr)
            name = getattr(fn, "api_name", None)
            if name:
                self.handlers[name] = fn

    def is_write(self, action: str) -> bool:
        fn = self.handlers.get(action)
        return bool(fn and fn.api_write)

    def known_region(self, region: str) -> str:
        """`region` if the account has it; else the answer ECS, RDS, PolarDB and Redis give an unknown region."""
        if region not in self.account.region_ids:
            raise errors.ApiError("InvalidRegionId.NotFound", f"The specified RegionId does not exist. ({region})", 404)
        return region

    def key_list(self, uses: list[tuple[str, str]]) -> list[dict]:
        """EncryptionKeyList entries (RDS and PolarDB spell them alike) for (key id, UsedBy) pairs, the
        key's state, deletion date and creator read from the account's KMS keys."""
        keys = {k.KeyId: k for k in self.account.kms.keys}
        entries = []
        for key_id, used_by in uses:
            key = keys.get(key_id)
            entries.append({"EncryptionKey": key_id, "UsedBy": used_by, "KeyType": "CMK",
                            "EncryptionKeyStatus": "Enabled" if key is None or key.KeyState == "Enabled" else "Disabled",
                            **({"DeleteDate": key.DeleteDate} if key is not None and key.DeleteDate else {}),
                            **({"Creator": key.Creator} if key is not None and key.Creator else {})})
        return entries

    def handle(self, call: Call) -> dict:
        fn = self.handlers.get(call.action)
        if fn is None:
            raise errors.unsupported_operation(call.action)
        return fn(call)


def paginate_numbers(items: list, call: Call, *, default_size: int = 10, max_size: int = 100) -> tuple[list, int | None, int, int]:
    """PageNumber/PageSize paging as KMS, RDS and PolarDB do it: (page items, total, number, size).
    Under a paging fault the page is cut at the capped size, `size` is what the answer reports and
    `total` is None when the fault omits it."""
    asked = call.int("PageSize", default_size, lo=1, hi=max_size)
    number = call.int("PageNumber", 1, lo=1)
    size = served_page_size(call, asked)
    start = (number - 1) * size
    total = None if any(f.OmitTotal for f in call.faults) else len(items)
    return items[start:start + size], total, number, reported_page_size(call, asked, size)


def paginate_token(items: list, call: Call, *, default_size: int, max_size: int, min_size: int = 1,
                   clamp: bool = False) -> tuple[list, str]:
    """NextToken/MaxResults paging (ECS): the token is an opaque cursor; a bad one is refused. A page
    size cap (paging fault) cuts the page, and the token then points just past what was answered.

    MaxResults outside min_size..max_size is refused (InvalidParameter), unless the API documents that it
    clamps (`clamp`): then a smaller value is served as min_size and a larger one as max_size. Only an
    integer is taken either way. ECS DescribeDisks clamps: "Valid values: 10 to 500 ... If this parameter is
    not specified or the specified value is less than 10, the default value is 10. If the specified value is
    greater than 500, the default value is 500" (https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describedisks;
    the same text in alibabacloud-ecs20140526 7.11.8's DescribeDisksRequest.max_results)."""
    if clamp:
        asked = call.int("MaxResults", default_size)
        asked = max(min_size, min(max_size, asked))
    else:
        asked = call.int("MaxResults", default_size, lo=min_size, hi=max_size)
    size = served_page_size(call, asked)
    token = call.get("NextToken")
    start = 0
    if token is not None:
        try:
            start = int(token, 16)
        except ValueError:
            raise errors.ApiError("InvalidNextToken.Malformed", "The specified parameter NextToken is not valid.", 400) from None
        if start > len(items):
            raise errors.ApiError("InvalidNextToken.Malformed", "The specified parameter NextToken is not valid.", 400)
    page = items[start:start + size]
    nxt = start + size
    return page, (format(nxt, "x") if nxt < len(items) else "")


def served_page_size(call: Call, asked: int) -> int:
    """The page size the call is served with: what was asked, or less under a PageSizeCap fault."""
    return min([asked, *(f.PageSizeCap for f in call.faults if f.PageSizeCap)])


def reported_page_size(call: Call, asked: int, served: int) -> int:
    """The PageSize the answer reports: the served one (a clamping service reports what it used), or
    the one asked when a capping fault says the service echoes the request."""
    echoes = any(f.ReportRequestedPageSize for f in call.faults if f.PageSizeCap)
    return asked if echoes else served
