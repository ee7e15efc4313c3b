"""OSS: the REST/XML protocol as oss2 2.19.1 speaks it to an IP endpoint (path style, `/bucket/key`).

Every request is counted (`oss:<ApiName>`), authenticated against the account's credentials, may
meet an injected fault, and is answered with OSS's own XML error body and HTTP status, so oss2
raises the exception class it raises in production (`oss2.exceptions.NoSuchBucket`, ...).

This module is the protocol: it routes a request to its API and answers it. The rest is split by
concern: the signatures in oss_auth.py, the XML documents in oss_xml.py, the errors in oss_errors.py,
the account-file records (section `oss`) in oss_state.py.

A bucket lives in one region (`Region`, from `Location` oss-<region>); it is answered only on that
region's listener, elsewhere with AccessDenied "must be addressed using the specified endpoint" as
real OSS does. ListBuckets lists every bucket of the account from any region, as the real API does.

Objects are the idempotency markers and small JSON documents the project writes: their Content is
UTF-8 text, and a body that is not is refused with InvalidArgument. Content-Type is not stored; GET
answers the type oss2 derives from the key's extension on upload (application/octet-stream when none).
HEAD/GET report the bucket's *current* default encryption in x-oss-server-side-encryption*, since
the object records do not keep the rule in force at upload time.

Data replication (GetBucketReplication, `GET /?replication`): a bucket's `ReplicationConfiguration`
holds its rules with the XML element names (Destination {Bucket, Location}, SourceSelectionCriteria/
SseKmsEncryptedObjects/Status, EncryptionConfiguration/ReplicaKmsKeyID, Status starting|doing|closing,
...); a bucket without rules answers NoSuchReplicationConfiguration (404). GetBucketInfo reports
CrossRegionReplication Enabled when a rule replicates to another region: the field documents
cross-region replication only (oss-v2 BucketInfo: "whether cross-region replication (CRR) is
enabled"), and no GetBucketInfo field is documented for same-region replication.
"""
from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Callable, Optional
from urllib.parse import quote

from oss2 import auth as oss_auth
from oss2.utils import Crc64, content_type_by_name
from werkzeug.wrappers import Request, Response

from localcloud import errors, fault_kinds
from localcloud.clock import iso, parse_time
from localcloud.products import oss_xml
from localcloud.products.base import Product
from localcloud.products.oss_auth import authenticate
from localcloud.products.oss_errors import invalid_argument, no_such_bucket, no_such_key, not_implemented, oss_error
from localcloud.products.oss_state import OssBucket, OssObject, etag_of, extranet_endpoint
from localcloud.records import find

PRODUCT = "oss"
DEFAULT_MAX_KEYS = 100
MAX_MAX_KEYS = 1000
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def new_request_id() -> str:
    return uuid.uuid4().hex[:24].upper()


# ---------------------------------------------------------------- routing


class Route(SimpleNamespace):
    api: str
    bucket: str
    key: str
    handler: Optional[Callable]


