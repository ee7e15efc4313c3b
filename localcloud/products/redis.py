"""Redis/Tair (R-kvstore) 2015-01-01: (stub, being built)."""
from __future__ import annotations

from pydantic import Field

from localcloud.products.base import RpcProduct
from localcloud.records import StrictRecord


class RedisSection(StrictRecord):
    instances: list[dict] = Field(default_factory=list)


class Redis(RpcProduct):
    code = "redis"
    service_name = "R-kvstore"
    version = "2015-01-01"
    endpoint_prefix = "r-kvstore"
