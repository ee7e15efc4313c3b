"""RAM enforcement: each call made with a role's credentials is evaluated against that role's policies
(localcloud/ram_policy.py), and a call they do not allow is refused with the product's own permission error.

Which roles are enforced: the roles the project's functions run with (s.yaml `role`), with the policy files of the
repository's `ram/` folder rendered for each function (function_roles: what deploys is what runs); and any role of an
account's `ram` section that carries `Policies` (localcloud/products/ram.py). A caller that is not such a role (an
account's own AccessKey, a RAM user of a test, a role declared without policies) is not evaluated: the local cloud
does not emulate user policies.

What a call is, for RAM: the action `<ram code>:<Action>` and one resource ARN ("Policy elements",
https://www.alibabacloud.com/help/doc-detail/93738.htm: `acs:<ram code>:<region>:<account>:<relative id>`). The
resource types are each product's authorization reference:
- KMS ("Use RAM to control access to KMS resources",
  https://www.alibabacloud.com/help/en/kms/support/use-ram-to-control-access-to-kms-resources): a key
  `key/<key id>` (an alias names its key), a secret `secret/<name>`; ListKeys, ListSecrets and ListAliases are checked
  on the container (`...:key`, `...:secret`, `...:alias`); GetRandomPassword on `*`. Condition key `kms:tag/<key>`,
  the key's own tags, for the key operations ("Policy condition keys",
  https://www.alibabacloud.com/help/en/kms/security-and-compliance/condition-key).
- OSS ("RAM Policy Overview", OSS Developer Guide): `acs:oss:*:<account>:<bucket>` and `.../<bucket>/<object>`, the
  region always `*`; ListBuckets on `acs:oss:*:<account>:*`. ListObjectsV2 is authorized as oss:ListObjects,
  HeadObject as oss:GetObject, DeleteMultipleObjects as oss:DeleteObject.
- SLS ("Resource list" / "Action list", Simple Log Service API reference): `acs:log:<region>:<account>:project/<p>` and
  `.../project/<p>/logstore/<l>`; PutLogs is log:PostLogStoreLogs, GetLogs log:GetLogStoreLogs. ListProject's resource
  is UNCONFIRMED (`project/*` here).
- FC 3.0: `acs:fc:<region>:<account>:functions/<name>` (the FC 3.0 API reference's RAM tables).
- Every other product (ECS, RDS, PolarDB, NAS, Redis, MongoDB, ACK, ActionTrail, CloudMonitor, STS, Resource
  Manager, CAS, SLB, ALB): resource-level authorization of the calls kms-steward makes is not published for them
  (UNCONFIRMED), so their calls are checked on `acs:<ram code>:<region>:<account>:*` and policies grant them on `*`.

The refusal each product answers (sources in localcloud/fault_kinds.py, and):
- KMS: 403 Forbidden.NoPermission "This operation for <resource> is forbidden by permission system." (the message
  as a real denial reads, aliyun/aliyun-openapi-java-sdk issue 426);
- OSS: 403 AccessDenied, "You have no right to access this object because of bucket acl." when no statement allows
  ("0003-00000001"), "Access denied by bucket policy." for an explicit Deny ("0003-00000201");
- SLS: 401 Unauthorized "denied by sts or ram, action: <action>, resource: <resource>" (the text SLS answers);
- FC: 403 AccessDenied "the caller is not authorized to perform '<action>' on resource '<resource>'." (FC 2.0's
  wording; FC 3.0's UNCONFIRMED); STS: 403 NoPermission "You are not authorized to do this action. You should be
  authorized by RAM." ("AssumeRole"; status UNCONFIRMED);
- the other POP products: their `denied` fault kind (403 Forbidden.RAM, or ACK's StatusForbidden).
"""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Mapping

from localcloud import errors, fault_kinds
from localcloud.ram_policy import Grant, Policy, evaluate

log = logging.getLogger(__name__)

# Each product's RAM code (the prefix of its actions)
RAM_CODES = {"redis": "kvstore", "mongodb": "dds", "cas": "yundun-cert", "sls": "log"}
OSS_ACTIONS = {"ListObjectsV2": "ListObjects", "HeadObject": "GetObject", "DeleteMultipleObjects": "DeleteObject"}
SLS_ACTIONS = {"PutLogs": "PostLogStoreLogs", "GetLogs": "GetLogStoreLogs", "GetHistograms": "GetLogStoreHistogram"}
KMS_CONTAINERS = {"ListKeys": "key", "ListSecrets": "secret", "ListAliases": "alias"}
KMS_ANY_RESOURCE = {"GetRandomPassword", "ListKmsInstances", "DescribeRegions"}
SECRET_VALUE_KEY_ACTIONS = {"GetSecretValue": "kms:Decrypt", "PutSecretValue": "kms:GenerateDataKey"}


