"""Models for the events Function Compute 3.0 delivers to the kms-steward functions.

"ref §N" below marks a fact from the public Alibaba Cloud pages on EventBridge's ActionTrail events
(§1), the Function Compute python runtime and its triggers (§2); where a page is quoted, it is named.

* Key-guard handler: an EventBridge trigger delivers a CloudEvents envelope (ref §1a) whose ``data`` is the
  ActionTrail record of a KMS API call or console operation (ref §1b, §1c). Use ``parse_fc_event``.
* Sweep functions: a timer trigger delivers ``{triggerTime, triggerName, payload}`` (ref §2). Use
  ``parse_timer_event``.

Parsing is lenient where the documented samples disagree (number vs string, "" vs missing), and strict about the
envelope fields we depend on (id, type, data). Every parse failure is an ``EventParseError`` whose message is short
and does not echo more than a small snippet of the payload.

Identifiers the guard sends to APIs (KeyId, the key ARN, the region) are not checked at parse time, so that one bad
event does not sink a whole batch: ``CloudEvent.problems()`` names each impossible one (an empty list means none),
and ``ActionTrailRecord.key_id`` / ``CloudEvent.region`` only ever return a usable value. Text fields never hold an
unpaired surrogate (replaced by U+FFFD), so whatever is recorded can be encoded.
"""

import json
import re
from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ActionTrailRecord",
    "CloudEvent",
    "EventParseError",
    "TimerEvent",
    "UserIdentity",
    "clip",
    "decode_payload",
    "event_dedupe_key",
    "is_region_id",
    "mask_access_key_id",
    "parse_fc_event",
    "parse_fc_events_each",
    "is_timer_payload",
    "parse_timer_event",
]

# Error messages are logged and may be shown in alerts, so keep them to about one line.
_MAX_MESSAGE_CHARS = 200


class EventParseError(ValueError):
    """The event FC delivered is not something these functions can handle (bad JSON, wrong shape, fields missing)."""


def _number_to_str(value: Any) -> Any:
    # The documented samples disagree on scalar types: eventVersion is 1 in one and "1" in another (ref §1b).
    # Accept JSON numbers wherever text is expected. bool is not converted, so pydantic still rejects it.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _valid_unicode(value)


# An unpaired UTF-16 surrogate: JSON may escape one ("\ud800") and json.loads keeps it, but it is not Unicode
# text: it cannot be encoded to UTF-8, so a record holding it cannot be written to SLS and an id holding it
# cannot be hashed into a claim. json.loads has already joined every valid pair into one character.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(value: Any) -> Any:
    """Text with each unpaired surrogate replaced by U+FFFD (the replacement character), as a UTF-8 decoder
    would show it. Replaced, not refused: a producer writing UTF-16 strings (Java, for one) can emit one in a
    display field such as userAgent, and such an event must still be guarded."""
    if isinstance(value, str) and _LONE_SURROGATE.search(value):
        return _LONE_SURROGATE.sub("\ufffd", value)
    return value


# Optional text field that also accepts a JSON number.
_Text = Annotated[Optional[str], BeforeValidator(_number_to_str)]


class UserIdentity(BaseModel):
    """``data.userIdentity`` of an ActionTrail record (ref §1b). Every field is optional: system events carry
    only type and userName."""

    model_config = ConfigDict(extra="allow")

    type: _Text = None  # e.g. "ram-user", "root-account", "assumed-role", "system"
    accountId: _Text = None
    principalId: _Text = None
    accessKeyId: _Text = None  # an identifier, not a secret, but we still show it only masked
    userName: _Text = None
    sessionContext: Optional[dict[str, Any]] = None


