"""Entering the accounts a sweep covers: this function's own account with its own credentials, any other through STS
AssumeRole into the role SWEEP_ROLE_NAME there (`acs:ram::<account>:role/<name>`, "AssumeRole",
https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole).

The role is entered once per account per invocation and its clients are kept per region. A role that cannot be
entered (no such role or account: EntityNotExist.Role; not trusted: NoPermission; STS unreachable past retries) raises
RoleNotEntered with the reason, and the same answer is given for that account for the rest of the invocation, so one
account that cannot be entered costs one STS call, not one per region.
"""
from __future__ import annotations

from alibabacloud_sts20150401 import models as sts

from shared.clients import Clients, Credentials, describe_error, error_code

SESSION_NAME = "kms-steward-sweep"  # RoleSessionName: 2-32 characters of [a-zA-Z0-9.@_-]; it names the sweep in ActionTrail
SESSION_SECONDS = 3600  # DurationSeconds: 900 s to the role's MaxSessionDuration; an FC invocation lasts at most 24 h,
# a sweep worker one target: an hour is ample, and a longer one needs the role's MaxSessionDuration raised.


class RoleNotEntered(RuntimeError):
    """The sweep's role in an account could not be entered; the message names the role and the answer."""

    def __init__(self, account: str, role_arn: str, reason: str, code: str = ""):
        super().__init__(f"role {role_arn} could not be entered: {reason}")
        self.account = account
        self.role_arn = role_arn
        self.code = code


def role_arn(account: str, role_name: str) -> str:
    return f"acs:ram::{account}:role/{role_name}"


class AccountClients:
    def __init__(self, credentials: Credentials, own_account: str, home_region: str, role_name: str, *,
                 endpoint_override: str = ""):
        self.credentials = credentials
        self.own_account = own_account
        self.home_region = home_region
        self.role_name = role_name
        self.endpoint_override = endpoint_override
        self._clients: dict[tuple[str, str], Clients] = {}
        self._entered: dict[str, Credentials | RoleNotEntered] = {}

    def home(self) -> Clients:
        """This account's clients in the function's region (alerts, records, state, STS, InvokeFunction)."""
        return self.clients(self.own_account, self.home_region)

    def clients(self, account: str, region: str) -> Clients:
        key = (account, region)
        if key not in self._clients:
            credentials = self.credentials if account == self.own_account else self._enter(account)
            self._clients[key] = Clients(credentials, region, endpoint_override=self.endpoint_override)
        return self._clients[key]

    def not_entered(self) -> list[RoleNotEntered]:
        """The accounts whose role could not be entered in this invocation, each with why."""
        return [e for e in self._entered.values() if isinstance(e, RoleNotEntered)]

    def _enter(self, account: str) -> Credentials:
        if account not in self._entered:
            arn = role_arn(account, self.role_name)
            home = self.home()
            try:
                body = home.call("sts:AssumeRole", home.sts(self.home_region).assume_role, sts.AssumeRoleRequest(
                    role_arn=arn, role_session_name=SESSION_NAME, duration_seconds=SESSION_SECONDS)).body
                c = body.credentials
                self._entered[account] = Credentials(c.access_key_id, c.access_key_secret, c.security_token)
            except Exception as exc:
                self._entered[account] = RoleNotEntered(account, arn, describe_error(exc), error_code(exc))
        entered = self._entered[account]
        if isinstance(entered, RoleNotEntered):
            raise entered
        return entered