@dataclass(frozen=True)
class RamCall:
    """A call as RAM evaluates it."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """One evaluated call, kept for the policies' minimality check (tests/test_ram_policies.py)."""

    role: str
    call: RamCall
    allowed: bool
    grants: tuple[Grant, ...]


class RamLog:
    """Every call evaluated, in order (thread-safe: functions run beside the gateway's threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.decisions: list[Decision] = []

    def add(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)

    def denied(self) -> list[Decision]:
        with self._lock:
            return [d for d in self.decisions if not d.allowed]


def ram_action(product: str, api: str) -> str:
    code = RAM_CODES.get(product, product)
    name = {"oss": OSS_ACTIONS, "sls": SLS_ACTIONS}.get(product, {}).get(api, api)
    return f"{code}:{name}"


ALIAS_ARN = re.compile(r"acs:kms:([^:]+):[^:]*:(alias/.+)")


def kms_resource(region: str, account_id: str, api: str, params: Mapping[str, str], key_of_alias) -> str:
    """The resource a KMS call is checked on: the key (an alias, by name or by ARN, names its key), the secret, the
    container of a listing, or `*`. The key is found where each API names it: KeyId, the key ARN of
    SetDeletionProtection's ProtectedResourceArn, ReEncrypt's DestinationKeyId, or, for Decrypt, inside the
    ciphertext (the local cloud's blob names its key)."""
    base = f"acs:kms:{region}:{account_id}"
    if api in KMS_CONTAINERS:
        return f"{base}:{KMS_CONTAINERS[api]}"
    if api in KMS_ANY_RESOURCE:
        return "*"
    secret = params.get("SecretName")
    if secret:
        return secret if secret.startswith("acs:kms:") else f"{base}:secret/{secret}"
    key = (params.get("KeyId") or params.get("DestinationKeyId") or params.get("ProtectedResourceArn")
           or params.get("ResourceId") or _key_in_ciphertext(params.get("CiphertextBlob")) or "")
    if alias := ALIAS_ARN.fullmatch(key):
        region, key = alias[1], alias[2]
        base = f"acs:kms:{region}:{account_id}"
    if key.startswith("acs:kms:"):
        return key
    if key.startswith("alias/"):
        resolved = key_of_alias(key, region)
        return f"{base}:key/{resolved}" if resolved else f"{base}:{key}"
    return f"{base}:key/{key}" if key else f"{base}:*"


def _key_in_ciphertext(blob: str | None) -> str | None:
    if not blob:
        return None
    from localcloud.products.kms_crypto import _parse_blob

    try:
        return _parse_blob(blob)[0]
    except errors.ApiError:  # not a blob: the product refuses it as such
        return None


def oss_resource(account_id: str, bucket: str | None, key: str | None) -> str:
    if not bucket:
        return f"acs:oss:*:{account_id}:*"
    return f"acs:oss:*:{account_id}:{bucket}" + (f"/{key}" if key else "")


def sls_resource(region: str, account_id: str, project: str | None, logstore: str | None) -> str:
    base = f"acs:log:{region}:{account_id}:project/{project or '*'}"
    return f"{base}/logstore/{logstore}" if project and logstore else base


def refusal(product: str, api: str, call: RamCall, *, explicit: bool) -> errors.ApiError:
    if product == "kms":
        return errors.ApiError("Forbidden.NoPermission", f"This operation for {call.resource} is forbidden by permission system.",
                               403)
    if product == "oss":
        from localcloud.products.oss_errors import oss_error

        text = "Access denied by bucket policy." if explicit else "You have no right to access this object because of bucket acl."
        return oss_error("AccessDenied", text, 403)
    if product == "sls":
        return errors.ApiError("Unauthorized", f"denied by sts or ram, action: {call.action}, resource: {call.resource}", 401)
    if product == "fc":
        return errors.ApiError("AccessDenied", f"the caller is not authorized to perform '{call.action}' on resource "
                                               f"'{call.resource}'.", 403)
    if product == "sts":
        return errors.ApiError("NoPermission", "You are not authorized to do this action. You should be authorized by RAM.", 403)
    return fault_kinds.error(product, "denied", api)


class RamAccess:
    """The cloud's enforcement point: `check` before a product serves a call."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.log = RamLog()
        self._functions: dict[str, list[dict]] = {}  # the home account's function roles: their rendered policies
        self._role_names: dict[str, str] = {}  # each function role's name as s.yaml spells it (RAM GetRole answers it)
        self._parsed: dict[str, list[Policy]] = {}

    def set_function_policies(self, role: str, documents: list[dict]) -> None:
        self._functions[role.lower()] = documents
        self._role_names[role.lower()] = role
        self._parsed[role.lower()] = [Policy.parse(name, d) for name, d in zip(self.function_policy_names(role, documents), documents)]

    def function_policies(self, role: str) -> list[dict] | None:
        """The rendered policy documents of a function's role (None: not a role of the project's functions)."""
        return self._functions.get(role.lower())

    def function_role_names(self) -> list[str]:
        """The roles the project's functions run with, which exist in the home account (RAM GetRole)."""
        return list(self._role_names.values())

    @staticmethod
    def function_policy_names(role: str, documents: list[dict]) -> list[str]:
        """The names the rendered policies of a function role are attached under (RAM ListPoliciesForRole): the role's
        own name, then <role>-2, ... for the renderings of functions sharing it with other settings."""
        return [role if i == 0 else f"{role}-{i + 1}" for i in range(len(documents))]

    def policies_of(self, account, credential) -> list[Policy] | None:
        if credential is None or credential.IdentityType != "assumed-role" or not credential.RoleName:
            return None
        role = account.ram.role(credential.RoleName)
        if role is not None and role.Policies is not None:  # an account file's own role with its own policies
            return role.policies()
        return self._parsed.get(credential.RoleName.lower()) if account is self.cloud.home else None

    def check(self, account, credential, product: str, api: str, call: RamCall) -> None:
        policies = self.policies_of(account, credential)
        if policies is None:
            return
        verdict = evaluate(policies, call.action, call.resource, call.context)
        if verdict.allowed and credential.SessionPolicy:  # the session's own policy narrows what the role allows
            session = evaluate([Policy.parse("session policy", credential.SessionPolicy)], call.action, call.resource,
                               call.context)
            if not session.allowed:
                verdict = session
        self.log.add(Decision(credential.RoleName, call, verdict.allowed, tuple(verdict.grants)))
        if not verdict.allowed:
            raise refusal(product, api, call, explicit=verdict.explicit_deny)

    # ------------------------------------------------------------ the calls of each front end

    def context(self, source_ip: str, **extra: Any) -> dict[str, Any]:
        return {"acs:SourceIp": source_ip or "127.0.0.1", "acs:CurrentTime": self.cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "acs:SecureTransport": "false", **extra}  # the local cloud listens on plain HTTP

    def check_pop(self, account, credential, product: str, api: str, region: str, params: Mapping[str, str],
                  source_ip: str) -> None:
        if self.policies_of(account, credential) is None:
            return
        extra: dict[str, Any] = {}
        if product == "kms":
            resource = kms_resource(region, account.account_id, api, params, lambda alias, r: _key_of_alias(account, alias, r))
            if ":key/" in resource:
                extra = {f"kms:tag/{k}": v for k, v in _key_tags(account, resource.rsplit("/", 1)[1]).items()}
        elif product == "sts":  # the role entered (the system policy AliyunSTSAssumeRoleAccess grants it on *)
            resource = params.get("RoleArn") or "*"
        elif product == "fc":
            name = params.get("functionName") or params.get("FunctionName") or "*"
            resource = f"acs:fc:{region}:{account.account_id}:functions/{name}"
        else:
            resource = f"acs:{RAM_CODES.get(product, product)}:{region}:{account.account_id}:*"
        self.check(account, credential, product, api, RamCall(ram_action(product, api), resource, self.context(source_ip, **extra)))
        if product == "kms" and api in SECRET_VALUE_KEY_ACTIONS:
            self._check_secret_key(account, credential, api, region, params, source_ip)

    def _check_secret_key(self, account, credential, api: str, region: str, params: Mapping[str, str], source_ip: str) -> None:
        """A secret protected by a key of the user's: its value is opened (or sealed) with that key, for which the caller
        needs the permission too ("If a user-specified key is used to protect the secret value, the caller must have the
        kms:Decrypt permission on the corresponding master key", GetSecretValue, KMS API reference; GenerateDataKey for
        PutSecretValue is UNCONFIRMED: Alibaba's own service policies for secrets grant both)."""
        name = (params.get("SecretName") or "").rsplit(":secret/", 1)[-1]
        secret = next((x for x in account.kms.secrets if x.SecretName == name and x.RegionId == region), None)
        if secret is None or not secret.EncryptionKeyId:  # unknown (the product refuses it) or the service's own key
            return
        key = f"acs:kms:{region}:{account.account_id}:key/{secret.EncryptionKeyId}"
        action = SECRET_VALUE_KEY_ACTIONS[api]
        self.check(account, credential, "kms", action.split(":")[1], RamCall(action, key, self.context(source_ip)))

    def check_oss(self, account, credential, api: str, bucket: str | None, key: str | None, source_ip: str) -> None:
        self.check(account, credential, "oss", api, RamCall(ram_action("oss", api), oss_resource(account.account_id, bucket, key),
                                                          self.context(source_ip)))

    def check_sls(self, account, credential, api: str, region: str, project: str | None, logstore: str | None,
                  source_ip: str) -> None:
        self.check(account, credential, "sls", api, RamCall(ram_action("sls", api),
                                                          sls_resource(region, account.account_id, project, logstore),
                                                          self.context(source_ip)))


