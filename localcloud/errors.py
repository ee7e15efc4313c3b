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
    return ApiError(f"MissingParameter", f"The input parameter \"{name}\" that is mandatory for processing this request is not supplied.", 400)


def invalid_parameter(name: str, detail: str = "") -> ApiError:
    return ApiError("InvalidParameter", f"The specified parameter \"{name}\" is not valid. {detail}".strip(), 400)


def unsupported_operation(action: str) -> ApiError:
    return ApiError("InvalidAction.NotFound", f"Specified api is not found, please check your url and method. ({action})", 404)


def throttled(retry_after: int | None = None) -> ApiError:
    return ApiError("Throttling.User", "Request was denied due to user flow control.", 400, retry_after=retry_after)


def forbidden_ram(action: str) -> ApiError:
    return ApiError(
        "Forbidden.RAM",
        f"User not authorized to operate on the specified resource, or this API doesn't support RAM. ({action})",
        403,
    )
