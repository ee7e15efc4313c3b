"""Resource Manager 2020-03-31, the Resource Directory's member listing: ListAccounts.

Sources: "ListAccounts" (https://www.alibabacloud.com/help/doc-detail/160016.htm, Resource Management API reference) and
alibabacloud-resourcemanager20200331 2.6.2's models:
- "You can use only the management account of a resource directory or a delegated administrator account of a trusted
  service to call this operation." Here: the account whose `resourcemanager` section holds the directory. Any other
  account is refused; the code for that (EntityNotExists.ResourceDirectory, 404) is UNCONFIRMED.
- Paging: PageNumber (from 1, default 1), PageSize ("Valid values: 1 to 100. Default value: 10"); the answer has
  Accounts.Account[], PageNumber, PageSize, TotalCount. A PageSize outside 1..100 is refused (InvalidParameter;
  whether the service clamps instead is UNCONFIRMED).
- Account items: AccountId, DisplayName, Type (CloudAccount | ResourceAccount), Status (CreateSuccess, ...),
  FolderId, JoinMethod (invited | created), JoinTime, ModifyTime, ResourceDirectoryId, ResourceDirectoryPath, Tags.
  The management account is a member of its directory too (it is listed when the file lists it).

The account file's section (on the management account):

    resourcemanager:
      ResourceDirectoryId: rd-3G****
      accounts:
        - {AccountId: "1234567890123456", DisplayName: management, Type: CloudAccount, Status: CreateSuccess}
        - {AccountId: "2234567890123456", DisplayName: prod, Type: ResourceAccount, Status: CreateSuccess}
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional

from alibabacloud_resourcemanager20200331 import models as m
from pydantic import Field

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api, paginate_numbers
from localcloud.records import AccountSection, Record

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10


class DirectoryAccount(Record):
    sdk_model: ClassVar[Any] = m.ListAccountsResponseBodyAccountsAccount
    extra_fields: ClassVar[frozenset] = frozenset()

    AccountId: str


class ResourcemanagerSection(AccountSection):
    section: ClassVar[str] = "resourcemanager"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"accounts": ("AccountId",)}
    id_fields: ClassVar[tuple[str, ...]] = ("AccountId", "DisplayName")

    ResourceDirectoryId: Optional[str] = None
    accounts: list[DirectoryAccount] = Field(default_factory=list)


class ResourceManager(RpcProduct):
    code = "resourcemanager"
    service_name = "ResourceManager"
    version = "2020-03-31"
    endpoint_prefix = "resourcemanager"
    regional_param = None  # a global service: one endpoint answers the directory

    @api("ListAccounts")
    def list_accounts(self, call: Call) -> dict:
        section = self.account.resourcemanager
        if not section.ResourceDirectoryId and not section.accounts:
            raise errors.ApiError("EntityNotExists.ResourceDirectory", "The resource directory does not exist, or this "
                                  "account is not its management account.", 404)
        page, total, number, size = paginate_numbers(section.accounts, call, default_size=DEFAULT_PAGE_SIZE,
                                                     max_size=MAX_PAGE_SIZE)
        include_tags = call.bool("IncludeTags", False)
        items = []
        for record in page:
            wire = {"ResourceDirectoryId": section.ResourceDirectoryId, **record.wire()}
            if not include_tags:
                wire.pop("Tags", None)
            items.append(m.ListAccountsResponseBodyAccountsAccount().from_map(wire))
        return m.ListAccountsResponseBody(accounts=m.ListAccountsResponseBodyAccounts(account=items), page_number=number,
                                          page_size=size, total_count=total).to_map()
