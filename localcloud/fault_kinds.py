"""Fault *kinds*: a fault that names what happens (`throttled`, `denied`, `server_error`, `timeout`,
`malformed`, `silent_denial`) instead of an error code, answered as the product named by the API really answers it.

    cloud.faults.add("sls:PutLogs", kind="throttled")     # 403 WriteQuotaExceed, SLS's JSON error body
    cloud.faults.add("oss:ListBuckets", kind="denied")    # 403 AccessDenied, OSS's XML error body
    Fault(Api="kms:CancelKeyDeletion", Kind="timeout")    # answered after the client's read timeout

- `throttled`, `denied`, `server_error`: the product's own code, HTTP status and message (table below).
  The wire format is the product's: the POP gateway's JSON (RPC and ROA), OSS's XML `<Error>`, SLS's
  `{"errorCode", "errorMessage"}`; each front end renders the ApiError raised here in its own format.
  `x-acs-retry-after` is sent only where a product documents a retry-after for its throttling answer:
  none of the pages below does, so no kind sends it (a `Fault.RetryAfterMs` still can, explicitly).
- `timeout`: the call is served `TIMEOUT_LATENCY_MS` late (or the fault's own LatencyMs): longer than
  the client's read timeout when the client runs with a short one (`KMS_STEWARD_READ_TIMEOUT_MS`, as
  `kms-steward bench faults` sets it). The work still happens, as when a slow backend finishes after
  the caller gave up: a timed-out write may have been done.
- `malformed`: a 200 answer whose body is cut short (JSON or XML that does not parse), sent by the front
  end before the product ran: nothing was done. A client that does not read the body of that answer
  (oss2's PutObject/DeleteObject, the SLS SDK's PutLogs) takes it for a success.
- `silent_denial`: the answer a service gives a caller it does not let look, when it denies silently: 200
  with an empty listing (no items, total 0, no next token), built from the SDK's own response model of
  the API (`<Action>ResponseBody`), as a real answer is. Until ECS changed the authentication of its query
  APIs, a RAM user or role without the permission got exactly this from DescribeInstances and
  DescribeDisks: "Before the upgrade, the operation returns an empty resource list with HttpCode:200
  (OK). After the upgrade, the operation returns an error response with HttpCode:403 (Forbidden)"
  ("Announcement of changes to the authentication mechanism for Alibaba Cloud ECS query API operations",
  https://www.alibabacloud.com/help/en/ecs/announcement-of-changes-to-the-authentication-mechanism-for-alibaba-cloud-ecs-query-type-apis;
  effective 2025-12-20, DescribeInstances and DescribeDisks only; the announcement's "before" sample is
  `{"Instances": {"Instance": []}, "NextToken": "", "PageNumber": 1, "PageSize": 10, "TotalCount": 0}`).
  Whether DescribeSnapshots, DescribeImages or DescribeDiskDefaultKMSKeyId still deny that way is not
  published (UNCONFIRMED). A call with `DryRun=true` that meets the fault is answered with the product's
  loud denial (`denied` above): "You can include DryRun in your request to check whether the empty list
  is caused by lack of permissions" (DescribeInstances, https://www.alibabacloud.com/help/doc-detail/25506.html);
  the SDK 7.11.8 request models say the same check ("the authorization of the RAM user") for the DryRun
  of DescribeDisks, DescribeSnapshots and DescribeImages (UNCONFIRMED that their dry run is loud while
  the real call is silent). POP products only (RPC and ROA): OSS and SLS answer no silent listing here.

Sources (the titles of the public pages; UNCONFIRMED where no page settled it, and then the common POP
code every RPC product answers with the gateway's own wording is used):

| product | throttled | denied | server_error |
|---|---|---|---|
| kms | 429 Rejected.Throttling "QPS Limit Exceeded" [1] | 403 Forbidden.NoPermission UNCONFIRMED | 500 InternalError [2] |
| ecs | 400 Throttling.User UNCONFIRMED (common POP) | 403 Forbidden.RAM UNCONFIRMED (common POP) | 500 InternalError [2] |
| rds | 400 Throttling.User UNCONFIRMED | 403 Forbidden.RAM UNCONFIRMED | 500 InternalError [3] |
| polardb | 400 Throttling "The request was throttled." [4] | 403 Forbidden.RAM [4] | 500 InternalError [2] |
| nas, redis, actiontrail, cms | 400 Throttling.User UNCONFIRMED | 403 Forbidden.RAM UNCONFIRMED | 500 InternalError [2] |
| mongodb | 400 Throttling.User UNCONFIRMED | 403 Forbidden.RAM [5] | 503 ServiceUnavailable [5] |
| cas, slb, alb | 400 Throttling.User UNCONFIRMED | 403 Forbidden.RAM UNCONFIRMED | 500 InternalError [2] |
| cs (ACK, ROA) | 400 Throttling.User UNCONFIRMED | 403 StatusForbidden (code UNCONFIRMED), "RAM policy Forbidden for action cs:<Api>" [6] | 500 InternalError UNCONFIRMED |
| oss | 503 MetaOperationQpsLimitExceeded (service and bucket operations) [7]; 429 QpsLimitExceeded (objects) [8] | 403 AccessDenied [9] | 503 ServiceUnavailable [7] |
| sls | 403 WriteQuotaExceed (PutLogs) [10]; 403 ReadQuotaExceed (reads; code UNCONFIRMED, status and "Read QPS Exceed" [11]) | 401 Unauthorized [12] | 500 InternalServerError [13] |

[1] "调用密钥管理服务KMS的API接口时返回“QPS Limit Exceeded”错误",
    https://help.aliyun.com/zh/kms/key-management-service/qps-limit-exceeded-error-is-returned-when-you-call-an-api-operation
[2] Alibaba Cloud "Client errors" / server errors table (ServiceUnavailable 503, InternalError 500),
    https://www.alibabacloud.com/help/doc-detail/25686.htm
[3] the same server errors table for RDS, https://www.alibabacloud.com/help/doc-detail/26314.htm
[4] PolarDB "Client error codes", https://help.aliyun.com/en/polardb/client-error-codes
[5] ApsaraDB for MongoDB "Error codes", https://www.alibabacloud.com/help/ja/mongodb/error-codes
[6] "[Product change] ACK API enhances user authentication",
    https://alibabacloud.com/help/ja/ack/product-overview/ack-api-enhances-user-authentication
    (StatusForbidden: the code the GrantPermissions doc names for a forbidden call,
    https://www.alibabacloud.com/help/doc-detail/202561.htm)
[7] OSS "HTTP status code 503", https://alibabacloud.com/help/en/oss/support/http-status-code-503
[8] OSS "HTTP status code 429", https://help.aliyun.com/en/oss/user-guide/429-error
[9] OSS "0003-00000201" (a request denied by a RAM policy: AccessDenied, "Access denied by bucket policy.",
    with an EC element naming the case), https://www.alibabacloud.com/help/en/oss/support/0003-00000201
[10] Simple Log Service "Handle resource throttling errors", https://www.alibabacloud.com/help/en/sls/expansion-of-resources
[11] Simple Log Service "Data read and write" limits, https://www.alibabacloud.com/help/doc-detail/92571.htm
[12] Simple Log Service "Error codes", https://help.aliyun.com/en/sls/developer-reference/error-codes
[13] the error code aliyun-log-python-sdk 0.9.52 retries as SLS's server error (LogClient._send); the
     "Error codes" page [12] lists 500 without a code in the part that could be read: UNCONFIRMED
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Optional

from localcloud import errors

KINDS = ("throttled", "denied", "server_error", "timeout", "malformed", "silent_denial")
ERROR_KINDS = ("throttled", "denied", "server_error")
TIMEOUT_LATENCY_MS = 1500

POP_THROTTLED = ("Throttling.User", 400, "Request was denied due to user flow control.")
POP_DENIED = ("Forbidden.RAM", 403, "User not authorized to operate on the specified resource, or this API doesn't support RAM.")
POP_INTERNAL = ("InternalError", 500, "The request processing has failed due to some unknown error, exception or failure.")
POP_UNAVAILABLE = ("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server.")

# OSS operations on the service and on buckets (the 503 page's "meta operations"); the rest are objects.
_OSS_META = ("ListBuckets", "GetBucketInfo", "GetBucketLocation", "GetBucketEncryption", "PutBucketEncryption",
             "DeleteBucketEncryption", "GetBucketReplication")


@dataclass(frozen=True)
class Answer:
    code: str
    status: int
    message: str
    confirmed: bool  # False: UNCONFIRMED (see the module docstring)


def _pop(kind: str, *, throttled=None, denied=None, server_error=None, confirmed: tuple[str, ...] = ()) -> Answer:
    code, status, message = {"throttled": throttled or POP_THROTTLED, "denied": denied or POP_DENIED,
                             "server_error": server_error or POP_INTERNAL}[kind]
    return Answer(code, status, message, kind in confirmed)


def answer(product: str, kind: str, action: str) -> Answer:
    """What `product` answers to `action` for fault kind `kind` (throttled, denied, server_error)."""
    if kind not in ERROR_KINDS:
        raise ValueError(f"{kind!r} is not an error kind ({', '.join(ERROR_KINDS)})")
    if product == "kms":
        return _pop(kind, throttled=("Rejected.Throttling", 429, "QPS Limit Exceeded"),
                    denied=("Forbidden.NoPermission", 403, "This operation is forbidden by permission system."),
                    confirmed=("throttled", "server_error"))
    if product == "polardb":
        return _pop(kind, throttled=("Throttling", 400, "The request was throttled."),
                    denied=("Forbidden.RAM", 403, "You are not authorized to operate on the specified resource, or the API does not "
                                                  "support access by a RAM user."), confirmed=("throttled", "denied", "server_error"))
    if product == "mongodb":
        return _pop(kind, server_error=POP_UNAVAILABLE, confirmed=("denied", "server_error"))
    if product == "cs":
        return _pop(kind, denied=("StatusForbidden", 403, f"RAM policy Forbidden for action cs:{action}"))
    if product == "oss":
        if kind == "throttled":
            if action in _OSS_META:
                return Answer("MetaOperationQpsLimitExceeded", 503, "Qps limit for the meta operation is exceeded", True)
            return Answer("QpsLimitExceeded", 429, "Please reduce your request rate.", True)
        if kind == "denied":
            return Answer("AccessDenied", 403, "Access denied by bucket policy.", True)
        return Answer("ServiceUnavailable", 503, "Thread pool is almost full, please retry later", True)
    if product == "sls":
        if kind == "throttled":
            if action == "PutLogs":
                return Answer("WriteQuotaExceed", 403, "Project write quota exceed: qps: 600000", True)
            return Answer("ReadQuotaExceed", 403, "Project read quota exceed: qps: 600000", False)
        if kind == "denied":
            return Answer("Unauthorized", 401, "The AccessKeyId is unauthorized.", True)
        return Answer("InternalServerError", 500, "Internal server error message.", False)
    if product in ("ecs", "rds"):
        return _pop(kind, confirmed=("server_error",))
    # CAS (Certificate Management Service), SLB (CLB) and ALB: their API pages list no throttling or permission code
    # (ListUserCertificateOrder, DescribeServerCertificates, DescribeLoadBalancerListeners, ListListeners,
    # ListListenerCertificates read), so the POP gateway's common answers stand (UNCONFIRMED), as for the products below.
    return _pop(kind, confirmed=("server_error",))  # nas, redis, actiontrail, cms, cas, slb, alb and any other POP product


def error(product: str, kind: str, action: str) -> errors.ApiError:
    """The ApiError a front end renders in the product's own error format (no retry-after: see above)."""
    a = answer(product, kind, action)
    err = errors.ApiError(a.code, a.message, a.status)
    if product == "oss":  # the further elements of OSS's <Error> (see [9] for AccessDenied's)
        err.extra = {"EC": "0003-00000201"} if kind == "denied" else {}
    return err


