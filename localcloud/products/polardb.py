"""PolarDB 2017-08-01: (stub, being built)."""
from __future__ import annotations

from pydantic import Field

from localcloud.products.base import RpcProduct
from localcloud.records import StrictRecord


class PolardbSection(StrictRecord):
    clusters: list[dict] = Field(default_factory=list)


class Polardb(RpcProduct):
    code = "polardb"
    service_name = "polardb"
    version = "2017-08-01"
    endpoint_prefix = "polardb"
