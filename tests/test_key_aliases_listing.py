"""The key's aliases, read before every decision (shared/keys.py, list_aliases, through read_key): a listing that
cannot be proven whole stops the decision, and the record says which listing fell short, in the words of what it
was listing; an answer holding no alias at all is a key without aliases.

ListAliasesByKeyId (KMS 2016-01-20, "ListAliasesByKeyId",
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-listaliasesbykeyid) answers
Aliases.Alias[] (AliasName, AliasArn, KeyId), TotalCount, PageNumber and PageSize; the answers below are given to
the official SDK by the local cloud in that shape. End to end through key-guard.
"""
from __future__ import annotations

import re

from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.clients import key_state
from tests.support.guard import only_record, schedule_deletion


def aliases_answer(names: list[str] | None, total: int) -> dict:
    body = {"TotalCount": total, "PageNumber": 1, "PageSize": 100, "RequestId": "5A0E6E4E-7E3F-4C38-9C4E-2D1D6B1C0A02"}
    if names is not None:
        body["Aliases"] = {"Alias": [{"AliasName": n, "AliasArn": f"acs:kms:{REGION}:{ACCOUNT_ID}:{n}", "KeyId": KEY} for n in names]}
    return body


def test_an_alias_listing_short_of_its_total_stops_the_decision_and_says_which_listing(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("kms:ListAliasesByKeyId", aliases_answer(["alias/payments"], total=5))

    schedule_deletion(cloud)

    record = only_record(cloud)
    assert record["step"] == "read key" and key_state(cloud) == "Enabled"  # cancelled fail-safe
    assert re.search(r"IncompleteListing: ListAliasesByKeyId listed \d+ of 5 aliases", record["reason"]), record["reason"]
    assert record["apiCalls"]["kms:ListAliasesByKeyId"] >= 1


def test_an_answer_holding_no_alias_is_a_key_without_aliases(start_cloud):
    cloud = start_cloud(make_account())
    cloud.faults.respond("kms:ListAliasesByKeyId", aliases_answer(None, total=0))

    schedule_deletion(cloud)

    record = only_record(cloud)
    assert record["decision"] == "allow" and record.get("aliases") is None and record["auditComplete"] is True