def error_of(fault, product: str, action: str) -> errors.ApiError:
    """The error an injected fault answers with: its own `Code`, or what its `Kind` is in the product's words."""
    if not fault.Code:
        return error(product, fault.Kind, action)
    api = f"{product}:{action}"
    if fault.Code in ("Forbidden.RAM", "AccessDenied", "NoPermission"):
        err = errors.forbidden_ram(api)
        err.code = fault.Code
        return err
    if fault.Code.startswith("Throttling"):
        err = errors.throttled(retry_after=fault.RetryAfterMs)
        err.code = fault.Code
        return err
    return errors.ApiError(fault.Code, fault.Message or f"Injected fault on {api}.", fault.Status or 400)


def lost_answer(met: list, product: str, action: str) -> errors.ApiError | None:
    """The error that takes the answer of a call that was done (an `AnswerLost` fault met), or None. Every
    front end asks it after the handler ran, and answers with it in its own error format."""
    lost = next((f for f in met if f.AnswerLost and (f.Code or f.Kind in ERROR_KINDS)), None)
    return None if lost is None else error_of(lost, product, action)


def malformed(product: str, action: str) -> errors.CannedResponse:
    """A 200 answer cut short: what the front end sends when a body is truncated on the way."""
    if product == "oss":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult><Owner><ID>1</ID></Owner><Buckets><Bucket>'
                '<Name>truncat')
        return errors.CannedResponse(body, "application/xml")
    if product == "sls":
        return errors.CannedResponse('{"count": 1, "total": 2, "projects": [{"projectName": "trunc', "application/json")
    return errors.CannedResponse(f'{{"RequestId": "00000000-0000-0000-0000-000000000000", "{action}": {{"Items": [{{"Id": "trunc',
                                 "application/json;charset=utf-8")


