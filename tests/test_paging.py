"""Listings that must never end early and still call themselves complete.

- The local cloud's paging faults through the official SDKs: a page size capped below the one asked
  (reporting the capped size, or echoing the one asked), a total left out.
- Every scanner that pages, against the local cloud with its listing capped so that the dependent sits on
  a later page: it finds the dependent, or its result is incomplete; never "complete, no dependent".
- The paging helpers with plain Python fetch functions: caps, missing totals, items shifting between
  pages, and servers that answer the same page or token forever (an error, never an endless loop).
"""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_nas20170626 import models as nas
from alibabacloud_nas20170626.client import Client as NasClient

from localcloud.account import Account
from shared.audit import paging
from shared.audit.paging import IncompleteListing, ListingShifted, items_by_number, items_by_offset, items_by_token
from shared.audit.runner import run_audit
from shared.audit.scanners.ack_clusters import AckClustersScanner
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_images import EcsImagesScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.kms_secrets import KmsSecretsScanner
from shared.audit.scanners.mongodb_instances import MongodbInstancesScanner
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from shared.audit.scanners.polardb_clusters import PolardbClustersScanner
from shared.audit.scanners.redis_instances import RedisInstancesScanner
from shared.audit.scanners.sls_logstores import SlsLogstoresScanner
from tests.support.accounts import KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import sdk_config
from tests.support.resources import (ack_basic_cluster as basic, ack_cluster, disk, ecs_image as image, file_system,
                                     image_snapshot, logstore, mongodb_instance, polardb_cluster, redis_community as community,
                                     redis_instance, secret, snapshot)
from tests.support.scanners import clients, target

CAP = 2  # far below every scanner's page size: five resources take three pages

# ---------------------------------------------------------------- the local cloud's paging faults


def cap(api: str, **extra) -> dict:
    return {"Api": api, "PageSizeCap": CAP, **extra}


def nas_page(cloud, number: int, size: int = 100):
    return NasClient(sdk_config(cloud)).describe_file_systems(
        nas.DescribeFileSystemsRequest(file_system_type="all", page_number=number, page_size=size)).body


def test_a_capped_listing_reports_the_capped_page_size_and_pages_at_it(start_cloud):
    systems = [file_system(f"fs-{i}", key=None) for i in range(5)]
    cloud = start_cloud(make_account(nas={"file_systems": systems}, faults=[cap("nas:DescribeFileSystems")]))

    pages = [nas_page(cloud, number) for number in (1, 2, 3, 4)]

    assert [[fs.file_system_id for fs in p.file_systems.file_system] for p in pages] == [
        ["fs-0", "fs-1"], ["fs-2", "fs-3"], ["fs-4"], []]
    assert {(p.page_size, p.total_count) for p in pages} == {(CAP, 5)}


def test_a_capped_listing_can_echo_the_page_size_asked_and_leave_out_the_total(start_cloud):
    systems = [file_system(f"fs-{i}", key=None) for i in range(5)]
    cloud = start_cloud(make_account(nas={"file_systems": systems},
                                     faults=[cap("nas:DescribeFileSystems", ReportRequestedPageSize=True, OmitTotal=True)]))

    page = nas_page(cloud, 2)

    assert [fs.file_system_id for fs in page.file_systems.file_system] == ["fs-2", "fs-3"]
    assert (page.page_size, page.total_count) == (100, None)


def test_the_cap_follows_the_faults_scope_and_countdown(start_cloud):
    systems = [file_system(f"fs-{i}", key=None) for i in range(5)]
    cloud = start_cloud(make_account(nas={"file_systems": systems}, faults=[cap("nas:DescribeFileSystems", Remaining=1)]))

    assert len(nas_page(cloud, 1).file_systems.file_system) == CAP
    assert len(nas_page(cloud, 1).file_systems.file_system) == 5  # the fault is spent


def test_a_capped_next_token_listing_still_reaches_every_item(start_cloud):
    cloud = start_cloud(make_account(disks=[disk(f"d-{i}") for i in range(5)], faults=[cap("ecs:DescribeDisks")]))
    client = EcsClient(sdk_config(cloud))
    ids, token = [], None
    while True:
        body = client.describe_disks(ecs.DescribeDisksRequest(region_id=REGION, max_results=500, next_token=token)).body
        assert len(body.disks.disk) <= CAP
        ids += [d.disk_id for d in body.disks.disk]
        token = body.next_token
        if not token:
            break

    assert ids == [f"d-{i}" for i in range(5)]


