"""RAM roles, as far as STS AssumeRole needs them (localcloud/products/sts.py): each account's roles, their trust
policies and their longest session. The account file's `ram` section holds them:

    ram:
      roles:
        - RoleName: kms-steward-sweep
          AssumeRolePolicyDocument: '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow",
                                      "Principal":{"RAM":["acs:ram::1234567890123456:root"]}}],"Version":"1"}'
          MaxSessionDuration: 3600

Field names are RAM GetRole's (`Role.RoleName`, `Arn`, `RoleId`, `AssumeRolePolicyDocument`, `MaxSessionDuration`,
`Description`, `CreateDate`; "GetRole", https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-getrole).
The trust policy is RAM's policy grammar: a statement allowing `sts:AssumeRole` to `Principal.RAM` (a list or one ARN):
`acs:ram::<account>:root` trusts the identities of that account, `acs:ram::<account>:role/<name>` or
`acs:ram::<account>:user/<name>` one of them ("Policy elements" / "Create a RAM role for a trusted Alibaba Cloud
account", https://www.alibabacloud.com/help/en/ram/user-guide/create-a-ram-role-for-a-trusted-alibaba-cloud-account).
Service principals (`Principal.Service`) are kept but trust no account caller here. What the role may then do (its
policies) is not emulated: an entered role acts with the account's full rights.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Optional

from pydantic import Field, field_validator

from localcloud.records import AccountSection, StrictRecord

DEFAULT_MAX_SESSION = 3600  # MaxSessionDuration's default (GetRole); 3600 to 43200 seconds


class RamRole(StrictRecord):
    RoleName: str
    AssumeRolePolicyDocument: str
    MaxSessionDuration: int = Field(default=DEFAULT_MAX_SESSION, ge=3600, le=43200)
    RoleId: Optional[str] = None
    Arn: Optional[str] = None
    Description: Optional[str] = None
    CreateDate: Optional[str] = None

    @field_validator("AssumeRolePolicyDocument")
    @classmethod
    def _policy(cls, v):
        try:
            doc = json.loads(v)
        except ValueError:
            raise ValueError("must be the trust policy as JSON text (RAM returns it as a string)") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("Statement"), list):
            raise ValueError('must be a policy document: {"Statement": [...], "Version": "1"}')
        return v

    def arn(self, account_id: str) -> str:
        return self.Arn or f"acs:ram::{account_id}:role/{self.RoleName.lower()}"

    def role_id(self) -> str:
        """RoleId (digits, as RAM assigns one): the record's, or one derived from the name so every run agrees."""
        return self.RoleId or str(int(hashlib.sha256(self.RoleName.encode()).hexdigest(), 16) % 10**19).zfill(19)

    def trusts(self, principal_arns: tuple[str, ...]) -> bool:
        """Whether a statement allows sts:AssumeRole to one of the caller's principal ARNs."""
        for statement in json.loads(self.AssumeRolePolicyDocument)["Statement"]:
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            actions = _as_list(statement.get("Action"))
            if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
                continue
            principal = statement.get("Principal") or {}
            trusted = _as_list(principal.get("RAM")) if isinstance(principal, dict) else []
            if any(p in trusted for p in principal_arns):
                return True
        return False


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


class RamSection(AccountSection):
    section: ClassVar[str] = "ram"
    unique_ids: ClassVar[dict[str, tuple[str, ...]]] = {"roles": ("RoleName",)}
    id_fields: ClassVar[tuple[str, ...]] = ("RoleName",)

    roles: list[RamRole] = Field(default_factory=list)

    def role(self, name: str) -> RamRole | None:
        # RAM role names are not case-sensitive in ARNs (the ARN spells them in lower case).
        return next((r for r in self.roles if r.RoleName.lower() == name.lower()), None)