class ActionTrailRecord(BaseModel):
    """The ActionTrail record that EventBridge puts in the CloudEvent's ``data`` (ref §1b, §1c).

    Field names match the wire names. ActionTrail adds fields over time (e.g. ``extend``), so extra keys are kept
    and can be read from ``model_extra``.
    """

    model_config = ConfigDict(extra="allow")

    eventId: _Text = None
    eventVersion: _Text = None  # int 1 in one doc sample and "1" in another (ref §1b); stored as str
    eventName: _Text = None  # KMS API action name, e.g. "ScheduleKeyDeletion" (ref §1c)
    eventType: _Text = None  # "ApiCall" or "ConsoleOperation" (ref §1c)
    eventRW: _Text = None
    eventSource: _Text = None
    serviceName: _Text = None  # exactly "Kms" for KMS (ref §1c)
    apiVersion: _Text = None
    acsRegion: _Text = None
    eventTime: _Text = None  # kept as text: timestamp formats differ between samples (ref §1a)
    requestId: _Text = None
    sourceIpAddress: _Text = None
    userAgent: _Text = None
    errorCode: _Text = None  # "" on success (ref §1b); may also be absent
    errorMessage: _Text = None
    requestParameters: dict[str, Any] = Field(default_factory=dict)
    responseElements: Any = None
    referencedResources: Optional[dict[str, Any]] = None
    additionalEventData: Any = None
    isGlobal: Optional[bool] = None
    userIdentity: Optional[UserIdentity] = None
    eventAttributes: Optional[dict[str, Any]] = None

    @field_validator("requestParameters", mode="before")
    @classmethod
    def _null_params_to_empty(cls, value: Any) -> Any:
        # Callers should not need to check for None before reading a parameter.
        return {} if value is None else value

    @property
    def failed(self) -> bool:
        """True when ActionTrail recorded an error code, meaning the call did not take effect."""
        return bool(self.errorCode and self.errorCode.strip())

    @property
    def key_id(self) -> Optional[str]:
        """KMS key the call targeted, as the API takes it (bare key id or alias), or None.

        Most KMS mutations pass ``KeyId``. SetDeletionProtection passes ``ProtectedResourceArn``
        (``acs:kms:<region>:<account>:key/<keyId>``) instead (ref §1c). A key ARN is normalised to the bare id.

        None also when the value is not an identifier KMS could have accepted (see ``problems()``): such a value
        must never be sent to an API, where e.g. a 100,000-character id makes every call fail with HTTP 414.
        """
        raw = self.requestParameters.get("KeyId")
        if isinstance(raw, str) and raw.strip():
            return _usable_key_ref(raw.strip())
        arn = self.requestParameters.get("ProtectedResourceArn")
        if isinstance(arn, str):
            match = _KMS_KEY_ARN.fullmatch(arn.strip())
            return match.group("key_id") if match else None
        return None

    def problems(self) -> list[str]:
        """Identifiers in this record that no real KMS call can carry, each naming its field; [] when none.

        Checked: ``acsRegion``, ``requestParameters.KeyId`` and a KMS key ARN in
        ``requestParameters.ProtectedResourceArn``. ActionTrail records what KMS accepted, so a successful call
        with an impossible identifier is a forged or corrupted record: reject it before any API call. A missing
        KeyId is not a problem here (many KMS calls have none); the caller decides whether it needs one.
        Messages are short and show at most a clipped snippet of the value.
        """
        problems = []
        region_problem = _region_problem("acsRegion", self.acsRegion)
        if region_problem:
            problems.append(region_problem)
        params = self.requestParameters
        raw = params.get("KeyId")
        if raw is not None and not isinstance(raw, str):
            problems.append(f"requestParameters.KeyId is not text (got {_json_type(raw)})")
        elif isinstance(raw, str) and raw.strip() and _usable_key_ref(raw.strip()) is None:
            problems.append(f"requestParameters.KeyId {_show(raw)} is not a KMS key id, alias or key ARN")
        arn = params.get("ProtectedResourceArn")
        if arn is not None and not isinstance(arn, str):
            problems.append(f"requestParameters.ProtectedResourceArn is not text (got {_json_type(arn)})")
        elif isinstance(arn, str) and _LOOKS_LIKE_KMS_KEY_ARN.match(arn.strip()) \
                and not _KMS_KEY_ARN.fullmatch(arn.strip()):
            problems.append(f"requestParameters.ProtectedResourceArn {_show(arn)} is not a KMS key ARN "
                            "(acs:kms:<region>:<account id>:key/<key id>)")
        return problems

    @property
    def caller(self) -> str:
        """Short description of who made the call, safe to log or alert on,
        e.g. ``ram-user alice (uid 2034567890123456, AK LTAI****)``. The principal id is not secret and
        names the person; the AccessKeyId is always masked."""
        ident = self.userIdentity or UserIdentity()
        who = " ".join(part for part in (ident.type, ident.userName) if part) or "unknown caller"
        details = []
        if ident.principalId:
            details.append(f"uid {ident.principalId}")
        if ident.accessKeyId:
            details.append(f"AK {mask_access_key_id(ident.accessKeyId)}")
        return f"{who} ({', '.join(details)})" if details else who

    def param_int(self, name: str) -> Optional[int]:
        """``requestParameters[name]`` as an int; None if missing or not a whole number.
        Console calls may send numbers as strings, e.g. PendingWindowInDays "7" (ref §1c)."""
        value = self.requestParameters.get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else None
        if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            return int(value.strip())
        return None

    def secret_name(self) -> Optional[str]:
        """The secret a Secrets Manager call named (``requestParameters.SecretName``: a name, or an ARN
        ``acs:kms:<region>:<account>:secret/<name>``, normalised to the name), or None when there is none or it is
        not a name any secret can have (see ``secret_problems()``)."""
        raw = self.requestParameters.get("SecretName")
        if not isinstance(raw, str) or not raw.strip():
            return None
        return _usable_secret_name(raw.strip())

    def secret_problems(self) -> list[str]:
        """``problems()`` for a Secrets Manager call: the region, and a SecretName no secret can have."""
        problems = []
        region_problem = _region_problem("acsRegion", self.acsRegion)
        if region_problem:
            problems.append(region_problem)
        raw = self.requestParameters.get("SecretName")
        if raw is not None and not isinstance(raw, str):
            problems.append(f"requestParameters.SecretName is not text (got {_json_type(raw)})")
        elif isinstance(raw, str) and raw.strip() and _usable_secret_name(raw.strip()) is None:
            problems.append(f"requestParameters.SecretName {_show(raw)} is not a secret name or secret ARN")
        return problems

    def param_bool(self, name: str) -> Optional[bool]:
        """``requestParameters[name]`` as a bool; None if missing or unrecognised.
        Accepts true/false (any letter case) and 1/0, as JSON values or strings (ref §1c)."""
        value = self.requestParameters.get(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return {1: True, 0: False}.get(value)
        if isinstance(value, str):
            return _BOOL_TEXT.get(value.strip().lower())
        return None


# Only ASCII digits. int() would also accept "1_000" and non-ASCII digits.
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


class CloudEvent(BaseModel):
    """EventBridge CloudEvents envelope as FC receives it (ref §1a, §1c synthesized fixture).

    id, type and data are required. The rest are optional because the samples vary. EventBridge adds envelope
    fields over time, so unknown ones are ignored.
    """

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, BeforeValidator(_number_to_str), Field(min_length=1)]
    source: _Text = None  # probably "acs.kms", which is UNCONFIRMED (ref §0.1), so do not filter on it
    specversion: _Text = None
    # "kms:ActionTrail:ApiCall" / "...:ConsoleOperation" (ref §1c)
    type: Annotated[str, BeforeValidator(_valid_unicode), Field(min_length=1)]
    subject: _Text = None
    time: _Text = None  # text, not datetime: "…179PRC" and "…42Z" both occur (ref §1a)
    datacontenttype: _Text = None
    aliyunaccountid: _Text = None
    aliyunoriginalaccountid: _Text = None
    aliyunpublishtime: _Text = None
    aliyuneventbusname: _Text = None
    aliyunregionid: _Text = None
    aliyunpublishaddr: _Text = None
    data: ActionTrailRecord

    @property
    def region(self) -> Optional[str]:
        """The region the event happened in: ``data.acsRegion``, else the envelope's ``aliyunregionid``; only a
        value shaped like a region id, else None (then use the function's own region)."""
        for value in (self.data.acsRegion, self.aliyunregionid):
            if value and _region_problem("", value) is None:
                return value
        return None

    def problems(self) -> list[str]:
        """``data.problems()`` plus the envelope's ``aliyunregionid`` (see ``ActionTrailRecord.problems``)."""
        envelope = _region_problem("aliyunregionid", self.aliyunregionid)
        return ([envelope] if envelope else []) + self.data.problems()

    def secret_problems(self) -> list[str]:
        """``data.secret_problems()`` plus the envelope's ``aliyunregionid``."""
        envelope = _region_problem("aliyunregionid", self.aliyunregionid)
        return ([envelope] if envelope else []) + self.data.secret_problems()


