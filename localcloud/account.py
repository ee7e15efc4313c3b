"""The account file: the whole state of a local Alibaba Cloud account, loaded, validated and dumped.

Each record uses the field names the real Describe/List API returns for that item, plus `RegionId`
where the API item omits it. Where the official SDK has a model for the item, the record may carry
any of that model's wire names and nothing else: an unknown field is an error naming the record and
the field, never silently ignored (a typo like `KmsKeyId` would otherwise hide a dependent).

What every account has lives here: its id, the instant it describes, credentials, regions and injected
faults. Each product's records live beside the product, with its section of the file (an `AccountSection`
in localcloud/products); `Account` gathers every section found there (localcloud/catalog.py), checks what
a file says against all of them, and loads and writes the file.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, create_model, field_validator

from localcloud import catalog
from localcloud.records import StrictRecord, _iso, field_value, record_regions


class AccountError(ValueError):
    """The account file could not be loaded; the message names the record and the field."""


# libyaml's loader where PyYAML was built with it: the pure-Python one needs minutes and gigabytes for a
# 50 MB account file (a benchmark region), the C one seconds. Both build the same plain data.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------- identity


class Credential(StrictRecord):
    """A RAM AccessKey (CreateAccessKey fields) and who it belongs to."""

    AccessKeyId: str
    AccessKeySecret: str
    Status: Literal["Active", "Inactive"] = "Active"
    UserName: str = "root"
    # ActionTrail userIdentity.type of the owner.
    IdentityType: Literal["root-account", "ram-user", "assumed-role"] = "ram-user"
    SecurityToken: Optional[str] = None  # set for STS credentials issued to a function's role
    RoleName: Optional[str] = None
    Expiration: Optional[str] = None
    # AssumeRole's Policy: the session's credentials may do only what both it and the role's policies allow
    SessionPolicy: Optional[str] = None

    _check_exp = field_validator("Expiration")(classmethod(lambda cls, v: _iso(v)))


class Region(StrictRecord):
    RegionId: str
    LocalName: Optional[str] = None


class Fault(StrictRecord):
    """A fault the local cloud injects: `Api` is `product:Action` (e.g. `ecs:DescribeDisks`)."""

    Api: str
    Code: Optional[str] = None  # error code to answer with, e.g. Forbidden.RAM, Throttling.User
    # Or what happens, answered as the API's product really answers it (localcloud/fault_kinds.py).
    Kind: Optional[Literal["throttled", "denied", "server_error", "timeout", "malformed", "silent_denial"]] = None
    Message: Optional[str] = None
    Status: Optional[int] = None
    LatencyMs: int = 0
    RetryAfterMs: Optional[int] = None  # throttling: sent as x-acs-retry-after; None = no header, as many APIs answer
    RegionId: Optional[str] = None
    # Only calls whose parameters include these values meet the fault (e.g. one DBInstanceType of a listing).
    Params: Optional[dict[str, str]] = None
    Remaining: Optional[int] = None  # answer with the fault this many times, then stop; None = always
    # The first this many matching calls do not meet this fault (other faults still apply to them): a read
    # that works once and fails the next time (the re-read after a write), as a permission revoked or a
    # backend failing mid-way would.
    After: int = Field(default=0, ge=0)
    Body: Optional[Any] = None  # answer 200 with this body (dict: JSON; str: as is), e.g. a doc sample
    ContentType: Optional[str] = None
    # Paging faults, for the listings paged in localcloud/products/base.py (PageNumber/PageSize and
    # NextToken/MaxResults): the answer is what a service that silently clamps its page size gives.
    # PageSizeCap: at most this many items a page whatever was asked; the later pages are cut at the
    # capped size too, as a clamping server computes its offsets. The answer reports the capped PageSize
    # (what clamping services report), or the size asked when ReportRequestedPageSize is set.
    # OmitTotal: a PageNumber listing is answered without its total count.
    PageSizeCap: Optional[int] = Field(default=None, ge=1)
    ReportRequestedPageSize: bool = False
    OmitTotal: bool = False
    # The call runs, then its answer is lost: the caller gets the fault's error (its Code, or its Kind's: say
    # 500 InternalError) although the write happened, as when a front end fails after the backend has done the
    # work. With a refusal (denied, throttled) it stands for a write someone else made while this one was refused.
    AnswerLost: bool = False

    @field_validator("Api")
    @classmethod
    def _api_shape(cls, v):
        if not re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", v):
            raise ValueError("must look like 'ecs:DescribeDisks' (lower-case product code, API name or *)")
        return v


# ---------------------------------------------------------------- the account


class AccountCore(StrictRecord):
    """What every account has, whatever products it uses; `Account` adds one field per product section."""

    account_id: str
    # The instant this state describes (ISO 8601). A local cloud built from the file starts its clock
    # frozen there unless told otherwise, so recorded history (ActionTrail events, pending deletions)
    # reads the same whenever the file is used.
    as_of: Optional[str] = None
    credentials: list[Credential] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=lambda: [Region(RegionId="cn-hangzhou")])
    faults: list[Fault] = Field(default_factory=list)

    # Guards every read-modify-write of the state: the server answers requests on several threads.
    _lock: Any = PrivateAttr(default_factory=threading.RLock)

    _check_as_of = field_validator("as_of")(classmethod(lambda cls, v: _iso(v)))

    @field_validator("regions")
    @classmethod
    def _some_region(cls, v):
        # Every endpoint, default and audit is per region: an account without one cannot be served.
        if not v:
            raise ValueError("at least one region is needed (such as `- RegionId: cn-hangzhou`)")
        return v

    @field_validator("account_id", mode="before")
    @classmethod
    def _uid(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):  # an unquoted UID in YAML
            v = str(v)
        if not re.fullmatch(r"\d{16}", v):
            raise ValueError("must be the 16-digit account UID")
        return v

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def region_ids(self) -> list[str]:
        return [r.RegionId for r in self.regions]

    def credential(self, access_key_id: str) -> Credential | None:
        return next((c for c in self.credentials if c.AccessKeyId == access_key_id), None)

    # ------------------------------------------------------------ load / dump

    @classmethod
    def from_data(cls, data: Any, *, source: str = "account file") -> "Account":
        if not isinstance(data, dict):
            raise AccountError(f"{source}: the top level must be a mapping with account_id, credentials, regions, ...")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise AccountError(_describe(exc, data, source)) from None

    @classmethod
    def load(cls, path: str | Path) -> "Account":
        """One account file. A multi-account file (top level `accounts:`) is read with `load_all`."""
        path = Path(path)
        data = _read_data(path)
        if isinstance(data, dict) and "accounts" in data and "account_id" not in data:
            raise AccountError(f"{path}: a multi-account file (top level `accounts:`): load it with Account.load_all")
        return cls._checked(data, str(path))

    @classmethod
    def load_all(cls, path: str | Path) -> list["Account"]:
        """Every account a file describes: a multi-account file lists them under `accounts:` (each entry an
        account file's content; the first is the home account, where the project's functions run, e.g. a
        Resource Directory's management account); a single-account file gives a list of one."""
        path = Path(path)
        data = _read_data(path)
        if not (isinstance(data, dict) and "accounts" in data and "account_id" not in data):
            return [cls._checked(data, str(path))]
        entries = data["accounts"]
        if set(data) - {"accounts"} or not isinstance(entries, list) or not entries:
            raise AccountError(f"{path}: a multi-account file has one top-level key, `accounts`, a non-empty list of accounts")
        accounts = [cls._checked(entry, f"{path} accounts[{i}]") for i, entry in enumerate(entries)]
        ids = [a.account_id for a in accounts]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise AccountError(f"{path}: account(s) {', '.join(twice)} listed twice under `accounts`")
        keys = [c.AccessKeyId for a in accounts for c in a.credentials]
        shared = sorted({k for k in keys if keys.count(k) > 1})
        if shared:  # an AccessKey belongs to one account: the cloud tells the caller's account by it
            raise AccountError(f"{path}: AccessKeyId(s) {', '.join(shared)} belong to more than one account")
        return accounts

    @classmethod
    def _checked(cls, data: Any, source: str) -> "Account":
        account = cls.from_data(data, source=source)
        problems = account.file_problems()
        if problems:
            more = f"; and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
            raise AccountError(f"{source}: " + "; ".join(problems[:MAX_PROBLEMS]) + more)
        return account

    def file_problems(self) -> list[str]:
        """What an account file says that cannot be true of an account, each naming the record and the field:
        a resource listed twice, a record in a region the file does not declare (nothing would ever serve or
        audit it: it would drop out of every audit without a word).

        Checked for files (`load`), not for accounts built in code: a test may well build a bucket in a
        region it never serves, to show that the audit of another region leaves it out."""
        problems: list[str] = []
        for path, fields in self._unique_ids():
            first: dict[tuple, str] = {}
            for i, record in enumerate(self._records(path)):
                ident = tuple(field_value(record, f) for f in fields)
                where = f"{'.'.join(path)}[{i}]"
                if ident in first:
                    scope = f" in {ident[0]}" if len(fields) > 1 and fields[0] == "RegionId" else ""
                    problems.append(f"{where}{_label(record, path[0])} field {fields[-1]}: {ident[-1]} is listed twice{scope} "
                                    f"(first at {first[ident]})")
                else:
                    first[ident] = where
        declared = set(self.region_ids)
        sections = catalog.account_sections()
        for path, records in self._record_lists():
            regions_of = sections[path[0]].regions_of if path[0] in sections else record_regions
            for i, record in enumerate(records):
                for field, region in regions_of(record):
                    if region not in declared:
                        problems.append(f"{'.'.join(path)}[{i}]{_label(record, path[0])} field {field}: region {region} is not "
                                        f"declared in `regions` ({', '.join(self.region_ids)}); nothing there is served or "
                                        "audited: add it to `regions`")
        return problems

    def _unique_ids(self):
        """(path of a list of records, the fields identifying one): the account's own lists, then each section's."""
        yield from _CORE_UNIQUE_IDS.items()
        sections = catalog.account_sections()
        for name in type(self).model_fields:
            for collection, fields in (sections[name].unique_ids.items() if name in sections else ()):
                yield (name, collection), fields

    def _records(self, path: tuple[str, ...]) -> list:
        node: Any = self
        for part in path:
            node = getattr(node, part)
        return node

    def _record_lists(self):
        """(path, list) of every list of records in the account, `regions` aside (they are the declaration)."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "regions":
                continue
            if isinstance(value, list):
                yield (name,), value
            elif isinstance(value, BaseModel):
                for sub in type(value).model_fields:
                    items = getattr(value, sub)
                    if isinstance(items, list):
                        yield (name, sub), items

    def to_data(self) -> dict[str, Any]:
        with self.lock:
            data = self.model_dump(exclude_none=True, by_alias=True)
        return data

    def dump(self, path: str | Path) -> None:
        write_data(self.to_data(), path)


def _read_data(path: Path) -> Any:
    """An account file's data (YAML, or JSON by its suffix); AccountError naming where it cannot be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AccountError(f"{path}: cannot read the account file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")  # -sig: the byte-order mark some editors write is not content
    except UnicodeDecodeError as exc:
        # Where, not what: the bytes around it may be a secret.
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise AccountError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}, column {column}); "
                           "save the account file as UTF-8") from None
    del raw
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=YAML_LOADER)
    except json.JSONDecodeError as exc:
        raise AccountError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
    except yaml.YAMLError as exc:
        # Only the position: the parser's message quotes the line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise AccountError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or 'syntax error'}") from None