# The SDK models module of each POP product, by the product code of fault specs (`ecs:DescribeDisks`).
SDK_MODELS = {
    "ecs": "alibabacloud_ecs20140526.models", "kms": "alibabacloud_kms20160120.models", "rds": "alibabacloud_rds20140815.models",
    "polardb": "alibabacloud_polardb20170801.models", "nas": "alibabacloud_nas20170626.models",
    "redis": "alibabacloud_r_kvstore20150101.models", "mongodb": "alibabacloud_dds20151201.models",
    "actiontrail": "alibabacloud_actiontrail20200706.models", "cms": "alibabacloud_cms20190101.models",
    "cs": "alibabacloud_cs20151215.models", "cas": "alibabacloud_cas20200407.models",
    "slb": "alibabacloud_slb20140515.models", "alb": "alibabacloud_alb20200616.models",
}
# Integer fields of a listing answer that count what it holds: 0 in an empty one.
_COUNT_FIELDS = ("total_count", "total_record_count", "total", "page_record_count", "count", "total_items")


def supports_silent_denial(product: str) -> bool:
    return product in SDK_MODELS


def silent_denial(product: str, action: str, params: dict[str, str]) -> errors.CannedResponse:
    """200 with the empty listing a silently denying service answers (see the module docstring), built
    from the SDK's `<action>ResponseBody`: every list empty, its totals 0, no next token, the page asked
    (PageNumber, PageSize or MaxResults; page 1 of 10 when none was, as the announcement's sample)."""
    if product not in SDK_MODELS:
        raise ValueError(f"silent_denial is modelled for the POP products ({', '.join(sorted(SDK_MODELS))}), not {product!r}")
    module = importlib.import_module(SDK_MODELS[product])
    body_cls = getattr(module, f"{action}ResponseBody", None)
    if body_cls is None:
        raise ValueError(f"{product}:{action} has no response model in {SDK_MODELS[product]}")
    return errors.CannedResponse(_empty(module, body_cls, params).to_map(), "application/json;charset=utf-8")


