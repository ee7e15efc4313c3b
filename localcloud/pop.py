"""The POP RPC protocol the tea-openapi SDKs speak: ACS3-HMAC-SHA256 verification, parameter
decoding (the SDK flattens `EventInfo.1.EventName=...` into the query string) and error bodies.

Verification recomputes the signature with the SDK's own canonicalisation
(`alibabacloud_tea_openapi.utils.Utils.get_authorization`), so a request the real gateway would
refuse is refused here with the same code.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

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
        return {
            "type": c.IdentityType,
            "accountId": self.account_id,
            "principalId": principal,
            "accessKeyId": c.AccessKeyId,
            "userName": c.UserName,
        }


def authenticate(request: Request, body: bytes, account: Account, now, *, pathname: str | None = None) -> Caller:
    """Verify the ACS3-HMAC-SHA256 signature of an RPC or ROA request; return the caller. `pathname` is
    the path as sent (an ROA SDK signs its percent-encoded form, `/clusters/c-1%2A`); default: the path."""
    header = request.headers.get("Authorization", "")
    match = _AUTH.match(header)
    if not match:
        raise errors.ApiError("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400)
    credential = account.credential(match["ak"])
    if credential is None:
        raise errors.access_key_not_found()
    if credential.Status != "Active":
        raise errors.access_key_inactive()
    token = request.headers.get("x-acs-security-token")
    if credential.SecurityToken is not None or token is not None:
        if token != credential.SecurityToken:
            raise errors.security_token_mismatch()
        if credential.Expiration and now() > _parse(credential.Expiration):
            raise errors.security_token_expired()

    payload_hash = hashlib.sha256(body).hexdigest()
    if request.headers.get("x-acs-content-sha256", payload_hash) != payload_hash:
        raise errors.ApiError("ContentSHA256NotMatch", "The x-acs-content-sha256 header does not match the body.", 400)

    signed = match["sh"].split(";") if match["sh"] else []
    headers = {name: request.headers.get(name, "") for name in signed}
    query = {k: v for k, v in request.args.items()}
    canonical = SimpleNamespace(method=request.method, pathname=pathname or request.path or "/", query=query, headers=headers)
    expected = TeaUtils.get_authorization(canonical, match["alg"], payload_hash, match["ak"], credential.AccessKeySecret)
    if not hmac.compare_digest(expected, header):
        raise errors.signature_mismatch(_string_to_sign(canonical, payload_hash, match["alg"]))
    return Caller(credential=credential, account_id=account.account_id)


def _string_to_sign(req, payload_hash: str, alg: str) -> str:
    """What the server signed, shown in the error message as the real gateway does (no secret in it)."""
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
