"""OSS: the REST/XML protocol as oss2 2.19.1 speaks it to an IP endpoint (path style, `/bucket/key`).

Every request is counted (`oss:<ApiName>`), authenticated against the account's credentials, may
meet an injected fault, and is answered with OSS's own XML error body and HTTP status, so oss2
raises the exception class it raises in production (`oss2.exceptions.NoSuchBucket`, ...).

Signatures are recomputed with oss2's own canonicalisation (the private helpers of
`oss2.auth.ProviderAuth`, `ProviderAuthV2` and `ProviderAuthV4`), so a request real OSS would refuse
is refused here with the same code:

- V1 `Authorization: OSS <ak>:<base64 hmac-sha1>` (oss2's default `oss2.Auth` / `StsAuth`),
- V2 `Authorization: OSS2 AccessKeyId:<ak>,[AdditionalHeaders:..,]Signature:..` (`oss2.AuthV2`),
- V4 `Authorization: OSS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/oss/aliyun_v4_request, ...`
  (`oss2.AuthV4` / `ProviderAuthV4`, which need `region=` on the Bucket/Service).

STS credentials must carry `x-oss-security-token` equal to the credential's SecurityToken and not be
expired by the local clock. The request's Date is not compared with the clock (the local clock may
be moved on purpose), so RequestTimeTooSkewed is never answered.

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
import hmac
import ipaddress
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import format_datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable, Literal, Optional
from urllib.parse import quote

from oss2 import auth as oss_auth
from oss2.credentials import StaticCredentialsProvider
from oss2.utils import Crc64, content_type_by_name
from pydantic import Field, field_validator, model_validator
from requests.structures import CaseInsensitiveDict
from werkzeug.wrappers import Request, Response

from localcloud import errors
from localcloud.clock import iso, parse_time
from localcloud.products.base import Product
from localcloud.records import StrictRecord, find

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

PRODUCT = "oss"
DEFAULT_MAX_KEYS = 100
MAX_MAX_KEYS = 1000
DEFAULT_CREATION_DATE = "2024-01-01T00:00:00.000Z"
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_ISO_MS = "%Y-%m-%dT%H:%M:%S.000Z"


# ---------------------------------------------------------------- records (account file section `oss`)


class OssReplicationDestination(StrictRecord):
    Bucket: str
    Location: str  # oss-cn-beijing
    TransferType: Optional[Literal["internal", "oss_acc"]] = None

    @property
    def region(self) -> str:
        return self.Location.removeprefix("oss-")


class OssReplicationPrefixSet(StrictRecord):
    Prefix: list[str] = Field(default_factory=list, max_length=10)


class OssSseKmsEncryptedObjects(StrictRecord):
    Status: Literal["Enabled", "Disabled"]


class OssSourceSelectionCriteria(StrictRecord):
    SseKmsEncryptedObjects: OssSseKmsEncryptedObjects


class OssReplicationEncryption(StrictRecord):
    ReplicaKmsKeyID: str


class OssReplicationTimeControl(StrictRecord):
    Status: Literal["enabled", "disabled"]


class OssReplicationRule(StrictRecord):
    """A ReplicationConfiguration/Rule as GetBucketReplication returns it (XML element names)."""

    ID: str
    Destination: OssReplicationDestination
    Status: Literal["starting", "doing", "closing"] = "doing"
    Action: str = "ALL"
    PrefixSet: Optional[OssReplicationPrefixSet] = None
    HistoricalObjectReplication: Literal["enabled", "disabled"] = "enabled"
    SyncRole: Optional[str] = None
    SourceSelectionCriteria: Optional[OssSourceSelectionCriteria] = None
    EncryptionConfiguration: Optional[OssReplicationEncryption] = None
    RTC: Optional[OssReplicationTimeControl] = None

    @model_validator(mode="after")
    def _replica_key_when_kms_objects_replicate(self):
        # PutBucketReplication refuses SseKmsEncryptedObjects Enabled without a ReplicaKmsKeyID (OSS error 0031-00000033).
        criteria = self.SourceSelectionCriteria
        if criteria and criteria.SseKmsEncryptedObjects.Status == "Enabled" and not self.EncryptionConfiguration:
            raise ValueError("SseKmsEncryptedObjects Enabled needs EncryptionConfiguration.ReplicaKmsKeyID")
        if not self.Destination.Location.startswith("oss-"):
            raise ValueError("Destination.Location must look like oss-cn-beijing")
        return self


class OssReplicationConfiguration(StrictRecord):
    Rule: list[OssReplicationRule] = Field(min_length=1)


class OssEncryptionRule(StrictRecord):
    """ServerSideEncryptionRule as GetBucketInfo / GetBucketEncryption return it."""

    SSEAlgorithm: Literal["KMS", "AES256", "SM4"]
    KMSMasterKeyID: Optional[str] = None
    KMSDataEncryption: Optional[str] = None


class OssBucket(StrictRecord):
    """ListBuckets/GetBucketInfo Bucket fields (oss2 has no Tea model, so the list is explicit)."""

    Name: str
    Location: str  # oss-cn-hangzhou
    Region: Optional[str] = None  # cn-hangzhou
    CreationDate: Optional[str] = None
    StorageClass: Literal["Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"] = "Standard"
    ExtranetEndpoint: Optional[str] = None
    IntranetEndpoint: Optional[str] = None
    ResourceGroupId: Optional[str] = None
    ServerSideEncryptionRule: Optional[OssEncryptionRule] = None
    # GetBucketReplication's answer; GetBucketInfo reports CrossRegionReplication Enabled when a rule's
    # destination is in another region.
    ReplicationConfiguration: Optional[OssReplicationConfiguration] = None

    @field_validator("Name")
    @classmethod
    def _bucket_name(cls, v):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", v):
            raise ValueError("is not a valid bucket name (3-63 lower-case letters, digits, hyphens)")
        return v

    @model_validator(mode="after")
    def _region(self):
        if not self.Location.startswith("oss-"):
            raise ValueError("Location must look like oss-cn-hangzhou")
        if self.Region is None:
            self.Region = self.Location[len("oss-"):]
        return self

    @property
    def replication_rules(self) -> list[OssReplicationRule]:
        return self.ReplicationConfiguration.Rule if self.ReplicationConfiguration else []

    @property
    def cross_region_replication(self) -> bool:
        return any(r.Destination.region != self.Region for r in self.replication_rules)


class OssObject(StrictRecord):
    """An object (the guard's idempotency markers live here). Content is text."""

    Bucket: str
    Key: str
    Content: str = ""
    LastModified: Optional[str] = None
    ETag: Optional[str] = None


class OssSection(StrictRecord):
    buckets: list[OssBucket] = Field(default_factory=list)
    objects: list[OssObject] = Field(default_factory=list)

    @model_validator(mode="after")
    def _replication_targets_exist(self):
        """What PutBucketReplication enforces: the destination is another bucket of the account, in the
        region the rule names (InvalidTargetBucket, InvalidTargetLocation)."""
        by_name = {b.Name: b for b in self.buckets}
        for b in self.buckets:
            for rule in b.replication_rules:
                dest = by_name.get(rule.Destination.Bucket)
                if dest is None or dest.Name == b.Name:
                    raise ValueError(f"bucket {b.Name} rule {rule.ID}: Destination.Bucket must be another bucket of the account")
                if dest.Location != rule.Destination.Location:
                    raise ValueError(f"bucket {b.Name} rule {rule.ID}: Destination.Location is not {dest.Name}'s Location")
        return self


# ---------------------------------------------------------------- errors


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
            met = self.cloud.faults.apply(PRODUCT, route.api, region)
            if route.api in ("ListBuckets", "ListObjects", "ListObjectsV2"):  # a PageSizeCap fault caps max-keys
                self.cloud.faults.cap_page_param(request, met, "max-keys", DEFAULT_MAX_KEYS)
            with self.account.lock:
                response = route.handler(request, route, region, body, request_id)
            self._trail(request, route, region, request_id, credential)
            return response
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
        root = ET.Element("Error")
        for tag, text in (("Code", err.code), ("Message", err.message), ("RequestId", request_id), ("HostId", request.host)):
            ET.SubElement(root, tag).text = text
        for tag, text in getattr(err, "extra", {}).items():
            ET.SubElement(root, tag).text = str(text)
        body = to_xml(root)
        headers = {"x-oss-request-id": request_id, "Server": "AliyunOSS", "Date": http_date(self.cloud.clock.now())}
        if request.method == "HEAD":
            # HEAD answers carry no body; OSS puts the error document in x-oss-err, where oss2 reads it.
            headers["x-oss-err"] = base64.b64encode(body).decode()
            return Response(b"", status=err.status, content_type="application/xml", headers=headers)
        return Response(body, status=err.status, content_type="application/xml", headers=headers)

    def owner(self, parent: ET.Element) -> None:
        owner = ET.SubElement(parent, "Owner")
        ET.SubElement(owner, "ID").text = self.account.account_id
        ET.SubElement(owner, "DisplayName").text = self.account.account_id

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
        root = ET.Element("ListAllMyBucketsResult")
        ET.SubElement(root, "Prefix").text = prefix
        ET.SubElement(root, "Marker").text = marker
        ET.SubElement(root, "MaxKeys").text = str(max_keys)
        ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
        if truncated:
            ET.SubElement(root, "NextMarker").text = page[-1].Name
        self.owner(root)
        buckets = ET.SubElement(root, "Buckets")
        for b in page:
            node = ET.SubElement(buckets, "Bucket")
            ET.SubElement(node, "CreationDate").text = iso_ms(b.CreationDate)
            ET.SubElement(node, "ExtranetEndpoint").text = extranet_endpoint(b)
            ET.SubElement(node, "IntranetEndpoint").text = intranet_endpoint(b)
            ET.SubElement(node, "Location").text = b.Location
            ET.SubElement(node, "Name").text = b.Name
            ET.SubElement(node, "Region").text = b.Region
            ET.SubElement(node, "StorageClass").text = b.StorageClass
            if b.ResourceGroupId:
                ET.SubElement(node, "ResourceGroupId").text = b.ResourceGroupId
        return self.ok(request_id, to_xml(root))

    # ------------------------------------------------------------ bucket

    def get_bucket_info(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        root = ET.Element("BucketInfo")
        node = ET.SubElement(root, "Bucket")
        ET.SubElement(node, "AccessMonitor").text = "Disabled"
        ET.SubElement(node, "CreationDate").text = iso_ms(b.CreationDate)
        ET.SubElement(node, "CrossRegionReplication").text = "Enabled" if b.cross_region_replication else "Disabled"
        ET.SubElement(node, "DataRedundancyType").text = "LRS"
        ET.SubElement(node, "ExtranetEndpoint").text = extranet_endpoint(b)
        ET.SubElement(node, "IntranetEndpoint").text = intranet_endpoint(b)
        ET.SubElement(node, "Location").text = b.Location
        ET.SubElement(node, "Name").text = b.Name
        ET.SubElement(node, "ResourceGroupId").text = b.ResourceGroupId or "rg-default"
        ET.SubElement(node, "StorageClass").text = b.StorageClass
        ET.SubElement(node, "TransferAcceleration").text = "Disabled"
        self.owner(node)
        acl = ET.SubElement(node, "AccessControlList")
        ET.SubElement(acl, "Grant").text = "private"
        sse = ET.SubElement(node, "ServerSideEncryptionRule")
        rule = b.ServerSideEncryptionRule
        # Without a rule OSS answers SSEAlgorithm "None" (oss2 turns it into sse_algorithm None).
        ET.SubElement(sse, "SSEAlgorithm").text = rule.SSEAlgorithm if rule else "None"
        if rule is not None and rule.SSEAlgorithm == "KMS":
            ET.SubElement(sse, "KMSMasterKeyID").text = rule.KMSMasterKeyID or ""
        if rule is not None and rule.KMSDataEncryption:
            ET.SubElement(sse, "KMSDataEncryption").text = rule.KMSDataEncryption
        return self.ok(request_id, to_xml(root))

    def get_bucket_replication(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        if not b.replication_rules:
            # The message is UNCONFIRMED; the code and status are the documented ones.
            raise oss_error("NoSuchReplicationConfiguration", "The replication configuration was not found.", 404,
                            BucketName=b.Name)
        root = ET.Element("ReplicationConfiguration")
        for rule in b.replication_rules:
            root.append(replication_rule_xml(rule))
        return self.ok(request_id, to_xml(root))

    def get_bucket_location(self, request, route, region, body, request_id) -> Response:
        b = find(self.account.oss.buckets, Name=route.bucket)
        if b is None:
            raise no_such_bucket(route.bucket)
        root = ET.Element("LocationConstraint")
        root.text = b.Location
        return self.ok(request_id, to_xml(root))

    def get_bucket_encryption(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        rule = b.ServerSideEncryptionRule
        if rule is None:
            raise oss_error("NoSuchServerSideEncryptionRule", "The server side encryption configuration was not found.", 404,
                            BucketName=b.Name)
        root = ET.Element("ServerSideEncryptionRule")
        apply = ET.SubElement(root, "ApplyServerSideEncryptionByDefault")
        ET.SubElement(apply, "SSEAlgorithm").text = rule.SSEAlgorithm
        if rule.SSEAlgorithm == "KMS":
            ET.SubElement(apply, "KMSMasterKeyID").text = rule.KMSMasterKeyID or ""
        if rule.KMSDataEncryption:
            ET.SubElement(apply, "KMSDataEncryption").text = rule.KMSDataEncryption
        return self.ok(request_id, to_xml(root))

    def put_bucket_encryption(self, request, route, region, body, request_id) -> Response:
        b = self.find_bucket(route.bucket, region)
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise oss_error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", 400) from None
        apply = root.find("ApplyServerSideEncryptionByDefault") if root.tag == "ServerSideEncryptionRule" else None
        algorithm = (apply.findtext("SSEAlgorithm") or "").strip() if apply is not None else ""
        if apply is None or not algorithm:
            raise oss_error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.", 400)
        if algorithm not in ("KMS", "AES256", "SM4"):
            raise invalid_argument("SSEAlgorithm", algorithm, "The encryption algorithm specified is not valid.")
        key_id = (apply.findtext("KMSMasterKeyID") or "").strip() or None
        data_enc = (apply.findtext("KMSDataEncryption") or "").strip() or None
        if key_id and algorithm != "KMS":
            raise invalid_argument("KMSMasterKeyID", key_id, "KMSMasterKeyID is only allowed when SSEAlgorithm is KMS.")
        b.ServerSideEncryptionRule = OssEncryptionRule(SSEAlgorithm=algorithm, KMSMasterKeyID=key_id, KMSDataEncryption=data_enc)
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
            if o.Key <= after:
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

    def _contents_xml(self, root, contents, prefixes, encode, with_owner=True):
        for o in contents:
            node = ET.SubElement(root, "Contents")
            ET.SubElement(node, "Key").text = encode(o.Key)
            ET.SubElement(node, "LastModified").text = iso_ms(o.LastModified)
            ET.SubElement(node, "ETag").text = f'"{etag_of(o)}"'
            ET.SubElement(node, "Type").text = "Normal"
            ET.SubElement(node, "Size").text = str(len(o.Content.encode("utf-8")))
            ET.SubElement(node, "StorageClass").text = "Standard"
            if with_owner:
                self.owner(node)
        for p in prefixes:
            ET.SubElement(ET.SubElement(root, "CommonPrefixes"), "Prefix").text = encode(p)

    def list_objects(self, request, route, region, body, request_id) -> Response:
        b, prefix, delimiter, max_keys, encoding, objects = self._listing(request, route, region)
        marker = request.args.get("marker", "")
        contents, prefixes, truncated, last = self._page(objects, marker, prefix, delimiter, max_keys)
        encode = (lambda s: quote(s, safe="")) if encoding == "url" else (lambda s: s)
        root = ET.Element("ListBucketResult")
        ET.SubElement(root, "Name").text = b.Name
        ET.SubElement(root, "Prefix").text = encode(prefix)
        ET.SubElement(root, "Marker").text = encode(marker)
        ET.SubElement(root, "MaxKeys").text = str(max_keys)
        ET.SubElement(root, "Delimiter").text = encode(delimiter)
        if encoding:
            ET.SubElement(root, "EncodingType").text = encoding
        ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
        if truncated:
            ET.SubElement(root, "NextMarker").text = encode(last)
        self._contents_xml(root, contents, prefixes, encode)
        return self.ok(request_id, to_xml(root))

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
        root = ET.Element("ListBucketResult")
        ET.SubElement(root, "Name").text = b.Name
        ET.SubElement(root, "Prefix").text = encode(prefix)
        if start_after:
            ET.SubElement(root, "StartAfter").text = encode(start_after)
        if token:
            ET.SubElement(root, "ContinuationToken").text = token
        ET.SubElement(root, "MaxKeys").text = str(max_keys)
        ET.SubElement(root, "Delimiter").text = encode(delimiter)
        if encoding:
            ET.SubElement(root, "EncodingType").text = encoding
        ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
        ET.SubElement(root, "KeyCount").text = str(len(contents) + len(prefixes))
        if truncated:
            ET.SubElement(root, "NextContinuationToken").text = base64.urlsafe_b64encode(last.encode()).decode()
        self._contents_xml(root, contents, prefixes, encode, with_owner=args.get("fetch-owner") == "true")
        return self.ok(request_id, to_xml(root))

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


def extranet_endpoint(b: OssBucket) -> str:
    return b.ExtranetEndpoint or f"{b.Location}.aliyuncs.com"


def intranet_endpoint(b: OssBucket) -> str:
    return b.IntranetEndpoint or f"{b.Location}-internal.aliyuncs.com"


# ---------------------------------------------------------------- signatures


_V2 = re.compile(r"^OSS2 AccessKeyId:(?P<ak>[^,]+)(?:,AdditionalHeaders:(?P<ah>[^,]*))?,Signature:(?P<sig>.+)$")
_V4 = re.compile(r"^OSS4-HMAC-SHA256 Credential=(?P<cred>[^,]+),\s*Signature=(?P<sig>[0-9a-f]+)(?:,\s*AdditionalHeaders=(?P<ah>[^,]*))?$")


def authenticate(request: Request, bucket: str, key: str, account, now):
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

    provider = StaticCredentialsProvider(credential.AccessKeyId, credential.AccessKeySecret, credential.SecurityToken)
    creds = provider.get_credentials()
    req = SimpleNamespace(method=request.method, headers=CaseInsensitiveDict(dict(request.headers.items())),
                          params={k: v for k, v in request.args.items()}, region=None, product="oss", cloudbox_id=None)
    if version == 1:
        signer = oss_auth.ProviderAuth(provider)
        expected = signer._ProviderAuth__make_signature(req, bucket, key, creds)
        string_to_sign = signer._ProviderAuth__get_bytes_to_sign(req, bucket, key)
    elif version == 2:
        extra = [h.lower() for h in (m["ah"] or "").split(";") if h]
        signer = oss_auth.ProviderAuthV2(provider)
        expected = signer._ProviderAuthV2__make_signature(req, bucket, key, extra, creds)
        string_to_sign = signer._ProviderAuthV2__get_bytes_to_sign(req, bucket, key, extra)
    else:
        parts = m["cred"].split("/")
        if len(parts) != 5 or parts[4] != "aliyun_v4_request":
            raise invalid_argument("Authorization", header, "Authorization header is invalid.")
        date_time = req.headers.get("x-oss-date", "")
        if not date_time or date_time[:8] != parts[1]:
            raise invalid_argument("x-oss-date", date_time, "The x-oss-date header does not match the credential scope date.")
        req.region, req.product = parts[2], parts[3]
        extra = [h.lower() for h in (m["ah"] or "").split(";") if h] or None
        signer = oss_auth.ProviderAuthV4(provider)
        expected = signer._ProviderAuthV4__make_signature(req, bucket, key, extra, creds, date_time)
        canonical = signer._ProviderAuthV4__get_canonical_request_bytes(req, bucket, key, extra)
        string_to_sign = signer._ProviderAuthV4__get_string_to_sign_bytes(req, canonical, date_time).encode()
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        text = string_to_sign.decode("utf-8", "replace") if isinstance(string_to_sign, bytes) else string_to_sign
        raise oss_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            403, StringToSign=text, SignatureProvided=provided, OSSAccessKeyId=ak,
        )
    return credential


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


def iso_ms(value: str | None) -> str:
    if not value:
        return DEFAULT_CREATION_DATE
    return parse_time(value).strftime(_ISO_MS)


def http_date(dt: datetime | None) -> str:
    dt = dt or datetime(2024, 1, 1, tzinfo=timezone.utc)
    return format_datetime(dt.astimezone(timezone.utc), usegmt=True)


def etag_of(obj: OssObject) -> str:
    return obj.ETag or hashlib.md5(obj.Content.encode("utf-8")).hexdigest().upper()


def crc64(data: bytes) -> int:
    c = Crc64(0)
    c.update(data)
    return c.crc


def replication_rule_xml(rule: OssReplicationRule) -> ET.Element:
    """A Rule element in the order of the GetBucketReplication doc sample."""
    node = ET.Element("Rule")
    if rule.RTC:
        ET.SubElement(ET.SubElement(node, "RTC"), "Status").text = rule.RTC.Status
    ET.SubElement(node, "ID").text = rule.ID
    if rule.PrefixSet:
        prefixes = ET.SubElement(node, "PrefixSet")
        for prefix in rule.PrefixSet.Prefix:
            ET.SubElement(prefixes, "Prefix").text = prefix
    ET.SubElement(node, "Action").text = rule.Action
    dest = ET.SubElement(node, "Destination")
    ET.SubElement(dest, "Bucket").text = rule.Destination.Bucket
    ET.SubElement(dest, "Location").text = rule.Destination.Location
    # The doc: TransferType is in the answer only when it is oss_acc.
    if rule.Destination.TransferType == "oss_acc":
        ET.SubElement(dest, "TransferType").text = rule.Destination.TransferType
    ET.SubElement(node, "Status").text = rule.Status
    ET.SubElement(node, "HistoricalObjectReplication").text = rule.HistoricalObjectReplication
    if rule.SyncRole:
        ET.SubElement(node, "SyncRole").text = rule.SyncRole
    if rule.SourceSelectionCriteria:
        sse = ET.SubElement(ET.SubElement(node, "SourceSelectionCriteria"), "SseKmsEncryptedObjects")
        ET.SubElement(sse, "Status").text = rule.SourceSelectionCriteria.SseKmsEncryptedObjects.Status
    if rule.EncryptionConfiguration:
        enc = ET.SubElement(node, "EncryptionConfiguration")
        ET.SubElement(enc, "ReplicaKmsKeyID").text = rule.EncryptionConfiguration.ReplicaKmsKeyID
    return node


def to_xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