class TimerEvent(BaseModel):
    """Timer-trigger event (ref §2): ``{"triggerTime", "triggerName", "payload"}``."""

    model_config = ConfigDict(extra="ignore")

    triggerTime: str
    triggerName: str
    payload: str = ""  # the string from the trigger config

    @field_validator("payload", mode="before")
    @classmethod
    def _null_payload_to_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    def payload_json(self) -> Any:
        """The payload decoded as JSON (ref §2: JSON in the payload must be decoded a second time).
        Returns None for an empty payload. Raises EventParseError if the payload is not valid JSON."""
        if not self.payload.strip():
            return None
        return _loads(self.payload, what="timer payload")


def event_dedupe_key(ev: CloudEvent) -> str:
    """Key for dropping redelivered events. EventBridge treats events with the same source and id as
    duplicates (ref §1a)."""
    return f"{ev.source or ''}/{ev.id}"


def mask_access_key_id(access_key_id: str) -> str:
    """Show only the first 4 characters ("LTAI", "STS."). Ids of 4 characters or fewer are masked entirely."""
    return access_key_id[:4] + "****" if len(access_key_id) > 4 else "****"


RawEvent = Union[bytes, bytearray, str, dict, list]


def parse_fc_event(event: RawEvent) -> list[CloudEvent]:
    """Parse what FC passes to an EventBridge-triggered handler into CloudEvents.

    On Python 3 FC passes bytes (ref §1e). Batching and eventSchema options may turn that into a JSON array
    (ref §1e, UNCONFIRMED), so a single object and an array are both accepted. The result is always a list.
    Raises EventParseError.
    """
    doc = _to_document(event, what="event")
    if isinstance(doc, dict):
        return [_validate_cloud_event(doc, label="event")]
    if isinstance(doc, list):
        return [_validate_cloud_event(item, label=f"event[{i}]") for i, item in enumerate(doc)]
    raise EventParseError(f"event must be a JSON object or an array of objects, got {_json_type(doc)}")


