"""The base of every account-file record: the field names the real API returns, nothing else.

Each product's records live beside the product (localcloud/products/<product>.py, or <product>_state.py
when the product's module would grow too big) and derive from these, and so does the product's part of
the account file, its `AccountSection`; the account file (localcloud/account.py) gathers every section
it finds there.
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


@lru_cache(maxsize=None)
def sdk_wire_types(model_cls: type) -> dict[str, str]:
    """The type each wire name has in a Tea SDK model, as its __init__ annotates it ('int', 'str', 'bool',
    'List[str]', 'main_models.X', ...): to_map() pairs the wire name with the attribute."""
    pairs = re.findall(r"result\['(\w+)'\] = self\.(\w+)", inspect.getsource(model_cls.to_map))
    annotations = getattr(model_cls.__init__, "__annotations__", {})
    return {wire: str(annotations[attr]) for wire, attr in pairs if attr in annotations}


def _shape_problem(value: Any, sdk_type: str) -> Optional[str]:
    """Why `value` cannot be what the API returns for a field of this SDK type, or None. Only the shape is
    checked (a number where a number is returned, a mapping where an object is): a field that is not typed
    by the record itself would otherwise take anything, and `Size: huge` would load."""
    if value is None:
        return None
    if sdk_type == "int":
        ok, wanted = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif sdk_type == "float":
        ok, wanted = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif sdk_type == "bool":
        ok, wanted = isinstance(value, bool), "true or false"
    elif sdk_type == "str":
        # An unquoted number in YAML is a number: the API would answer it as text, so it is taken.
        ok, wanted = isinstance(value, (str, int, float)) and not isinstance(value, bool), "text"
    elif sdk_type.startswith("List["):
        ok, wanted = isinstance(value, list), "a list"
    elif sdk_type.startswith("Dict[") or "models." in sdk_type:
        ok, wanted = isinstance(value, dict), "a mapping (an object in the API's answer)"
    else:
        return None
    if ok:
        return None
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "…"
    return f"must be {wanted}, as the API returns it, not {shown}"


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
        if self.sdk_model is not None and self.model_extra:
            types = sdk_wire_types(self.sdk_model)
            for name, value in self.model_extra.items():
                problem = _shape_problem(value, types.get(name, ""))
                if problem:
                    raise ValueError(f"field {name}: {problem}")
        return self

    def wire(self) -> dict[str, Any]:
        """The record as the API spells it (None fields left out)."""
        return self.model_dump(exclude_none=True)


class StrictRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# How the APIs spell the region a record is in: RegionId (the POP RPC products), region_id (ROA products
# such as CS), HomeRegion (an ActionTrail trail), Region (an OSS bucket).
REGION_FIELDS = ("RegionId", "region_id", "HomeRegion", "Region")


def field_value(record: Any, name: str) -> Any:
    """A record's field, declared or extra, or None. Read from the instance dicts: getattr of an absent name
    goes through pydantic's __getattr__, which a check of a benchmark region's 100k records would feel."""
    value = record.__dict__.get(name)
    if value is None and getattr(record, "__pydantic_extra__", None):
        value = record.__pydantic_extra__.get(name)
    return value


def record_regions(record: Any) -> list[tuple[str, str]]:
    """(field, region) of each region a record says it is in, by the REGION_FIELDS it carries."""
    if not isinstance(record, BaseModel):
        return []
    out = []
    for field in REGION_FIELDS:
        value = field_value(record, field)
        if isinstance(value, str) and value:
            out.append((field, value))
    return out


class AccountSection(StrictRecord):
    """One product's part of an account file: its lists of records (`disks`, `snapshots`, ...), and what an
    account file must say truly of them (checked when a file is loaded, `Account.file_problems`).

    A product declares its section beside its records; the account file finds every section defined in a
    module of localcloud/products and reads it under `section`, so a new product adds files, not entries
    to a table elsewhere."""

    section: ClassVar[str] = ""  # the section's name in an account file ("ecs"); empty in a base class
    # The fields that identify a record of each list: two records with the same values are one resource
    # listed twice, and which of them the local cloud answers with would be an accident.
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {}
    # The fields that name a record in messages, in this order: a record's own id before the ids it refers
    # to (an alias's AliasName before its KeyId, a disk's DiskId before its InstanceId); RegionId when none.
    id_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def regions_of(cls, record: Any) -> list[tuple[str, str]]:
        """(field, region) of each region a record of this section says it is in: none may be a region the
        account file does not declare (nothing would serve or audit the record there)."""
        return record_regions(record)


def _iso(value):
    if value in (None, ""):
        return value
    parse_time(value)  # raises ValueError with a clear message on a bad timestamp
    return value



def _sdk(module: str, name: str):
    return getattr(importlib.import_module(module), name)




# (id of a record list, the fields looked up) -> (the list, its length then, {values: first record}).
_INDEXES: dict[tuple[int, tuple[str, ...]], tuple[list, int, dict]] = {}
MAX_INDEXES = 64


def find(records: list, **match: Any):
    """The first record whose fields equal `match` (e.g. find(secrets, RegionId=r, SecretName=n)), or None.

    Per-resource APIs (DescribeSecret, GetBucketInfo, ...) look one record up among tens of thousands
    in a benchmark region, thousands of times: a scan each time would make the local cloud, not the
    audit, the bottleneck. The index is rebuilt when the list is replaced or changes length; a hit is
    re-checked and a miss confirmed by a scan, so an index gone stale never answers wrongly.
    Callers hold the account lock, as every product call does.
    """
    names = tuple(sorted(match))
    wanted = tuple(match[n] for n in names)

    def values(record) -> tuple:
        return tuple(getattr(record, n, None) for n in names)

    slot = (id(records), names)
    entry = _INDEXES.get(slot)
    if entry is None or entry[0] is not records or entry[1] != len(records):
        index: dict = {}
        for record in records:
            index.setdefault(values(record), record)
        _INDEXES.pop(slot, None)
        while len(_INDEXES) >= MAX_INDEXES:  # the oldest first: lists of clouds long stopped
            _INDEXES.pop(next(iter(_INDEXES)))
        entry = _INDEXES[slot] = (records, len(records), index)
    found = entry[2].get(wanted)
    if found is not None and values(found) == wanted:
        return found
    return next((r for r in records if values(r) == wanted), None)
