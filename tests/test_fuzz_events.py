"""Hostile input, fuzzed: whatever bytes reach key-guard, it answers, records, and never asks for a retry.

Property-based tests (Hypothesis) over FC payloads delivered to the real handler path (s.yaml's key-guard,
loaded and called by the local FC runtime, talking to the local cloud through the official SDKs):

- no unhandled exception: an exception makes FC retry the invocation, again and again for bad input;
- every event gets a result entry with a known status, and a rejection says why;
- every result has its decision record (in the SLS logstore, or on stdout, which FC ships to SLS too);
- refusing an event (rejected, ignored, duplicate) costs a bounded number of API calls.

`parse_fc_event` is fuzzed directly as well (fast, many examples): it only ever raises EventParseError.

Runs are reproducible (derandomize: the same examples on every run for a given Hypothesis version) and
bounded to about a minute for the whole module. One local cloud serves the whole module; each example
measures what its own invocation added (records, API calls).
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from localcloud.clock import Clock
from localcloud.cloud import LocalCloud
from shared.events import CloudEvent, EventParseError, parse_fc_event, parse_fc_events_each
from tests.support.accounts import ROOT, S_YAML, make_account

SAMPLE_NAMES = ("schedule_key_deletion.json", "disable_key.json", "schedule_key_deletion_console.json")
SAMPLES = [json.loads((ROOT / "events" / name).read_text()) for name in SAMPLE_NAMES]
SAMPLE = SAMPLES[0]
OTHER_ACCOUNT = "9999999999999999"

STATUSES = {"rejected", "ignored", "no_action", "decided", "acted", "already_done", "recorded", "duplicate", "error"}
REFUSED = {"rejected", "ignored", "duplicate"}
# Refusing an event may cost: the claim (PutObject, maybe GetObject), one DescribeKey that finds no key, the
# claim's completion, the record (PutLogs) and, for a rejection, its alert (PutCustomEvent). Anything above this
# bound for refused input is a storm in the making.
MAX_CALLS_PER_REFUSED_EVENT = 7
KEY_WRITES = {"kms:CancelKeyDeletion", "kms:EnableKey", "kms:SetDeletionProtection", "kms:UpdateRotationPolicy"}
# A rejection's reason lands in the record and in alerts: it must say why, in a line, not replay the input.
MAX_REASON_CHARS = 1_000


def fuzz(max_examples: int):
    """Settings for one property: reproducible (derandomize; no example database to replay from),
    no per-example deadline (a cloud round trip varies), health checks that fight big inputs off."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example,
                                           HealthCheck.filter_too_much])


# ---------------------------------------------------------------- the cloud, one per module


@pytest.fixture(scope="module")
def cloud():
    # The key stays Enabled, so no fuzzed event can make the guard change it: every example meets the same cloud.
    cloud = LocalCloud(make_account(), project=S_YAML, env={}, clock=Clock(None))
    cloud.start()
    yield cloud
    cloud.stop()


@dataclass
class Run:
    payload: bytes
    error: dict | None
    answer: object
    results: list[dict] | None
    records: list[dict]  # this invocation's decision records, SLS ones first, then those printed on stdout
    calls: dict[str, int]  # API calls the local cloud answered during this invocation

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def raw_records(cloud: LocalCloud) -> list[dict]:
    """The decision logstore's records, values as stored (text). conftest's decision_records decodes any value
    that starts with [ or { as JSON, which a fuzzed caller or reason may do without being JSON."""
    return [dict(log.contents) for log in cloud.account.sls.logs if log.logstoreName == "key-guard-decisions"]


def invoke(cloud: LocalCloud, payload: bytes) -> Run:
    records_before = len(raw_records(cloud))
    calls_before = cloud.calls.snapshot()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        inv = cloud.fc.invoke("key-guard", payload)
    records = raw_records(cloud)[records_before:]
    for line in stdout.getvalue().splitlines():
        if line.startswith('{"kms-steward-record"'):
            records.append(json.loads(line)["kms-steward-record"])
    calls_after = cloud.calls.snapshot()
    calls = {api: n - calls_before.get(api, 0) for api, n in calls_after.items() if n != calls_before.get(api, 0)}
    results = (inv.result or {}).get("results") if isinstance(inv.result, dict) else None
    return Run(payload, inv.error, inv.result, results, records, calls)


def expected_results(payload: bytes) -> int:
    """One result per item of a list (each decided or rejected on its own), else one; a payload that cannot
    be read at all is answered with one rejection."""
    try:
        return len(parse_fc_events_each(payload))
    except Exception:  # noqa: BLE001 - whatever the parser does, the guard answers once
        return 1


