"""Secrets Manager (KMS 2016-01-20): (stub, being built)."""
from __future__ import annotations

from typing import Any, ClassVar

from localcloud.records import Record, _sdk


class KmsSecret(Record):
    sdk_model: ClassVar[Any] = _sdk("alibabacloud_kms20160120.models", "DescribeSecretResponseBody")
    SecretName: str
    RegionId: str


class SecretsManager:
    """The Secrets Manager APIs of the KMS product (mixed into localcloud.products.kms.Kms)."""
