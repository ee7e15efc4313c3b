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
Service principals (`Principal.Service`) are kept but trust no account caller here.

What the role may do: its `Policies` (each `{PolicyName, PolicyDocument}`, the document as RAM's GetPolicyVersion
gives it, JSON text, or the same as a mapping), evaluated for every call made with its credentials
(localcloud/ram_access.py). A role without `Policies` is not evaluated: it acts with the account's full rights (the
roles a test declares only to be entered). The roles of the project's functions are enforced with the policy files of
the repository's `ram/` folder when the local cloud is wired from s.yaml (localcloud/ram_access.py).
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, ClassVar, Optional

from pydantic import Field, field_validator

from localcloud.ram_policy import Policy, PolicyError
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
    Policies: Optional[list[dict]] = None  # [{"PolicyName", "PolicyDocument"}]; None: not evaluated

    @field_validator("Policies")
    @classmethod
    def _policies(cls, v):
        for item in v or []:
            if not isinstance(item, dict) or set(item) != {"PolicyName", "PolicyDocument"}:
                raise ValueError("each policy is {PolicyName, PolicyDocument}")
            try:
                Policy.parse(item["PolicyName"], item["PolicyDocument"])
            except (PolicyError, ValueError) as exc:
                raise ValueError(f"policy {item['PolicyName']}: {exc}") from None
        return v

    def policies(self) -> list[Policy]:
        return [_parsed(p["PolicyName"], p["PolicyDocument"] if isinstance(p["PolicyDocument"], str)
                        else json.dumps(p["PolicyDocument"], sort_keys=True)) for p in self.Policies or []]

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


@functools.lru_cache(maxsize=256)
def _parsed(name: str, document: str) -> Policy:
    """Parsed once per text: a role's policies are read for every call it makes."""
    return Policy.parse(name, document)


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
