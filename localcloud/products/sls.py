"""SLS (Log Service): the REST protocol as aliyun-log-python-sdk 0.9.52 speaks it.

The gateway sends here every request that carries `x-log-apiversion`. The project is named by the
Host header, `<project>.<endpoint>`: the SDK sets that Host in both its virtual-host mode and its IP
mode (where the URL is the bare IP endpoint); see shared/log_client.py for why local clients use IP
mode. A project exists in a region when the account has a logstore of that project there
(`sls.logstores[].projectName`, `RegionId` unset meaning every region).

Signatures are verified with the SDK's own canonicalisation (`aliyun.log.util.Util` for v1,
`aliyun.log.auth.AuthV4` for v4):

- v1 `Authorization: LOG <ak>:<base64 hmac-sha1>` over method, Content-MD5, Content-Type, Date, the
  sorted x-log-*/x-acs-* headers and the resource with its sorted query. The SDK adds `x-log-date`
  after signing (a copy of Date for proxies that drop Date), so it is not part of the v1 string;
- v4 `Authorization: SLS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/sls/aliyun_v4_request,Signature=..`
  (LogClient(..., auth_version=AUTH_VERSION_4, region=...)), which also binds the body's SHA-256.

STS credentials must send `x-acs-security-token` equal to the credential's SecurityToken, unexpired
by the local clock. Errors are SLS's JSON `{"errorCode", "errorMessage"}` with the real statuses and
an `x-log-requestid` header, so the SDK raises `LogException` with the production code.

APIs: PutLogs (one protobuf LogGroup of at most 4096 logs and 5 MB; lz4 — the SDK's default —, deflate, zstd when installed, or
uncompressed), GetLogs (v1 `GET /logstores/{ls}?type=log` and the SDK's default v2
`POST /logstores/{ls}/logs`, whose answer is lz4-compressed as its Accept-Encoding asks),
ListProject (`GET /` with a Host that names no project), GetProject (`GET /` with the project's Host), ListLogStores (names only), GetLogStore
(with the logstore's `encrypt_conf`), CreateLogStore; both listings page by offset/size (at most
500). GetLogs evaluates the search part of a query: empty or `*`, `key: value` / `key:value`
terms (case-insensitive, matching the whole value or one of its tokens, `value*` as a prefix),
bare full-text terms, `and` / `or` / `not`. Anything else (SQL after
`|`, parentheses, ranges) is refused with ParameterInvalid rather than answered wrongly. Every
logstore is treated as indexed; a field holding JSON text is also queried by its sub-keys
(`event.eventName: Decrypt`), as a JSON index answers. A trail's `actiontrail_<trail>` logstore
answers from the recorded ActionTrail events (localcloud/products/actiontrail.py).
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import re
import uuid
import zlib
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import lz4.block
from aliyun.log.auth import AuthV4
from aliyun.log.credentials import StaticCredentialsProvider
from aliyun.log.log_logs_pb2 import LogGroup
from aliyun.log.util import Util
from google.protobuf.message import DecodeError
from werkzeug.wrappers import Request, Response

from localcloud import errors, fault_kinds
from localcloud.clock import parse_time
from localcloud.products.base import Product
from localcloud.products.sls_state import SlsLog, SlsLogstore

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

PRODUCT = "sls"
MAX_LINES = 100
# PutLogs takes one LogGroup: at most 4096 logs (PutLogs API reference,
# https://www.alibabacloud.com/help/en/sls/developer-reference/api-sls-2020-12-30-putlogs; UNCONFIRMED here) and at
# most 5 MB ("Log group", https://www.alibabacloud.com/help/doc-detail/108219.htm: "The maximum length of a log group
# is 5 MB"), counted here on the uncompressed protobuf. Refused with InvalidLogSize, 400, the code the SDK itself
# raises for its own size checks (UNCONFIRMED what the service answers).
MAX_LOGS_PER_GROUP = 4096
MAX_LOG_GROUP_BYTES = 5 * 1024 * 1024
MAX_LIST_SIZE = 500
DATA_PLANE = frozenset({"PutLogs", "GetLogs"})
_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_V1 = re.compile(r"^LOG (?P<ak>[^:]+):(?P<sig>.+)$")
_V4 = re.compile(r"^SLS4-HMAC-SHA256 Credential=(?P<ak>[^/,]+)/(?P<date>\d{8})/(?P<region>[^/,]+)/sls/aliyun_v4_request,\s*Signature=(?P<sig>[0-9a-f]+)$")
_LOGSTORE_PATH = re.compile(r"^/logstores/(?P<logstore>[^/]+)(?P<rest>/.*)?$")
# SLS's default full-text token delimiters.
_TOKEN_SPLIT = re.compile(r"[\s,'\";=()\[\]{}?@&<>/:]+")


# ---------------------------------------------------------------- errors


def sls_error(code: str, message: str, status: int) -> errors.ApiError:
    return errors.ApiError(code, message, status)


def unauthorized(message: str) -> errors.ApiError:
    return sls_error("Unauthorized", message, 401)


def project_not_exist(project: str) -> errors.ApiError:
    return sls_error("ProjectNotExist", f"The Project does not exist : {project}", 404)


def logstore_not_exist(logstore: str) -> errors.ApiError:
    return sls_error("LogStoreNotExist", f"logstore {logstore} does not exist", 404)


def parameter_invalid(message: str) -> errors.ApiError:
    return sls_error("ParameterInvalid", message, 400)


def post_body_invalid(message: str = "The request body is not valid JSON object.") -> errors.ApiError:
    return sls_error("PostBodyInvalid", message, 400)


def new_request_id() -> str:
    return uuid.uuid4().hex[:24].upper()


# ---------------------------------------------------------------- the product


class Sls(Product):
    code = PRODUCT
    service_name = "Sls"
    endpoint_prefix = "log"
    version = "2020-12-30"

    # ------------------------------------------------------------ entry point

    def handle(self, request: Request, region: str) -> Response:
        request_id = new_request_id()
        api, logstore, handler = self.route(request)
        self.cloud.calls.count(PRODUCT, api)
        credential = None
        try:
            body = request.get_data(cache=True)
            credential = authenticate(request, body, self.account, self.cloud.clock.now)
            if handler is None:
                raise sls_error("InvalidMethod", f"invalid request method : {request.path}", 405)
            project = project_from_host(request.host or "")
            if not project and api != "ListProject":  # the one call addressed to the bare endpoint
                raise sls_error("InvalidHost", f"Host header {request.host} is invalid.", 400)
            self.cloud.ram.check_sls(self.account, credential, api, region, project, logstore, request.remote_addr or "")
            met = self.cloud.faults.apply(PRODUCT, api, region)
            if api in ("ListProject", "ListLogStores"):  # a PageSizeCap fault caps the offset/size page
                self.cloud.faults.cap_page_param(request, met, "size", 100 if api == "ListProject" else 200)
            with self.account.lock:
                if project and not self.project_exists(project, region):
                    raise project_not_exist(project)
                response = handler(request, project, logstore, region, body, request_id)
            self._trail(request, api, project, logstore, region, request_id, credential)
            lost = fault_kinds.lost_answer(met, PRODUCT, api)
            return response if lost is None else self.error_response(lost, request_id)
        except errors.CannedResponse as canned:
            return canned.response(request_id)
        except errors.ApiError as err:
            self._trail(request, api, project_from_host(request.host or ""), logstore, region, request_id, credential, err)
            return self.error_response(err, request_id)

    def _trail(self, request, api, project, logstore, region, request_id, credential, error=None) -> None:
        """Management calls reach ActionTrail; writing and querying logs are data-plane calls it does not record."""
        if credential is not None and api not in DATA_PLANE:
            params = {k: v for k, v in (("ProjectName", project), ("LogstoreName", logstore)) if v}
            self.record_in_trail(request, region, request_id, api, credential, params, error)

    def route(self, request: Request) -> tuple[str, Optional[str], Optional[Callable]]:
        path, method = request.path, request.method
        if path == "/" and method == "GET":
            # GET / names a project in its Host (GetProject) or none (ListProject)
            if project_from_host(request.host or ""):
                return "GetProject", None, self.get_project
            return "ListProject", None, self.list_project
        if path in ("/logstores", "/logstores/"):
            if method == "GET":
                return "ListLogStores", None, self.list_logstores
            if method == "POST":
                return "CreateLogStore", None, self.create_logstore
            return "Unsupported", None, None
        m = _LOGSTORE_PATH.match(path)
        if not m:
            return "Unsupported", None, None
        logstore, rest = m["logstore"], m["rest"] or ""
        if method == "POST" and rest in ("/shards/lb", "/shards/route"):
            return "PutLogs", logstore, self.put_logs
        if method == "POST" and rest == "/logs":
            return "GetLogs", logstore, self.get_logs_v2
        if method == "GET" and rest in ("", "/"):
            kind = request.args.get("type")
            if kind == "log":
                return "GetLogs", logstore, self.get_logs_v1
            if kind is None:
                return "GetLogStore", logstore, self.get_logstore
        return "Unsupported", logstore, None

    # ------------------------------------------------------------ helpers

    def logstores(self) -> list[SlsLogstore]:
        """The account's logstores, plus those ActionTrail created for its trails (actiontrail_<trail>)."""
        return [*self.account.sls.logstores, *self.cloud.products["actiontrail"].trail_logstores()]

    def logs(self, project: str, logstore: str, region: str) -> list[SlsLog]:
        """A logstore's logs; a trail's logstore answers from the recorded ActionTrail events."""
        return [*self.account.sls.logs, *self.cloud.products["actiontrail"].trail_logs(project, logstore, region)]

    def project_exists(self, project: str, region: str) -> bool:
        return any(s.projectName == project and s.RegionId in (None, region) for s in self.logstores())

    def find_logstore(self, project: str, name: str, region: str) -> SlsLogstore:
        store = next((s for s in self.logstores()
                      if s.projectName == project and s.logstoreName == name and s.RegionId in (None, region)), None)
        if store is None:
            raise logstore_not_exist(name)
        return store

    def headers(self, request_id: str) -> dict[str, str]:
        return {"x-log-requestid": request_id, "Server": "nginx",
                "Date": format_datetime(self.cloud.clock.now(), usegmt=True)}

    def ok(self, request_id: str, payload: Any = None, *, headers: dict | None = None) -> Response:
        hdrs = self.headers(request_id)
        hdrs.update(headers or {})
        if payload is None:
            return Response(b"", status=200, headers=hdrs)
        return Response(json.dumps(payload), status=200, content_type="application/json", headers=hdrs)

    def error_response(self, err: errors.ApiError, request_id: str) -> Response:
        body = json.dumps({"errorCode": err.code, "errorMessage": err.message})
        return Response(body, status=err.status, content_type="application/json", headers=self.headers(request_id))

    # ------------------------------------------------------------ logstores

    def list_logstores(self, request, project, logstore, region, body, request_id) -> Response:
        args = request.args
        pattern = args.get("logstoreName", "")
        offset = _int_param(args.get("offset"), "offset", 0, lo=0)
        size = _int_param(args.get("size"), "size", 200, lo=0, hi=MAX_LIST_SIZE)  # the doc's default and maximum
        names = sorted(s.logstoreName for s in self.logstores()
                       if s.projectName == project and s.RegionId in (None, region) and pattern in s.logstoreName)
        page = names[offset:offset + size]
        return self.ok(request_id, {"count": len(page), "total": len(names), "logstores": page})

    def get_logstore(self, request, project, logstore, region, body, request_id) -> Response:
        store = self.find_logstore(project, logstore, region)
        payload = {
            "logstoreName": store.logstoreName, "ttl": store.ttl, "shardCount": store.shardCount,
            "enable_tracking": False, "autoSplit": True, "maxSplitShard": 64, "appendMeta": False,
            "telemetryType": "None", "mode": "standard", "createTime": 0, "lastModifyTime": 0,
        }
        if store.encrypt_conf is not None:
            payload["encrypt_conf"] = store.encrypt_conf.wire()
        return self.ok(request_id, payload)

    def get_project(self, request, project, logstore, region, body, request_id) -> Response:
        """GET / with the project's Host ("GetProject", https://www.alibabacloud.com/help/en/sls/developer-reference/api-sls-2020-12-30-getproject):
        the project (a missing one is ProjectNotExist, answered before this is reached), with ListProject's fields."""
        return self.ok(request_id, {"projectName": project, "region": region, "status": "Normal", "description": "",
                                    "owner": self.account.account_id, "createTime": "0", "lastModifyTime": "0"})

    def list_project(self, request, project, logstore, region, body, request_id) -> Response:
        """GET / on the region's endpoint (the one call whose Host names no project): the region's
        projects, offset/size paged (size 100 by default, at most 500)."""
        args = request.args
        offset = _int_param(args.get("offset"), "offset", 0, lo=0)
        size = _int_param(args.get("size"), "size", 100, lo=0, hi=MAX_LIST_SIZE)
        pattern = args.get("projectName") or ""
        names = sorted({s.projectName for s in self.logstores() if s.RegionId in (None, region) and pattern in s.projectName})
        page = names[offset:offset + size]
        projects = [{"projectName": name, "region": region, "status": "Normal", "description": "",
                     "owner": self.account.account_id, "createTime": "0", "lastModifyTime": "0"} for name in page]
        return self.ok(request_id, {"count": len(page), "total": len(names), "projects": projects})

    def create_logstore(self, request, project, logstore, region, body, request_id) -> Response:
        try:
            spec = json.loads(body or b"")
        except ValueError:
            raise post_body_invalid() from None
        if not isinstance(spec, dict):
            raise post_body_invalid()
        name = spec.get("logstoreName")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]", name):
            raise parameter_invalid(f"logstore name {name} is invalid")
        if any(s.projectName == project and s.logstoreName == name for s in self.logstores()):
            raise sls_error("LogStoreAlreadyExist", f"logstore {name} already exists", 400)
        try:
            ttl, shards = int(spec.get("ttl", 30)), int(spec.get("shardCount", 2))
        except (TypeError, ValueError):
            raise parameter_invalid("ttl and shardCount must be integers") from None
        self.account.sls.logstores.append(SlsLogstore(projectName=project, logstoreName=name, ttl=ttl,
                                                      shardCount=shards, RegionId=region))
        return self.ok(request_id)

    # ------------------------------------------------------------ PutLogs

    def put_logs(self, request, project, logstore, region, body, request_id) -> Response:
        self.find_logstore(project, logstore, region)
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip() != "application/x-protobuf":
            raise sls_error("InvalidContentType", f"Content-Type {content_type} is unsupported.", 400)
        raw = decompress(body, request.headers.get("x-log-compresstype", ""), request.headers.get("x-log-bodyrawsize"))
        group = LogGroup()
        try:
            group.ParseFromString(raw)
        except DecodeError:
            raise post_body_invalid("The request body is not a valid protobuf LogGroup.") from None
        if len(group.Logs) > MAX_LOGS_PER_GROUP:
            raise sls_error("InvalidLogSize", f"logItems' length exceeds maximum limitation: {MAX_LOGS_PER_GROUP} lines. "
                                              f"now: {len(group.Logs)}", 400)
        if len(raw) > MAX_LOG_GROUP_BYTES:
            raise sls_error("InvalidLogSize", f"logItems' size exceeds maximum limitation: {MAX_LOG_GROUP_BYTES} bytes. "
                                              f"now: {len(raw)}", 400)
        tags = {f"__tag__:{t.Key}": t.Value for t in group.LogTags}
        for log in group.Logs:
            contents = {c.Key: c.Value for c in log.Contents}
            contents.update(tags)
            self.account.sls.logs.append(SlsLog(projectName=project, logstoreName=logstore, time=log.Time,
                                                topic=group.Topic, source=group.Source, contents=contents))
        return self.ok(request_id)

    # ------------------------------------------------------------ GetLogs

    def query_logs(self, project: str, logstore: str, region: str, params: dict[str, Any]) -> tuple[list[dict], int]:
        """(page of logs as GetLogs returns them, number of matching logs)."""
        if not self.find_logstore(project, logstore, region).indexed:
            # A logstore without an index cannot be searched ("index config doesn't exist", SLS FAQ and troubleshooting,
            # https://www.alibabacloud.com/help/en/sls/faq-and-troubleshooting); the code GetLogs answers with is
            # UNCONFIRMED.
            raise sls_error("IndexConfigNotExist", "logstore without index config", 400)
        start = _int_param(params.get("from"), "from", None)
        end = _int_param(params.get("to"), "to", None)
        if start is None or end is None:
            raise parameter_invalid("from and to must be given as unix timestamps")
        if start > end:
            raise parameter_invalid(f"from ({start}) must not be greater than to ({end})")
        line = _int_param(params.get("line"), "line", MAX_LINES, lo=0, hi=MAX_LINES)
        offset = _int_param(params.get("offset"), "offset", 0, lo=0)
        reverse = str(params.get("reverse", "false")).lower() == "true"
        topic = params.get("topic")
        matcher = compile_query(params.get("query") or "")
        matched = [log for log in self.logs(project, logstore, region)
                   if log.projectName == project and log.logstoreName == logstore and start <= log.time < end
                   and (not topic or log.topic == topic) and matcher(log)]
        ordered = sorted(enumerate(matched), key=lambda p: (p[1].time, p[0]), reverse=reverse)
        page = [log for _, log in ordered[offset:offset + line]]
        return [{"__time__": log.time, "__topic__": log.topic, "__source__": log.source, **log.contents} for log in page], len(matched)

    def get_logs_v1(self, request, project, logstore, region, body, request_id) -> Response:
        data, total = self.query_logs(project, logstore, region, {k: v for k, v in request.args.items()})
        return self.ok(request_id, data, headers={
            "x-log-progress": "Complete", "x-log-count": str(len(data)), "x-log-processed-rows": str(total),
            "x-log-elapsed-millisecond": "1", "x-log-has-sql": "false", "x-log-where-query": request.args.get("query", ""),
            "x-log-agg-query": "",
        })

    def get_logs_v2(self, request, project, logstore, region, body, request_id) -> Response:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise post_body_invalid() from None
        if not isinstance(params, dict):
            raise post_body_invalid()
        data, total = self.query_logs(project, logstore, region, params)
        keys = sorted({k for row in data for k in row})
        payload = json.dumps({
            "meta": {"progress": "Complete", "count": len(data), "processedRows": total, "elapsedMillisecond": 1,
                     "hasSQL": False, "whereQuery": params.get("query") or "", "aggQuery": "", "cpuSec": 0, "cpuCores": 0,
                     "keys": keys, "isAccurate": True, "powerSql": False, "mode": 0},
            "data": data,
        }).encode()
        headers = self.headers(request_id)
        accept = request.headers.get("Accept-Encoding", "").lower()
        if "lz4" in accept:
            body_out = lz4.block.compress(payload, store_size=False)
            headers.update({"x-log-compresstype": "lz4", "x-log-bodyrawsize": str(len(payload))})
        elif "deflate" in accept:
            body_out = zlib.compress(payload)
            headers.update({"x-log-compresstype": "deflate", "x-log-bodyrawsize": str(len(payload))})
        else:
            body_out = payload
        return Response(body_out, status=200, content_type="application/json", headers=headers)


