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

The RAM API (2015-05-01, POP RPC) answers what a reader of roles needs, no writes (`kms-steward doctor` reads it):
- GetRole (RoleName): `Role` {RoleName, RoleId, Arn, AssumeRolePolicyDocument, MaxSessionDuration, Description,
  CreateDate, UpdateDate} ("GetRole", https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-getrole);
- ListPoliciesForRole (RoleName): `Policies.Policy[]` {PolicyName, PolicyType, Description, DefaultVersion, AttachDate}
  ("ListPoliciesForRole", https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-listpoliciesforrole);
- GetPolicy (PolicyName, PolicyType): `Policy` {PolicyName, PolicyType, Description, DefaultVersion, PolicyDocument,
  AttachmentCount, CreateDate, UpdateDate} and `DefaultPolicyVersion` {VersionId, IsDefaultVersion, PolicyDocument,
  CreateDate} ("GetPolicy", https://www.alibabacloud.com/help/en/ram/developer-reference/api-ram-2015-05-01-getpolicy).
The roles that exist: the account file's `ram.roles`, and, in the home account of a local cloud wired from s.yaml, the
roles of the project's functions (trusted by fc.aliyuncs.com), each with its rendered policy attached as a Custom
policy of the role's name (localcloud/ram_access.py names them). An account-file role that is also a function role
and carries `Policies` has those instead, as RamAccess enforces them. A role that is neither: EntityNotExist.Role, 404
(the code STS answers for a missing role, localcloud/products/sts.py; its status UNCONFIRMED); a policy no role has:
EntityNotExist.Policy, 404 (UNCONFIRMED). Every policy is a Custom one at version v1; system policies are not emulated.
"""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, ClassVar, Optional

from pydantic import Field, field_validator

from alibabacloud_ram20150501 import models as m

from localcloud import errors
from localcloud.products.base import Call, RpcProduct, api
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


# ---------------------------------------------------------------- the RAM API (read-only)

FC_TRUST_POLICY = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                             "Principal": {"Service": ["fc.aliyuncs.com"]}}], "Version": "1"})
POLICY_VERSION = "v1"
CUSTOM = "Custom"


def _document_text(document: Any) -> str:
    """A policy document as RAM returns it: JSON text."""
    return document if isinstance(document, str) else json.dumps(document, indent=2)


class Ram(RpcProduct):
    code = "ram"
    service_name = "Ram"
    version = "2015-05-01"
    endpoint_prefix = "ram"
    regional_param = None  # RAM is global: one endpoint, ram.aliyuncs.com

    # ------------------------------------------------------------ the account's roles, as RAM holds them

    def _function_roles(self) -> dict[str, list[dict]]:
        """The home account's function roles (lower-cased name -> rendered policies), when wired from s.yaml."""
        if self.account is not self.cloud.home:
            return {}
        access = self.cloud.ram
        return {name.lower(): access.function_policies(name) or [] for name in access.function_role_names()}

    def _role(self, name: str) -> RamRole | None:
        role = self.account.ram.role(name)
        if role is not None:
            return role
        functions = self._function_roles()
        if name.lower() not in functions:
            return None
        spelled = next(n for n in self.cloud.ram.function_role_names() if n.lower() == name.lower())
        return RamRole(RoleName=spelled, AssumeRolePolicyDocument=FC_TRUST_POLICY,
                       Description="kms-steward function role (s.yaml)")

    def _attached(self, role: RamRole) -> list[tuple[str, str]]:
        """(policy name, document text) of each policy attached to the role."""
        if role.Policies is not None:
            return [(p["PolicyName"], _document_text(p["PolicyDocument"])) for p in role.Policies]
        documents = self._function_roles().get(role.RoleName.lower(), [])
        names = self.cloud.ram.function_policy_names(role.RoleName, documents)
        return [(name, _document_text(doc)) for name, doc in zip(names, documents)]

    def _require_role(self, call: Call) -> RamRole:
        name = call.require("RoleName")
        role = self._role(name)
        if role is None:
            raise errors.ApiError("EntityNotExist.Role", f"The role does not exist: {name}.", 404)
        call.refer("ACS::RAM::Role", role.RoleName)
        return role

    def _created(self) -> str:
        return self.account.as_of or "2024-01-01T00:00:00Z"

    # ------------------------------------------------------------ the APIs

    @api("GetRole")
    def get_role(self, call: Call) -> dict:
        role = self._require_role(call)
        created = role.CreateDate or self._created()
        return m.GetRoleResponseBody(role=m.GetRoleResponseBodyRole(
            role_name=role.RoleName, role_id=role.role_id(), arn=role.arn(self.account.account_id),
            assume_role_policy_document=role.AssumeRolePolicyDocument, max_session_duration=role.MaxSessionDuration,
            description=role.Description or "", create_date=created, update_date=created)).to_map()

    @api("ListPoliciesForRole")
    def list_policies_for_role(self, call: Call) -> dict:
        role = self._require_role(call)
        items = [m.ListPoliciesForRoleResponseBodyPoliciesPolicy(
            policy_name=name, policy_type=CUSTOM, description="", default_version=POLICY_VERSION,
            attach_date=role.CreateDate or self._created()) for name, _ in self._attached(role)]
        return m.ListPoliciesForRoleResponseBody(policies=m.ListPoliciesForRoleResponseBodyPolicies(policy=items)).to_map()

    @api("GetPolicy")
    def get_policy(self, call: Call) -> dict:
        name, kind = call.require("PolicyName"), call.require("PolicyType")
        if kind not in ("System", CUSTOM):
            raise errors.invalid_parameter("PolicyType", "It must be System or Custom.")
        roles = list(self.account.ram.roles) + [r for n in self.cloud.ram.function_role_names() if (r := self._role(n))]
        found = [doc for role in roles for policy, doc in self._attached(role) if policy == name] if kind == CUSTOM else []
        if not found:
            raise errors.ApiError("EntityNotExist.Policy", f"The policy does not exist: {name}.", 404)
        created = self._created()
        return m.GetPolicyResponseBody(
            policy=m.GetPolicyResponseBodyPolicy(policy_name=name, policy_type=CUSTOM, description="",
                                                 default_version=POLICY_VERSION, policy_document=found[0],
                                                 attachment_count=len(found), create_date=created, update_date=created),
            default_policy_version=m.GetPolicyResponseBodyDefaultPolicyVersion(
                version_id=POLICY_VERSION, is_default_version=True, policy_document=found[0], create_date=created),
        ).to_map()
