"""The account file: the whole state of a local Alibaba Cloud account, loaded, validated and dumped.

Each record uses the field names the real Describe/List API returns for that item, plus `RegionId`
where the API item omits it. Where the official SDK has a model for the item, the record may carry
any of that model's wire names and nothing else: an unknown field is an error naming the record and
the field, never silently ignored (a typo like `KmsKeyId` would otherwise hide a dependent).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from localcloud.products.actiontrail import ActionTrailSection
from localcloud.products.cs import CsSection
from localcloud.products.ecs import EcsDisk, EcsSection, EcsSnapshot  # noqa: F401 (EcsDisk, EcsSnapshot: re-exported)
from localcloud.products.kms_crypto import KmsKeyVersion
from localcloud.products.kms_secrets import KmsSecret
from localcloud.products.mongodb import MongodbSection
from localcloud.products.nas import NasSection
from localcloud.products.oss import OssSection
from localcloud.products.polardb import PolardbSection
from localcloud.products.rds import RdsSection
from localcloud.products.redis import RedisSection
from localcloud.records import Record, StrictRecord, _iso, _sdk, sdk_wire_names  # noqa: F401 - sdk_wire_names re-exported


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
    # The call runs, then its answer is lost: the caller gets the fault's error (say 503 ServiceUnavailable)
    # although the write happened, as when a front end fails after the backend has done the work.
    AnswerLost: bool = False

    @field_validator("Api")
    @classmethod
    def _api_shape(cls, v):
        if not re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", v):
            raise ValueError("must look like 'ecs:DescribeDisks' (lower-case product code, API name or *)")
        return v


# ---------------------------------------------------------------- products


class KmsTag(StrictRecord):
    TagKey: str
    TagValue: str = ""


class KmsKey(Record):
    sdk_model: ClassVar[Any] = _sdk("alibabacloud_kms20160120.models", "DescribeKeyResponseBodyKeyMetadata")
    extra_fields: ClassVar[frozenset] = frozenset({"RegionId", "Tags", "KeyVersions"})

    KeyId: str
    RegionId: str
    KeyState: Literal["Enabled", "Disabled", "PendingDeletion", "PendingImport"] = "Enabled"
    DeletionProtection: Literal["Enabled", "Disabled"] = "Disabled"
    Tags: list[KmsTag] = Field(default_factory=list)
    DeleteDate: Optional[str] = None
    CreationDate: Optional[str] = None
    # ListKeyVersions items, oldest first; none means one version (localcloud/products/kms_crypto.py).
    KeyVersions: Optional[list[KmsKeyVersion]] = None
    # The KMS instance (KMS 3.0) the key belongs to, as DescribeKey's KeyMetadata names it (the SDK's wire name,
    # alibabacloud_kms20160120 3.3.1); None: a key outside any instance. Crypto calls on an instance key are
    # served as through the instance's dedicated gateway: logged to the instance's SLS log, not ActionTrail
    # (localcloud/actiontrail.py, KmsInstanceLog).
    DKMSInstanceId: Optional[str] = None

    _check_dates = field_validator("DeleteDate", "CreationDate")(classmethod(lambda cls, v: _iso(v)))

    @field_validator("KeyId")
    @classmethod
    def _uuid(cls, v):
        if not re.fullmatch(r"[0-9a-fA-F-]{8,64}|key-[a-z0-9]+", v):
            raise ValueError("is not a KMS key id (a UUID such as 0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b)")
        return v

    @model_validator(mode="after")
    def _pending_has_date(self):
        if self.KeyState == "PendingDeletion" and not self.DeleteDate:
            raise ValueError("KeyState PendingDeletion needs a DeleteDate")
        # Only a pending deletion has a date (DescribeKey drops it otherwise): an Enabled key with one
        # would read as safe here while the file's author meant a deletion to come.
        if self.DeleteDate and self.KeyState != "PendingDeletion":
            raise ValueError(f"field DeleteDate: only a key in KeyState PendingDeletion has one (this key is {self.KeyState}); "
                             "set KeyState: PendingDeletion or remove the DeleteDate")
        return self


class KmsAlias(Record):
    sdk_model: ClassVar[Any] = _sdk("alibabacloud_kms20160120.models", "ListAliasesByKeyIdResponseBodyAliasesAlias")
    AliasName: str
    KeyId: str
    RegionId: str

    @field_validator("AliasName")
    @classmethod
    def _alias(cls, v):
        if not v.startswith("alias/"):
            raise ValueError("must start with 'alias/'")
        return v


class CmsCustomEvent(StrictRecord):
    """A custom event as DescribeCustomEventAttribute returns it, plus the region it was put in."""

    Id: str
    Name: str
    Content: str
    GroupId: str = "0"
    Time: str = ""
    RegionId: Optional[str] = None


class CmsCustomMetric(StrictRecord):
    MetricName: str
    GroupId: str = "0"
    Values: str = "{}"
    Dimensions: str = "{}"
    Type: int = 0
    Time: str = ""
    RegionId: Optional[str] = None


class SlsUserCmkInfo(StrictRecord):
    """A logstore's own KMS key (BYOK), as GetLogStore's encrypt_conf.user_cmk_info carries it."""

    cmk_key_id: str
    arn: str  # the RAM role SLS assumes to use the key
    region_id: str


class SlsEncryptConf(StrictRecord):
    """GetLogStore's encrypt_conf (JSON keys lower_snake); no user_cmk_info = the SLS service key.

    The EncryptConf doc lists the algorithms default and sm4; its newer Chinese edition (and
    UpdateLogStoreEncryption) adds m4 and the sm4_*/aes_* modes."""

    enable: bool
    encrypt_type: Literal["default", "sm4", "m4", "sm4_ecb", "sm4_cbc", "sm4_gcm", "aes_ecb", "aes_cbc", "aes_cfb", "aes_ofb",
                          "aes_gcm"] = "default"
    user_cmk_info: Optional[SlsUserCmkInfo] = None


class SlsLogstore(StrictRecord):
    """GetLogStore fields that matter here, plus the project that holds it."""

    projectName: str
    logstoreName: str
    ttl: int = 30
    shardCount: int = 2
    RegionId: Optional[str] = None
    encrypt_conf: Optional[SlsEncryptConf] = None


class SlsLog(StrictRecord):
    """One log as GetLogs returns it: the reserved __time__/__topic__/__source__ plus the contents."""

    projectName: str
    logstoreName: str
    time: int = Field(alias="__time__")
    topic: str = Field("", alias="__topic__")
    source: str = Field("", alias="__source__")
    contents: dict[str, str] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class KmsSection(StrictRecord):
    keys: list[KmsKey] = Field(default_factory=list)
    aliases: list[KmsAlias] = Field(default_factory=list)
    secrets: list[KmsSecret] = Field(default_factory=list)


class CmsSection(StrictRecord):
    events: list[CmsCustomEvent] = Field(default_factory=list)
    metrics: list[CmsCustomMetric] = Field(default_factory=list)


class SlsSection(StrictRecord):
    logstores: list[SlsLogstore] = Field(default_factory=list)
    logs: list[SlsLog] = Field(default_factory=list)


class Account(StrictRecord):
    account_id: str
    # The instant this state describes (ISO 8601). A local cloud built from the file starts its clock
    # frozen there unless told otherwise, so recorded history (ActionTrail events, pending deletions)
    # reads the same whenever the file is used.
    as_of: Optional[str] = None
    credentials: list[Credential] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=lambda: [Region(RegionId="cn-hangzhou")])
    faults: list[Fault] = Field(default_factory=list)
    kms: KmsSection = Field(default_factory=KmsSection)
    ecs: EcsSection = Field(default_factory=EcsSection)
    oss: OssSection = Field(default_factory=OssSection)
    cms: CmsSection = Field(default_factory=CmsSection)
    sls: SlsSection = Field(default_factory=SlsSection)
    rds: RdsSection = Field(default_factory=RdsSection)
    polardb: PolardbSection = Field(default_factory=PolardbSection)
    nas: NasSection = Field(default_factory=NasSection)
    redis: RedisSection = Field(default_factory=RedisSection)
    cs: CsSection = Field(default_factory=CsSection)
    mongodb: MongodbSection = Field(default_factory=MongodbSection)
    actiontrail: ActionTrailSection = Field(default_factory=ActionTrailSection)

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
        path = Path(path)
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
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=YAML_LOADER)
        except json.JSONDecodeError as exc:
            raise AccountError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None
        except yaml.YAMLError as exc:
            # Only the position: the parser's message quotes the line, which may hold a secret.
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise AccountError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or 'syntax error'}") from None
        account = cls.from_data(data, source=str(path))
        problems = account.file_problems()
        if problems:
            more = f"; and {len(problems) - MAX_PROBLEMS} more" if len(problems) > MAX_PROBLEMS else ""
            raise AccountError(f"{path}: " + "; ".join(problems[:MAX_PROBLEMS]) + more)
        return account

    def file_problems(self) -> list[str]:
        """What an account file says that cannot be true of an account, each naming the record and the field:
        a resource listed twice, a record in a region the file does not declare (nothing would ever serve or
        audit it: it would drop out of every audit without a word).

        Checked for files (`load`), not for accounts built in code: a test may well build a bucket in a
        region it never serves, to show that the audit of another region leaves it out."""
        problems: list[str] = []
        for path, fields in _UNIQUE.items():
            first: dict[tuple, str] = {}
            for i, record in enumerate(self._records(path)):
                ident = tuple(_field(record, f) for f in fields)
                where = f"{'.'.join(path)}[{i}]"
                if ident in first:
                    scope = f" in {ident[0]}" if len(fields) > 1 and fields[0] == "RegionId" else ""
                    problems.append(f"{where}{_label(record)} field {fields[-1]}: {ident[-1]} is listed twice{scope} "
                                    f"(first at {first[ident]})")
                else:
                    first[ident] = where
        declared = set(self.region_ids)
        for path, records in self._record_lists():
            for i, record in enumerate(records):
                for field, region in _regions_of(record):
                    if region not in declared:
                        problems.append(f"{'.'.join(path)}[{i}]{_label(record)} field {field}: region {region} is not "
                                        f"declared in `regions` ({', '.join(self.region_ids)}); nothing there is served or "
                                        "audited: add it to `regions`")
        return problems

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


# What identifies a record in each list of an account file: two records with the same values are one
# resource listed twice, and which of them the local cloud answers with would be an accident.
_UNIQUE: dict[tuple[str, ...], tuple[str, ...]] = {
    ("credentials",): ("AccessKeyId",),
    ("regions",): ("RegionId",),
    ("kms", "keys"): ("KeyId",),
    ("kms", "aliases"): ("RegionId", "AliasName"),
    ("kms", "secrets"): ("RegionId", "SecretName"),
    ("ecs", "disks"): ("DiskId",),
    ("ecs", "snapshots"): ("SnapshotId",),
    ("ecs", "images"): ("ImageId",),
    ("ecs", "encryption_defaults"): ("RegionId",),
    ("oss", "buckets"): ("Name",),
    ("oss", "objects"): ("Bucket", "Key"),
    ("rds", "instances"): ("DBInstanceId",),
    ("polardb", "clusters"): ("DBClusterId",),
    ("nas", "file_systems"): ("FileSystemId",),
    ("redis", "instances"): ("InstanceId",),
    ("mongodb", "instances"): ("DBInstanceId",),
    ("cs", "clusters"): ("cluster_id",),
    ("sls", "logstores"): ("projectName", "logstoreName"),
    ("cms", "events"): ("Id",),
    ("actiontrail", "trails"): ("Name",),
}
MAX_PROBLEMS = 20


def _regions_of(record: Any) -> list[tuple[str, str]]:
    """(field, region) of each region a record says it is in."""
    if not isinstance(record, BaseModel):
        return []
    out = []
    for field in ("RegionId", "region_id", "HomeRegion", "Region"):
        value = _field(record, field)
        if isinstance(value, str) and value:
            out.append((field, value))
    location = _field(record, "Location")  # an OSS bucket: oss-cn-hangzhou
    if isinstance(location, str) and location.startswith("oss-"):
        out.append(("Location", location.removeprefix("oss-")))
    return out


def _label(record: Any) -> str:
    """" (KeyId 0b2f...)": the record's own id, as error messages name it."""
    for field in _ID_FIELDS:
        value = _field(record, field)
        if value not in (None, ""):
            return f" ({field} {value})"
    return ""


def _field(record: Any, name: str) -> Any:
    """A record's field, declared or extra, or None. Read from the instance dicts: getattr of an absent name
    goes through pydantic's __getattr__, which a check of a benchmark region's 100k records would feel."""
    value = record.__dict__.get(name)
    if value is None and getattr(record, "__pydantic_extra__", None):
        value = record.__pydantic_extra__.get(name)
    return value


# The field naming a record, in this order: a record's own id before the ids it refers to (an alias's
# AliasName before its KeyId, a disk's DiskId before its InstanceId), and RegionId only when nothing else does.
_ID_FIELDS = ("AliasName", "KeyId", "SecretName", "DiskId", "SnapshotId", "ImageId", "FileSystemId", "DBInstanceId", "DBClusterId",
              "InstanceId", "cluster_id", "Id", "ID", "Name", "Key", "logstoreName", "AccessKeyId", "Api", "TagKey", "RegionId")


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
                    record_name = next((f"{k} {node[k]}" for k in _ID_FIELDS if k in node), f"#{part}")
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