def parse_fc_events_each(event: RawEvent) -> list[Union[CloudEvent, EventParseError]]:
    """Each event of a delivery on its own: a bad item is its own EventParseError (labelled with its
    index) and never costs the good items beside it. A bare ActionTrail record, as a rule delivering
    only `$.data` (DeliveryOption eventSchema RawData) sends it, is put back in the envelope it lost:
    id from its eventId, type from its eventType, source acs.<service>. Raises EventParseError only
    when the payload itself is unreadable or holds no event."""
    doc = _to_document(event, what="event")
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise EventParseError("the payload holds no event")
    out: list[Union[CloudEvent, EventParseError]] = []
    for i, item in enumerate(items):
        label = f"event[{i}]" if isinstance(doc, list) else "event"
        try:
            out.append(_validate_cloud_event(_enveloped(item), label=label))
        except EventParseError as exc:
            out.append(exc)
    return out


def _enveloped(item: Any) -> Any:
    """A bare ActionTrail record wrapped as EventBridge would have delivered it; anything else as is."""
    if not isinstance(item, dict) or "data" in item or "type" in item or not item.get("eventName") or not item.get("eventId"):
        return item
    service = str(item.get("serviceName") or "").lower()
    return {"id": item["eventId"], "source": f"acs.{service}" if service else None,
            "type": f"{service}:ActionTrail:{item.get('eventType') or 'ApiCall'}", "data": item,
            "aliyunregionid": item.get("acsRegion")}


def decode_payload(event: RawEvent, what: str = "event", *, snippet: bool = True) -> Any:
    """What FC passed (bytes, str or decoded JSON) as Python data; EventParseError naming `what` otherwise.
    `snippet=False`: a text that is not JSON is reported by position only, quoting none of it (for payloads that
    may carry a secret value pasted by mistake)."""
    return _to_document(event, what=what, snippet=snippet)


def is_timer_payload(event: RawEvent) -> bool:
    """Whether the payload is shaped like a timer trigger's event (triggerTime and triggerName)."""
    try:
        doc = _to_document(event, what="event")
    except EventParseError:
        return False
    return isinstance(doc, dict) and "triggerTime" in doc and "triggerName" in doc and "data" not in doc


