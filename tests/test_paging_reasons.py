"""When a listing can be trusted, and what the audit says when it cannot (shared/audit/paging.py).

- An incomplete listing's reason, as the decision record and the alert carry it, names the API, the page and
  what was missing, so an operator can tell a capped listing from a shifting one.
- The PageNumber helper given the official SDK's models and no `key`: pages are then told apart by their whole
  items (each model's `to_map()`), so a listing whose pages differ is complete, and a server answering the same
  page again and again is never taken for a complete listing. (The scanners all pass a `key` today; this is the
  helper's promise to a listing that has none.)

Against the local cloud's NAS DescribeFileSystems, with the official NAS SDK.
"""
from __future__ import annotations

import pytest
from alibabacloud_nas20170626 import models as nas
from alibabacloud_nas20170626.client import Client as NasClient

from shared.audit.paging import IncompleteListing, items_by_number
from shared.audit.runner import run_audit
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from tests.conftest import REGION, make_account, sdk_config
from tests.scanner_kit import clients, target

LISTING = "nas:DescribeFileSystems"


def item(fs_id: str) -> dict:
    """A DescribeFileSystems item as the API answers it (wire names), not encrypted."""
    return {"FileSystemId": fs_id, "RegionId": REGION, "FileSystemType": "standard", "Status": "Running", "EncryptType": 0,
            "ProtocolType": "NFS", "StorageType": "Performance", "ZoneId": f"{REGION}-b"}


def page(number: int, ids: list[str], *, total: int, size: int) -> dict:
    """A fault answering page `number` of DescribeFileSystems with `ids`, reporting `total` and `size`."""
    body = {"TotalCount": total, "PageSize": size, "PageNumber": number, "FileSystems": {"FileSystem": [item(i) for i in ids]}}
    return {"Api": LISTING, "Params": {"PageNumber": str(number)}, "Body": body}


def nas_reason(start_cloud, faults: list[dict]) -> str:
    cloud = start_cloud(make_account(faults=faults))
    [result] = run_audit(target(), clients(cloud), scanners=(NasFileSystemsScanner(),)).results
    assert not result.complete and result.dependents == []
    return result.reason


# ---------------------------------------------------------------- the reason an operator reads


def test_a_listing_that_stops_short_of_its_total_names_the_api_and_how_many_it_got(start_cloud):
    # 100 asked; the first page says 20 a page and 5 in all, and holds 2: no offset computed from either size
    # can be trusted.
    reason = nas_reason(start_cloud, [page(1, ["fs-0", "fs-1"], total=5, size=20)])

    assert reason == "IncompleteListing: DescribeFileSystems listed 2 of 5 file systems"


def test_a_short_page_before_the_last_names_the_api_and_the_page(start_cloud):
    # 2 a page, 5 in all; page 2 comes back with one: the items moved between pages, every time it is read.
    faults = [page(1, ["fs-0", "fs-1"], total=5, size=2), page(2, ["fs-2"], total=5, size=2),
              page(3, ["fs-3", "fs-4"], total=5, size=2)]

    reason = nas_reason(start_cloud, faults)

    assert reason == ("IncompleteListing: DescribeFileSystems answered page 2 with 1 file systems where a full page holds 2: "
                      "file systems moved between pages")


# ---------------------------------------------------------------- SDK models without a key


def sdk_listing(cloud):
    """Every file system, paged by the official SDK's PageNumber/PageSize, told apart by nothing but the items."""
    client = NasClient(sdk_config(cloud))

    def fetch(number: int):
        return client.describe_file_systems(nas.DescribeFileSystemsRequest(file_system_type="all", page_number=number,
                                                                           page_size=100)).body

    return items_by_number(fetch, lambda body: body.file_systems and body.file_systems.file_system, lambda body: body.total_count,
                           100, size_of=lambda body: body.page_size, api="DescribeFileSystems", noun="file systems")


def test_sdk_models_on_distinct_pages_make_a_complete_listing(start_cloud):
    systems = [{**item(f"fs-{i}"), "Description": f"share {i}"} for i in range(5)]
    cloud = start_cloud(make_account(nas={"file_systems": systems}, faults=[{"Api": LISTING, "PageSizeCap": 2}]))

    listed = sdk_listing(cloud)

    assert [fs.file_system_id for fs in listed] == [f"fs-{i}" for i in range(5)]
    assert cloud.calls.get(LISTING) == 3


def test_a_server_answering_the_same_page_of_sdk_models_forever_is_not_a_complete_listing(start_cloud):
    # Every page is page 1 again: 2 a page, 6 in all, so the 6 "items" are the first two three times over.
    cloud = start_cloud(make_account())
    cloud.faults.respond(LISTING, page(1, ["fs-0", "fs-1"], total=6, size=2)["Body"])

    with pytest.raises(IncompleteListing, match="answered a later page with the file systems of an earlier one: "
                                                "the listing does not advance"):
        sdk_listing(cloud)