def check(run: Run) -> list[dict]:
    """The properties every invocation must have, whatever it was given. Returns the results."""
    shown = run.payload[:300]
    assert run.error is None, (f"unhandled {run.error['errorType']} (FC would retry): "
                               f"{run.error['errorMessage'][:300]}\npayload: {shown!r}")
    assert isinstance(run.results, list), f"no results list in the answer; payload: {shown!r}"
    # A payload that is no event but a timer event runs the daily safety net: its own answer and summary record.
    safety_net = isinstance(run.answer, dict) and "safetyNet" in run.answer
    if not safety_net:
        assert len(run.results) == expected_results(run.payload), f"one result per event; payload: {shown!r}"
    for result in run.results:
        assert result.get("status") in STATUSES, f"unknown status in {result}; payload: {shown!r}"
        if result["status"] == "rejected":
            reason = result.get("reason")
            assert isinstance(reason, str) and reason.strip(), f"a rejection without a reason: {result}"
    records = [r for r in run.records if r.get("status") != "safety_net"]
    assert len(records) == len(run.results), (
        f"{len(run.results)} result(s) but {len(records)} decision record(s); payload: {shown!r}")
    assert sorted(str(r.get("status")) for r in records) == sorted(r["status"] for r in run.results)
    if not safety_net and all(r["status"] in REFUSED for r in run.results):
        bound = MAX_CALLS_PER_REFUSED_EVENT * len(run.results)
        assert run.total_calls <= bound, f"{run.total_calls} API calls to refuse the input: {run.calls}"
        assert not set(run.calls) & KEY_WRITES, f"refused input changed a key: {run.calls}"
    return run.results