def parse_timer_event(event: RawEvent) -> TimerEvent:
    """Parse what FC passes to a timer-triggered handler (ref §2). Raises EventParseError."""
    doc = _to_document(event, what="timer event")
    if not isinstance(doc, dict):
        raise EventParseError(f"timer event must be a JSON object, got {_json_type(doc)}")
    try:
        return TimerEvent.model_validate(doc)
    except ValidationError as exc:
        raise EventParseError(_clip(f"timer event invalid: {_describe(exc)}")) from None


# --- internals ---------------------------------------------------------------------------------------------

# --- identifiers KMS accepts ---
#
# "DescribeKey" (KMS API reference, https://www.alibabacloud.com/help/doc-detail/28952.htm): KeyId is "the ID, alias,
# or Alibaba Cloud Resource Name (ARN) of the key"; "the key ARN is in the acs:kms:${region}:${account}:key/${keyid}
# format"; example ids key-hzz630494463ejqjx**** and, in "ScheduleKeyDeletion"
# (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-schedulekeydeletion),
# 7906979c-8e06-46a2-be2d-68e3ccbc**** (a UUID). A key id is therefore ASCII letters, digits and hyphens; the bound
# of 128 characters is generous (UUIDs have 36, key-… ids about 24) so that no real id, of a format not seen yet,
# is rejected. Underscores are also let through for the same reason.
_KEY_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}"
# "Create an alias" (https://www.alibabacloud.com/help/en/key-management-service/latest/create-an-alias): "An alias
# must contain the alias/ prefix. An alias name excluding the prefix must be 1 to 255 characters in length and can
# contain letters, digits, underscores (_), hyphens (-), and forward slashes (/)."
_ALIAS = r"alias/[A-Za-z0-9_/-]{1,255}"
# Region ids as "Regions and zones" lists them (https://www.alibabacloud.com/help/doc-detail/140601.htm):
# cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1, ...: lowercase words and digits joined by hyphens.
_REGION = r"[a-z]{2,}(?:-[a-z0-9]+){1,6}"
_MAX_REGION_CHARS = 64
# Account ids (uids) are digits (16 in practice).
_ACCOUNT = r"[0-9]{1,32}"

_KMS_KEY_ARN = re.compile(rf"acs:kms:(?P<region>{_REGION}):(?P<account>{_ACCOUNT}):key/(?P<key_id>{_KEY_ID})")
# The RAM resource form of an alias (acs:kms:<region>:<uid>:alias/<name>), as the "Create an alias" page's policy uses.
_KMS_ALIAS_ARN = re.compile(rf"acs:kms:{_REGION}:{_ACCOUNT}:{_ALIAS}")
_KEY_REF = re.compile(rf"{_KEY_ID}|{_ALIAS}")
_REGION_ID = re.compile(_REGION)
# Something that claims to be a KMS key ARN (then it must be a valid one); any other ARN names another resource.
_LOOKS_LIKE_KMS_KEY_ARN = re.compile(r"acs:kms:[^:]*:[^:]*:key/")
# A secret's name: at most 192 letters, digits and _/+=.@- ("CreateSecret", SecretName,
# https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-createsecret),
# or its ARN, acs:kms:<region>:<account>:secret/<name> ("GetSecretValue", SecretName).
_SECRET_NAME = re.compile(r"[A-Za-z0-9_/+=.@-]{1,192}")
_SECRET_ARN = re.compile(rf"acs:kms:{_REGION}:{_ACCOUNT}:secret/(?P<name>.+)")


def _usable_secret_name(value: str) -> Optional[str]:
    match = _SECRET_ARN.fullmatch(value)
    name = match.group("name") if match else value
    return name if _SECRET_NAME.fullmatch(name) else None

# Alibaba Cloud AccessKey ids (LTAI… long-term, STS.… temporary). Masked in error snippets.
_ACCESS_KEY_ID = re.compile(r"\b(LTAI|STS\.)[A-Za-z0-9]{4,}")


def _usable_key_ref(value: str) -> Optional[str]:
    """A KeyId value as the API takes it: a key ARN becomes its bare id; an id, alias or alias ARN stays; anything
    else (too long, other characters, another resource) is None."""
    if _KEY_REF.fullmatch(value) or _KMS_ALIAS_ARN.fullmatch(value):
        return value
    match = _KMS_KEY_ARN.fullmatch(value)
    return match.group("key_id") if match else None