def _key_of_alias(account, alias: str, region: str) -> str | None:
    return next((a.KeyId for a in account.kms.aliases if a.AliasName == alias and a.RegionId == region), None)


def _key_tags(account, key_id: str) -> dict[str, str]:
    key = next((k for k in account.kms.keys if k.KeyId == key_id), None)
    return {t.TagKey: t.TagValue for t in (getattr(key, "Tags", None) or [])} if key is not None else {}


ROLE_ARN = re.compile(r"acs:ram::[^:]*:role/([A-Za-z0-9.@_-]{1,64})")


def function_roles(project, access: "RamAccess") -> None:
    """The role each function of the project runs with (its s.yaml `role`) gets the policy file of the repository's
    ram/ folder of that name, rendered for that function (render_policy; a role shared by functions with different
    settings gets each rendering): the roles deployed are the roles enforced. They are not written into the account's
    data, so a state file saved by `local up` never pins an older policy."""
    rendered: dict[str, list[dict]] = {}
    for spec in project.functions.values():
        found = function_policy(spec, Path(project.path).parent, strict=False)
        if found is None:
            # said, not refused: a project of one's own may have no ram/ folder (tests/test_ram_policies.py holds this
            # repository's functions to having theirs)
            log.warning("function %s: no policy file ram/<role>.json for its role %r: its calls are not evaluated",
                        spec.resource, spec.role)
            continue
        role, document = found
        if document not in rendered.setdefault(role, []):
            rendered[role].append(document)
    for name, documents in rendered.items():
        access.set_function_policies(name, documents)


