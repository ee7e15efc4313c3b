"""OSS request signatures: who sent a request, checked as OSS checks it, with oss2's own canonicalisation
(the private helpers of `oss2.auth.ProviderAuth`, `ProviderAuthV2` and `ProviderAuthV4`), so a request
real OSS would refuse is refused here with the same code:

- V1 `Authorization: OSS <ak>:<base64 hmac-sha1>` (oss2's default `oss2.Auth` / `StsAuth`): "Include a V1
  signature in the Authorization header",
  https://www.alibabacloud.com/help/en/oss/developer-reference/include-signatures-in-the-authorization-header
- V2 `Authorization: OSS2 AccessKeyId:<ak>,[AdditionalHeaders:..,]Signature:..` (`oss2.AuthV2`): the format
  OSS's error pages for V2 requests give (e.g. "0002-00000105",
  https://www.alibabacloud.com/help/en/oss/support/0002-00000105)
- V4 `Authorization: OSS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/oss/aliyun_v4_request, ...`
  (`oss2.AuthV4` / `ProviderAuthV4`, which need `region=` on the Bucket/Service): "Include a V4 signature in
  the Authorization header (recommended)",
  https://www.alibabacloud.com/help/en/oss/developer-reference/recommend-to-use-signature-version-4

STS credentials must carry `x-oss-security-token` equal to the credential's SecurityToken and not be
expired by the local clock. The request's Date is not compared with the clock (the local clock may
be moved on purpose), so RequestTimeTooSkewed is never answered.
"""
from __future__ import annotations

import hmac
import re
from types import SimpleNamespace
from typing import TYPE_CHECKING

from oss2 import auth as oss_auth
from oss2.credentials import StaticCredentialsProvider
from requests.structures import CaseInsensitiveDict
from werkzeug.wrappers import Request

from localcloud.clock import parse_time
from localcloud.products.oss_errors import access_denied, invalid_access_key, invalid_argument, oss_error

if TYPE_CHECKING:
    from localcloud.account import Credential

_V2 = re.compile(r"^OSS2 AccessKeyId:(?P<ak>[^,]+)(?:,AdditionalHeaders:(?P<ah>[^,]*))?,Signature:(?P<sig>.+)$")
_V4 = re.compile(r"^OSS4-HMAC-SHA256 Credential=(?P<cred>[^,]+),\s*Signature=(?P<sig>[0-9a-f]+)(?:,\s*AdditionalHeaders=(?P<ah>[^,]*))?$")


def authenticate(request: Request, bucket: str, key: str, account, now) -> "Credential":
    """Verify an oss2 request signature (V1, V2 or V4) and its STS token against the account; the credential."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise access_denied("AccessDenied: Anonymous access is forbidden for this operation.")
    if header.startswith("OSS "):
        ak, _, provided = header[4:].rpartition(":")
        version = 1
    elif header.startswith("OSS2 "):
        m = _V2.match(header)
        if not m:
            raise invalid_argument("Authorization", header, "Authorization header is invalid.")
        ak, provided, version = m["ak"], m["sig"], 2
    elif header.startswith("OSS4-HMAC-SHA256 "):
        m = _V4.match(header)
        if not m:
            raise invalid_argument("Authorization", header, "Authorization header is invalid.")
        ak = m["cred"].split("/", 1)[0]
        provided, version = m["sig"], 4
    else:
        raise invalid_argument("Authorization", header, "Authorization header is invalid.")
    if not ak:
        raise invalid_argument("Authorization", header, "Authorization header is invalid.")

    credential = account.credential(ak)
    token = request.headers.get("x-oss-security-token")
    if credential is None:
        raise invalid_access_key(ak)
    if credential.Status != "Active":
        raise invalid_access_key(ak, "The OSS Access Key Id you provided is disabled.")
    if credential.SecurityToken is None and token is not None:
        raise invalid_access_key(ak)  # a long-term key with a token is looked up (and not found) as an STS key
    if credential.SecurityToken is not None:
        if token is None:
            raise invalid_access_key(ak)
        if token != credential.SecurityToken:
            raise oss_error("InvalidSecurityToken", "The security token you provided is invalid.", 403)
        if credential.Expiration and now() > parse_time(credential.Expiration):
            raise oss_error("SecurityTokenExpired", "The security token you provided has expired.", 403)

    req = signed_request(request)
    if version == 1:
        expected, string_to_sign = v1_signature(req, bucket, key, credential)
    elif version == 2:
        expected, string_to_sign = v2_signature(req, bucket, key, additional_headers(m["ah"]), credential)
    else:
        parts = m["cred"].split("/")
        if len(parts) != 5 or parts[4] != "aliyun_v4_request":
            raise invalid_argument("Authorization", header, "Authorization header is invalid.")
        date_time = req.headers.get("x-oss-date", "")
        if not date_time or date_time[:8] != parts[1]:
            raise invalid_argument("x-oss-date", date_time, "The x-oss-date header does not match the credential scope date.")
        req.region, req.product = parts[2], parts[3]
        expected, string_to_sign = v4_signature(req, bucket, key, additional_headers(m["ah"]) or None, credential, date_time)
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        text = string_to_sign.decode("utf-8", "replace") if isinstance(string_to_sign, bytes) else string_to_sign
        raise oss_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            403, StringToSign=text, SignatureProvided=provided, OSSAccessKeyId=ak,
        )
    return credential


def signed_request(request: Request) -> SimpleNamespace:
    """The parts of a request an OSS signature covers, in the shape oss2's signers read (method, headers,
    query parameters; a V4 signature adds the credential scope's region and product)."""
    return SimpleNamespace(method=request.method, headers=CaseInsensitiveDict(dict(request.headers.items())),
                           params={k: v for k, v in request.args.items()}, region=None, product="oss", cloudbox_id=None)


