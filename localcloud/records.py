"""The base of every account-file record: the field names the real API returns, nothing else.

Each product's records live beside the product (localcloud/products/<product>.py) and derive from
these; the account file (localcloud/account.py) gathers one section per product.
"""
from __future__ import annotations

import importlib
import inspect
import re
from functools import lru_cache
from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, model_validator

from localcloud.clock import parse_time


@lru_cache(maxsize=None)
def sdk_wire_names(model_cls: type) -> frozenset[str]:
    """The wire names a Tea SDK model serialises (the keys its to_map() writes)."""
    return frozenset(re.findall(r"result\['(\w+)'\]", inspect.getsource(model_cls.to_map)))


class Record(BaseModel):
    """A record that may carry any wire field of its SDK item model, and nothing else."""

    model_config = ConfigDict(extra="allow")
    sdk_model: ClassVar[Optional[type]] = None
    # Fields the API puts elsewhere than the item (RegionId, tags from ListResourceTags, ...).
    extra_fields: ClassVar[frozenset[str]] = frozenset({"RegionId"})

    @model_validator(mode="after")
    def _known_fields_only(self):
        allowed = set(type(self).model_fields) | set(self.extra_fields)
        if self.sdk_model is not None:
            allowed |= sdk_wire_names(self.sdk_model)
        unknown = sorted(set(self.model_extra or {}) - allowed)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        return self

    def wire(self) -> dict[str, Any]:
        """The record as the API spells it (None fields left out)."""
        return self.model_dump(exclude_none=True)


class StrictRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


def _iso(value):
    if value in (None, ""):
        return value
    parse_time(value)  # raises ValueError with a clear message on a bad timestamp
    return value



def _sdk(module: str, name: str):
    return getattr(importlib.import_module(module), name)