# ---------------------------------------------------------------- strategies

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=30))
JSON = st.recursive(SCALARS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)
# Values of each JSON type, for "a field of the wrong type".
WRONG_TYPED = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                        st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def paths_of(node, prefix=()) -> list[tuple]:
    """Every path to every field of a document (objects only: the samples hold no arrays)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append(prefix + (key,))
            out += paths_of(value, prefix + (key,))
    return out


PATHS = paths_of(SAMPLE)


def get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def with_value(doc: dict, path: tuple, value) -> dict:
    """A copy of doc with path set to value (parents created as objects when they were replaced)."""
    doc = copy.deepcopy(doc)
    node = doc
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return doc


def without(doc: dict, paths) -> dict:
    doc = copy.deepcopy(doc)
    for path in sorted(paths, key=len, reverse=True):
        node = doc
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return doc


STRING_PATHS = [p for p in PATHS if isinstance(get(SAMPLE, p), str)]
KEY_ID_PATH = ("data", "requestParameters", "KeyId")


def encode(doc) -> bytes:
    return json.dumps(doc).encode()


@st.composite
def distinct_sample(draw) -> dict:
    """A genuine sample with an event id of its own, so that examples do not all meet a done claim."""
    event = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    event["id"] = f"fuzz-{draw(st.uuids())}"
    return event


# ---------------------------------------------------------------- the known case: a 100,000-character KeyId


def test_a_huge_key_id_is_rejected_before_any_call(cloud):
    """Every API call carrying it is answered HTTP 414 (URI too long): taken for a transient failure, FC would
    retry it forever. It must be rejected, naming the field, before any call."""
    run = invoke(cloud, encode(with_value(SAMPLE, KEY_ID_PATH, "a" * 100_000)))
    [result] = check(run)
    assert result["status"] == "rejected" and "KeyId" in result["reason"]
    assert not any(api.startswith("kms:") for api in run.calls), run.calls
    assert run.calls == {"sls:PutLogs": 1, "cms:PutCustomEvent": 1}, f"rejected input costs its record and its alert: {run.calls}"


@pytest.mark.parametrize("path", [("source",), ("aliyunaccountid",), ("data", "serviceName"), ("data", "eventName"),
                                  ("data", "errorCode"), ("data", "acsRegion"), KEY_ID_PATH], ids=".".join)
def test_a_reason_does_not_replay_a_huge_field(cloud, path):
    """A reason goes into the record and the alert: it says which field is wrong, it does not carry 100,000
    characters of it (the guard quotes the field; it should clip it as shared.events does)."""
    event = with_value(SAMPLE, path, "z" * 100_000)
    event["id"] = f"huge-reason-{'.'.join(path)}"
    [result] = check(invoke(cloud, encode(event)))
    assert result["status"] in {"rejected", "ignored"}, result
    reason = result["reason"]
    assert len(reason) <= MAX_REASON_CHARS, f"a {len(reason)}-character reason: {reason[:120]!r}…"


# ---------------------------------------------------------------- the handler, fuzzed


@fuzz(60)
@given(doc=JSON)
@example(doc={"id": 1, "type": 2, "data": 3})
@example(doc=[{}])
@example(doc=[])
def test_random_json(cloud, doc):
    check(invoke(cloud, json.dumps(doc).encode()))


@st.composite
def damaged_bytes(draw) -> bytes:
    raw = encode(draw(st.sampled_from(SAMPLES)))
    how = draw(st.sampled_from(["truncate", "overwrite", "insert", "reencode"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    at = draw(st.integers(0, len(raw) - 1))
    if how == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=8))
        return raw[:at] + junk + raw[at + len(junk):]
    if how == "insert":
        return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    text = json.dumps(with_value(SAMPLE, ("data", "userAgent"), draw(st.text(min_size=1, max_size=10))), ensure_ascii=False)
    return text.encode(draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252", "utf-16-be"])), errors="replace")


@fuzz(60)
@given(payload=damaged_bytes())
@example(payload=b"\xff\xfe\x00")
@example(payload=b"\xef\xbb\xbf")
@example(payload=b'{"id": "x", "type": "kms:Action')
@example(payload=b"1" * 5_000)  # a number too long for int(): ValueError, not JSONDecodeError
def test_truncated_and_non_utf8_bytes(cloud, payload):
    check(invoke(cloud, payload))


@pytest.mark.parametrize("path", PATHS, ids=".".join)
def test_wrong_type_in_every_field(cloud, path):
    """Each field of the sample, in turn, holding each JSON type it does not have."""
    for value in (None, -1.5, True, "text", [1, "a"], {"k": "v"}):
        if type(value) is type(get(SAMPLE, path)):
            continue
        event = with_value(SAMPLE, path, value)
        event["id"] = f"wrong-type-{'.'.join(path)}-{json.dumps(value)}" if path != ("id",) else value
        check(invoke(cloud, encode(event)))


@fuzz(60)
@given(path=st.sampled_from(PATHS), value=WRONG_TYPED, event=distinct_sample())
def test_wrong_types_fuzzed(cloud, path, value, event):
    check(invoke(cloud, encode(with_value(event, path, value))))


@fuzz(40)
@given(path=st.sampled_from(STRING_PATHS), size=st.sampled_from([300, 5_000, 70_000, 100_000]),
       unit=st.sampled_from(["a", "0", "é", "/", "%", "\u202e", "\U0001f511", "-", " "]), event=distinct_sample())
@example(path=KEY_ID_PATH, size=100_000, unit="a", event=SAMPLE)
@example(path=("data", "acsRegion"), size=100_000, unit="a", event=SAMPLE)
@example(path=("id",), size=100_000, unit="a", event=SAMPLE)
@example(path=("data", "eventName"), size=100_000, unit="a", event=SAMPLE)
def test_huge_strings(cloud, path, size, unit, event):
    check(invoke(cloud, encode(with_value(event, path, unit * size))))


# Any code point, lone surrogates and control characters included (json.dumps escapes them as \\uXXXX).
STRANGE_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None), max_size=40) \
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3) \
    | st.sampled_from(["\x00", "\r\nX-Injected: 1", "../../etc/passwd", "%00", "alias/", "acs:kms:::key/", " ", "\u202e"])


@fuzz(50)
@given(path=st.sampled_from(STRING_PATHS), value=STRANGE_TEXT, event=distinct_sample())
@example(path=("id",), value="\ud800", event=SAMPLE)
@example(path=KEY_ID_PATH, value="\udfff", event=SAMPLE)
@example(path=KEY_ID_PATH, value="0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b\x00", event=SAMPLE)
@example(path=("data", "acsRegion"), value="cn-hangzhou\r\nX-Injected: 1", event=SAMPLE)
def test_strange_text_in_every_string_field(cloud, path, value, event):
    check(invoke(cloud, encode(with_value(event, path, value))))


@fuzz(40)
@given(depth=st.integers(2, 30_000), path=st.none() | st.sampled_from(PATHS), bracket=st.sampled_from(["[]", "{}"]),
       event=distinct_sample())
@example(depth=100_000, path=None, bracket="[]", event=SAMPLE)
@example(depth=900, path=KEY_ID_PATH, bracket="[]", event=SAMPLE)
def test_deep_nesting(cloud, depth, path, bracket, event):
    opening, closing = bracket
    nested = (opening + '"k":') * (depth - 1) + opening + closing + closing * (depth - 1) if opening == "{" \
        else opening * depth + closing * depth
    if path is None:
        payload = nested
    else:
        payload = json.dumps(with_value(event, path, "__NESTED__")).replace('"__NESTED__"', nested, 1)
    check(invoke(cloud, payload.encode()))


@st.composite
def any_event(draw):
    """One item of a batch: a genuine sample, a damaged one, or not an event at all."""
    kind = draw(st.sampled_from(["sample", "wrong-type", "missing", "spoofed", "junk"]))
    event = draw(distinct_sample())
    if kind == "wrong-type":
        return with_value(event, draw(st.sampled_from(PATHS)), draw(WRONG_TYPED))
    if kind == "missing":
        return without(event, draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=4)))
    if kind == "spoofed":
        return with_value(event, ("source",), draw(st.sampled_from(["evil.kms", "", "acs", "ACS.KMS"])))
    if kind == "junk":
        return draw(JSON)
    return event


@fuzz(40)
@given(batch=st.lists(any_event(), max_size=6))
@example(batch=[SAMPLE, SAMPLE])  # the same event twice in one delivery
def test_lists_of_events(cloud, batch):
    check(invoke(cloud, encode(batch)))


@st.composite
def spoofed(draw) -> tuple[dict, str]:
    """A record that does not come from this account's KMS, and the word its rejection must contain."""
    event = draw(distinct_sample())
    how = draw(st.sampled_from(["source", "service", "account", "identity-account"]))
    if how == "source":
        source = draw(st.none() | st.text(max_size=20).filter(lambda s: not s.startswith("acs.")))
        return (without(event, [("source",)]) if source is None else with_value(event, ("source",), source)), "source"
    if how == "service":
        service = draw(st.sampled_from(["Ecs", "kms", "KMS", "Kms ", "Oss"])
                       | st.text(min_size=1, max_size=20).filter(lambda s: s != "Kms"))
        return with_value(event, ("data", "serviceName"), service), "service"
    if how == "account":
        account = draw(st.sampled_from([OTHER_ACCOUNT, int(OTHER_ACCOUNT), "1234567890123457", "0", "*"]))
        return with_value(event, ("aliyunaccountid",), account), "account"
    event = without(event, [("aliyunaccountid",)])
    return with_value(event, ("data", "userIdentity", "accountId"), OTHER_ACCOUNT), "account"


