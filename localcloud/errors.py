"""Errors the local cloud answers with: the real Alibaba Cloud codes, HTTP statuses and messages,
so the official SDKs raise in tests exactly what they raise in production."""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        # Milliseconds the caller should wait (the unit darabonba's retry policy reads it in); sent as
        # x-acs-retry-after, which makes the SDK raise ThrottlingException with `retry_after`.
        self.retry_after = retry_after


class CannedResponse(Exception):
    """A fault that answers with a fixed body: a contract test replays an official API doc's sample
    response through the real SDK this way. A dict is sent as JSON, a str as is (OSS XML)."""

    def __init__(self, body, content_type: str | None = None):
        super().__init__("canned response")
        self.body = body
        self.content_type = content_type

    def response(self, request_id: str):
        import json

        from werkzeug.wrappers import Response

        if isinstance(self.body, (dict, list)):
            body = self.body if not isinstance(self.body, dict) else {"RequestId": request_id, **self.body}
            return Response(json.dumps(body), status=200, content_type=self.content_type or "application/json;charset=utf-8",
                            headers={"x-acs-request-id": request_id, "x-oss-request-id": request_id, "x-log-requestid": request_id})
        return Response(str(self.body), status=200, content_type=self.content_type or "application/xml",
                        headers={"x-oss-request-id": request_id, "x-log-requestid": request_id})


# Common POP gateway errors (shared by every RPC product).
def signature_mismatch(string_to_sign: str) -> ApiError:
    return ApiError(
        "SignatureDoesNotMatch",
        f"Specified signature does not match our calculation. server string to sign is:{string_to_sign}",
        400,
    )


def access_key_not_found() -> ApiError:
    return ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)


def access_key_inactive() -> ApiError:
    return ApiError("InvalidAccessKeyId.Inactive", "Specified access key is disabled.", 400)


def security_token_mismatch() -> ApiError:
    return ApiError(
        "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.", 400
    )


def security_token_expired() -> ApiError:
    return ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.", 400)


def missing_parameter(name: str) -> ApiError:
    return ApiError("MissingParameter", f"The input parameter \"{name}\" that is mandatory for processing this request is not supplied.", 400)


def invalid_parameter(name: str, detail: str = "") -> ApiError:
    return ApiError("InvalidParameter", f"The specified parameter \"{name}\" is not valid. {detail}".strip(), 400)


def unsupported_operation(action: str) -> ApiError:
    return ApiError("InvalidAction.NotFound", f"Specified api is not found, please check your url and method. ({action})", 404)


def throttled(retry_after: int | None = None, product: str = "") -> ApiError:
    if product == "kms":  # KMS's own flow-control answer (KMS limits page)
        return ApiError("Rejected.Throttling", "QPS Limit Exceeded", 429, retry_after=retry_after)
    return ApiError("Throttling.User", "Request was denied due to user flow control.", 400, retry_after=retry_after)


def forbidden_ram(action: str) -> ApiError:
    return ApiError(
        "Forbidden.RAM",
        f"User not authorized to operate on the specified resource, or this API doesn't support RAM. ({action})",
        403,
    )
