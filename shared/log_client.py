"""The one place that builds an SLS `LogClient` (aliyun-log-python-sdk).

`LogClient` addresses a project virtual-host style, `http://<project>.<endpoint>/...`, unless its
constructor decides the endpoint is a raw IP (`Util.is_row_ip(endpoint)` -> `client._isRowIp`). Then
it sends the request to the bare endpoint and names the project only in the `Host` header
(`<project>.<host>`), which is what an SLS server (real or local) reads the project from.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aliyun.log import LogClient


def _host_of(endpoint: str) -> str:
    """The host part of an endpoint given as `host`, `host:port` or `scheme://host[:port][/...]`."""
    text = endpoint.strip()
    parsed = urlsplit(text if "://" in text else f"http://{text}")
    return parsed.hostname or ""


def is_ip_endpoint(endpoint: str) -> bool:
    try:
        ipaddress.ip_address(_host_of(endpoint))
        return True
    except ValueError:
        return False


def make_log_client(endpoint: str, access_key_id: str, access_key_secret: str,
                    security_token: str | None = None, source: str = "kms-steward") -> LogClient:
    """A LogClient for `endpoint`: a regional SLS endpoint (cn-hangzhou.log.aliyuncs.com) or an IP one
    such as the local cloud's `127.0.0.1:PORT` (with or without `http://`).

    `source` becomes each log group's __source__. Given, it spares the SDK its own guess, which
    opens a socket towards `<project>.<endpoint>` (a DNS lookup) on every PutLogs."""
    client = LogClient(endpoint, access_key_id, access_key_secret, security_token, source=source)
    if is_ip_endpoint(endpoint):
        # Why: the SDK's own IP mode is decided by `Util.is_row_ip(endpoint)`, which accepts only a bare
        # dotted quad: "127.0.0.1:41231" (port) or "http://127.0.0.1" (scheme) fail it, so the SDK
        # would send the request to "<project>.127.0.0.1", a name that does not resolve. Setting the
        # flag the constructor computes puts the client in the SDK's own IP mode: the URL is the
        # endpoint itself and the project travels in the Host header, exactly as the SDK does for a
        # bare IP. Real endpoints are host names and keep the SDK's virtual-host addressing untouched.
        client._isRowIp = True
    return client
