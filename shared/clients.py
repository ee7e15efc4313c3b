"""One factory for every cloud client the functions use, and one way to call them.

Credentials come from the FC context (python3.10 passes the role's STS credentials in
`context.credentials`) or the ALIBABA_CLOUD_* variables (python3.12 removed context.credentials).
`ALIBABA_CLOUD_ENDPOINT_OVERRIDE` points every product at one endpoint (a private gateway, or the
local cloud), or each region at its own (`cn-hangzhou=http://...,cn-shanghai=http://...`); without
it each SDK uses its public regional endpoint.

`Clients.call` counts every API call (decision records carry the count), and retries what is
transient (throttling, 5xx, connection failures) honouring the server's retry-after.
"""
from __future__ import annotations

import copy
import functools
import logging
import os
import re
import threading
from dataclasses import dataclass
import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import urlparse

if TYPE_CHECKING:  # the SDKs are imported when a client of theirs is first made (_sdk_client), not before
    import oss2
    from alibabacloud_actiontrail20200706.client import Client as ActionTrailClient
    from alibabacloud_alb20200616.client import Client as AlbClient
    from alibabacloud_cas20200407.client import Client as CasClient
    from alibabacloud_cms20190101.client import Client as CmsClient
    from alibabacloud_cs20151215.client import Client as CsClient
    from alibabacloud_dds20151201.client import Client as MongodbClient
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_fc20230330.client import Client as FcClient
    from alibabacloud_kms20160120.client import Client as KmsClient
    from alibabacloud_nas20170626.client import Client as NasClient
    from alibabacloud_polardb20170801.client import Client as PolardbClient
    from alibabacloud_ram20150501.client import Client as RamClient
    from alibabacloud_r_kvstore20150101.client import Client as RedisClient
    from alibabacloud_rds20140815.client import Client as RdsClient
    from alibabacloud_resourcemanager20200331.client import Client as ResourceManagerClient
    from alibabacloud_slb20140515.client import Client as SlbClient
    from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.exceptions import ResponseException
from Tea.exceptions import UnretryableException
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared.quotas import Quotas
from shared.ratelimit import RateLimiter

T = TypeVar("T")

# oss2 logs, at DEBUG, the string it signs and the request headers, x-oss-security-token included (oss2/auth.py
# "Make signature: string to be signed", oss2/http.py): with DEBUG on (a person debugging a function), every STS token
# of the function's role and of each account a sweep enters would reach the function's logstore. Kept at INFO, so a
# root logger at DEBUG cannot print them (tests/test_sweep_adversarial.py).
logging.getLogger("oss2").setLevel(logging.INFO)

CONNECT_TIMEOUT_MS = 5_000
READ_TIMEOUT_MS = 15_000  # KMS_STEWARD_READ_TIMEOUT_MS overrides it (a slow private gateway; the fault benchmark)


def read_timeout_ms() -> int:
    raw = os.environ.get("KMS_STEWARD_READ_TIMEOUT_MS", "").strip()
    return int(raw) if raw.isdigit() and 100 <= int(raw) <= 600_000 else READ_TIMEOUT_MS
MAX_ATTEMPTS = 4
# Connections kept per endpoint by a shared HTTP session: one per thread an audit may run (a scanner each and
# the helpers they share, shared/audit/runner.py); past it urllib3 opens and drops extra ones.
HTTP_POOL_SIZE = 64


class CredentialsMissing(RuntimeError):
    pass


class TransientError(RuntimeError):
    """A failure worth retrying later (FC retries an invocation that raises it). Its message is
    already safe to log: it never carries an SDK exception's text, which can hold a signed string."""