@fuzz(50)
@given(case=spoofed())
def test_spoofed_records_are_rejected(cloud, case):
    event, word = case
    [result] = check(invoke(cloud, encode(event)))
    assert result["status"] == "rejected" and word in result["reason"], result


@fuzz(50)
@given(event=distinct_sample(), missing=st.lists(st.sampled_from(PATHS), min_size=1, max_size=6, unique=True))
@example(event=SAMPLE, missing=[("data",)])
@example(event=SAMPLE, missing=[("id",), ("type",)])
@example(event=SAMPLE, missing=[("data", "requestParameters")])
@example(event=SAMPLE, missing=[("data", "eventName")])
def test_missing_fields(cloud, event, missing):
    check(invoke(cloud, encode(without(event, missing))))


# ---------------------------------------------------------------- the parser alone (fast, many examples)

PAYLOADS = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    JSON,
    JSON.map(lambda d: json.dumps(d).encode()),
    damaged_bytes(),
    st.builds(with_value, st.sampled_from(SAMPLES), st.sampled_from(PATHS), JSON),
    st.builds(lambda e, p, v: encode(with_value(e, p, v)), st.sampled_from(SAMPLES), st.sampled_from(PATHS), JSON),
    st.builds(without, st.sampled_from(SAMPLES), st.lists(st.sampled_from(PATHS), max_size=5)),
    st.lists(st.builds(with_value, st.sampled_from(SAMPLES), st.sampled_from(PATHS), WRONG_TYPED), max_size=3),
    st.integers(0, 8_000).map(lambda n: b"9" * n),
    st.sampled_from([None, 5, 1.5, object(), b"", bytearray(b"[]"), "", [], {}, ["x"], [{}]]),
)


@fuzz(600)
@given(payload=PAYLOADS)
@example(payload=b"1" * 5_000)
@example(payload=encode(SAMPLE).replace(b'"eventVersion": 1', b'"eventVersion": ' + b"7" * 5_000))
@example(payload=b"[" * 100_000)
@example(payload='{"id": "\\ud800", "type": "t", "data": {}}')
def test_parse_fc_event_raises_only_event_parse_error(payload):
    try:
        events = parse_fc_event(payload)
    except EventParseError as exc:
        assert str(exc) and len(str(exc)) <= 200
        return
    assert isinstance(events, list) and all(isinstance(ev, CloudEvent) for ev in events)
    for ev in events:  # what the guard reads from every event must not raise either
        problems = ev.problems()
        assert isinstance(problems, list) and all(isinstance(p, str) and len(p) <= 300 for p in problems)
        key_id = ev.data.key_id
        assert key_id is None or (isinstance(key_id, str) and len(key_id) <= 400)
        assert ev.region is None or len(ev.region) <= 64
        assert isinstance(ev.data.caller, str) and isinstance(ev.data.failed, bool)
        # What the guard hashes (the claim) and records (SLS) is valid Unicode: no unpaired surrogate left.
        for text in (ev.id, ev.type, ev.source, ev.data.eventName, ev.data.acsRegion, ev.data.caller, ev.data.userAgent):
            assert text is None or isinstance(text.encode("utf-8"), bytes)
