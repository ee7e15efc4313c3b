"""RDS 2014-08-15: (stub, being built)."""
from __future__ import annotations

from pydantic import Field

from localcloud.products.base import RpcProduct
from localcloud.records import StrictRecord


class RdsSection(StrictRecord):
    instances: list[dict] = Field(default_factory=list)


class Rds(RpcProduct):
    code = "rds"
    service_name = "Rds"
    version = "2014-08-15"
    endpoint_prefix = "rds"
