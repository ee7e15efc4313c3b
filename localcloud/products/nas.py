"""NAS 2017-06-26: (stub, being built)."""
from __future__ import annotations

from pydantic import Field

from localcloud.products.base import RpcProduct
from localcloud.records import StrictRecord


class NasSection(StrictRecord):
    file_systems: list[dict] = Field(default_factory=list)


class Nas(RpcProduct):
    code = "nas"
    service_name = "NAS"
    version = "2017-06-26"
    endpoint_prefix = "nas"
