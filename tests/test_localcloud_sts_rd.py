"""The local cloud's STS AssumeRole and Resource Directory ListAccounts, through the official SDKs: the trust policy
decides, the real error codes answer, and the listing pages as the API documents."""
from __future__ import annotations

import json

import pytest
from alibabacloud_resourcemanager20200331 import models as rm
from alibabacloud_sts20150401 import models as sts
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.account import Account
from localcloud.cloud import LocalCloud
from localcloud.clock import parse_time
from shared.clients import Clients, Credentials
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET

MEMBER = "2234567890123456"
ROOT_AK, ROOT_SECRET = "LTAI5tTestRoot000000001", "root-test-secret"


def _trust(*principals: str) -> str:
    return json.dumps({"Version": "1", "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                                      "Principal": {"RAM": list(principals)}}]})


@pytest.fixture
def cloud():
    home = Account.from_data({
        "account_id": ACCOUNT_ID,
        "credentials": [{"AccessKeyId": ALICE_AK, "AccessKeySecret": ALICE_SECRET, "UserName": "alice"},
                        {"AccessKeyId": ROOT_AK, "AccessKeySecret": ROOT_SECRET, "UserName": "root",
                         "IdentityType": "root-account"}],
        "resourcemanager": {"ResourceDirectoryId": "rd-x", "accounts": [
            {"AccountId": f"{n}234567890123456", "DisplayName": f"a{n}", "Type": "ResourceAccount"} for n in range(1, 10)]},
    })
    member = Account.from_data({"account_id": MEMBER, "ram": {"roles": [
        {"RoleName": "open", "AssumeRolePolicyDocument": _trust(f"acs:ram::{ACCOUNT_ID}:root")},
        {"RoleName": "bob-only", "AssumeRolePolicyDocument": _trust(f"acs:ram::{ACCOUNT_ID}:user/bob")}]}})
    with LocalCloud([home, member]) as c:
        yield c


def _clients(cloud, ak=ALICE_AK, secret=ALICE_SECRET, token=None) -> Clients:
    return Clients(Credentials(ak, secret, token), "cn-hangzhou", endpoint_override=cloud.endpoint_override())


def _assume(clients: Clients, arn: str, **kw):
    return clients.sts().assume_role(sts.AssumeRoleRequest(role_arn=arn, role_session_name="sweep", **kw)).body


def test_a_trusted_caller_gets_credentials_served_in_the_roles_account(cloud):
    body = _assume(_clients(cloud), f"acs:ram::{MEMBER}:role/open", duration_seconds=900)
    assert body.assumed_role_user.arn == f"acs:ram::{MEMBER}:role/open/sweep"
    left = (parse_time(body.credentials.expiration) - cloud.clock.now()).total_seconds()
    assert 890 <= left <= 900  # DurationSeconds
    c = body.credentials
    assert cloud.account_of_key(c.access_key_id).account_id == MEMBER
    member = _clients(cloud, c.access_key_id, c.access_key_secret, c.security_token)
    with pytest.raises(ClientException) as refused:  # the member is no directory's management account
        member.resourcemanager().list_accounts(rm.ListAccountsRequest())
    assert refused.value.code == "EntityNotExists.ResourceDirectory"


@pytest.mark.parametrize("arn, key, code", [
    (f"acs:ram::{MEMBER}:role/missing", ALICE_AK, "EntityNotExist.Role"),
    ("acs:ram::9999999999999999:role/open", ALICE_AK, "EntityNotExist.Role"),
    (f"acs:ram::{MEMBER}:role/bob-only", ALICE_AK, "NoPermission"),
    (f"acs:ram::{MEMBER}:role/open", ROOT_AK, "NoPermission"),
    ("not-an-arn", ALICE_AK, "InvalidParameter.RoleArn"),
])
def test_a_role_that_cannot_be_entered_answers_the_real_code(cloud, arn, key, code):
    secret = ALICE_SECRET if key == ALICE_AK else ROOT_SECRET
    with pytest.raises(ClientException) as refused:
        _assume(_clients(cloud, key, secret), arn)
    assert refused.value.code == code


def test_list_accounts_pages_and_refuses_a_page_past_100(cloud):
    rd = _clients(cloud).resourcemanager()
    pages = [rd.list_accounts(rm.ListAccountsRequest(page_number=n, page_size=4)).body for n in (1, 2, 3)]
    assert [len(p.accounts.account) for p in pages] == [4, 4, 1] and pages[0].total_count == 9
    assert pages[0].accounts.account[0].resource_directory_id == "rd-x"
    with pytest.raises(ClientException) as refused:
        rd.list_accounts(rm.ListAccountsRequest(page_size=101))
    assert refused.value.code.startswith("InvalidParameter")