class Cancelled(RuntimeError):
    """The run this client serves was called off (its audit passed its deadline): no more calls."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:  # never print the secret or the token
        return f"Credentials(access_key_id={self.access_key_id[:4]}****)"

    @classmethod
    def resolve(cls, context: Any = None) -> "Credentials":
        creds = getattr(context, "credentials", None)
        if creds is not None and getattr(creds, "access_key_id", None):
            return cls(creds.access_key_id, creds.access_key_secret, getattr(creds, "security_token", None) or None)
        ak, secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        if ak and secret:
            return cls(ak, secret, os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)
        raise CredentialsMissing("no credentials: neither context.credentials nor ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET is set")


@functools.lru_cache(maxsize=None)
def _sdk_client(product: str):
    """The official SDK's client class of a product (alibabacloud_<product>.client.Client), imported on first use: a
    function imports only the SDKs it calls (importing all of them took about 1.5 s and 150 MB of every cold start)."""
    return importlib.import_module(f"alibabacloud_{product}.client").Client


# ---------------------------------------------------------------- error classification

# An OSS or SLS error can only come from its SDK, once imported: classifying an error never imports either (the SLS
# SDK pulls in much a function that writes no log does not need).


def _oss_error(exc: BaseException, kind: str = "OssError") -> bool:
    oss2 = sys.modules.get("oss2.exceptions")
    return oss2 is not None and isinstance(exc, getattr(oss2, kind))


def _log_error(exc: BaseException) -> bool:
    log = sys.modules.get("aliyun.log.logexception")
    return log is not None and isinstance(exc, log.LogException)


def error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if _oss_error(exc):
        code = exc.code or f"HTTP{exc.status}"
    elif _log_error(exc):
        code = exc.get_error_code()
    return str(code or type(exc).__name__)


def error_status(exc: BaseException) -> int | None:
    if _log_error(exc):
        return exc.resp_status
    return getattr(exc, "status_code", None) or getattr(exc, "status", None)


def is_throttled(exc: BaseException) -> bool:
    code = error_code(exc)
    # KMS answers its quota with 429 Rejected.Throttling; the other POP products with Throttling[.User].
    return isinstance(exc, ThrottlingException) or code.startswith(("Throttling", "ServiceUnavailable")) \
        or code == "Rejected.Throttling" or error_status(exc) == 429


def is_not_found(exc: BaseException) -> bool:
    """The resource is not there (KMS answers a missing key with 404 Forbidden.KeyNotFound)."""
    return error_status(exc) == 404 or error_code(exc).endswith(("NotFound", "NotExist", "NotExists"))


def is_access_denied(exc: BaseException) -> bool:
    if is_not_found(exc):  # Forbidden.KeyNotFound is a missing key, not a missing permission
        return False
    code = error_code(exc)
    return error_status(exc) in (401, 403) or code.startswith(("Forbidden", "NoPermission", "AccessDenied")) \
        or code == "Unauthorized"


def answered(exc: BaseException) -> bool:
    """The service answered with an error (a code or an HTTP status): it did not take the request as
    done. Without any answer (a read timeout, a reset connection) the request may have been done."""
    if isinstance(exc, UnretryableException):
        return _html_error_status(str(getattr(exc, "inner_exception", "") or "")) is not None
    return error_status(exc) is not None or bool(getattr(exc, "code", None)) or _oss_error(exc, "ServerError") \
        or _log_error(exc)


def never_sent(exc: BaseException) -> bool:
    """The request cannot have been executed: throttled (refused before running) or never delivered
    (no connection). Only such a failure makes retrying a write safe; after a read timeout or a 5xx
    the write may have happened, and a blind retry sends a second alert or misreads the state."""
    code = error_code(exc)
    if isinstance(exc, ThrottlingException) or code.startswith("Throttling") or code == "Rejected.Throttling" \
            or error_status(exc) == 429:  # flow control refused it before it ran (not ServiceUnavailable: that may follow the work)
        return True
    inner = getattr(exc, "inner_exception", exc)
    names = {cls.__name__ for cls in type(inner).__mro__}
    if "ReadTimeout" in names:
        return False
    text = str(inner)
    return bool(names & {"ConnectTimeout", "NewConnectionError", "ConnectionRefusedError"}) \
        or "Connection refused" in text or "NewConnectionError" in text or "Failed to establish a new connection" in text


def timed_out(exc: BaseException) -> bool:
    """No answer in time. The SDKs wrap their timeouts: the API SDKs in UnretryableException (a RetryError
    whose message reads "Read timed out"), oss2 in RequestError, the SLS SDK in LogException(LogRequestError);
    so the wrapped exception and the message are looked at, not the outer type alone."""
    inner = getattr(exc, "inner_exception", None) or exc
    names = {cls.__name__ for e in (exc, inner) for cls in type(e).__mro__}
    return isinstance(inner, TimeoutError) or any("Timeout" in name for name in names) \
        or "timed out" in str(inner).lower() or "timed out" in describe_error(exc).lower()


def is_transient(exc: BaseException) -> bool:
    """Worth another try: throttling, server-side failures, and failures to reach the server."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, Cancelled):
        return False
    if is_throttled(exc):
        return True
    if isinstance(exc, ServerException):
        return True
    if _oss_error(exc):
        return exc.status >= 500 or _oss_error(exc, "RequestError")  # RequestError: never reached OSS
    if _log_error(exc):
        # LogRequestError: never reached SLS; 5xx and "... QPS Exceed" (403/503) are SLS's own flow control.
        return exc.get_error_code() == "LogRequestError" or (exc.resp_status or 0) >= 500 \
            or "Exceed" in (exc.get_error_code() or "")
    status = error_status(exc)
    if isinstance(status, int) and 400 <= status < 500:
        # An answer refusing the request itself (400, 404, 414 URI too long...) refuses it again next time.
        return False
    if isinstance(exc, UnretryableException):
        # The Tea SDKs raise this when no readable error answer came back (a JSON error answer is
        # re-raised as Client/ServerException): connection refused or reset, a timeout, or a body that is
        # not JSON. An HTML error page from a front end (414 URI too long, 413) says its status only in
        # its text; a 4xx there refuses the request itself, while a 502/503 page stays transient.
        page_status = _html_error_status(str(getattr(exc, "inner_exception", "") or ""))
        return page_status is None or page_status >= 500
    if isinstance(exc, (ClientException, ResponseException)):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "Timeout" in type(exc).__name__ \
        or "Connection" in type(exc).__name__