# ---------------------------------------------------------------- every paging scanner, its dependent on a later page


def plain_then(dependent: dict, plain) -> list[dict]:
    """Four resources listed before the dependent, which lands on the third capped page. Where the API
    filters by key (DescribeDisks, DescribeSnapshots) or lists one snapshot's images, the four are on the
    key too: the listing must still be capped to reach the last one."""
    return [plain(i) for i in range(4)] + [dependent]


SCANNERS = {
    # scanner, account sections, the listing API capped, the dependent's id
    "polardb": (PolardbClustersScanner(), {"polardb": {"clusters": plain_then(polardb_cluster("pc-dep", tde=KEY),
                                                                               lambda i: polardb_cluster(f"pc-{i}"))}},
                "polardb:DescribeDBClusters", "pc-dep"),
    "nas": (NasFileSystemsScanner(), {"nas": {"file_systems": plain_then(file_system("fs-dep"),
                                                                         lambda i: file_system(f"fs-{i}", key=None))}},
            "nas:DescribeFileSystems", "fs-dep"),
    "redis": (RedisInstancesScanner(), {"redis": {"instances": plain_then(redis_instance("r-dep"), lambda i: community(f"r-{i}"))}},
              "redis:DescribeInstances", "r-dep"),
    "mongodb": (MongodbInstancesScanner(), {"mongodb": {"instances": plain_then(mongodb_instance("dds-dep", tde=KEY),
                                                                                 lambda i: mongodb_instance(f"dds-{i}"))}},
                "mongodb:DescribeDBInstances", "dds-dep"),
    "secrets": (KmsSecretsScanner(), {"kms": {"secrets": plain_then(secret("app/dep"), lambda i: secret(f"app/{i}", key=OTHER_KEY))}},
                "kms:ListSecrets", "app/dep"),
    "images": (EcsImagesScanner(), {"snapshots": [image_snapshot("s-img")],
                                    "ecs": {"images": plain_then(image("m-dep", "s-img"),
                                                                 lambda i: image(f"m-{i}", "s-img"))}},
               "ecs:DescribeImages", "m-dep"),
    "disks": (EcsDisksScanner(), {"disks": plain_then(disk("d-dep"), lambda i: disk(f"d-{i}"))},
              "ecs:DescribeDisks", "d-dep"),
    "snapshots": (EcsSnapshotsScanner(), {"snapshots": plain_then(snapshot("s-dep"), lambda i: snapshot(f"s-{i}"))},
                  "ecs:DescribeSnapshots", "s-dep"),
}

FAULT_SHAPES = {
    "cap reported": {},
    "cap echoing the size asked": {"ReportRequestedPageSize": True},
    "cap without a total": {"OmitTotal": True},
}


def audit(cloud, scanner):
    [result] = run_audit(target(), clients(cloud), scanners=(scanner,)).results
    return result


def found_or_incomplete(result, dependent: str) -> bool:
    """The one thing a capped listing may never produce: a complete result without the dependent."""
    return not result.complete or dependent in {d.resource_id for d in result.dependents}


@pytest.mark.parametrize("shape", FAULT_SHAPES)
@pytest.mark.parametrize("name", SCANNERS)
def test_a_scanner_finds_a_dependent_beyond_a_capped_first_page(start_cloud, name, shape):
    scanner, sections, api, dependent = SCANNERS[name]
    cloud = start_cloud(make_account(**sections, faults=[cap(api, **FAULT_SHAPES[shape])]))

    result = audit(cloud, scanner)

    assert found_or_incomplete(result, dependent)
    assert result.complete and dependent in {d.resource_id for d in result.dependents}, result.reason


def ack_page(number: int, clusters: list[dict], total: int) -> dict:
    """A DescribeClustersV1 fault answering page `number` as a server capping page_size at CAP would."""
    body = {"clusters": clusters, "page_info": {"page_number": number, "page_size": CAP, "total_count": total}}
    return {"Api": "cs:DescribeClustersV1", "Params": {"page_number": str(number)}, "Body": body}


