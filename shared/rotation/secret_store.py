"""Secrets Manager, as rotation uses it: every call through `Clients.call` (counted, paced, retried when
transient), with the official SDK's models (alibabacloud_kms20160120, KMS API 2016-01-20).

Writes and their retries:
- PutSecretValue is idempotent per VersionId: "If you call PutSecretValue with the same VersionId and the
  same SecretData, the request succeeds" and a different SecretData under that VersionId is refused
  (API reference, PutSecretValue:
  https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-putsecretvalue),
  so it is retried like a read: a retry after a lost answer stores nothing twice.
- UpdateSecretVersionStage is retried only when it provably did not run (`write=True`); the step that
  calls it re-reads the stages on its next run rather than repeating it blindly.
- GetRandomPassword writes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from alibabacloud_kms20160120 import models as kms

from shared.clients import Clients, describe_error, error_code, is_not_found
from shared.rotation.errors import Redactor, RotationRefused, StepFailed
from shared.rotation.protocol import ACS_CURRENT, PENDING_STAGE

# PutSecretValue's answer to another SecretData under an existing VersionId ("resource already exists").
VERSION_TAKEN = "Rejected.ResourceExist"
PAGE_SIZE = 100  # ListSecrets and ListSecretVersionIds: PageSize 1-100 (API reference)
# Passwords a connection string takes as is: Alibaba's template asks GetRandomPassword with ExcludePunctuation,
# and 32 characters of letters and digits (about 190 bits) is what it returns by default (API reference,
# GetRandomPassword: PasswordLength 8-128, default 32).
PASSWORD_LENGTH = 32


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    stages: frozenset[str]
    create_time: str | None = None

    def created_at(self) -> datetime | None:
        return parse_time(self.create_time)


@dataclass(frozen=True)
class SecretInfo:
    name: str
    secret_type: str
    tags: dict[str, str] = field(default_factory=dict)


class VersionTaken(RotationRefused):
    """PutSecretValue refused the value: the VersionId already holds another one."""


def parse_time(text: str | None) -> datetime | None:
    """Secrets Manager's times (2024-01-01T00:00:00Z, or with an offset); None when absent or unreadable."""
    if not text:
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _tags(tags_model) -> dict[str, str]:
    items = getattr(tags_model, "tag", None) or []
    return {t.tag_key: t.tag_value or "" for t in items if t.tag_key}