_HTML_STATUS = re.compile(r"Error code: (\d{3})|<title>\s*(\d{3})\b")


def _html_error_status(text: str) -> int | None:
    """The HTTP status an HTML error page states (Python's http.server: "Error code: 414"; nginx and
    Tengine: "<title>414 Request-URI Too Large</title>"), or None."""
    match = _HTML_STATUS.search(text)
    return int(match.group(1) or match.group(2)) if match else None


def describe_error(exc: BaseException) -> str:
    """A one-line reason fit for a record or an alert (the SDK messages carry no secrets)."""
    message = getattr(exc, "message", None) or (exc.get_error_message() if _log_error(exc) else None) or str(exc)
    first_line = next(iter(str(message).splitlines()), "") or "(no message)"  # a bare TimeoutError() has no text
    return f"{error_code(exc)}: {first_line[:200]}"


# ---------------------------------------------------------------- accounting


class ApiCalls:
    """Calls made by one run, per `product:Action`: the decision record states them."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def add(self, api: str) -> None:
        with self._lock:
            self.counts[api] = self.counts.get(api, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2)
# A refusal by the quota: while instances sharing it adapt (a second or two), the retries spread over ~3 s.
_THROTTLED_BACKOFF = wait_exponential_jitter(multiplier=0.3, max=5, jitter=0.3)


def _retry_after_s(exc: BaseException | None) -> float | None:
    """A throttled answer's retry-after in seconds (darabonba reads x-acs-retry-after in milliseconds), or None."""
    retry_after = getattr(exc, "retry_after", None)
    try:
        return min(float(retry_after) / 1000, 10.0) if retry_after else None
    except (TypeError, ValueError):
        return None


def _wait_for_server(state: RetryCallState) -> float:
    """Honour a throttled answer's retry-after, never coming back sooner; otherwise back off exponentially
    with jitter. A throttled call waits the longer of the two: when several instances share a quota, its
    retry-after is the instant the next slot frees for all of them, and retries that all come back then
    collide again and run out of attempts ("Exponential Backoff And Jitter", AWS Architecture Blog,
    https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)."""
    exc = state.outcome.exception() if state.outcome else None
    retry_after = _retry_after_s(exc)
    if exc is not None and is_flow_controlled(exc):
        return max(retry_after or 0.0, _THROTTLED_BACKOFF(state))
    return _BACKOFF(state) if retry_after is None else retry_after


def is_flow_controlled(exc: BaseException) -> bool:
    """The account's quota refused the call (KMS 429 Rejected.Throttling, the POP products' Throttling.*, SLS's
    "... QPS Exceed"): the caller is asking for more than its share of a quota, so it should slow down."""
    if _log_error(exc):
        return "Exceed" in (exc.get_error_code() or "") or (exc.resp_status or 0) == 429
    return is_throttled(exc)