def test_ack_finds_a_cluster_beyond_a_capped_first_page(start_cloud):
    clusters = plain_then(ack_cluster("c-dep"), lambda i: basic(f"c-{i}"))
    pages = [clusters[i:i + CAP] for i in range(0, len(clusters), CAP)]
    cloud = start_cloud(make_account(faults=[ack_page(n, page, len(clusters)) for n, page in enumerate(pages, 1)]))

    result = audit(cloud, AckClustersScanner())

    assert result.complete and [d.resource_id for d in result.dependents] == ["c-dep"], result.reason


def with_logstores_only(stores) -> Account:
    """An account whose SLS holds `stores` only (the base account's own project left out)."""
    account = make_account(sls={"logstores": list(stores)})
    account.sls.logstores = [s for s in account.sls.logstores if s.projectName != "kms-steward-logs"]
    return account


def sls_answer(kind: str, names: list[str], total: int) -> dict:
    """ListProject / ListLogStores answered with fewer names than asked while more remain: a capped page."""
    items = [{"projectName": n, "region": REGION, "status": "Normal"} for n in names] if kind == "projects" else names
    return {"count": len(names), "total": total, kind: items}


def test_sls_finds_a_project_beyond_a_capped_first_page(start_cloud):
    stores = [logstore(f"p{i}", "s", encrypted=False) for i in range(4)] + [logstore("zz-dep", "s")]
    cloud = start_cloud(with_logstores_only(stores))
    cloud.faults.respond("sls:ListProject", sls_answer("projects", ["p0", "p1"], 5), remaining=1)

    result = audit(cloud, SlsLogstoresScanner())

    assert result.complete and [d.resource_id for d in result.dependents] == ["zz-dep/s"], result.reason


def test_sls_finds_a_logstore_beyond_a_capped_first_page(start_cloud):
    stores = [logstore("app", f"s{i}", encrypted=False) for i in range(4)] + [logstore("app", "zz-dep")]
    cloud = start_cloud(with_logstores_only(stores))
    cloud.faults.respond("sls:ListLogStores", sls_answer("logstores", ["s0", "s1"], 5), remaining=1)

    result = audit(cloud, SlsLogstoresScanner())

    assert result.complete and [d.resource_id for d in result.dependents] == ["app/zz-dep"], result.reason


# ---------------------------------------------------------------- the paging helpers, with plain Python servers

ASKED = 10  # the page size the helpers ask for


class NumberedServer:
    """A PageNumber/PageSize listing of `items` as a service answers it: pages cut at `cap` (the size it
    reports: `reports` "served", "asked" or None), the total left out unless `total`, and `changes`
    made to the items before the call of that number (1-based), as a listing that shifts while read."""

    def __init__(self, items, *, cap: int | None = None, reports: str | None = "served", total: bool = True, changes=None):
        self.items, self.cap, self.reports, self.total = list(items), cap, reports, total
        self.changes = changes or {}
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, number: int):
        with self._lock:
            self.calls += 1
            if change := self.changes.get(self.calls):
                change(self.items)
            size = min(ASKED, self.cap or ASKED)
            page = self.items[(number - 1) * size:number * size]
            return SimpleNamespace(items=page, total=len(self.items) if self.total else None,
                                   size={"served": size, "asked": ASKED, None: None}[self.reports])


def by_number(server, **options) -> list:
    return items_by_number(server, lambda body: body.items, lambda body: body.total, ASKED,
                           size_of=lambda body: body.size, **options)


ITEMS = [f"i{n:02}" for n in range(23)]


