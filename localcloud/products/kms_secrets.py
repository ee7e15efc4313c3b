"""Secrets Manager (KMS 2016-01-20): ListSecrets and DescribeSecret, the two calls the audit needs (the values,
their versions, deletion and restore are in kms_secret_values.py).

ListSecrets pages by PageNumber/PageSize (PageSize 1-100, default 10; PageNumber from 1) with
TotalCount, and takes Filters: a JSON array of at most 10 {"Key", "Values"} pairs (at most 10 values
each); different keys are ANDed, the values of one key ORed (SDK 3.3.1 docstring). Its items carry
no encryption key, and no filter names one: DescribeSecret does (`EncryptionKeyId`), one secret at a
time (dependency-apis.md §1). A missing secret answers Forbidden.ResourceNotFound 404.

Secrets live in a region, like keys: KMS is addressed by its regional endpoint, so the endpoint's
region is the secret's. A secret whose PlannedDeleteTime the clock has passed is gone, as a key past
its DeleteDate is.
"""
from __future__ import annotations

from alibabacloud_kms20160120 import models as m

from localcloud import errors
from localcloud.clock import parse_time
from localcloud.products.base import Call, api, paginate_numbers
from localcloud.products.kms_state import KmsSecret
from localcloud.records import find, sdk_wire_names

_DESCRIBE = m.DescribeSecretResponseBody
_LIST_ITEM = m.ListSecretsResponseBodySecretListSecret
MAX_FILTERS = 10  # pairs per Filters, and values per pair (SDK docstring)
# ListSecrets filter keys that name a field of the secret (TagKey/TagValue read its tags). Matching is
# exact: whether SecretName/Description match by substring is UNCONFIRMED.
_FIELD_FILTERS = frozenset({"SecretName", "Description", "DKMSInstanceId", "SecretType", "Creator"})


def _due(secret: KmsSecret, now) -> bool:
    return bool(secret.PlannedDeleteTime) and parse_time(secret.PlannedDeleteTime) <= now


def _secret_not_found(name: str) -> errors.ApiError:
    return errors.ApiError("Forbidden.ResourceNotFound", f"Resource not found. ({name})", 404)


def _filters(call: Call) -> list[tuple[str, list]]:
    raw = call.json("Filters") or []
    shape = 'Expected at most 10 [{"Key": ..., "Values": [...]}] with at most 10 values each.'
    if not isinstance(raw, list) or len(raw) > MAX_FILTERS:
        raise errors.invalid_parameter("Filters", shape)
    pairs = []
    for flt in raw:
        if not isinstance(flt, dict):
            raise errors.invalid_parameter("Filters", shape)
        key, values = flt.get("Key"), flt.get("Values")
        if not isinstance(values, list) or len(values) > MAX_FILTERS:
            raise errors.invalid_parameter("Filters", shape)
        if key not in _FIELD_FILTERS and key not in ("TagKey", "TagValue"):
            raise errors.invalid_parameter("Filters", f"Unsupported filter key {key!r}.")
        pairs.append((key, values))
    return pairs


class SecretsManager:
    """The Secrets Manager APIs of the KMS product (mixed into localcloud.products.kms.Kms)."""

    def _secrets_here(self, call: Call) -> list[KmsSecret]:
        """The region's secrets, once those whose deletion fell due are gone (as a key past its DeleteDate)."""
        now = call.now
        if any(_due(s, now) for s in self.account.kms.secrets):
            self.account.kms.secrets = [s for s in self.account.kms.secrets if not _due(s, now)]
        return [s for s in self.account.kms.secrets if s.RegionId == call.region]

    def _secret_arn(self, secret: KmsSecret) -> str:
        return f"acs:kms:{secret.RegionId}:{self.account.account_id}:secret/{secret.SecretName}"

    def _find_secret(self, call: Call, ref: str) -> KmsSecret:
        """A secret by name or ARN (acs:kms:<region>:<account>:secret/<name>) in the call's region."""
        name = ref.split(":secret/", 1)[1] if ref.startswith("acs:kms:") and ":secret/" in ref else ref
        found = find(self.account.kms.secrets, RegionId=call.region, SecretName=name)
        if found is not None and _due(found, call.now):
            self.account.kms.secrets = [s for s in self.account.kms.secrets if s is not found]
            found = None
        if found is None or (name != ref and ref != self._secret_arn(found)):
            raise _secret_not_found(ref)
        return found

    @api("ListSecrets")
    def list_secrets(self, call: Call) -> dict:
        secrets = self._secrets_here(call)
        for key, values in _filters(call):
            secrets = [s for s in secrets if s.matches(key, values)]
        fetch_tags = call.bool("FetchTags", False)
        page, total, number, size = paginate_numbers(secrets, call, default_size=10, max_size=100)
        listed = sdk_wire_names(_LIST_ITEM) - {"Tags"}
        items = []
        for s in page:
            wire = s.wire()
            item = {k: v for k, v in wire.items() if k in listed}
            if fetch_tags:
                item["Tags"] = {"Tag": wire.get("Tags", [])}
            items.append(_LIST_ITEM().from_map(item))
        return m.ListSecretsResponseBody(secret_list=m.ListSecretsResponseBodySecretList(secret=items), page_number=number,
                                         page_size=size, total_count=total).to_map()

    @api("DescribeSecret")
    def describe_secret(self, call: Call) -> dict:
        secret = self._find_secret(call, call.require("SecretName"))
        call.refer("ACS::KMS::Secret", secret.SecretName)
        wire = secret.wire()
        data = {k: v for k, v in wire.items() if k in sdk_wire_names(_DESCRIBE) - {"Tags"}}
        data.setdefault("Arn", self._secret_arn(secret))
        if call.bool("FetchTags", False):
            data["Tags"] = {"Tag": wire.get("Tags", [])}
        return _DESCRIBE().from_map(data).to_map()