def function_policy(spec, project_dir: Path, *, strict: bool = True) -> tuple[str, dict] | None:
    """(the role's name, its policy) for one function: ram/<role>.json made concrete with the function's settings;
    None when its s.yaml `role` names no role with a policy file (`kms-steward policy` prints the same)."""
    match = ROLE_ARN.fullmatch(spec.role or "")
    template = project_dir / "ram" / f"{match[1]}.json" if match else None
    if template is None or not template.is_file():
        return None
    return match[1], render_policy(json.loads(template.read_text(encoding="utf-8")),
                                   {**spec.environment, "FUNCTION_NAME": spec.function_name}, strict=strict)


PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
SLS_PROJECT_ARN = re.compile(r"acs:log:[^:]*:[^:]*:project/([^/]+)")


class SettingError(ValueError):
    """A function's setting that cannot be put in its role's policy as it is."""


# Settings that are patterns on purpose (the secrets and keys secret-rotation may touch: `*` and `?`); every other
# setting names one resource, in the characters bucket, logstore, project, role and function names use.
PATTERN_SETTINGS = {"ROTATION_SECRETS", "ROTATION_KEYS"}
_SAID: set[tuple[str, str]] = set()
SETTING_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")  # FC function names may start with `_`


def render_policy(template: dict, values: dict[str, str], *, strict: bool = True) -> dict:
    """A policy file of ram/ made concrete for one function: each `${NAME}` in a Resource is the function's setting of
    that name (its s.yaml environment, and FUNCTION_NAME). RAM takes no variables, so this is what is deployed. A
    resource naming a setting left empty is dropped (nothing to grant), and a statement left with no resource with
    it; an SLS project given as its ARN is named by its project name."""
    def value(name: str) -> str:
        text = str(values.get(name, "") or "").strip()
        arn = SLS_PROJECT_ARN.fullmatch(text)
        text = arn[1] if arn else text
        if name not in PATTERN_SETTINGS and not SETTING_NAME.fullmatch(text or "x"):
            # In a Resource, `*`, `?` or a `/` would reach past the one bucket, logstore or role the setting names.
            # Printing a policy to deploy refuses it; the local cloud grants nothing on it (the function itself
            # refuses such a setting and says so in its records: tests/test_guard_promise.py).
            if strict:
                raise SettingError(f"{name}={text!r} is not a name: in ram/ it would grant more than one resource")
            if (name, text) not in _SAID:  # once per setting: every function rendering it would say it again
                _SAID.add((name, text))
                log.warning("%s=%r is not a name: the policy grants nothing on it", name, text)
            return ""
        return text

    statements = []
    for statement in template["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        kept = [PLACEHOLDER.sub(lambda m: value(m[1]), r) for r in resources
                if all(value(name) for name in PLACEHOLDER.findall(r))]
        if kept:
            statements.append({**statement, "Resource": kept if len(kept) > 1 else kept[0]})
    return {**template, "Statement": statements}