def parse_endpoint_override(raw: str) -> tuple[str, dict[str, str]]:
    """`URL` (every region) or `region=URL,region=URL[,URL]` -> (default, per region)."""
    default, per_region = "", {}
    for part in filter(None, (p.strip() for p in (raw or "").split(","))):
        region, sep, url = part.partition("=")
        if sep and "://" not in region:
            per_region[region.strip()] = url.strip().rstrip("/")
        else:
            default = part.rstrip("/")
    return default, per_region


class _Once:
    def __init__(self, fetch: Callable[[], Any]):
        self._fetch = fetch
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def get(self) -> Any:
        with self._lock:
            if not self._done:
                try:
                    self._value = self._fetch()
                except BaseException as exc:  # remembered: the same run must not fetch it twice
                    self._error = exc
                self._done = True
        if self._error is not None:
            raise self._error
        return self._value


class Clients:
    def __init__(self, credentials: Credentials, region: str, *, endpoint_override: str = "", calls: ApiCalls | None = None,
                 limiter: RateLimiter | None = None):
        if not region:
            raise ValueError("a region is required to build clients")
        self.credentials = credentials
        # Every API is paced to its quota, so a wide fan-out runs at the quota instead of tripping it.
        quotas = Quotas.from_env()
        self.limiter = limiter or RateLimiter(quotas.qps, group_of=quotas.group)
        self.region = region
        self.endpoint_override, self.region_endpoints = parse_endpoint_override(endpoint_override)
        self.calls = calls or ApiCalls()
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._once: dict[Any, "_Once"] = {}
        self._cancelled = threading.Event()
        self.read_timeout_ms = read_timeout_ms()

    def scoped(self) -> "Clients":
        """The same clients (call counts, pacing, SDK clients, run-once memo) under an off switch of
        their own: a part of the run that is called off stops calling while the rest goes on."""
        child = copy.copy(self)
        child._cancelled = threading.Event()
        return child

    def cancel(self) -> None:
        """No call starts from now on (one under way finishes); retries waiting are woken and stop."""
        self._cancelled.set()

    def _check_live(self, api: str) -> None:
        if self._cancelled.is_set():
            raise Cancelled(f"{api} not called: this part of the run was called off")

    def _sleep(self, seconds: float) -> None:
        if self._cancelled.wait(seconds):
            raise Cancelled("called off while waiting to retry")

    def endpoint_for(self, region: str | None) -> str:
        """The override for a region's endpoints ("" = the public one)."""
        return self.region_endpoints.get(region or self.region) or self.endpoint_override

    @classmethod
    def for_function(cls, context: Any, region: str, endpoint_override: str = "") -> "Clients":
        return cls(Credentials.resolve(context), region, endpoint_override=endpoint_override)

    # ------------------------------------------------------------ calling

    def call(self, api: str, fn: Callable[..., T], *args, write: bool = False, **kwargs) -> T:
        """Call `fn` (an SDK method) as API `api` ("ecs:DescribeDisks"), counting and retrying what is
        transient. A write (`write=True`) is retried only when it cannot have run (throttled, never
        delivered): after a lost answer the caller must find out what happened, not do it twice."""
        limiter = self.limiter

        def attempt():
            self._check_live(api)
            limiter.acquire(api)
            self._check_live(api)
            self.calls.add(api)
            sent_at = limiter.now()
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                # A refusal by the quota lowers this process's rate for it: other instances share it
                # (shared/ratelimit.py); the retry-after, where sent, holds the quota's calls till then.
                if is_flow_controlled(exc):
                    limiter.throttled(api, sent_at, _retry_after_s(exc))
                raise

        retrying = Retrying(stop=stop_after_attempt(MAX_ATTEMPTS), wait=_wait_for_server, sleep=self._sleep,
                            retry=retry_if_exception(never_sent if write else is_transient), reraise=True)
        return retrying(attempt)

    def once(self, key: Any, fetch: Callable[[], T]) -> T:
        """Fetch `key` at most once in this run, however many scanners ask for it (concurrent askers
        wait for the first fetch; a failed fetch fails every asker, so none sees partial data)."""
        with self._lock:
            entry = self._once.get(key)
            if entry is None:
                entry = self._once[key] = _Once(fetch)
        return entry.get()

    # ------------------------------------------------------------ POP RPC clients

    def _pop(self, cls, region: str | None, endpoint: str = ""):
        region = region or self.region
        key = (cls, region, endpoint)
        with self._lock:
            if key not in self._cache:
                config = Config(
                    access_key_id=self.credentials.access_key_id,
                    access_key_secret=self.credentials.access_key_secret,
                    security_token=self.credentials.security_token,
                    region_id=region,
                    connect_timeout=CONNECT_TIMEOUT_MS,
                    read_timeout=self.read_timeout_ms,
                    # The Tea core keeps one HTTP session per host and pool size for the process (40 connections
                    # unless told): sized to the threads an audit may run, none is opened and dropped per call.
                    max_idle_conns=HTTP_POOL_SIZE,
                )
                if override := self.endpoint_for(region):
                    url = urlparse(override)
                    config.endpoint = url.netloc or url.path
                    config.protocol = url.scheme or "https"
                elif endpoint:
                    config.endpoint = endpoint
                self._cache[key] = cls(config)
            return self._cache[key]

    def kms(self, region: str | None = None) -> KmsClient:
        return self._pop(_sdk_client("kms20160120"), region)

    def ecs(self, region: str | None = None) -> EcsClient:
        return self._pop(_sdk_client("ecs20140526"), region)

    def cms(self, region: str | None = None) -> CmsClient:
        return self._pop(_sdk_client("cms20190101"), region)

    def rds(self, region: str | None = None) -> RdsClient:
        return self._pop(_sdk_client("rds20140815"), region)

    def polardb(self, region: str | None = None) -> PolardbClient:
        return self._pop(_sdk_client("polardb20170801"), region)

    def nas(self, region: str | None = None) -> NasClient:
        return self._pop(_sdk_client("nas20170626"), region)

    def redis(self, region: str | None = None) -> RedisClient:
        return self._pop(_sdk_client("r_kvstore20150101"), region)

    def mongodb(self, region: str | None = None) -> MongodbClient:
        # ApsaraDB for MongoDB (Dds). The SDK's endpoint map sends cn-hangzhou, cn-shanghai, cn-beijing,
        # cn-heyuan and cn-wulanchabu to the central mongodb.aliyuncs.com, the other public regions to
        # mongodb.<region>.aliyuncs.com; the scanner names its region and keeps only that region's items.
        return self._pop(_sdk_client("dds20151201"), region)

    def cs(self, region: str | None = None) -> CsClient:
        # Container Service for Kubernetes (ACK), an ROA product. The SDK's rule is regional:
        # cs.<region>.aliyuncs.com (a few internal regions map to cs.aliyuncs.com); an override replaces it.
        return self._pop(_sdk_client("cs20151215"), region)

    def cas(self, region: str | None = None) -> CasClient:
        # Certificate Management Service is not regional: the SDK sends the China site's regions to cas.aliyuncs.com
        # (ap-southeast-1 and the other international regions to cas.ap-southeast-1.aliyuncs.com).
        return self._pop(_sdk_client("cas20200407"), region)

    def slb(self, region: str | None = None) -> SlbClient:
        # Classic Load Balancer (CLB, API product "Slb"): regional endpoints, RegionId in each request.
        return self._pop(_sdk_client("slb20140515"), region)

    def alb(self, region: str | None = None) -> AlbClient:
        # Application Load Balancer: regional endpoints (alb.<region>.aliyuncs.com); its requests carry no RegionId.
        return self._pop(_sdk_client("alb20200616"), region)

    def actiontrail(self, region: str | None = None) -> ActionTrailClient:
        return self._pop(_sdk_client("actiontrail20200706"), region)

    def fc(self, region: str | None = None, account_id: str = "") -> FcClient:
        # Function Compute 3.0 answers at <account id>.<region>.fc.aliyuncs.com ("Service endpoints",
        # https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-endpoint);
        # the SDK's own rule (fc.<region>.aliyuncs.com) lacks the account, so it is named when known.
        region = region or self.region
        return self._pop(_sdk_client("fc20230330"), region, f"{account_id}.{region}.fc.aliyuncs.com" if account_id else "")

    def sts(self, region: str | None = None) -> StsClient:
        # STS: regional endpoints sts.<region>.aliyuncs.com (the SDK's rule), or the central sts.aliyuncs.com.
        return self._pop(_sdk_client("sts20150401"), region)

    def ram(self, region: str | None = None) -> RamClient:
        # RAM is global (ram.aliyuncs.com, the SDK's rule); the operator CLI reads it (`kms-steward doctor`), no function
        # does, so its SDK is not in requirements.txt.
        return self._pop(_sdk_client("ram20150501"), region)

    def resourcemanager(self, region: str | None = None) -> ResourceManagerClient:
        # Resource Manager is central (resourcemanager.aliyuncs.com, the SDK's rule).
        return self._pop(_sdk_client("resourcemanager20200331"), region)

    # ------------------------------------------------------------ OSS

    def oss_endpoint(self, region: str | None = None) -> str:
        return self.endpoint_for(region) or f"https://oss-{region or self.region}.aliyuncs.com"

    def _oss_auth(self):
        import oss2  # when first used: a function that reads no bucket never loads the OSS SDK
        c = self.credentials
        if c.security_token:
            return oss2.StsAuth(c.access_key_id, c.access_key_secret, c.security_token)
        return oss2.Auth(c.access_key_id, c.access_key_secret)

    def _shared(self, key: tuple, make: Callable[[], T]) -> T:
        """One `make()` per key for these clients and every scoped copy of them (they share the cache)."""
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]

    def _oss_session(self) -> oss2.Session:
        import oss2  # when first used: a function that reads no bucket never loads the OSS SDK
        # oss2.Bucket and oss2.Service take a `session`; without one, each builds a requests session (a connection
        # pool) of its own (OSS SDK for Python API reference, oss2.Bucket / oss2.Session), so one GetBucketInfo per
        # bucket opened, and dropped, one pool and one connection per call. One session for the run: its pool
        # keeps a connection per concurrent caller to each endpoint.
        return self._shared(("oss-session",), lambda: oss2.Session(pool_size=HTTP_POOL_SIZE))

    def oss_service(self, region: str | None = None) -> oss2.Service:
        import oss2  # when first used: a function that reads no bucket never loads the OSS SDK
        return oss2.Service(self._oss_auth(), self.oss_endpoint(region), session=self._oss_session(),
                            connect_timeout=self.read_timeout_ms / 1000)

    def oss_bucket(self, name: str, region: str | None = None) -> oss2.Bucket:
        import oss2  # when first used: a function that reads no bucket never loads the OSS SDK
        # oss2's one timeout bounds the connection and each read alike.
        return oss2.Bucket(self._oss_auth(), self.oss_endpoint(region), name, session=self._oss_session(),
                           connect_timeout=self.read_timeout_ms / 1000)

    def oss_list(self, bucket: oss2.Bucket, prefix: str, *, delimiter: str = "") -> tuple[list[str], list[str]]:
        """(object keys, common prefixes) under `prefix`: ListObjectsV2 page by page, 1,000 entries a page (the most
        OSS returns; its default is 100), each page one `call`, so each is paced, counted and retried on its own.
        (oss2's iterators would retry a 5xx page twice more at once themselves, unpaced and uncounted: oss2
        iterators, fetch_with_retry.) A page that is truncated but names no new continuation token ends the
        listing with an error rather than early or in a loop (a token given before, too)."""
        keys: list[str] = []
        prefixes: list[str] = []
        token, seen = "", {""}
        while True:
            page = self.call("oss:ListObjectsV2", bucket.list_objects_v2, prefix=prefix, delimiter=delimiter,
                             continuation_token=token, max_keys=1000)
            keys += [o.key for o in page.object_list]
            prefixes += list(page.prefix_list)
            if not page.is_truncated:
                return keys, prefixes
            token = page.next_continuation_token
            if token in seen:  # none, or one already given: the listing would end early or never
                raise RuntimeError(f"OSS listing of {prefix!r} truncated without a new continuation token after "
                                   f"{len(keys) + len(prefixes)} entries")
            seen.add(token)

    # ------------------------------------------------------------ SLS

    def sls(self, region: str | None = None):
        """The SLS client of a region, one per run: each LogClient holds a requests session (a connection pool)."""
        from shared.log_client import make_log_client

        endpoint = self.endpoint_for(region) or f"https://{region or self.region}.log.aliyuncs.com"

        def make():
            c = self.credentials
            source = os.environ.get("FC_FUNCTION_NAME") or "kms-steward"
            client = make_log_client(endpoint, c.access_key_id, c.access_key_secret, c.security_token, source=source)
            client.timeout = self.read_timeout_ms / 1000
            return client

        return self._shared(("sls", endpoint), make)

