"""The POP RPC protocol the SDKs speak: ACS3-HMAC-SHA256 verification (the tea-openapi SDKs), the RPC
signature v1 (HMAC-SHA1, version 1.0: the classic `aliyun-python-sdk-core` SDKs and the aliyun CLI),
parameter decoding (the SDK flattens `EventInfo.1.EventName=...` into the query string) and error bodies.

The signature functions are public, one place for each signature the POP gateway checks:
`verify_acs3_signature` / `acs3_string_to_sign` (V3, "Request syntax and signature method V3",
https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature; the ROA
products are signed the same way over their path, localcloud/roa.py) and `verify_rpc_v1_signature` /
`rpc_v1_string_to_sign` / `rpc_v1_signature` (the RPC signature v1 below); `authenticate` picks the one a
request carries.

ACS3 verification recomputes the signature with the SDK's own canonicalisation
(`alibabacloud_tea_openapi.utils.Utils.get_authorization`), so a request the real gateway would
refuse is refused here with the same code.

RPC signature v1 ("Request signatures" / "Signature mechanism" for RPC APIs, e.g.
https://www.alibabacloud.com/help/doc-detail/196741.htm and https://help.aliyun.com/en/document_detail/171741.html;
"Request syntax and signature method V2 for RPC APIs", https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism):
every request parameter (query and form body) except Signature, sorted by name, names and values
percent-encoded per RFC 3986 (A-Z a-z 0-9 - _ . ~ left as they are, a space as %20, UTF-8 bytes as %XY),
joined as `name=value` with `&`; StringToSign = METHOD + "&" + percentEncode("/") + "&" +
percentEncode(canonical query); Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
SignatureMethod must be HMAC-SHA1 and SignatureVersion 1.0 ("Only HMAC-SHA1 is supported"; "The value
must be 1.0"). The gateway's answers (client errors of the OpenAPI gateway, as the Mobile Push error
table https://help.aliyun.com/en/document_detail/434846.html / https://help.aliyun.com/document_detail/48054.html
and the community table "管控OpenAPI的客户端公用错误码" https://developer.aliyun.com/ask/278265 list them,
all HTTP 400): SignatureDoesNotMatch "Specified signature is not matched with our calculation." (the
real body appends " server string to sign is:<StringToSign>", as shown in
https://github.com/NewFuture/DDNS/issues/57, and the classic SDK reads it back to tell a wrong secret);
InvalidSignatureMethod "Specified signature method is not valid."; InvalidTimeStamp.Format "Specified
time stamp or date value is not well formatted."; InvalidTimeStamp.Expired "Specified time stamp or
date value is expired." (Timestamp more than 15 minutes from the server's time); SignatureNonceUsed
"Specified signature nonce was used already."; Missing{ParameterName} "{ParameterName} is mandatory
for this action.".
UNCONFIRMED: the code for an unsupported SignatureVersion (InvalidSignatureVersion, patterned on
InvalidSignatureMethod); that a missing SignatureMethod/SignatureVersion/Timestamp/SignatureNonce is
answered Missing{ParameterName} (the pattern above; one community table says SignatureMethod may be left
out, the common-parameter docs say it is required: required here); the order in which the gateway makes
these checks; how long a nonce is remembered (31 minutes here, the figure OpenAPI support gave in
https://developer.aliyun.com/ask/561619; a Timestamp may be 15 minutes either side of the server's
time, so a replay needs its nonce remembered for 30 minutes at most).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from werkzeug.wrappers import Request

from localcloud import errors

if TYPE_CHECKING:
    from localcloud.account import Account, Credential

_AUTH = re.compile(r"^(?P<alg>ACS3-HMAC-SHA256) Credential=(?P<ak>[^,]+),SignedHeaders=(?P<sh>[^,]*),Signature=(?P<sig>[0-9a-f]+)$")


@dataclass
class Caller:
    """Who made a request, as ActionTrail's userIdentity records it (never the secret)."""

    credential: Credential
    account_id: str

    def user_identity(self) -> dict[str, Any]:
        c = self.credential
        # A stable 16-digit principal id per user, as RAM assigns one (derived, so every run agrees).
        principal = self.account_id if c.IdentityType == "root-account" else str(int(hashlib.sha256(c.UserName.encode()).hexdigest(), 16) % 10**16).zfill(16)
        if c.IdentityType == "assumed-role":
            principal = f"{principal}:{c.UserName.split(':')[-1]}"
        identity = {
            "type": c.IdentityType,
            "accountId": self.account_id,
            "principalId": principal,
            "accessKeyId": c.AccessKeyId,
            "userName": c.UserName,
        }
        if c.IdentityType == "assumed-role":
            identity["sessionContext"] = {"attributes": self._session_attributes()}
        return identity

    def _session_attributes(self) -> dict[str, str]:
        """userIdentity.sessionContext.attributes of an STS caller, as the ActionTrail sample of an assumed
        role shows them ("Query ActionTrail events by assuming a RAM role",
        https://www.alibabacloud.com/help/en/actiontrail/user-guide/query-actiontrail-events-by-assuming-a-ram-role):
        mfaAuthenticated as the string "false", creationDate when the temporary credentials were issued
        (UTC, seconds). The local cloud issues role credentials for 3600 s (AssumeRole's default
        DurationSeconds), so their creation is Expiration - 3600 s (UNCONFIRMED for credentials an account
        file brings: no issue time is kept). No MFA is ever used by a role session here."""
        attributes = {"mfaAuthenticated": "false"}
        expiration = self.credential.Expiration
        if expiration:
            attributes["creationDate"] = (_parse(expiration) - STS_DURATION).strftime("%Y-%m-%dT%H:%M:%SZ")
        return attributes