@pytest.mark.parametrize("shape", [
    {"cap": 4},  # capped, and the answer says so: the later pages are fetched at once
    {"cap": 4, "reports": None},  # capped silently
    {"cap": 4, "reports": "asked"},  # capped, echoing the size asked
    {"cap": 4, "total": False},  # capped, no total: page after page until a short one
    {"total": False},
    {},
])
def test_every_item_is_listed_whatever_the_page_size_and_total_say(shape):
    server = NumberedServer(ITEMS, **shape)

    assert by_number(server, key=str) == ITEMS
    assert server.calls <= -(-len(ITEMS) // (shape.get("cap") or ASKED)) + 1  # at most one page more than needed


def test_the_old_helper_ends_a_capped_listing_early():
    # What the helper did before: pages counted from the total at the size asked, nothing checked.
    def old_items_by_number(fetch, items_of, total_of, page_size):
        first = fetch(1)
        items, pages = list(items_of(first) or []), -(-(total_of(first) or 0) // page_size)
        for number in range(2, pages + 1):
            items += items_of(fetch(number)) or []
        return items

    assert old_items_by_number(NumberedServer(ITEMS, cap=4), lambda b: b.items, lambda b: b.total, ASKED) == ITEMS[:12]
    assert by_number(NumberedServer(ITEMS, cap=4)) == ITEMS


def test_a_missing_or_zero_total_beside_items_means_asking_until_a_short_page():
    class ZeroTotal(NumberedServer):
        def __call__(self, number):
            return SimpleNamespace(**{**vars(super().__call__(number)), "total": 0})

    server = ZeroTotal(ITEMS)

    assert by_number(server) == ITEMS and server.calls == 3


def test_an_empty_listing_is_one_call_and_an_empty_first_page_beside_a_total_is_incomplete():
    assert by_number(empty := NumberedServer([])) == [] and empty.calls == 1

    def contradicts(number):
        return SimpleNamespace(items=[], total=5, size=ASKED)

    with pytest.raises(IncompleteListing, match="listed 0 of 5 items"):
        by_number(contradicts)


def test_a_listing_that_shifts_once_is_read_again():
    server = NumberedServer(ITEMS, changes={2: lambda items: items.remove("i01")})  # deleted after page 1 was read

    assert by_number(server, concurrency=1) == [i for i in ITEMS if i != "i01"]
    assert server.calls == 3 + 3


def test_an_item_repeated_under_a_steady_total_is_incomplete_not_read_again():
    # One created at the front after page 1 and one deleted at the end: the total holds, i09 comes twice and the
    # new one never. Not read again: a second read can miss an item without any sign (one deleted behind the pages
    # read and one created ahead keep every count right), so the repeat that showed the churn ends the listing
    # incomplete, and the audit fails safe.
    def created_and_deleted(items):
        items.insert(0, "new")
        items.pop()

    server = NumberedServer(ITEMS, changes={2: created_and_deleted})

    with pytest.raises(IncompleteListing, match="^the API listed 22 distinct items of 23 \\(23 with repeats\\)$"):
        by_number(server, key=str, concurrency=1)
    assert server.calls == 3


def test_a_listing_that_keeps_shifting_is_incomplete():
    def deleted_each_call(items):
        items.pop(0)

    server = NumberedServer(ITEMS, changes={n: deleted_each_call for n in range(1, 20)})

    with pytest.raises(ListingShifted, match="moved between pages"):
        by_number(server, concurrency=1)


def test_a_page_shorter_than_the_page_size_before_the_last_is_incomplete():
    class ShortMiddle(NumberedServer):
        def __call__(self, number):
            body = super().__call__(number)
            return SimpleNamespace(**{**vars(body), "items": body.items[:-1] if number == 2 else body.items})

    with pytest.raises(IncompleteListing, match="listed 22 of 23 items"):
        by_number(ShortMiddle(ITEMS))


def test_an_item_that_shifted_onto_two_pages_is_kept_once_when_a_key_names_it():
    # Created at the front while the listing (no total) was read: the last item of page 1 comes again.
    server = NumberedServer(ITEMS, total=False, changes={2: lambda items: items.insert(0, "new")})

    assert by_number(server, key=str) == ITEMS  # i09 once; "new" was created after page 1 was read
    server = NumberedServer(ITEMS, total=False, changes={2: lambda items: items.insert(0, "new")})
    assert by_number(server).count("i09") == 2  # without a key, both copies are returned


@pytest.mark.parametrize("total", [None, 50])
def test_a_server_answering_the_same_page_forever_is_stopped(total):
    calls = []

    def same_page(number):
        calls.append(number)
        return SimpleNamespace(items=ITEMS[:ASKED], total=total, size=ASKED)

    with pytest.raises(IncompleteListing, match="does not advance"):
        by_number(same_page, concurrency=1)
    assert len(calls) == (2 if total is None else 5)  # the pages the total implies at most, never a loop


def test_a_server_with_no_end_is_stopped_at_the_page_bound(monkeypatch):
    monkeypatch.setattr(paging, "MAX_PAGES", 5)

    def endless(number):
        return SimpleNamespace(items=[f"p{number}-{i}" for i in range(ASKED)], total=None, size=ASKED)

    with pytest.raises(IncompleteListing, match="after 5 pages"):
        by_number(endless)
    calls = []
    with pytest.raises(IncompleteListing, match="^ListKeys still answered full pages of keys after 5 pages$"):
        by_number(lambda number: calls.append(number) or endless(number), api="ListKeys", noun="keys")
    assert calls == [1, 2, 3, 4, 5]  # the bound is the pages read, not one more


def test_a_server_repeating_its_first_page_with_a_field_that_changes_is_stopped_by_the_key():
    # As for offset paging: the key names an item, so a page number the server ignores shows at the second call even
    # when a field of each item (a status, a timestamp) changes from call to call.
    calls = []

    def ignores_the_page_number(number):
        calls.append(number)
        return SimpleNamespace(items=[{"id": n, "checkedAt": len(calls)} for n in range(ASKED)], total=None, size=None)

    with pytest.raises(IncompleteListing, match="does not advance"):
        by_number(ignores_the_page_number, key=lambda item: item["id"])
    assert calls == [1, 2]


def test_the_later_pages_are_fetched_no_more_at_once_than_the_caller_allows():
    # A caller bounds how many pages are asked for at once (1 for KMS's listings): the bound holds.
    lock, running, peak = threading.Lock(), [0], [0]
    server = NumberedServer(ITEMS, cap=2)

    def slow(number):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        try:
            return server(number)
        finally:
            with lock:
                running[0] -= 1

    assert by_number(slow, concurrency=2) == ITEMS
    assert 1 <= peak[0] <= 2


def test_a_silently_capped_listing_with_a_total_makes_no_call_past_it():
    # Page after page at the size the first page showed; once the items received reach the total, the listing is
    # done: no empty page asked for (every call spends the account's quota).
    server = NumberedServer(ITEMS[:20], cap=4, reports=None)

    assert by_number(server) == ITEMS[:20] and server.calls == 5


def test_a_total_given_on_the_first_page_only_still_ends_the_walk():
    class TotalOnce(NumberedServer):
        def __call__(self, number):
            body = super().__call__(number)
            return SimpleNamespace(**{**vars(body), "total": body.total if number == 1 else None})

    server = TotalOnce(ITEMS[:20], cap=4, reports=None)

    assert by_number(server) == ITEMS[:20] and server.calls == 5


def test_a_server_repeating_its_second_page_forever_is_stopped_at_the_first_repeat():
    calls = []

    def stuck_on_page_two(number):
        calls.append(number)
        page = ITEMS[:4] if number == 1 else ITEMS[4:8]
        return SimpleNamespace(items=page, total=None, size=None)

    with pytest.raises(IncompleteListing, match="does not advance"):
        by_number(stuck_on_page_two)
    assert calls == [1, 2, 3]


@pytest.mark.parametrize("given", [1, ASKED])
def test_a_page_size_of_its_own_contradicted_by_the_page_is_incomplete_at_once(given):
    calls = []

    def contradicts(number):
        calls.append(number)
        return SimpleNamespace(items=ITEMS[:given], total=50, size=20)  # says 20 a page, gives fewer, 50 in all

    with pytest.raises(IncompleteListing, match=f"listed {given} of 50 items"):
        by_number(contradicts)
    assert calls == [1]


def test_a_listing_whole_on_its_first_page_is_complete_whatever_page_size_it_names():
    # Five items, the total 5, and a page size of the service's own (20, not the 10 asked): nothing remains to be
    # read, so the size contradicts nothing.
    calls = []

    def whole(number):
        calls.append(number)
        return SimpleNamespace(items=ITEMS[:5], total=5, size=20)

    assert by_number(whole) == ITEMS[:5] and calls == [1]


def test_a_listing_whose_total_moves_says_from_what_to_what():
    # Three pages, a total that falls by one on each: the reason names the first total and the last one.
    def shrinking(number):
        return SimpleNamespace(items=ITEMS[(number - 1) * ASKED:number * ASKED], total=24 - number, size=ASKED)

    with pytest.raises(ListingShifted, match="^DescribeDisks reported 23, then 21 disks while they were listed: "
                                             "disks moved between pages$"):
        by_number(shrinking, concurrency=1, api="DescribeDisks", noun="disks")


# NextToken


def token_pages(tokens: list):
    """fetch(token) answering with the next token of `tokens` each call (the last answers none)."""
    answers = iter(tokens)
    return lambda token: SimpleNamespace(items=[token], next_token=next(answers, None))


def test_token_paging_follows_every_token():
    assert list(items_by_token(token_pages(["a", "b"]), lambda body: body.items)) == [None, "a", "b"]


def test_a_token_seen_twice_is_a_loop_not_an_endless_listing():
    with pytest.raises(IncompleteListing, match="same next-page token twice"):
        list(items_by_token(token_pages(["a", "b", "a", "b"]), lambda body: body.items, api="DescribeDisks"))
    # The audit's reason names the API that looped, so the operator knows which listing to look at.
    with pytest.raises(IncompleteListing, match="^DescribeDisks answered the same next-page token twice"):
        list(items_by_token(token_pages(["a", "a"]), lambda body: body.items, api="DescribeDisks"))


def test_a_token_listing_with_no_end_is_stopped_at_the_page_bound(monkeypatch):
    monkeypatch.setattr(paging, "MAX_PAGES", 5)

    with pytest.raises(IncompleteListing, match="after 5 pages"):
        list(items_by_token(lambda token: SimpleNamespace(items=[], next_token=f"{token}x"), lambda body: body.items))


# offset/size


def offset_server(items, *, cap: int = 3, total: bool = True, ignores_offset: bool = False):
    def fetch(offset: int):
        start = 0 if ignores_offset else offset
        return SimpleNamespace(items=items[start:start + cap], total=len(items) if total else None)

    return fetch


def by_offset(fetch, **options) -> list:
    return items_by_offset(fetch, lambda body: body.items, lambda body: body.total, **options)


@pytest.mark.parametrize("total", [True, False])
def test_offset_paging_reads_on_past_a_capped_page(total):
    assert by_offset(offset_server(ITEMS, total=total)) == ITEMS


@pytest.mark.parametrize("total, error", [(True, "listed 6 of 23 items"), (False, "does not advance")])
def test_offset_paging_stops_a_server_that_ignores_the_offset(total, error):
    with pytest.raises(IncompleteListing, match=error):
        by_offset(offset_server(ITEMS, total=total, ignores_offset=True), key=str)


def test_offset_paging_is_incomplete_when_the_items_end_before_the_total():
    def short(offset):
        return SimpleNamespace(items=ITEMS[offset:offset + 5] if offset < 10 else [], total=len(ITEMS))

    with pytest.raises(IncompleteListing, match="^DescribeDBInstances listed 10 of 23 instances"):
        by_offset(short, api="DescribeDBInstances", noun="instances")


@pytest.mark.parametrize("count", [23, 24])
def test_offset_paging_makes_no_call_past_the_reported_total(count):
    # Every call spends the account's API quota: once the total is reached, the listing is done.
    fetch, calls = offset_server(ITEMS + ["i23"] if count == 24 else ITEMS), []

    assert by_offset(lambda offset: calls.append(offset) or fetch(offset)) == (ITEMS + ["i23"])[:count]
    assert len(calls) == -(-count // 3)


def test_an_offset_listing_with_no_end_is_stopped_at_the_page_bound(monkeypatch):
    monkeypatch.setattr(paging, "MAX_PAGES", 5)
    calls = []

    def endless(offset):
        calls.append(offset)
        return SimpleNamespace(items=[f"o{offset + i}" for i in range(3)], total=None)

    with pytest.raises(IncompleteListing, match="^ListSecrets still answered secrets after 5 pages"):
        by_offset(endless, api="ListSecrets", noun="secrets")
    assert len(calls) == 5


def test_an_item_that_shifted_onto_two_offset_pages_is_kept_once_when_a_key_names_it():
    # Created at the front while the listing (no total) was read: the last item of page 1 comes again.
    items, calls = list(ITEMS), []

    def fetch(offset):
        calls.append(offset)
        if len(calls) == 2:
            items.insert(0, "new")
        return SimpleNamespace(items=items[offset:offset + 3], total=None)

    assert by_offset(fetch, key=str) == ITEMS


def test_an_offset_server_repeating_its_first_page_with_a_field_that_changes_is_stopped_by_the_key():
    # The key names an item; a field that changes from call to call (a status, a timestamp) does not make a
    # repeated page new. Without the key, this listing would run on to the page bound, call after call.
    calls = []

    def ignores_offset(offset):
        calls.append(offset)
        return SimpleNamespace(items=[{"id": f"i{n}", "checkedAt": len(calls)} for n in range(3)], total=None)

    with pytest.raises(IncompleteListing, match="does not advance"):
        by_offset(ignores_offset, key=lambda item: item["id"])
    assert len(calls) == 2
