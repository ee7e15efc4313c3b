"""KMS 2016-01-20: keys, aliases, tags, deletion protection and the key state machine.

State transitions and their refusals follow the key-state x API matrix (doc 44211, AlibabaCloudDocs/kms
`cn.zh-CN/API参考/用户主密钥的状态对API调用的影响.md`); every refusal there is HTTP 409. A pending deletion
completes when the clock passes DeleteDate: the key is gone and KeyNotFound from then on.

Keys with imported material (Origin EXTERNAL) start in PendingImport; GetParametersForImport,
ImportKeyMaterial and DeleteKeyMaterial live with the cryptography (localcloud/products/kms_crypto.py).

SetDeletionProtection (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-setdeletionprotection;
AlibabaCloudDocs/kms `cn.zh-CN/API参考/密钥/SetDeletionProtection.md`) names the key by ProtectedResourceArn, "the ARN
of the CMK" (`acs:kms:<region>:<account>:key/<key id>`, as DescribeKey's Arn); the current doc also lists an
optional KeyId (a key id), which is accepted when no ARN is given. A bare key id or an alias in
ProtectedResourceArn is refused with InvalidParameter (400; UNCONFIRMED code), an ARN of another account or
region with Forbidden.KeyNotFound (UNCONFIRMED). The doc says the key must not be PendingDeletion; the refusal
answered is Rejected.PendingDeletion, 409 (UNCONFIRMED code: the state matrix has no row for it).

Which names of a key each API takes (`find(..., accepts=...)`), as each API's KeyId is documented (the API
reference pages, whose parameter text alibabacloud-kms20160120 3.3.1's request models carry verbatim;
AlibabaCloudDocs/kms `cn.zh-CN/API参考/密钥/*.md`):
- the key id only ("The ID of the CMK", "The globally unique ID of the CMK"): ScheduleKeyDeletion,
  CancelKeyDeletion, EnableKey, DisableKey, ListResourceTags, ListAliasesByKeyId, TagResource,
  UpdateRotationPolicy, GetParametersForImport, ImportKeyMaterial, DeleteKeyMaterial, SetDeletionProtection's
  KeyId, ReEncrypt's DestinationKeyId ("The ID of the symmetric master key"). An alias or an ARN is refused
  as the key it does not name: Forbidden.KeyNotFound, 404 (the not-found error these pages list, e.g.
  ScheduleKeyDeletion's; UNCONFIRMED that an alias meets exactly this). ListAliasesByKeyId's older page
  (https://www.alibabacloud.com/help/doc-detail/68628.html) also took the key ARN (for another account's key);
  the current one (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-listaliasesbykeyid)
  names only the id, which is what is emulated (UNCONFIRMED which the service follows today).
- the id or an alias bound to it: ListKeyVersions, DescribeKeyVersion, GenerateDataKeyWithoutPlaintext.
- the id, an alias or the key ARN: DescribeKey ("the ID, alias, or ARN of the key",
  https://www.alibabacloud.com/help/doc-detail/28952.htm; the mirror and the SDK name the id and the alias),
  Encrypt and GenerateDataKey ("You can also specify the alias or ARN of the key").
Decrypt names no key: the blob does. TagResource given SecretName instead of KeyId ("You can configure only one of
the KeyId, SecretName, and CertificateId parameters", API reference, TagResource) tags a secret: kms_secret_values.py,
which also serves UntagResource.
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from alibabacloud_kms20160120 import models as m

from localcloud import errors
from localcloud.clock import iso, parse_time
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.products.kms_crypto import KmsCrypto
from localcloud.products.kms_policies import KmsPolicies
from localcloud.products.kms_secrets import SecretsManager
from localcloud.products.kms_secret_values import SecretValues
from localcloud.products.kms_state import KmsKey, KmsTag

STATE_REFUSED = "Rejected.StateModifiedFailed"
KEY_ARN = re.compile(r"acs:kms:([a-z0-9-]+):(\d+):key/([A-Za-z0-9-]+)")
# A key's ARN or an alias's (acs:kms:<region>:<account>:alias/<name>).
ANY_ARN = re.compile(r"acs:kms:(?P<region>[a-z0-9-]*):(?P<account>\d*):(?:key/(?P<key>[A-Za-z0-9_-]+)|(?P<alias>alias/[A-Za-z0-9_/-]+))")
ORIGINS = ("Aliyun_KMS", "EXTERNAL")  # CreateKey's Origin values (KeyMetadata Origin: Aliyun_KMS / EXTERNAL)
# The names of a key an API's KeyId takes (module docstring).
KEY_ID = frozenset({"id"})
ID_OR_ALIAS = frozenset({"id", "alias"})
ID_ALIAS_OR_ARN = frozenset({"id", "alias", "arn"})


# ListKeys' Filters keys (ListKeys API reference, https://www.alibabacloud.com/help/en/kms/support/api-kms-listkeys):
# KeyState, KeySpec, KeyUsage, ProtectionLevel, CreatorType (User | Service), DKMSInstanceId.
KEY_FILTERS = ("KeyState", "KeySpec", "KeyUsage", "ProtectionLevel", "CreatorType", "DKMSInstanceId")
# What a key field reads as when the account file leaves it out (CreateKey's defaults).
_KEY_FIELD_DEFAULTS = {"KeySpec": "Aliyun_AES_256", "KeyUsage": "ENCRYPT/DECRYPT", "ProtectionLevel": "SOFTWARE"}


def _key_filter_value(key: KmsKey, name: str):
    """The value a ListKeys filter compares. CreatorType is not a DescribeKey field: a key whose Creator is an account
    id (digits, or none given) is a User key, any other Creator (a cloud service's name) a Service key (UNCONFIRMED:
    no doc shows a service key's Creator; service keys carry alias/acs/<service> aliases, "Manage a key alias",
    https://www.alibabacloud.com/help/en/kms/user-guide/manage-a-key-alias)."""
    if name == "CreatorType":
        creator = str(getattr(key, "Creator", None) or "")
        return "User" if not creator or creator.isdigit() else "Service"
    return getattr(key, name, None) or _KEY_FIELD_DEFAULTS.get(name)


def key_not_found(key: str) -> errors.ApiError:
    return errors.ApiError("Forbidden.KeyNotFound", f"The specified Key is not found. ({key})", 404)


def _refuse(code: str, key: KmsKey) -> errors.ApiError:
    return errors.ApiError(code, f"The request is rejected in the current key state {key.KeyState}.", 409)


class Kms(KmsCrypto, SecretsManager, SecretValues, KmsPolicies, RpcProduct):
    code = "kms"
    service_name = "Kms"
    version = "2016-01-20"
    endpoint_prefix = "kms"
    regional_param = None  # KMS is addressed by its regional endpoint only

    def __init__(self, cloud):
        # Keys this local cloud deleted when the clock passed their DeleteDate, by key id.
        self.deletions_completed: dict[str, dict] = {}
        super().__init__(cloud)

    # ------------------------------------------------------------ helpers

    def arn(self, key: KmsKey) -> str:
        return f"acs:kms:{key.RegionId}:{self.account.account_id}:key/{key.KeyId}"

    def expire_pending(self) -> None:
        """Complete every pending deletion whose DeleteDate the clock has passed. What was deleted is kept in
        `deletions_completed` (the API answers KeyNotFound, as the cloud does; the operator's tools can say why)."""
        now = self.cloud.clock.now()
        keys = self.account.kms.keys
        gone = [k for k in keys if k.KeyState == "PendingDeletion" and k.DeleteDate and parse_time(k.DeleteDate) <= now]
        if gone:
            ids = {k.KeyId for k in gone}
            for key in gone:
                aliases = [a.AliasName for a in self.account.kms.aliases if a.KeyId == key.KeyId]
                self.deletions_completed[key.KeyId] = {"KeyId": key.KeyId, "RegionId": key.RegionId, "DeleteDate": key.DeleteDate,
                                                       "Aliases": aliases, "Arn": self.arn(key)}
            self.account.kms.keys = [k for k in keys if k.KeyId not in ids]
            self.account.kms.aliases = [a for a in self.account.kms.aliases if a.KeyId not in ids]

    def deletion_completed(self, ref: str, region: str) -> dict | None:
        """The completed deletion of the key `ref` (id, ARN, alias or alias ARN) names in `region`, or None:
        {KeyId, RegionId, DeleteDate, Aliases, Arn}. The pending deletions the clock has passed are completed first."""
        with self.account.lock:
            self.expire_pending()
        match = ANY_ARN.fullmatch(ref)
        if match:
            region, ref = match["region"] or region, match["key"] or match["alias"]
        for deleted in self.deletions_completed.values():
            if deleted["RegionId"] == region and (ref == deleted["KeyId"] or ref in deleted["Aliases"]):
                return deleted
        return None

    def find(self, call: Call, ref: str, accepts: frozenset = KEY_ID) -> KmsKey:
        """A key in the call's region by the names `accepts` allows: its id (KEY_ID, what most KMS APIs
        document), an alias bound to it ("alias"), its ARN ("arn"). A name the API does not take names no key:
        KeyNotFound (module docstring). An ARN naming another region or account names no key here:
        KeyNotFound, never the key of the same id in this region."""
        self.expire_pending()
        key_id = ref
        if ref.startswith("acs:kms:"):
            match = ANY_ARN.fullmatch(ref)
            if "arn" not in accepts or match is None or match["region"] != call.region or match["account"] != self.account.account_id:
                raise key_not_found(ref)
            key_id = match["key"] or match["alias"]
        elif ref.startswith("alias/") and "alias" not in accepts:
            raise key_not_found(ref)
        if key_id.startswith("alias/"):
            alias = next((a for a in self.account.kms.aliases if a.AliasName == key_id and a.RegionId == call.region), None)
            if alias is None:
                raise errors.ApiError("Forbidden.AliasNotFound", f"The specified Alias is not found. ({ref})", 404)
            key_id = alias.KeyId
        key = next((k for k in self.account.kms.keys if k.KeyId == key_id and k.RegionId == call.region), None)
        if key is None:
            raise key_not_found(ref)
        self.expire_material(key)
        self.rotate_due(key)
        call.refer("ACS::KMS::Key", key.KeyId)
        return key

    def metadata(self, key: KmsKey) -> dict:
        data = key.wire()
        data.pop("RegionId", None)
        data.pop("Tags", None)
        data.pop("KeyVersions", None)
        data.pop("Policy", None)  # GetKeyPolicy's, not DescribeKey's
        data.setdefault("Arn", self.arn(key))
        data.setdefault("PrimaryKeyVersion", self.primary_version(key))
        if key.KeyState != "PendingDeletion":
            data.pop("DeleteDate", None)
        return data

    # ------------------------------------------------------------ reads

    @api("ListKeys")
    def list_keys(self, call: Call) -> dict:
        self.expire_pending()
        keys = [k for k in self.account.kms.keys if k.RegionId == call.region]
        for flt in call.json("Filters") or []:
            if not isinstance(flt, dict) or flt.get("Key") not in KEY_FILTERS:
                raise errors.invalid_parameter("Filters", f"Expected [{{\"Key\": one of {', '.join(KEY_FILTERS)}, \"Values\": [...]}}].")
            values = flt.get("Values") or []
            keys = [k for k in keys if _key_filter_value(k, flt["Key"]) in values]
        page, total, number, size = paginate_numbers(keys, call, default_size=10, max_size=100)
        body = m.ListKeysResponseBody(
            keys=m.ListKeysResponseBodyKeys(key=[m.ListKeysResponseBodyKeysKey(key_id=k.KeyId, key_arn=self.arn(k)) for k in page]),
            page_number=number, page_size=size, total_count=total,
        )
        return body.to_map()

    @api("DescribeKey")
    def describe_key(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), ID_ALIAS_OR_ARN)
        meta = m.DescribeKeyResponseBodyKeyMetadata().from_map(self.metadata(key))
        return m.DescribeKeyResponseBody(key_metadata=meta).to_map()

    @api("ListAliasesByKeyId")
    def list_aliases_by_key_id(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        aliases = [a for a in self.account.kms.aliases if a.KeyId == key.KeyId]
        page, total, number, size = paginate_numbers(aliases, call, default_size=10, max_size=100)
        items = [
            m.ListAliasesByKeyIdResponseBodyAliasesAlias(
                alias_name=a.AliasName, key_id=a.KeyId,
                alias_arn=f"acs:kms:{a.RegionId}:{self.account.account_id}:{a.AliasName}",
            )
            for a in page
        ]
        return m.ListAliasesByKeyIdResponseBody(
            aliases=m.ListAliasesByKeyIdResponseBodyAliases(alias=items), page_number=number, page_size=size, total_count=total,
        ).to_map()

    @api("ListResourceTags")
    def list_resource_tags(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        tags = [m.ListResourceTagsResponseBodyTagsTag(key_id=key.KeyId, tag_key=t.TagKey, tag_value=t.TagValue) for t in key.Tags]
        return m.ListResourceTagsResponseBody(tags=m.ListResourceTagsResponseBodyTags(tag=tags)).to_map()

    # ------------------------------------------------------------ writes

    @api("TagResource", write=True)
    def tag_resource(self, call: Call) -> dict:
        if call.get("SecretName") is not None:  # one of KeyId, SecretName, CertificateId (kms_secret_values.py)
            return self.tag_secret(call)
        key = self.find(call, call.require("KeyId"), KEY_ID)
        if key.KeyState == "PendingDeletion":
            raise _refuse("Rejected.PendingDeletion", key)
        tags = call.json("Tags") or []
        for tag in tags:
            if not isinstance(tag, dict) or "TagKey" not in tag:
                raise errors.invalid_parameter("Tags", 'Expected [{"TagKey": ..., "TagValue": ...}].')
            key.Tags = [t for t in key.Tags if t.TagKey != tag["TagKey"]] + [KmsTag(TagKey=tag["TagKey"], TagValue=tag.get("TagValue", ""))]
        return m.TagResourceResponseBody().to_map()

    @api("ScheduleKeyDeletion", write=True)
    def schedule_key_deletion(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        days = call.int("PendingWindowInDays")
        if days is None:
            raise errors.missing_parameter("PendingWindowInDays")
        if not 7 <= days <= 366:
            raise errors.invalid_parameter("PendingWindowInDays", "It must be between 7 and 366.")
        if key.KeyState not in ("Enabled", "Disabled", "PendingImport"):
            raise _refuse(STATE_REFUSED, key)
        if key.DeletionProtection == "Enabled":
            # The exact code for a protected key is not published (UNCONFIRMED); the docs only say
            # protection must be disabled first. 409 with a DeletionProtection code, as callers expect.
            raise errors.ApiError(
                "Rejected.DeletionProtection",
                "The key has deletion protection enabled; disable deletion protection before scheduling its deletion.",
                409,
            )
        key.KeyState = "PendingDeletion"
        key.DeleteDate = iso(call.now + timedelta(days=days))
        return m.ScheduleKeyDeletionResponseBody().to_map()

    @api("CancelKeyDeletion", write=True)
    def cancel_key_deletion(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        if key.KeyState != "PendingDeletion":
            raise _refuse(STATE_REFUSED, key)
        # A cancelled key comes back Enabled (the KMS console and docs: "the key returns to the Enabled state");
        # an EXTERNAL key whose material was deleted comes back PendingImport (UNCONFIRMED, as AWS KMS does).
        key.KeyState = "Enabled" if self.has_material(key) else "PendingImport"
        key.DeleteDate = None
        return m.CancelKeyDeletionResponseBody().to_map()

    @api("DisableKey", write=True)
    def disable_key(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        if key.KeyState not in ("Enabled", "Disabled"):
            raise _refuse(STATE_REFUSED, key)
        key.KeyState = "Disabled"
        return m.DisableKeyResponseBody().to_map()

    @api("EnableKey", write=True)
    def enable_key(self, call: Call) -> dict:
        key = self.find(call, call.require("KeyId"), KEY_ID)
        if key.KeyState not in ("Enabled", "Disabled"):
            raise _refuse(STATE_REFUSED, key)
        key.KeyState = "Enabled"
        return m.EnableKeyResponseBody().to_map()

    @api("SetDeletionProtection", write=True)
    def set_deletion_protection(self, call: Call) -> dict:
        arn = call.get("ProtectedResourceArn")
        ref = call.get("KeyId")
        if arn is not None:
            match = KEY_ARN.fullmatch(arn)
            if match is None:
                raise errors.invalid_parameter("ProtectedResourceArn", "It must be the key's ARN, acs:kms:<region>:<account>:key/<key id> "
                                                                       "(DescribeKey's Arn), not a key id or an alias.")
            if (match[1], match[2]) != (call.region, self.account.account_id):
                raise key_not_found(arn)
            ref = match[3]
        if ref is None:
            raise errors.missing_parameter("ProtectedResourceArn")
        enable = call.bool("EnableDeletionProtection")
        if enable is None:
            raise errors.missing_parameter("EnableDeletionProtection")
        key = self.find(call, ref, KEY_ID)  # KeyId: "The ID of the key"; an ARN was reduced to its id above
        if key.KeyState == "PendingDeletion":
            raise _refuse("Rejected.PendingDeletion", key)
        key.DeletionProtection = "Enabled" if enable else "Disabled"
        key.DeletionProtectionDescription = call.get("DeletionProtectionDescription") if enable else None
        return m.SetDeletionProtectionResponseBody().to_map()

    @api("CreateKey", write=True)
    def create_key(self, call: Call) -> dict:
        origin = call.get("Origin", "Aliyun_KMS")
        if origin not in ORIGINS:
            raise errors.invalid_parameter("Origin", f"It must be one of {', '.join(ORIGINS)}.")
        # An EXTERNAL key is made without material and waits in PendingImport (doc 44211; import guide,
        # https://www.alibabacloud.com/help/en/kms/key-management-service/support/import-key-material).
        key = KmsKey(
            KeyId=str(uuid.uuid4()), RegionId=call.region, KeyState="PendingImport" if origin == "EXTERNAL" else "Enabled",
            CreationDate=iso(call.now), Creator=self.account.account_id, Description=call.get("Description", ""),
            KeySpec=call.get("KeySpec", "Aliyun_AES_256"), KeyUsage=call.get("KeyUsage", "ENCRYPT/DECRYPT"), Origin=origin,
            ProtectionLevel=call.get("ProtectionLevel", "SOFTWARE"), AutomaticRotation="Disabled",
        )
        if origin == "EXTERNAL":
            self._materials[key.KeyId] = None
        self.account.kms.keys.append(key)
        call.refer("ACS::KMS::Key", key.KeyId)
        return m.CreateKeyResponseBody(key_metadata=m.CreateKeyResponseBodyKeyMetadata().from_map(self.metadata(key))).to_map()