def authenticate(request: Request, body: bytes, account: Account, now, *, pathname: str | None = None,
                 rpc_nonces: "NonceBook | None" = None) -> Caller:
    """Verify the ACS3-HMAC-SHA256 signature of an RPC or ROA request, or the RPC signature v1 of an RPC
    request (when the RPC gateway passes its `rpc_nonces`); return the caller. `pathname` is the path as
    sent (an ROA SDK signs its percent-encoded form, `/clusters/c-1%2A`); default: the path."""
    header = request.headers.get("Authorization", "")
    if rpc_nonces is not None and not header:
        params = request_params(request, body)
        if "Signature" in params:
            return verify_rpc_v1_signature(request.method, params, account, now, rpc_nonces)
    return verify_acs3_signature(request, body, account, now, pathname=pathname)


def verify_acs3_signature(request: Request, body: bytes, account: Account, now, *, pathname: str | None = None) -> Caller:
    """Verify a request's `Authorization: ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..` ("Request
    syntax and signature method V3": the canonical request of the method, the path, the sorted query, the signed
    headers and the body's SHA-256, hashed and signed with HMAC-SHA256) and the caller's credential; the caller.
    `pathname` is the path as the client signed it (default: the request's path)."""
    header = request.headers.get("Authorization", "")
    match = _AUTH.match(header)
    if not match:
        raise errors.ApiError("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400)
    credential = active_credential(account, match["ak"], request.headers.get("x-acs-security-token"), now)

    payload_hash = hashlib.sha256(body).hexdigest()
    if request.headers.get("x-acs-content-sha256", payload_hash) != payload_hash:
        raise errors.ApiError("ContentSHA256NotMatch", "The x-acs-content-sha256 header does not match the body.", 400)

    signed = match["sh"].split(";") if match["sh"] else []
    headers = {name: request.headers.get(name, "") for name in signed}
    query = {k: v for k, v in request.args.items()}
    canonical = SimpleNamespace(method=request.method, pathname=pathname or request.path or "/", query=query, headers=headers)
    expected = TeaUtils.get_authorization(canonical, match["alg"], payload_hash, match["ak"], credential.AccessKeySecret)
    if not hmac.compare_digest(expected, header):
        raise errors.signature_mismatch(acs3_string_to_sign(canonical, payload_hash, match["alg"]))
    return Caller(credential=credential, account_id=account.account_id)


# ------------------------------------------------------------ RPC signature v1 (HMAC-SHA1)

RPC_V1_METHOD = "HMAC-SHA1"
RPC_V1_VERSION = "1.0"
# "The interval between the request time (Timestamp) and the time the server receives the request is
# more than 15 minutes" -> InvalidTimeStamp.Expired (https://help.aliyun.com/en/document_detail/434846.html).
TIMESTAMP_WINDOW = timedelta(minutes=15)
NONCE_MEMORY_SECONDS = 31 * 60  # UNCONFIRMED (see the module docstring)
STS_DURATION = timedelta(seconds=3600)
# Timestamp: ISO 8601 in UTC, yyyy-MM-ddTHH:mm:ssZ (common parameters of every RPC API).
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")


class NonceBook:
    """The SignatureNonces the RPC gateway has seen, each remembered for NONCE_MEMORY_SECONDS of wall time
    ("A unique random number used to prevent replay attacks. You must use a different random number for
    each request"). One book per cloud: the real gateway's uniqueness is not per AccessKey."""

    def __init__(self, memory_seconds: float = NONCE_MEMORY_SECONDS, clock=time.monotonic):
        self._memory = memory_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()

    def claim(self, nonce: str) -> bool:
        """True the first time `nonce` is seen within the memory; False for a reuse."""
        now = self._clock()
        with self._lock:
            while self._order and self._order[0][0] <= now:
                self._seen.discard(self._order.popleft()[1])
            if nonce in self._seen:
                return False
            self._seen.add(nonce)
            self._order.append((now + self._memory, nonce))
            return True


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of the RPC signature: only A-Z a-z 0-9 - _ . ~ stay as they are; a space
    is %20 (not +), `*` is %2A, UTF-8 bytes are %XY each ("Signature mechanism", step 1)."""
    return quote(value, safe="-_.~", encoding="utf-8")


def rpc_v1_string_to_sign(method: str, params: dict[str, str]) -> str:
    """StringToSign of an RPC request: METHOD & %2F & percentEncode(canonicalized query string), over
    every parameter but Signature, sorted by name ("Signature mechanism", steps 1 and 2)."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()) if k != "Signature")
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_v1_signature(method: str, params: dict[str, str], secret: str) -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)): the key is the secret followed by `&`."""
    digest = hmac.new((secret + "&").encode(), rpc_v1_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _missing(name: str) -> errors.ApiError:
    return errors.ApiError(f"Missing{name}", f"{name} is mandatory for this action.", 400)


def verify_rpc_v1_signature(method: str, params: dict[str, str], account: Account, now, nonces: NonceBook) -> Caller:
    """Verify an RPC signature v1 request ("Request syntax and signature method V2 for RPC APIs") as strictly as
    ACS3: a signature method and version the gateway supports, a fresh Timestamp, an AccessKey that exists and
    is active, the STS token of temporary credentials (the SecurityToken parameter, signed with the rest), the
    signature, then a nonce never used before (checked last, so a refused request does not spend its nonce)."""
    for name in ("SignatureMethod", "SignatureVersion", "AccessKeyId", "Timestamp", "SignatureNonce"):
        if not params.get(name):
            raise _missing(name)
    if params["SignatureMethod"] != RPC_V1_METHOD:
        raise errors.ApiError("InvalidSignatureMethod", "Specified signature method is not valid.", 400)
    if params["SignatureVersion"] != RPC_V1_VERSION:
        raise errors.ApiError("InvalidSignatureVersion", "Specified signature version is not valid.", 400)  # UNCONFIRMED code
    stamp = params["Timestamp"]
    if not _TIMESTAMP.fullmatch(stamp):
        raise errors.ApiError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400)
    try:
        sent = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        raise errors.ApiError("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.", 400) from None
    # The wall clock, not the cloud's: the SDK stamps its requests with the machine's time, while the local
    # cloud's clock may be frozen or moved on to age keys and certificates.
    if abs(datetime.now(timezone.utc) - sent) > TIMESTAMP_WINDOW:
        raise errors.ApiError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
    credential = active_credential(account, params["AccessKeyId"], params.get("SecurityToken"), now)
    expected = rpc_v1_signature(method, params, credential.AccessKeySecret)
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
        raise errors.ApiError("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                                                       f"server string to sign is:{rpc_v1_string_to_sign(method, params)}", 400)
    if not nonces.claim(params["SignatureNonce"]):
        raise errors.ApiError("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
    return Caller(credential=credential, account_id=account.account_id)


def active_credential(account, access_key_id: str, token, now):
    """The credential an AccessKey id names, active, with its STS token matching and unexpired (both signatures)."""
    credential = account.credential(access_key_id)
    if credential is None:
        raise errors.access_key_not_found()
    if credential.Status != "Active":
        raise errors.access_key_inactive()
    if credential.SecurityToken is not None or token is not None:
        if token != credential.SecurityToken:
            raise errors.security_token_mismatch()
        if credential.Expiration and now() > _parse(credential.Expiration):
            raise errors.security_token_expired()
    return credential


def acs3_string_to_sign(req, payload_hash: str, alg: str) -> str:
    """The V3 StringToSign ("Request syntax and signature method V3": the algorithm, then the hex SHA-256 of
    the canonical request), shown in SignatureDoesNotMatch's message as the real gateway does (no secret in it)."""
    from alibabacloud_tea_openapi.utils import get_canonical_query_string, get_canonicalized_headers

    headers, signed = get_canonicalized_headers(req.headers)
    canonical = f"{req.method}\n{req.pathname}\n{get_canonical_query_string(req.query)}\n{headers}\n{signed}\n{payload_hash}"
    return f"{alg}\n{hashlib.sha256(canonical.encode()).hexdigest()}"


def _parse(value: str):
    from localcloud.clock import parse_time

    return parse_time(value)


def request_params(request: Request, body: bytes) -> dict[str, str]:
    """All parameters of an RPC call: the query string, plus a form body when the SDK sends one."""
    params = {k: v for k, v in request.args.items()}
    if body and request.mimetype == "application/x-www-form-urlencoded":
        params.update({k: v for k, v in request.form.items()})
    return params


def unflatten(params: dict[str, str], prefix: str) -> list[dict[str, str]]:
    """`EventInfo.1.EventName=a&EventInfo.1.Content=b` -> [{"EventName": "a", "Content": "b"}]."""
    items: dict[int, dict[str, str]] = {}
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)(?:\.(.+))?$")
    for key, value in params.items():
        m = pattern.match(key)
        if m:
            items.setdefault(int(m[1]), {})[m[2] or ""] = value
    return [items[i] for i in sorted(items)]


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


def error_body(err: errors.ApiError, request_id: str, host: str) -> dict[str, Any]:
    return {"RequestId": request_id, "HostId": host, "Code": err.code, "Message": err.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}"}
