"""ActionTrail 2020-07-06: (stub, being built)."""
from __future__ import annotations

from localcloud.products.base import RpcProduct


class ActionTrailApi(RpcProduct):
    code = "actiontrail"
    service_name = "Actiontrail"
    version = "2020-07-06"
    endpoint_prefix = "actiontrail"
    regional_param = None