class SecretStore:
    def __init__(self, clients: Clients, region: str, redactor: Redactor):
        self.clients = clients
        self.region = region
        self.redactor = redactor
        # A version's value is written once (PutSecretValue refuses another value under the same VersionId), so a
        # value read by VersionId is read once per run. Reads by stage are never cached: stages move.
        self._by_version: dict[tuple[str, str], str] = {}

    def _kms(self):
        return self.clients.kms(self.region)

    def _failed(self, step: str, doing: str, exc: Exception) -> StepFailed:
        return StepFailed(step, self.redactor.reason(f"{doing}: {describe_error(exc)}"))

    # ------------------------------------------------------------ metadata

    def describe(self, name: str, step: str = "plan") -> SecretInfo:
        try:
            body = self.clients.call("kms:DescribeSecret", self._kms().describe_secret,
                                     kms.DescribeSecretRequest(secret_name=name, fetch_tags="true")).body
        except Exception as exc:
            if is_not_found(exc):
                raise RotationRefused(step, f"secret {name!r} not found in {self.region}") from None
            raise self._failed(step, "DescribeSecret", exc) from None
        return SecretInfo(body.secret_name or name, body.secret_type or "", _tags(body.tags))

    def versions(self, name: str, step: str, *, include_deprecated: bool = False) -> list[SecretVersion]:
        """Every version holding a stage; with `include_deprecated`, also the versions that hold none and are
        still kept (ListSecretVersionIds, IncludeDeprecated)."""
        out: list[SecretVersion] = []
        page = 1
        while True:
            try:
                body = self.clients.call("kms:ListSecretVersionIds", self._kms().list_secret_version_ids,
                                         kms.ListSecretVersionIdsRequest(secret_name=name, page_number=page,
                                                                         include_deprecated="true" if include_deprecated else None,
                                                                         page_size=PAGE_SIZE)).body
            except Exception as exc:
                raise self._failed(step, "ListSecretVersionIds", exc) from None
            items = (body.version_ids.version_id if body.version_ids else None) or []
            for item in items:
                stages = frozenset((item.version_stages.version_stage if item.version_stages else None) or [])
                out.append(SecretVersion(item.version_id, stages, item.create_time))
            total = body.total_count or 0
            if not items or page * PAGE_SIZE >= total:
                return out
            page += 1

    def tagged(self, *tag_keys: str) -> Iterator[SecretInfo]:
        """Every secret carrying one of the tags `tag_keys`, with its tags (ListSecrets, TagKey filter, FetchTags).
        "If you specify multiple values for a key, the filter applies a logical OR" (API reference, ListSecrets,
        Filters): one listing serves every key."""
        filters = json.dumps([{"Key": "TagKey", "Values": list(tag_keys)}])
        page = 1
        while True:
            body = self.clients.call("kms:ListSecrets", self._kms().list_secrets,
                                     kms.ListSecretsRequest(fetch_tags="true", filters=filters, page_number=page,
                                                            page_size=PAGE_SIZE)).body
            items = (body.secret_list.secret if body.secret_list else None) or []
            for item in items:
                yield SecretInfo(item.secret_name, item.secret_type or "", _tags(item.tags))
            if not items or page * PAGE_SIZE >= (body.total_count or 0):
                return
            page += 1

    # ------------------------------------------------------------ values

    def value(self, name: str, step: str, *, version_id: str | None = None, stage: str | None = None) -> str:
        what = f"version {version_id}" if version_id else stage or ACS_CURRENT
        if version_id and (name, version_id) in self._by_version:
            return self._by_version[(name, version_id)]
        try:
            body = self.clients.call("kms:GetSecretValue", self._kms().get_secret_value,
                                     kms.GetSecretValueRequest(secret_name=name, version_id=version_id,
                                                               version_stage=None if version_id else stage)).body
        except Exception as exc:
            raise self._failed(step, f"GetSecretValue ({what})", exc) from None
        if (body.secret_data_type or "text").lower() != "text":
            raise RotationRefused(step, f"the value of {what} is binary: only text values are rotated")
        data = body.secret_data or ""
        self.redactor.add(data)
        if body.version_id:
            self._by_version[(name, body.version_id)] = data
        return data

    def random_password(self, step: str) -> str:
        try:
            body = self.clients.call("kms:GetRandomPassword", self._kms().get_random_password,
                                     kms.GetRandomPasswordRequest(password_length=str(PASSWORD_LENGTH),
                                                                  exclude_punctuation="true")).body
        except Exception as exc:
            raise self._failed(step, "GetRandomPassword", exc) from None
        password = body.random_password or ""
        if len(password) < 8:
            raise StepFailed(step, "GetRandomPassword answered no usable password")
        self.redactor.add(password)
        return password

    # ------------------------------------------------------------ writes

    def put_pending(self, name: str, version_id: str, data: str, step: str) -> None:
        self.redactor.add(data)
        request = kms.PutSecretValueRequest(secret_name=name, version_id=version_id, secret_data=data, secret_data_type="text",
                                            version_stages=json.dumps([PENDING_STAGE]))
        try:
            # Idempotent per VersionId (module docstring): retried like a read.
            self.clients.call("kms:PutSecretValue", self._kms().put_secret_value, request)
        except Exception as exc:
            if error_code(exc) == VERSION_TAKEN:
                # Another value already sits under this VersionId: another run stored it first (version ids are
                # derived from the current version, so two runs rotating the same value pick the same one).
                raise VersionTaken(step, f"version {version_id} of {name!r} was stored by another rotation run first: "
                                         "that run owns it (the next run resumes it if it stops)") from None
            raise self._failed(step, f"PutSecretValue (version {version_id})", exc) from None
        self._by_version[(name, version_id)] = data

    def tag(self, name: str, key: str, value: str, step: str) -> None:
        """TagResource on the secret (SecretName, Tags as a JSON array; API reference, TagResource)."""
        request = kms.TagResourceRequest(secret_name=name, tags=json.dumps([{"TagKey": key, "TagValue": value}]))
        try:
            self.clients.call("kms:TagResource", self._kms().tag_resource, request)  # setting a tag twice is harmless
        except Exception as exc:
            raise self._failed(step, f"TagResource ({key})", exc) from None

    def untag(self, name: str, key: str, step: str) -> None:
        """UntagResource on the secret (SecretName, TagKeys as a JSON array; API reference, UntagResource)."""
        request = kms.UntagResourceRequest(secret_name=name, tag_keys=json.dumps([key]))
        try:
            self.clients.call("kms:UntagResource", self._kms().untag_resource, request)
        except Exception as exc:
            raise self._failed(step, f"UntagResource ({key})", exc) from None

    def move_stage(self, name: str, stage: str, to_version: str, step: str, *, from_version: str | None = None) -> None:
        request = kms.UpdateSecretVersionStageRequest(secret_name=name, version_stage=stage, move_to_version=to_version,
                                                      remove_from_version=from_version)
        try:
            self.clients.call("kms:UpdateSecretVersionStage", self._kms().update_secret_version_stage, request, write=True)
        except Exception as exc:
            raise self._failed(step, f"UpdateSecretVersionStage ({stage} to version {to_version})", exc) from None

    def remove_stage(self, name: str, stage: str, from_version: str, step: str) -> None:
        request = kms.UpdateSecretVersionStageRequest(secret_name=name, version_stage=stage, remove_from_version=from_version)
        try:
            self.clients.call("kms:UpdateSecretVersionStage", self._kms().update_secret_version_stage, request, write=True)
        except Exception as exc:
            raise self._failed(step, f"UpdateSecretVersionStage ({stage} off version {from_version})", exc) from None