def additional_headers(listed: str | None) -> list[str]:
    """The AdditionalHeaders of a V2 or V4 Authorization header (`host;x-oss-meta-a`), lower-cased."""
    return [h.lower() for h in (listed or "").split(";") if h]


# oss2 (the OSS SDK users' code signs with) exposes no public function that computes a header signature
# or its string to sign: its signers only sign a request in place (`_sign_request`). The signatures here are
# the signers' own methods, reached by their mangled names, so that the local cloud checks exactly what the
# SDK sends; a change in oss2's internals fails tests/test_localcloud_oss.py's signature tests, not silently.
def v1_signature(req: SimpleNamespace, bucket: str, key: str, credential: "Credential") -> tuple[str, bytes]:
    """(Signature, StringToSign) of a V1 request: base64(hmac-sha1(AccessKeySecret, VERB, Content-MD5,
    Content-Type, Date, CanonicalizedOSSHeaders, CanonicalizedResource)), "Include a V1 signature in the
    Authorization header"."""
    provider = _provider(credential)
    signer = oss_auth.ProviderAuth(provider)
    return (signer._ProviderAuth__make_signature(req, bucket, key, provider.get_credentials()),
            signer._ProviderAuth__get_bytes_to_sign(req, bucket, key))


def v2_signature(req: SimpleNamespace, bucket: str, key: str, extra_headers: list[str],
                 credential: "Credential") -> tuple[str, bytes]:
    """(Signature, StringToSign) of a V2 request (HMAC-SHA256 over the V1 parts plus the AdditionalHeaders
    named), as oss2's AuthV2 computes it (the V2 format of OSS's error pages, e.g. "0002-00000105")."""
    provider = _provider(credential)
    signer = oss_auth.ProviderAuthV2(provider)
    return (signer._ProviderAuthV2__make_signature(req, bucket, key, extra_headers, provider.get_credentials()),
            signer._ProviderAuthV2__get_bytes_to_sign(req, bucket, key, extra_headers))


def v4_signature(req: SimpleNamespace, bucket: str, key: str, extra_headers: list[str] | None, credential: "Credential",
                 date_time: str) -> tuple[str, bytes]:
    """(Signature, StringToSign) of a V4 request: the canonical request, then the string to sign of its
    credential scope (`<date>/<region>/oss/aliyun_v4_request`), signed with the derived key; "Include a V4
    signature in the Authorization header (recommended)". `req` carries the scope's region and product."""
    provider = _provider(credential)
    signer = oss_auth.ProviderAuthV4(provider)
    signature = signer._ProviderAuthV4__make_signature(req, bucket, key, extra_headers, provider.get_credentials(), date_time)
    canonical = signer._ProviderAuthV4__get_canonical_request_bytes(req, bucket, key, extra_headers)
    return signature, signer._ProviderAuthV4__get_string_to_sign_bytes(req, canonical, date_time).encode()


def _provider(credential: "Credential") -> StaticCredentialsProvider:
    return StaticCredentialsProvider(credential.AccessKeyId, credential.AccessKeySecret, credential.SecurityToken)