class Oss(Product):
    """The OSS endpoint of every region's listener (the gateway sends it all non-RPC, non-SLS traffic)."""

    code = PRODUCT
    service_name = "Oss"
    endpoint_prefix = "oss"

    # ------------------------------------------------------------ entry point

    def handle(self, request: Request, region: str) -> Response:
        request_id = new_request_id()
        route = self.route(request)
        self.cloud.calls.count(PRODUCT, route.api)
        credential = None
        try:
            body = request.get_data(cache=True)
            credential = authenticate(request, route.bucket, route.key, self.account, self.cloud.clock.now)
            if route.handler is None:
                raise not_implemented(f"{request.method} {request.full_path.rstrip('?')}")
            if route.bucket and not _BUCKET_NAME.match(route.bucket):
                raise oss_error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=route.bucket)
            self.cloud.ram.check_oss(self.account, credential, route.api, route.bucket, route.key, request.remote_addr or "")
            met = self.cloud.faults.apply(PRODUCT, route.api, region)
            if route.api in ("ListBuckets", "ListObjects", "ListObjectsV2"):  # a PageSizeCap fault caps max-keys
                self.cloud.faults.cap_page_param(request, met, "max-keys", DEFAULT_MAX_KEYS)
            with self.account.lock:
                response = route.handler(request, route, region, body, request_id)
            self._trail(request, route, region, request_id, credential)
            lost = fault_kinds.lost_answer(met, PRODUCT, route.api)
            return response if lost is None else self.error_response(lost, request, request_id)
        except errors.CannedResponse as canned:
            return canned.response(request_id)
        except errors.ApiError as err:
            self._trail(request, route, region, request_id, credential, err)
            return self.error_response(err, request, request_id)

    def _trail(self, request, route, region, request_id, credential, error=None) -> None:
        """Bucket management calls reach ActionTrail; object reads and writes are data events, which
        ActionTrail records only for a trail configured for them."""
        if credential is not None and not route.key:
            self.record_in_trail(request, region, request_id, route.api, credential,
                                 {"BucketName": route.bucket} if route.bucket else {}, error)

    def route(self, request: Request) -> Route:
        bucket, key = split_path(request)
        args = request.args
        method = request.method
        r = Route(api="Unsupported", bucket=bucket, key=key, handler=None)
        if not bucket:
            if method == "GET" and not (set(args) & SERVICE_SUBRESOURCES):
                r.api, r.handler = "ListBuckets", self.list_buckets
            return r
        if not key:
            table = {
                ("GET", "bucketInfo"): ("GetBucketInfo", self.get_bucket_info),
                ("GET", "location"): ("GetBucketLocation", self.get_bucket_location),
                ("GET", "encryption"): ("GetBucketEncryption", self.get_bucket_encryption),
                ("PUT", "encryption"): ("PutBucketEncryption", self.put_bucket_encryption),
                ("DELETE", "encryption"): ("DeleteBucketEncryption", self.delete_bucket_encryption),
                ("GET", "replication"): ("GetBucketReplication", self.get_bucket_replication),
            }
            subs = [a for a in args if a in oss_auth.ProviderAuth._subresource_key_set and a not in LISTING_PARAMS]
            for sub in subs:
                if (method, sub) in table:
                    r.api, r.handler = table[(method, sub)]
                    return r
            if subs:
                return r
            if method == "GET":
                if args.get("list-type") == "2":
                    r.api, r.handler = "ListObjectsV2", self.list_objects_v2
                else:
                    r.api, r.handler = "ListObjects", self.list_objects
            return r
        subs = [a for a in args if a in oss_auth.ProviderAuth._subresource_key_set]
        if method == "PUT" and not subs and "x-oss-copy-source" not in request.headers:
            r.api, r.handler = "PutObject", self.put_object
        elif method == "GET" and not (set(subs) - RESPONSE_OVERRIDES):
            r.api, r.handler = "GetObject", self.get_object
        elif method == "HEAD" and subs == ["objectMeta"]:
            r.api, r.handler = "GetObjectMeta", self.head_object
        elif method == "HEAD" and not subs:
            r.api, r.handler = "HeadObject", self.head_object
        elif method == "DELETE" and not subs:
            r.api, r.handler = "DeleteObject", self.delete_object
        return r

    # ------------------------------------------------------------ helpers

    def find_bucket(self, name: str, region: str) -> OssBucket:
        bucket = find(self.account.oss.buckets, Name=name)
        if bucket is None:
            raise no_such_bucket(name)
        if bucket.Region != region:
            raise oss_error(
                "AccessDenied",
                "The bucket you are attempting to access must be addressed using the specified endpoint. "
                "Please send all future requests to this endpoint.",
                403, Bucket=name, Endpoint=extranet_endpoint(bucket),
            )
        return bucket

    def find_object(self, bucket: str, key: str) -> OssObject | None:
        return next((o for o in self.account.oss.objects if o.Bucket == bucket and o.Key == key), None)

    def ok(self, request_id: str, xml: bytes | None = None, *, status: int = 200, headers: dict | None = None) -> Response:
        hdrs = {"x-oss-request-id": request_id, "Server": "AliyunOSS", "Date": http_date(self.cloud.clock.now())}
        hdrs.update(headers or {})
        if xml is None:
            return Response(b"", status=status, headers=hdrs)
        return Response(xml, status=status, content_type="application/xml", headers=hdrs)

    def error_response(self, err: errors.ApiError, request: Request, request_id: str) -> Response:
        body = oss_xml.error_document(err, request_id, request.host)
        headers = {"x-oss-request-id": request_id, "Server": "AliyunOSS", "Date": http_date(self.cloud.clock.now())}
        if request.method == "HEAD":
            # HEAD answers carry no body; OSS puts the error document in x-oss-err, where oss2 reads it.
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return Response(b"", status=err.status, content_type="application/xml", headers=headers)
        return Response(body, status=err.status, content_type="application/xml", headers=headers)

    def encryption_headers(self, bucket: OssBucket) -> dict[str, str]:
        rule = bucket.ServerSideEncryptionRule
        if rule is None:
            return {}
        headers = {"x-oss-server-side-encryption": rule.SSEAlgorithm}
        if rule.SSEAlgorithm == "KMS" and rule.KMSMasterKeyID:
            headers["x-oss-server-side-encryption-key-id"] = rule.KMSMasterKeyID
        if rule.SSEAlgorithm == "KMS" and rule.KMSDataEncryption:
            headers["x-oss-server-side-data-encryption"] = rule.KMSDataEncryption
        return headers

    # ------------------------------------------------------------ service

    def list_buckets(self, request, route, region, body, request_id) -> Response:
        args = request.args
        prefix = args.get("prefix", "")
        marker = args.get("marker", "")
        max_keys = parse_max_keys(args.get("max-keys"))
        names = sorted((b for b in self.account.oss.buckets if b.Name.startswith(prefix) and b.Name > marker),
                       key=lambda b: b.Name)
        page = names[:max_keys]
        truncated = len(names) > max_keys
        return self.ok(request_id, oss_xml.list_buckets_document(page, prefix=prefix, marker=marker, max_keys=max_keys,
                                                                 truncated=truncated, account_id=self.account.account_id))

    # ------------------------------------------------------------ bucket

    def get_bucket_info(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        return self.ok(request_id, oss_xml.bucket_info_document(b, self.account.account_id))

    def get_bucket_replication(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        if not b.replication_rules:
            # The message is UNCONFIRMED; the code and status are the documented ones.
            raise oss_error("NoSuchReplicationConfiguration", "The replication configuration was not found.", 404,
                            BucketName=b.Name)
        return self.ok(request_id, oss_xml.replication_document(b.replication_rules))

    def get_bucket_location(self, request, route, region, body, request_id) -> Response:
        b = find(self.account.oss.buckets, Name=route.bucket)
        if b is None:
            raise no_such_bucket(route.bucket)
        return self.ok(request_id, oss_xml.location_document(b))

    def get_bucket_encryption(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        rule = b.ServerSideEncryptionRule
        if rule is None:
            raise oss_error("NoSuchServerSideEncryptionRule", "The server side encryption configuration was not found.", 404,
                            BucketName=b.Name)
        return self.ok(request_id, oss_xml.encryption_document(rule))

    def put_bucket_encryption(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        b.ServerSideEncryptionRule = oss_xml.read_encryption_rule(body)
        return self.ok(request_id)

    def delete_bucket_encryption(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        b.ServerSideEncryptionRule = None
        return self.ok(request_id, status=204)

    def _listing(self, request, route, region):
        b = self.find_bucket(route.bucket, region)
        args = request.args
        prefix = args.get("prefix", "")
        delimiter = args.get("delimiter", "")
        max_keys = parse_max_keys(args.get("max-keys"))
        encoding = args.get("encoding-type", "")
        if encoding not in ("", "url"):
            raise invalid_argument("encoding-type", encoding, "The encoding-type you specified is not valid.")
        objects = sorted((o for o in self.account.oss.objects if o.Bucket == b.Name and o.Key.startswith(prefix)),
                         key=lambda o: o.Key)
        return b, prefix, delimiter, max_keys, encoding, objects

    @staticmethod
    def _page(objects, after: str, prefix: str, delimiter: str, max_keys: int):
        """Contents and CommonPrefixes after `after`, up to max_keys entries; (contents, prefixes, truncated, last)."""
        contents, prefixes, last = [], [], ""
        seen_prefixes = set()
        truncated = False
        for o in objects:
            # A page that ended on a common prefix resumes after everything under it: the keys below "a/" sort
            # after "a/" itself, and OSS lists each prefix once (ListObjectsV2, delimiter and CommonPrefixes).
            if o.Key <= after or (delimiter and after.endswith(delimiter) and o.Key.startswith(after)):
                continue
            entry_prefix = None
            if delimiter:
                rest = o.Key[len(prefix):]
                pos = rest.find(delimiter)
                if pos >= 0:
                    entry_prefix = prefix + rest[:pos + len(delimiter)]
            if entry_prefix is not None and entry_prefix in seen_prefixes:
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if entry_prefix is not None:
                seen_prefixes.add(entry_prefix)
                prefixes.append(entry_prefix)
                last = entry_prefix
            else:
                contents.append(o)
                last = o.Key
        return contents, prefixes, truncated, last

    def list_objects(self, request, route, region, body, request_id) -> Response:
        b, prefix, delimiter, max_keys, encoding, objects = self._listing(request, route, region)
        marker = request.args.get("marker", "")
        contents, prefixes, truncated, last = self._page(objects, marker, prefix, delimiter, max_keys)
        encode = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
        return self.ok(request_id, oss_xml.list_objects_document(
            b.Name, contents, prefixes, prefix=prefix, marker=marker, max_keys=max_keys, delimiter=delimiter, encoding=encoding,
            truncated=truncated, next_marker=last, encode=encode, account_id=self.account.account_id))

    def list_objects_v2(self, request, route, region, body, request_id) -> Response:
        b, prefix, delimiter, max_keys, encoding, objects = self._listing(request, route, region)
        args = request.args
        token = args.get("continuation-token", "")
        start_after = args.get("start-after", "")
        after = start_after
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise invalid_argument("continuation-token", token, "The continuation token provided is incorrect.") from None
        contents, prefixes, truncated, last = self._page(objects, after, prefix, delimiter, max_keys)
        encode = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
        next_token = base64.urlsafe_b64encode(last.encode()).decode() if truncated else None
        owners = self.account.account_id if args.get("fetch-owner") == "true" else None
        return self.ok(request_id, oss_xml.list_objects_v2_document(
            b.Name, contents, prefixes, prefix=prefix, start_after=start_after, token=token, max_keys=max_keys,
            delimiter=delimiter, encoding=encoding, truncated=truncated, next_token=next_token, encode=encode, account_id=owners))

    # ------------------------------------------------------------ object

    def put_object(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        forbid = request.headers.get("x-oss-forbid-overwrite")
        if forbid is not None and forbid.lower() not in ("true", "false"):
            raise invalid_argument("x-oss-forbid-overwrite", forbid, "Invalid x-oss-forbid-overwrite header value.")
        md5 = request.headers.get("Content-MD5")
        if md5 is not None and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            raise oss_error("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_argument("Content", "(binary)", "The local cloud stores UTF-8 text objects only.") from None
        existing = self.find_object(b.Name, route.key)
        if existing is not None and forbid is not None and forbid.lower() == "true":
            raise oss_error("FileAlreadyExists", "The object you specified already exists and can not be overwritten.", 409)
        obj = OssObject(Bucket=b.Name, Key=route.key, Content=text, LastModified=iso(self.cloud.clock.now()),
                        ETag=hashlib.md5(body).hexdigest().upper())
        if existing is not None:
            self.account.oss.objects[self.account.oss.objects.index(existing)] = obj
        else:
            self.account.oss.objects.append(obj)
        headers = {"ETag": f'"{obj.ETag}"', "x-oss-hash-crc64ecma": str(crc64(body)),
                   "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
        headers.update(self.encryption_headers(b))
        return self.ok(request_id, headers=headers)

    def _object_headers(self, b: OssBucket, obj: OssObject, data: bytes) -> dict[str, str]:
        headers = {
            "ETag": f'"{etag_of(obj)}"',
            "Last-Modified": http_date(parse_time(obj.LastModified) if obj.LastModified else None),
            "x-oss-object-type": "Normal",
            "x-oss-storage-class": "Standard",
            "x-oss-hash-crc64ecma": str(crc64(data)),
            "Accept-Ranges": "bytes",
        }
        headers.update(self.encryption_headers(b))
        return headers

    def get_object(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        obj = self.find_object(b.Name, route.key)
        if obj is None:
            raise no_such_key(route.key)
        data = obj.Content.encode("utf-8")
        headers = self._object_headers(b, obj, data)
        headers["x-oss-request-id"] = request_id
        content_type = request.args.get("response-content-type") or content_type_by_name(obj.Key) or "application/octet-stream"
        return Response(data, status=200, content_type=content_type,
                        headers={"Server": "AliyunOSS", "Date": http_date(self.cloud.clock.now()), **headers})

    def head_object(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        obj = self.find_object(b.Name, route.key)
        if obj is None:
            raise no_such_key(route.key)
        data = obj.Content.encode("utf-8")
        resp = self.ok(request_id, headers=self._object_headers(b, obj, data))
        resp.content_type = content_type_by_name(obj.Key) or "application/octet-stream"
        # The size of the object, not of the (empty) HEAD body; werkzeug must not recompute it.
        resp.automatically_set_content_length = False
        resp.headers["Content-Length"] = str(len(data))
        return resp

    def delete_object(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        obj = self.find_object(b.Name, route.key)
        if obj is not None:
            self.account.oss.objects.remove(obj)
        return self.ok(request_id, status=204)  # OSS answers 204 whether or not the key existed


# Query parameters that address the service root rather than ListBuckets.
SERVICE_SUBRESOURCES = {"qosInfo", "regions", "x-oss-write-get-object-response", "publicAccessBlock", "requesterQosInfo",
                        "qosRequester", "resourcePoolInfo", "resourcePool", "resourcePoolBuckets"}
# ListObjectsV2 parameters that oss2 also counts as sub-resources when signing.
LISTING_PARAMS = {"continuation-token"}
# Sub-resources GetObject may carry (they override response headers, not the operation).
RESPONSE_OVERRIDES = {"response-content-type", "response-content-language", "response-cache-control",
                      "response-content-encoding", "response-expires", "response-content-disposition", "versionId"}


# ---------------------------------------------------------------- addressing


def split_path(request: Request) -> tuple[str, str]:
    """(bucket, key) of a request: path style `/bucket/key` on an IP endpoint (what oss2 sends there),
    virtual-host style `bucket.oss-<region>.aliyuncs.com/key` when the Host names the bucket."""
    path = request.path or "/"
    host = hostname(request.host or "")
    if "." in host and not _is_ip(host):
        first, _, rest = host.partition(".")
        if rest.startswith("oss-"):
            return first, path[1:]
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def hostname(host: str) -> str:
    """The host of a Host header, without its port ([::1]:80 -> ::1)."""
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- formats


def parse_max_keys(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_MAX_KEYS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 1 <= value <= MAX_MAX_KEYS:
        raise invalid_argument("max-keys", raw, f"Argument max-keys must be an integer between 1 and {MAX_MAX_KEYS}.")
    return value


def http_date(dt: datetime | None) -> str:
    dt = dt or datetime(2024, 1, 1, tzinfo=timezone.utc)
    return format_datetime(dt.astimezone(timezone.utc), usegmt=True)


def crc64(data: bytes) -> int:
    c = Crc64(0)
    c.update(data)
    return c.crc