# ---------------------------------------------------------------- addressing


def project_from_host(host: str) -> str | None:
    """The project of a `<project>.<endpoint>[:port]` Host header; None when the Host is a bare endpoint."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not name or "." not in name or name.startswith("["):
        return None
    try:
        ipaddress.ip_address(name)
        return None  # a bare IP endpoint names no project
    except ValueError:
        pass
    first, rest = name.split(".", 1)
    if not rest or first in ("localhost",):
        return None
    # `<region>.log.aliyuncs.com` alone names no project either.
    if rest == "log.aliyuncs.com" or rest.startswith("log.aliyuncs.com"):
        return None
    return first


# ---------------------------------------------------------------- signatures


def authenticate(request: Request, body: bytes, account, now):
    """Verify a request's V1 or V4 signature and STS token against the account; the credential. V1 is
    "Request signatures" (https://www.alibabacloud.com/help/en/sls/developer-reference/request-signatures),
    V4 "Request signatures (V4)" (https://help.aliyun.com/en/sls/developer-reference/request-signature-v4)."""
    header = request.headers.get("Authorization", "")
    m1, m4 = _V1.match(header), _V4.match(header)
    if not (m1 or m4):
        raise parameter_invalid(f"Http extend authorization : {header} pair is invalid.")
    ak = (m1 or m4)["ak"]
    provided = (m1 or m4)["sig"]
    credential = account.credential(ak)
    if credential is None:
        raise unauthorized(f"AccessKeyId not found: {ak}")
    if credential.Status != "Active":
        raise unauthorized(f"AccessKeyId is disabled: {ak}")
    token = request.headers.get("x-acs-security-token")
    if credential.SecurityToken is not None or token is not None:
        if token != credential.SecurityToken:
            raise unauthorized("The security token you provided is invalid.")
        if credential.Expiration and now() > parse_time(credential.Expiration):
            raise unauthorized("The security token you provided has expired.")

    params = {k: v for k, v in request.args.items()}
    if m1:
        expected = v1_signature(request.method, request.path, params, request.headers.items(), credential.AccessKeySecret)
    else:
        current_time = request.headers.get("x-log-date", "")
        if current_time[:8] != m4["date"]:
            raise parameter_invalid(f"Http extend x-log-date : {current_time} pair is invalid.")
        expected = v4_signature(request.method, request.path, params, request.headers.items(), body, credential,
                                region=m4["region"], date_time=current_time)
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise sls_error("SignatureNotMatch", f"Signature {provided} not matched.", 401)
    return credential


def v1_signature(method: str, resource: str, params: dict[str, str], headers: Iterable[tuple[str, str]], secret: str) -> str:
    """The V1 signature ("Request signatures"): Base64(HMAC-SHA1(AccessKeySecret, VERB, Content-MD5, Content-Type,
    Date, the sorted x-log-*/x-acs-* headers and the resource with its sorted query)), with the SDK's own
    canonicalisation (`aliyun.log.util.Util`). The SDK adds `x-log-date` after signing (a copy of Date for
    proxies that drop Date), so it is not part of what is signed."""
    headers = {k.lower(): v for k, v in headers}
    signed = {k: v for k, v in headers.items() if k != "x-log-date"}  # added by the SDK after signing
    content = method + "\n"
    content += headers.get("content-md5", "") + "\n"
    content += headers.get("content-type", "") + "\n"
    content += headers.get("date", "") + "\n"
    content += Util.canonicalized_log_headers(signed)
    content += Util.canonicalized_resource(resource, params)
    return Util.hmac_sha1(content, secret)


def v4_signature(method: str, resource: str, params: dict[str, str], headers: Iterable[tuple[str, str]], body: bytes, credential, *,
                 region: str, date_time: str) -> str:
    """The V4 signature ("Request signatures (V4)": HMAC-SHA256 with a key derived for the date, region and
    service, binding the body's SHA-256), as the SDK's `aliyun.log.auth.AuthV4` computes it; `date_time` is the
    request's x-log-date."""
    headers = {k.lower(): v for k, v in headers if k.lower() != "authorization"}
    compute_hash = headers.get("x-log-content-sha256") != _EMPTY_SHA256 or not body
    signer = AuthV4(StaticCredentialsProvider(credential.AccessKeyId, credential.AccessKeySecret, credential.SecurityToken), region)
    authorization = signer._do_sign_request(method, resource, params, headers, body, date_time, compute_content_hash=compute_hash)
    return authorization.rsplit("Signature=", 1)[-1]


# ---------------------------------------------------------------- bodies


def decompress(body: bytes, compress_type: str, raw_size: str | None) -> bytes:
    kind = compress_type.strip().lower()
    if kind == "":
        return body
    if raw_size is None:
        raise sls_error("MissingBodyRawSize", "x-log-bodyrawsize does not exist in header when it is necessary.", 400)
    try:
        size = int(raw_size)
        if size < 0:
            raise ValueError
    except ValueError:
        raise sls_error("InvalidBodyRawSize", "x-log-bodyrawsize is invalid.", 400) from None
    try:
        if kind == "lz4":
            raw = lz4.block.decompress(body, uncompressed_size=size) if size else b""
        elif kind == "deflate":
            raw = zlib.decompress(body)
        elif kind == "zstd":
            try:
                import zstd  # the SDK's optional dependency
            except ImportError:
                raise sls_error("InvalidCompressType", f"x-log-compresstype {compress_type} is unsupported.", 400) from None
            raw = zstd.decompress(body)
        else:
            raise sls_error("InvalidCompressType", f"x-log-compresstype {compress_type} is unsupported.", 400)
    except (lz4.block.LZ4BlockError, zlib.error) as exc:
        raise post_body_invalid(f"The request body cannot be decompressed as {kind}: {exc}") from None
    if len(raw) != size:
        raise sls_error("InvalidBodyRawSize", "x-log-bodyrawsize is invalid.", 400)
    return raw


def _int_param(raw: Any, name: str, default: Optional[int], *, lo: int | None = None, hi: int | None = None) -> Optional[int]:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise parameter_invalid(f"{name} must be an integer, got {raw!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise parameter_invalid(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


# ---------------------------------------------------------------- queries


def compile_query(query: str) -> Callable[[SlsLog], bool]:
    """A predicate for the search part of an SLS query (see the module docstring for what is understood)."""
    search, bar, analytics = query.partition("|")
    if bar and analytics.strip():
        raise parameter_invalid(f"the local cloud answers search statements only, not SQL analytics: {query}")
    search = search.strip()
    if search in ("", "*"):
        return lambda log: True
    if re.search(r"[()\[\]{}<>]", search):
        raise parameter_invalid(f"the local cloud does not understand this query: {query}")
    alternatives = []
    for alt in re.split(r"\s+or\s+", search, flags=re.IGNORECASE):
        terms = []
        for raw in re.split(r"\s+and\s+", alt.strip(), flags=re.IGNORECASE):
            raw = raw.strip()
            negate = False
            if re.match(r"^not\s+", raw, flags=re.IGNORECASE):
                negate, raw = True, re.sub(r"^not\s+", "", raw, flags=re.IGNORECASE)
            if not raw:
                raise parameter_invalid(f"the local cloud does not understand this query: {query}")
            terms.append((negate, _term(raw, query)))
        alternatives.append(terms)
    return lambda log: any(all(fn(log) != neg for neg, fn in terms) for terms in alternatives)


def _term(raw: str, query: str) -> Callable[[SlsLog], bool]:
    m = re.fullmatch(r'\s*("[^"]+"|[^\s:"]+)\s*:\s*("[^"]*"|\S+)\s*', raw)
    if m:
        key, value = m[1].strip('"'), m[2]
        quoted = value.startswith('"')
        value = value.strip('"').lower()
        prefix = not quoted and value.endswith("*")
        if prefix:
            value = value[:-1]
        return lambda log: _matches(_field(log, key), value, prefix)
    if re.fullmatch(r'"[^"]+"|[^\s:"=]+', raw):
        value = raw.strip('"').lower()
        prefix = not raw.startswith('"') and value.endswith("*")
        if prefix:
            value = value[:-1]
        return lambda log: any(_matches(v, value, prefix) for v in (*log.contents.values(), log.topic, log.source))
    raise parameter_invalid(f"the local cloud does not understand this query: {query}")


def _field(log: SlsLog, key: str) -> str | None:
    if key == "__topic__":
        return log.topic
    if key == "__source__":
        return log.source
    if key == "__time__":
        return str(log.time)
    if key in log.contents:
        return log.contents[key]
    return _json_subfield(log.contents, key)


def _json_subfield(contents: dict[str, str], key: str) -> str | None:
    """`event.userIdentity.type` of a field holding JSON text, as SLS's JSON index answers it
    (ActionTrail's `event` field is queried this way); None when there is no such value."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head not in contents:
            continue
        try:
            node = json.loads(contents[head])
        except ValueError:
            return None
        for part in parts[i:]:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        if node is None or isinstance(node, (dict, list)):
            return None if node is None else json.dumps(node)
        return str(node).lower() if isinstance(node, bool) else str(node)
    return None


def _matches(field: str | None, value: str, prefix: bool) -> bool:
    if field is None:
        return False
    text = field.lower()
    candidates = [text, *(t for t in _TOKEN_SPLIT.split(text) if t)]
    if prefix:
        return any(c.startswith(value) for c in candidates)
    # A keyword holding delimiters is tokenized like the logs: it matches a log holding every one of its tokens, in
    # any order ("Phrase search": "abc def matches all logs that contain both abc and def, regardless of order";
    # a delimiter in a phrase "is only used to split tokens", https://www.alibabacloud.com/help/en/sls/phrase-search).
    tokens = [t for t in _TOKEN_SPLIT.split(value) if t]
    if len(tokens) > 1:
        return all(token in candidates for token in tokens)
    return value in candidates
