"""The daily safety net's listing of a region's keys pending deletion (shared/keys.py, list_pending_deletion): a
listing that cannot be proven whole leaves the region "blind", and the record and the alert say which listing
fell short, in the words of the keys it was listing; an answer holding no key at all is an empty region, not a
failure.

ListKeys (KMS 2016-01-20, "ListKeys", https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-listkeys)
answers Keys.Key[] (KeyId, KeyArn), TotalCount, PageNumber and PageSize; the answers below are given to the official
SDK by the local cloud in that shape.
"""
from __future__ import annotations

import copy
import re

from alibabacloud_kms20160120 import models as kms

from localcloud.products.base import api
from localcloud.products.kms import Kms
from tests.support.accounts import ACCOUNT_ID, KEY, OTHER_KEY, REGION, make_account
from tests.support.clients import alice_kms
from tests.test_guard_what_a_person_reads import TIMER, guard, raised, records


def list_keys_answer(keys: list[str] | None, total: int) -> dict:
    body = {"TotalCount": total, "PageNumber": 1, "PageSize": 100, "RequestId": "5A0E6E4E-7E3F-4C38-9C4E-2D1D6B1C0A01"}
    if keys is not None:
        body["Keys"] = {"Key": [{"KeyId": k, "KeyArn": f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{k}"} for k in keys]}
    return body


def test_a_listing_short_of_its_total_leaves_the_region_blind_and_says_which_keys_were_not_all_listed(start_cloud):
    cloud = start_cloud(make_account(key_state="PendingDeletion"))
    cloud.faults.respond("kms:ListKeys", list_keys_answer([KEY], total=5))

    guard(cloud).handle(TIMER)

    # (How many it counts as listed depends on how far the paging got; which listing fell short, and of what, does not.)
    shortfall = re.compile(r"IncompleteListing: ListKeys listed \d+ of 5 keys pending deletion")
    blind, summary = records(cloud)
    assert blind["status"] == "error" and blind["step"] == "list keys pending deletion"
    assert re.fullmatch(f"safety net could not list keys in {REGION}: " + shortfall.pattern, blind["reason"])
    [alert] = raised(cloud)
    assert alert["Name"] == "KmsKeyGuardFailed"
    assert re.fullmatch(f"safety net could not list keys in {REGION}: " + shortfall.pattern, alert["reasons"][0])
    assert summary["keysPendingDeletion"] == 0


def test_an_answer_holding_no_keys_at_all_is_an_empty_region(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("kms:ListKeys", list_keys_answer(None, total=0))

    answer = guard(cloud).handle(TIMER)

    [summary] = records(cloud)
    assert summary["status"] == "safety_net" and summary["keysPendingDeletion"] == 0 and summary["decisions"] == []
    assert raised(cloud) == [] and answer["results"] == []


def test_a_listing_capped_below_the_size_asked_while_echoing_it_is_read_page_by_page(start_cloud):
    # ListKeys capped at one key a page, its PageSize echoing the 100 asked, its TotalCount given: the items that came
    # back tell the real page size, so the safety net reads on and finds both keys pending deletion.
    cloud = start_cloud(make_account(key_state="PendingDeletion",
                                     faults=[{"Api": "kms:ListKeys", "PageSizeCap": 1, "ReportRequestedPageSize": True}]))
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=OTHER_KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60)

    guard(cloud).handle(TIMER)

    summary = [r for r in records(cloud) if r.get("status") == "safety_net"][-1]
    assert summary["keysPendingDeletion"] == 2
    assert sorted(d["keyId"] for d in summary["decisions"]) == sorted([KEY, OTHER_KEY])


def test_a_listing_capped_and_saying_so_fetches_its_later_pages_together_and_finds_every_key(start_cloud):
    # ListKeys capped at one key a page and reporting that size, with its TotalCount: the later pages are known
    # and fetched without walking page after page (shared/audit/paging.py), and every key is found.
    more = [{"KeyId": f"5e0c7a1b-0000-4000-8000-00000000000{n}", "RegionId": REGION, "KeyState": "PendingDeletion",
             "DeleteDate": "2099-01-01T00:00:00Z", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID} for n in (1, 2)]
    cloud = start_cloud(make_account(key_state="PendingDeletion", kms={"keys": more},
                                     faults=[{"Api": "kms:ListKeys", "PageSizeCap": 1}]))

    guard(cloud).handle(TIMER)

    summary = [r for r in records(cloud) if r.get("status") == "safety_net"][-1]
    assert sorted(d["keyId"] for d in summary["decisions"]) == sorted([KEY, *(k["KeyId"] for k in more)])
    assert cloud.calls.get("kms:ListKeys") == 3


def test_a_key_that_shifts_onto_two_pages_while_another_comes_is_never_missed_unheard(start_cloud, monkeypatch):
    # Between ListKeys' first and second page a key is scheduled for deletion (listed first) and another one's deletion
    # completes (listed last): the total stays 3, one key comes twice and the new one never. Counting the keys by id
    # shows the listing short: the region is reported not re-decided, rather than the new key silently left out.
    more = [{"KeyId": f"5e0c7a1b-0000-4000-8000-00000000000{n}", "RegionId": REGION, "KeyState": "PendingDeletion",
             "DeleteDate": "2099-01-01T00:00:00Z", "Origin": "Aliyun_KMS", "Creator": ACCOUNT_ID} for n in (1, 2)]
    arrived_id, list_keys, pages_served = "5e0c7a1b-0000-4000-8000-000000000009", Kms.list_keys, []

    def keys_come_and_go_after_the_first_page(self, call):
        answer = list_keys(self, call)
        pages_served.append(call)
        if len(pages_served) == 1:
            arrived = copy.deepcopy(self.account.kms.keys[-1])
            arrived.KeyId = arrived_id
            self.account.kms.keys = [arrived, *self.account.kms.keys[:-1]]
        return answer

    monkeypatch.setattr(Kms, "list_keys", api("ListKeys")(keys_come_and_go_after_the_first_page))
    cloud = start_cloud(make_account(key_state="PendingDeletion", kms={"keys": more},
                                     faults=[{"Api": "kms:ListKeys", "PageSizeCap": 1}]))

    guard(cloud).handle(TIMER)

    [failed] = [a for a in raised(cloud) if a["Name"] == "KmsKeyGuardFailed"]
    assert failed["region"] == REGION and "ListKeys listed 2 distinct keys pending deletion of 3" in failed["reasons"][0]