def write_data(data: dict[str, Any], path: str | Path) -> None:
    """Write account data in the account-file format its suffix names (.json, else YAML).

    The data holds the account's credentials: the file is readable by its owner only (0600), and written
    whole or not at all (a temporary file beside it, then renamed), so an interrupted write never leaves
    half a state file, nor a moment where the credentials are readable by others."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | Path) -> None:
    """Raise OSError (with strerror) unless `write_data` could write `path`: its directory exists and takes a
    new file, and the path is not a directory. Checked before a run whose state would otherwise be lost."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory")
    if not path.parent.is_dir():
        raise FileNotFoundError(2, f"directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)


# The account's own lists and the fields that identify one of their records (each product's section
# declares its own: AccountSection.unique_ids).
_CORE_UNIQUE_IDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("credentials",): ("AccessKeyId",),
    ("regions",): ("RegionId",),
}
# The fields naming a record of the account's own lists in messages (a section's: AccountSection.id_fields).
_CORE_ID_FIELDS: dict[str, tuple[str, ...]] = {"credentials": ("AccessKeyId",), "faults": ("Api",)}
MAX_PROBLEMS = 20


def _id_fields(list_name: str) -> tuple[str, ...]:
    """The fields naming a record of a top-level list or of a section's lists, RegionId when nothing else does."""
    section = catalog.account_sections().get(list_name)
    own = section.id_fields if section is not None else _CORE_ID_FIELDS.get(list_name, ())
    return (*own, "RegionId")


