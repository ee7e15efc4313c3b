"""Secrets Manager (KMS 2016-01-20): ListSecrets and DescribeSecret, the two calls the audit needs.

ListSecrets pages by PageNumber/PageSize (1-100, TotalCount) and takes Filters (a JSON array of
{"Key", "Values"}; keys ANDed, values ORed) but carries no encryption key: DescribeSecret does
(`EncryptionKeyId`), one secret at a time (dependency-apis.md §1). A missing secret answers
Forbidden.ResourceNotFound 404. Secrets live in a region, like keys: the KMS endpoint is regional.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from alibabacloud_kms20160120 import models as m
from pydantic import field_validator

from localcloud import errors
from localcloud.products.base import Call, api, paginate_numbers
from localcloud.records import Record, _iso, _sdk

# ListSecrets filter keys and the record field each one reads (SDK 3.3.1 docstring); tag filters
# read the secret's tags.
_FILTER_FIELDS = {"SecretName": "SecretName", "Description": "Description", "DKMSInstanceId": "DKMSInstanceId",
                  "SecretType": "SecretType", "Creator": "Creator"}


class KmsSecretTag(Record):
    TagKey: str
    TagValue: str = ""
    extra_fields: ClassVar[frozenset] = frozenset()


class KmsSecret(Record):
    """A secret's metadata as DescribeSecret returns it (never its value), plus RegionId."""

    sdk_model: ClassVar[Any] = _sdk("alibabacloud_kms20160120.models", "DescribeSecretResponseBody")
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "Creator"})

    SecretName: str
    RegionId: str
    SecretType: Literal["Generic", "Rds", "RAMCredentials", "ECS", "Redis", "PolarDB"] = "Generic"
    # The key that encrypts the secret's values; without one, Secrets Manager uses its own service key.
    EncryptionKeyId: Optional[str] = None
    AutomaticRotation: Literal["Enabled", "Disabled", "Invalid"] = "Disabled"
    PlannedDeleteTime: Optional[str] = None
    CreateTime: Optional[str] = None
    Tags: list[KmsSecretTag] = []

    _check_dates = field_validator("PlannedDeleteTime", "CreateTime")(classmethod(lambda cls, v: _iso(v)))


def _secret_not_found(name: str) -> errors.ApiError:
    return errors.ApiError("Forbidden.ResourceNotFound", f"Resource not found. ({name})", 404)


class SecretsManager:
    """The Secrets Manager APIs of the KMS product (mixed into localcloud.products.kms.Kms)."""

    def _secrets_here(self, call: Call) -> list[KmsSecret]:
        return [s for s in self.account.kms.secrets if s.RegionId == call.region]

    def _secret_arn(self, secret: KmsSecret) -> str:
        return f"acs:kms:{secret.RegionId}:{self.account.account_id}:secret/{secret.SecretName}"

    @api("ListSecrets")
    def list_secrets(self, call: Call) -> dict:
        secrets = self._secrets_here(call)
        filters = call.json("Filters") or []
        if not isinstance(filters, list):
            raise errors.invalid_parameter("Filters", 'Expected [{"Key": ..., "Values": [...]}].')
        for flt in filters:
            key, values = (flt or {}).get("Key"), (flt or {}).get("Values") or []
            if key in _FILTER_FIELDS:
                secrets = [s for s in secrets if getattr(s, _FILTER_FIELDS[key], None) in values
                           or (s.model_extra or {}).get(_FILTER_FIELDS[key]) in values]
            elif key == "TagKey":
                secrets = [s for s in secrets if any(t.TagKey in values for t in s.Tags)]
            elif key == "TagValue":
                secrets = [s for s in secrets if any(t.TagValue in values for t in s.Tags)]
            else:
                raise errors.invalid_parameter("Filters", f"Unsupported filter key {key!r}.")
        fetch_tags = (call.get("FetchTags") or "false").lower() == "true"
        page, total, number, size = paginate_numbers(secrets, call, default_size=10, max_size=100)
        items = []
        for s in page:
            item = {k: v for k, v in s.wire().items() if k in ("SecretName", "SecretType", "CreateTime", "UpdateTime",
                                                               "PlannedDeleteTime", "OwingService")}
            if fetch_tags:
                item["Tags"] = {"Tag": [t.wire() for t in s.Tags]}
            items.append(m.ListSecretsResponseBodySecretListSecret().from_map(item))
        return m.ListSecretsResponseBody(secret_list=m.ListSecretsResponseBodySecretList(secret=items), page_number=number,
                                         page_size=size, total_count=total).to_map()

    @api("DescribeSecret")
    def describe_secret(self, call: Call) -> dict:
        name = call.require("SecretName")
        secret = next((s for s in self._secrets_here(call) if s.SecretName == name), None)
        if secret is None:
            raise _secret_not_found(name)
        call.refer("ACS::KMS::Secret", secret.SecretName)
        data = secret.wire()
        data.pop("RegionId", None)
        data.pop("Creator", None)
        tags = data.pop("Tags", [])
        data.setdefault("Arn", self._secret_arn(secret))
        if (call.get("FetchTags") or "false").lower() == "true":
            data["Tags"] = {"Tag": tags}
        return m.DescribeSecretResponseBody().from_map(data).to_map()