def _param_int(params: dict[str, str], *names: str, default: int) -> int:
    for name in names:
        try:
            return int(params[name])
        except (KeyError, TypeError, ValueError):
            continue
    return default


def _annotations(cls) -> dict[str, str]:
    return {k: str(v) for k, v in getattr(cls.__init__, "__annotations__", {}).items() if k != "return"}


def _is_listing_part(cls) -> bool:
    """A nested model that belongs to an empty listing: a list wrapper (`Disks` holding only `Disk: []`)
    or a page description (ACK's `page_info` with its total)."""
    fields = _annotations(cls)
    return bool(fields) and (all(t.startswith("List[") for t in fields.values()) or any(f in fields for f in _COUNT_FIELDS))


def _empty(module, cls, params: dict[str, str], depth: int = 0) -> Any:
    obj = cls()
    for attr, typ in _annotations(cls).items():
        if typ.startswith("List["):
            setattr(obj, attr, [])
        elif "models." in typ and depth < 2:
            nested = getattr(module, typ.rsplit(".", 1)[-1], None)
            if nested is not None and _is_listing_part(nested):
                setattr(obj, attr, _empty(module, nested, params, depth + 1))
        elif attr in _COUNT_FIELDS:
            setattr(obj, attr, 0)
        elif attr == "page_number":
            setattr(obj, attr, _param_int(params, "PageNumber", "page_number", default=1))
        elif attr == "page_size":
            setattr(obj, attr, _param_int(params, "PageSize", "page_size", "MaxResults", default=10))
        elif attr == "next_token":
            setattr(obj, attr, "")
    return obj


def latency_ms(fault_latency: int) -> int:
    """How late a `timeout` fault answers: the fault's own LatencyMs, or TIMEOUT_LATENCY_MS."""
    return fault_latency or TIMEOUT_LATENCY_MS


def describe(product: str, kind: str, action: str) -> Optional[str]:
    """One line for reports: `403 Forbidden.RAM` (UNCONFIRMED marked), or what the kind does."""
    if kind == "timeout":
        return f"answered after {TIMEOUT_LATENCY_MS} ms"
    if kind == "malformed":
        return "200 with a truncated body"
    if kind == "silent_denial":
        return "200 with an empty listing"
    if kind not in ERROR_KINDS:
        return None
    a = answer(product, kind, action)
    return f"{a.status} {a.code}" + ("" if a.confirmed else " (UNCONFIRMED)")
