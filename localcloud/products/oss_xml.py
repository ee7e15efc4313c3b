"""The XML OSS speaks: the documents it answers (ListBuckets, GetBucketInfo, the bucket's encryption and
replication, ListObjects/ListObjectsV2, the `<Error>` body) and the one it reads here (PutBucketEncryption's
ServerSideEncryptionRule), element for element in the order of the API reference's samples, which is the
order oss2 is tested against.

Nothing here reads the account or the request: the front end (localcloud/products/oss.py) finds what to
answer and hands it over.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Callable

from localcloud import errors
from localcloud.clock import parse_time
from localcloud.products.oss_errors import invalid_argument, oss_error
from localcloud.products.oss_state import (OssBucket, OssEncryptionRule, OssObject, OssReplicationRule, etag_of, extranet_endpoint,
                                           intranet_endpoint)

DEFAULT_CREATION_DATE = "2024-01-01T00:00:00.000Z"
_ISO_MS = "%Y-%m-%dT%H:%M:%S.000Z"


def to_xml(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def iso_ms(value: str | None) -> str:
    if not value:
        return DEFAULT_CREATION_DATE
    return parse_time(value).strftime(_ISO_MS)


def owner(parent: ET.Element, account_id: str) -> None:
    node = ET.SubElement(parent, "Owner")
    ET.SubElement(node, "ID").text = account_id
    ET.SubElement(node, "DisplayName").text = account_id


# ---------------------------------------------------------------- errors


def error_document(err: errors.ApiError, request_id: str, host: str) -> bytes:
    """OSS's `<Error>`: Code, Message, RequestId, HostId, then the error's own elements."""
    root = ET.Element("Error")
    for tag, text in (("Code", err.code), ("Message", err.message), ("RequestId", request_id), ("HostId", host)):
        ET.SubElement(root, tag).text = text
    for tag, text in getattr(err, "extra", {}).items():
        ET.SubElement(root, tag).text = str(text)
    return to_xml(root)


# ---------------------------------------------------------------- service


def list_buckets_document(page: list[OssBucket], *, prefix: str, marker: str, max_keys: int, truncated: bool,
                          account_id: str) -> bytes:
    root = ET.Element("ListAllMyBucketsResult")
    ET.SubElement(root, "Prefix").text = prefix
    ET.SubElement(root, "Marker").text = marker
    ET.SubElement(root, "MaxKeys").text = str(max_keys)
    ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
    if truncated:
        ET.SubElement(root, "NextMarker").text = page[-1].Name
    owner(root, account_id)
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
    return to_xml(root)


# ---------------------------------------------------------------- bucket


def bucket_info_document(b: OssBucket, account_id: str) -> bytes:
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
    owner(node, account_id)
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
    return to_xml(root)


def location_document(b: OssBucket) -> bytes:
    root = ET.Element("LocationConstraint")
    root.text = b.Location
    return to_xml(root)


def encryption_document(rule: OssEncryptionRule) -> bytes:
    root = ET.Element("ServerSideEncryptionRule")
    apply = ET.SubElement(root, "ApplyServerSideEncryptionByDefault")
    ET.SubElement(apply, "SSEAlgorithm").text = rule.SSEAlgorithm
    if rule.SSEAlgorithm == "KMS":
        ET.SubElement(apply, "KMSMasterKeyID").text = rule.KMSMasterKeyID or ""
    if rule.KMSDataEncryption:
        ET.SubElement(apply, "KMSDataEncryption").text = rule.KMSDataEncryption
    return to_xml(root)


def read_encryption_rule(body: bytes) -> OssEncryptionRule:
    """PutBucketEncryption's ServerSideEncryptionRule, refused as OSS refuses a bad one (MalformedXML,
    InvalidArgument)."""
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
    return OssEncryptionRule(SSEAlgorithm=algorithm, KMSMasterKeyID=key_id, KMSDataEncryption=data_enc)


def replication_document(rules: list[OssReplicationRule]) -> bytes:
    root = ET.Element("ReplicationConfiguration")
    for rule in rules:
        root.append(replication_rule_xml(rule))
    return to_xml(root)


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


# ---------------------------------------------------------------- objects


def list_objects_document(bucket: str, contents: list[OssObject], prefixes: list[str], *, prefix: str, marker: str,
                          max_keys: int, delimiter: str, encoding: str, truncated: bool, next_marker: str,
                          encode: Callable[[str], str], account_id: str) -> bytes:
    """ListObjects (v1): Marker/NextMarker paging."""
    root = ET.Element("ListBucketResult")
    ET.SubElement(root, "Name").text = bucket
    ET.SubElement(root, "Prefix").text = encode(prefix)
    ET.SubElement(root, "Marker").text = encode(marker)
    ET.SubElement(root, "MaxKeys").text = str(max_keys)
    ET.SubElement(root, "Delimiter").text = encode(delimiter)
    if encoding:
        ET.SubElement(root, "EncodingType").text = encoding
    ET.SubElement(root, "IsTruncated").text = "true" if truncated else "false"
    if truncated:
        ET.SubElement(root, "NextMarker").text = encode(next_marker)
    _contents(root, contents, prefixes, encode, account_id)
    return to_xml(root)


def list_objects_v2_document(bucket: str, contents: list[OssObject], prefixes: list[str], *, prefix: str, start_after: str,
                             token: str, max_keys: int, delimiter: str, encoding: str, truncated: bool,
                             next_token: str | None, encode: Callable[[str], str], account_id: str | None) -> bytes:
    """ListObjectsV2: continuation-token paging; the objects' owners only when asked (`account_id`)."""
    root = ET.Element("ListBucketResult")
    ET.SubElement(root, "Name").text = bucket
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
        ET.SubElement(root, "NextContinuationToken").text = next_token
    _contents(root, contents, prefixes, encode, account_id)
    return to_xml(root)


def _contents(root: ET.Element, contents: list[OssObject], prefixes: list[str], encode: Callable[[str], str],
              account_id: str | None) -> None:
    """A listing's Contents, each with its Owner when `account_id` is given, then its CommonPrefixes."""
    for o in contents:
        node = ET.SubElement(root, "Contents")
        ET.SubElement(node, "Key").text = encode(o.Key)
        ET.SubElement(node, "LastModified").text = iso_ms(o.LastModified)
        ET.SubElement(node, "ETag").text = f'"{etag_of(o)}"'
        ET.SubElement(node, "Type").text = "Normal"
        ET.SubElement(node, "Size").text = str(len(o.Content.encode("utf-8")))
        ET.SubElement(node, "StorageClass").text = "Standard"
        if account_id is not None:
            owner(node, account_id)
    for p in prefixes:
        ET.SubElement(ET.SubElement(root, "CommonPrefixes"), "Prefix").text = encode(p)
