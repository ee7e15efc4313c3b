"""What a sweep covers: regions × accounts.

Regions: the request's, else SWEEP_REGIONS, else the function's own region; SWEEP_REGIONS=all asks the API for the
account's regions (ECS DescribeRegions, https://www.alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-describeregions).
Accounts: this one, plus SWEEP_ACCOUNTS (account ids), or SWEEP_ACCOUNTS=resource-directory: every member of the
Resource Directory (ListAccounts, callable by the management account or a delegated administrator, PageSize at most
100, https://www.alibabacloud.com/help/doc-detail/160016.htm). A listing that fails is a Rejection (said in the
summary) and the sweep goes on over what it has: this account, the function's region.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_resourcemanager20200331 import models as rm

from shared.clients import Clients, describe_error
from shared.events import is_region_id
from shared.sweeps.runner import Rejection
from shared.sweeps.settings import SweepSettings

DIRECTORY_PAGE_SIZE = 100  # ListAccounts' largest page
# Members in these states are accounts that exist (ListAccounts Status); others (being created, failed, being
# removed) have nothing to sweep or cannot be entered.
LIVE_STATUSES = ("CreateSuccess", "PromoteSuccess", "")


@dataclass
class Plan:
    accounts: list[str]
    regions: list[str]
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def targets(self) -> list[tuple[str, str]]:
        return [(account, region) for account in self.accounts for region in self.regions]


def plan(settings: SweepSettings, requested_regions: tuple[str, ...], *, own_account: str, home_region: str,
         home: Clients) -> Plan:
    rejections: list[Rejection] = []
    regions = list(requested_regions or settings.regions)
    if not regions and settings.all_regions:
        regions = _regions_from_api(home, home_region, rejections)
    regions = regions or [home_region]
    accounts = [own_account]
    if settings.accounts_from_directory:
        accounts += [a for a in _directory_members(home, rejections) if a not in accounts]
    else:
        accounts += [a for a in settings.accounts if a not in accounts]
    return Plan(accounts=accounts, regions=regions, rejections=rejections)


def _regions_from_api(home: Clients, region: str, rejections: list[Rejection]) -> list[str]:
    try:
        body = home.call("ecs:DescribeRegions", home.ecs(region).describe_regions, ecs.DescribeRegionsRequest()).body
        return [r.region_id for r in (body.regions.region if body.regions else []) if is_region_id(r.region_id or "")]
    except Exception as exc:
        rejections.append(Rejection("SWEEP_REGIONS=all", f"DescribeRegions failed ({describe_error(exc)}); the function's "
                                                         "region is swept"))
        return []


def _directory_members(home: Clients, rejections: list[Rejection]) -> list[str]:
    """Every live member of the Resource Directory, paged by the trusted helper (shared/audit/paging.py): a listing its
    answers do not prove whole is a rejection, never a shorter list. Before, a page shorter than the 100 asked with no
    TotalCount (a server clamping PageSize without saying so) ended the listing after its first page, and the other
    members were silently not swept (tests/test_sweep_adversarial.py)."""
    from shared.audit.paging import items_by_number

    def page(number: int):
        return home.call("resourcemanager:ListAccounts", home.resourcemanager().list_accounts,
                         rm.ListAccountsRequest(page_number=number, page_size=DIRECTORY_PAGE_SIZE)).body

    try:
        listed = items_by_number(page, lambda b: b.accounts.account if b.accounts else None, lambda b: b.total_count,
                                 DIRECTORY_PAGE_SIZE, keep=lambda m: (m.account_id, m.status or ""),
                                 size_of=lambda b: b.page_size, key=lambda m: m[0], api="ListAccounts", noun="members",
                                 concurrency=1)
    except Exception as exc:
        rejections.append(Rejection("SWEEP_ACCOUNTS=resource-directory", f"ListAccounts failed ({describe_error(exc)}); "
                                                                          "only this account is swept"))
        return []
    members: list[str] = []
    for account_id, status in listed:
        if status in LIVE_STATUSES:
            if account_id not in members:
                members.append(account_id)
        else:
            rejections.append(Rejection(f"account {account_id}", f"Resource Directory status {status}: not swept"))
    return members
