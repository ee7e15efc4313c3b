"""Security Token Service (STS) 2015-04-01: AssumeRole across the accounts of a multi-account local cloud
(localcloud/cloud.py), into the roles each account's `ram` section declares (localcloud/products/ram.py).

Sources: "AssumeRole" (https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole) and
alibabacloud-sts20150401 1.2.0's models (request RoleArn, RoleSessionName, DurationSeconds, Policy, ExternalId,
SourceIdentity; answer Credentials {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}, AssumedRoleUser {Arn,
AssumedRoleId}); the errors as "How to handle the common errors when you access OSS by using STS"
(https://www.alibabacloud.com/help/en/oss/how-to-handle-the-common-errors-when-you-access-oss-by-using-sts,
doc-detail/42775) lists them:
- NoPermission "Roles may not be assumed by root accounts." (an account's own AccessKey, not a RAM identity's);
- NoPermission "No permission perform sts:AssumeRole on this Role. ..." (the caller is not in the role's trust policy);
- InvalidParameter.RoleSessionName (2 to 32 characters of `[a-zA-Z0-9.@_-]`);
- InvalidParameter.DurationSeconds (at least 900 s, at most the role's MaxSessionDuration);
- EntityNotExist.Role: the role does not exist (here too when the ARN names an account this cloud does not have:
  from outside an account, a missing role and a missing account look alike). Its HTTP status is UNCONFIRMED (404
  here, as RAM's EntityNotExist.* answers), and so is InvalidParameter.RoleArn for an ARN that is not a role ARN.
The issued credentials belong to the role's account: the calls signed with them are served there. Policy, a session
policy, is checked as JSON and kept with the credentials: their calls may do only what both it and the role's policies
allow ("AssumeRole": Policy; localcloud/ram_access.py).
"""
from __future__ import annotations

import re

from alibabacloud_sts20150401 import models as m

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api
from localcloud.ram_policy import Policy

ROLE_ARN = re.compile(r"acs:ram::(\d+):role/([A-Za-z0-9.@_-]{1,64})")
SESSION_NAME = re.compile(r"[a-zA-Z0-9.@_-]{2,32}")
MIN_DURATION = 900
DEFAULT_DURATION = 3600


class Sts(RpcProduct):
    code = "sts"
    service_name = "Sts"
    version = "2015-04-01"
    endpoint_prefix = "sts"
    regional_param = None

    @api("AssumeRole")
    def assume_role(self, call: Call) -> dict:
        arn = call.require("RoleArn")
        session = call.require("RoleSessionName")
        if not SESSION_NAME.fullmatch(session):
            raise errors.ApiError("InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.", 400)
        if call.get("Policy") is not None:
            try:
                Policy.parse("session policy", call.get("Policy"))
            except ValueError:  # not JSON, or not a policy (PolicyError is a ValueError)
                raise errors.ApiError("InvalidParameter.PolicyGrammar", "The parameter Policy has not passed grammar check.",
                                      400) from None
        match = ROLE_ARN.fullmatch(arn)
        if match is None:
            raise errors.ApiError("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.", 400)
        caller = call.caller.credential
        if caller.IdentityType == "root-account":
            raise errors.ApiError("NoPermission", "Roles may not be assumed by root accounts.", 403)
        account_id, role_name = match.groups()
        account = self.cloud.accounts.get(account_id)
        role = account.ram.role(role_name) if account is not None else None
        if role is None:
            raise errors.ApiError("EntityNotExist.Role", f"The role not exists: {arn}.", 404)
        duration = call.int("DurationSeconds", DEFAULT_DURATION)
        if not MIN_DURATION <= duration <= role.MaxSessionDuration:
            raise errors.ApiError("InvalidParameter.DurationSeconds",
                                  f"The Min/Max value of DurationSeconds is 15min/{role.MaxSessionDuration // 3600}hr.", 400)
        if not role.trusts(_principals(call)):
            raise errors.ApiError("NoPermission", "No permission perform sts:AssumeRole on this Role. Maybe you are not in "
                                                  "the trust list of the role.", 403)
        role_arn = role.arn(account_id)
        creds = self.cloud.issue_credentials(account, role_arn, session, seconds=duration, session_policy=call.get("Policy"))
        call.refer("ACS::RAM::Role", role_arn)
        return m.AssumeRoleResponseBody(
            credentials=m.AssumeRoleResponseBodyCredentials(access_key_id=creds.AccessKeyId, access_key_secret=creds.AccessKeySecret,
                                                            security_token=creds.SecurityToken, expiration=creds.Expiration),
            assumed_role_user=m.AssumeRoleResponseBodyAssumedRoleUser(arn=f"{role_arn}/{session}",
                                                                      assumed_role_id=f"{role.role_id()}:{session}"),
        ).to_map()


def _principals(call: Call) -> tuple[str, ...]:
    """The caller's principal ARNs, as a trust policy names them: its account's root, and the role or user itself."""
    credential, account = call.caller.credential, call.caller.account_id
    root = f"acs:ram::{account}:root"
    if credential.IdentityType == "assumed-role":
        name = (credential.RoleName or credential.UserName.split(":", 1)[0]).lower()
        return root, f"acs:ram::{account}:role/{name}"
    return root, f"acs:ram::{account}:user/{credential.UserName}"