def is_region_id(value: Optional[str]) -> bool:
    """Whether `value` is shaped like an Alibaba Cloud region id (cn-hangzhou, ap-southeast-1)."""
    return bool(value) and len(value) <= _MAX_REGION_CHARS and _REGION_ID.fullmatch(value) is not None


def clip(value: object, limit: int = 40) -> str:
    """A value quoted in a reason: clipped, AccessKey ids masked (a huge field never fills a record)."""
    return _show(str(value), limit)


def _region_problem(field: str, value: Optional[str]) -> Optional[str]:
    """Why a present region value is impossible, or None (also None when absent or empty)."""
    if not value or is_region_id(value):
        return None
    return f"{field} {_show(value)} is not an Alibaba Cloud region id (such as cn-hangzhou)"


def _show(value: str, limit: int = 40) -> str:
    """A value for a message: its repr clipped to `limit` characters (AccessKey ids masked), with its length when
    clipped, so that a 100,000-character value does not end up in a record or an alert."""
    masked = _ACCESS_KEY_ID.sub(lambda m: m.group(1) + "****", value)
    if len(masked) <= limit:
        return repr(masked)
    return f"{masked[:limit]!r}… ({len(value)} characters)"


def _clip(text: str, limit: int = _MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: Any) -> str:
    for py_type, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), ((int, float), "number")):
        if isinstance(value, py_type):
            return name
    return "null" if value is None else type(value).__name__


def _to_document(event: Any, what: str, snippet: bool = True) -> Any:
    """Turn FC's raw event (bytes, str or already-decoded JSON) into Python data."""
    if isinstance(event, (bytes, bytearray)):
        try:
            event = bytes(event).decode("utf-8-sig")  # -sig: a leading BOM would break json.loads
        except UnicodeDecodeError:
            raise EventParseError(f"{what} bytes are not valid UTF-8") from None
    if isinstance(event, str):
        return _loads(event, what=what, snippet=snippet)
    if isinstance(event, (dict, list)):
        return event
    raise EventParseError(f"unsupported {what} type {type(event).__name__}; expected bytes, str, dict or list")


def _loads(text: str, what: str, snippet: bool = True) -> Any:
    if not text.strip():
        raise EventParseError(f"{what} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if not snippet:
            raise EventParseError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        # Show a small snippet near the error position rather than the whole payload. Mask AccessKey ids in the
        # whole text first (same length, so exc.pos still lines up) so a snippet cut mid-id shows no part of it.
        masked = _ACCESS_KEY_ID.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - len(m.group(1))), text)
        snippet = masked[max(0, exc.pos - 20) : exc.pos + 20]
        raise EventParseError(
            _clip(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}, near {snippet!r}")
        ) from None
    except RecursionError:
        raise EventParseError(f"{what} JSON is nested too deeply") from None
    except ValueError:
        # Not a JSONDecodeError (caught above): Python refuses to convert an integer of more than
        # sys.get_int_max_str_digits() digits (4300 by default) and json.loads lets that ValueError through.
        # See "Integer string conversion length limitation",
        # https://docs.python.org/3/library/stdtypes.html#int-max-str-digits
        raise EventParseError(f"{what} JSON holds a number too long to read") from None


def _validate_cloud_event(item: Any, label: str) -> CloudEvent:
    if not isinstance(item, dict):
        raise EventParseError(f"{label} is not a JSON object (got {_json_type(item)})")
    try:
        return CloudEvent.model_validate(item)
    except ValidationError as exc:
        # "from None": pydantic's own text repeats the input values, which can be large.
        raise EventParseError(_clip(f"{label} invalid: {_describe(exc)}")) from None


def _describe(exc: ValidationError) -> str:
    """Summarise a ValidationError from field locations and messages only, without the input values."""
    missing, problems = [], []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(root)"
        if err["type"] == "missing":
            missing.append(loc)
        else:
            problems.append(f"{loc}: {err['msg']}")
    parts = []
    if missing:
        parts.append("missing required field(s): " + ", ".join(missing))
    parts.extend(problems[:3])
    if len(problems) > 3:
        parts.append(f"(+{len(problems) - 3} more)")
    return "; ".join(parts)