def _label(record: Any, list_name: str) -> str:
    """" (KeyId 0b2f...)": the record's own id, as error messages name it."""
    for field in _id_fields(list_name):
        value = field_value(record, field)
        if value not in (None, ""):
            return f" ({field} {value})"
    return ""


def _describe(exc: ValidationError, data: dict, source: str) -> str:
    """Turn pydantic's errors into lines that name the record (section, index, id) and the field."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        # Walk down to the innermost record (a dict inside a list) to name it by its id.
        node: Any = data
        record_path: list[str] = []
        record_name = ""
        field = ""
        for i, part in enumerate(loc):
            if record_name or not isinstance(node, (dict, list)):
                field = ".".join(str(p) for p in loc[i:])
                break
            if isinstance(node, dict) and part in node:
                node = node[part]
                record_path.append(str(part))
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
                record_path[-1] = f"{record_path[-1]}[{part}]" if record_path else f"[{part}]"
                if isinstance(node, dict):
                    record_name = next((f"{k} {node[k]}" for k in _id_fields(str(loc[0])) if k in node), f"#{part}")
            else:
                field = ".".join(str(p) for p in loc[i:])
                break
        record_name = "" if record_name.startswith("#") else record_name
        where = ".".join(record_path) or "top level"
        msg = err["msg"].removeprefix("Value error, ")
        name = f" ({record_name})" if record_name else ""
        fld = f" field {field}:" if field else ("" if msg.startswith("field ") else ":")
        lines.append(f"{where}{name}{fld} {msg}")
    return f"{source}: " + "; ".join(lines)


# ---------------------------------------------------------------- the account, with every product's section


# The order of the sections in a written account file (and of what is said about them): the order files
# have always had. A section not listed here, a product added since, follows them in name order.
SECTION_ORDER = ("kms", "ecs", "oss", "cms", "sls", "rds", "polardb", "nas", "redis", "cs", "mongodb", "actiontrail")


def _with_sections(core: type[AccountCore]) -> type[AccountCore]:
    sections = catalog.account_sections()
    ordered = sorted(sections, key=lambda name: (SECTION_ORDER.index(name) if name in SECTION_ORDER else len(SECTION_ORDER), name))
    fields: dict[str, Any] = {name: (sections[name], Field(default_factory=sections[name])) for name in ordered}
    return create_model("Account", __base__=core, __module__=__name__, __doc__=_ACCOUNT_DOC, **fields)


_ACCOUNT_DOC = """A local Alibaba Cloud account: AccountCore's fields, then one field per product section found in
localcloud/products (`account.kms`, `account.ecs`, ...), named as the account file names the section."""

Account = _with_sections(AccountCore)
