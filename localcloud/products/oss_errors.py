"""The errors OSS answers, as oss2 reads them: the code, the HTTP status, and the further elements of
OSS's XML `<Error>` body (BucketName, Key, ArgumentName, ...), which oss2 exposes as `details`.
The body itself is rendered by localcloud/products/oss_xml.py.
"""
from __future__ import annotations

from localcloud import errors


def oss_error(code: str, message: str, status: int, **extra: str) -> errors.ApiError:
    """An ApiError carrying the extra elements OSS puts in its <Error> body (BucketName, Endpoint, ...)."""
    err = errors.ApiError(code, message, status)
    err.extra = {k: v for k, v in extra.items() if v is not None}
    return err


def no_such_bucket(name: str) -> errors.ApiError:
    return oss_error("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=name)


def no_such_key(key: str) -> errors.ApiError:
    return oss_error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def invalid_argument(name: str, value: str, message: str) -> errors.ApiError:
    return oss_error("InvalidArgument", message, 400, ArgumentName=name, ArgumentValue=value)


def invalid_access_key(ak: str, message: str = "The OSS Access Key Id you provided does not exist in our records.") -> errors.ApiError:
    return oss_error("InvalidAccessKeyId", message, 403, OSSAccessKeyId=ak)


def access_denied(message: str) -> errors.ApiError:
    return oss_error("AccessDenied", message, 403)


def not_implemented(what: str) -> errors.ApiError:
    # oss2 maps (400, NotImplemented) to oss2.exceptions.NotImplemented.
    return oss_error("NotImplemented", f"The local cloud does not implement this OSS operation: {what}.", 400)
