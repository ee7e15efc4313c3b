"""policies: no key or secret policy lets in a principal outside the allow-list of accounts, or everyone.

Key and secret policies exist for keys and secrets in a KMS instance (GetKeyPolicy: "Queries the key policy of a CMK
in a KMS instance", https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getkeypolicy;
GetSecretPolicy, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getsecretpolicy),
so only those (DescribeKey / DescribeSecret DKMSInstanceId) are read, with PolicyName `default`, the only name.
A policy (SetKeyPolicy API reference,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-setkeypolicy) is
{"Version": "1", "Statement": [{"Effect": "Allow"|"Deny", "Principal": {"RAM": ["acs:ram::<account id>:*", ...]},
"Action": [...], "Resource": ["*"]}]}: the principals may be the key's own account, its RAM users and roles, and
those of other accounts.

Only Allow statements grant. Findings (ACS::KMS::Key or ACS::KMS::Secret):
- wildcard_principal (CRITICAL): "*", or a RAM ARN whose account is "*": anyone, in any account.
- foreign_principal (WARN): an account that is neither the resource's own nor in SWEEP_ALLOWED_ACCOUNTS.
- unreadable_policy (WARN): the Policy is not the JSON object documented, so what it grants cannot be shown.
UNCONFIRMED: whether a Principal may be a bare string rather than {"RAM": [...]} (both are read), and whether other
principal kinds than RAM exist (their values are read the same way).
"""
from __future__ import annotations

import json
import re
from typing import Iterable

from alibabacloud_kms20160120 import models as kms

from shared.audit.fanout import fan_out
from shared.sweeps.check_kit import add_gap, failed, setting
from shared.sweeps.findings import CheckResult, Finding, SweepTarget
from shared.sweeps.kms_reads import customer_keys, secret_metadata

POLICY_NAME = "default"
CONCURRENCY = 8
_RAM_ARN = re.compile(r"acs:ram::(?P<account>[0-9]+|\*):.*")


class UnreadablePolicy(ValueError):
    pass


def granted_principals(policy_text: str) -> list[str]:
    """Every principal an Allow statement names. Raises UnreadablePolicy for a policy not shaped as documented."""
    try:
        policy = json.loads(policy_text or "")
    except ValueError:
        raise UnreadablePolicy("the policy is not JSON") from None
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise UnreadablePolicy("the policy has no Statement list")
    out: list[str] = []
    for statement in statements:
        if not isinstance(statement, dict):
            raise UnreadablePolicy("a Statement is not an object")
        if str(statement.get("Effect", "")).lower() != "allow":
            continue
        out.extend(_principals(statement.get("Principal")))
    return out


def _principals(principal) -> Iterable[str]:
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, list):
        return [str(p) for p in principal]
    if isinstance(principal, dict):
        values: list[str] = []
        for value in principal.values():
            values.extend([value] if isinstance(value, str) else [str(v) for v in value or []])
        return values
    if principal is None:
        return []
    raise UnreadablePolicy("a Principal is neither a string, a list nor an object")


def classify(principals: list[str], own_account: str, allowed: frozenset[str]) -> tuple[list[str], list[str]]:
    """(wildcards, foreign accounts) among the principals."""
    wildcards, foreign = [], []
    for principal in principals:
        if principal.strip() == "*":
            wildcards.append(principal)
            continue
        match = _RAM_ARN.fullmatch(principal.strip())
        if match is None:
            continue  # not an account principal (a service name?): nothing to compare
        account = match["account"]
        if account == "*":
            wildcards.append(principal)
        elif account != own_account and account not in allowed and account not in foreign:
            foreign.append(account)
    return wildcards, foreign


class PoliciesCheck:
    name = "policies"

    def run(self, target: SweepTarget, clients) -> CheckResult:
        result = CheckResult(check=self.name, account=target.account, region=target.region)
        allowed = frozenset(str(a) for a in setting(target, "allowed_accounts", ()))
        client = clients.kms(target.region)
        subjects: list[tuple[str, str, callable]] = []  # (resource type, id, fetch the policy text)
        try:
            for meta in customer_keys(clients, target.region):
                if meta.dkmsinstance_id and meta.key_state != "PendingDeletion":
                    subjects.append(("ACS::KMS::Key", meta.key_id, lambda key_id=meta.key_id: clients.call(
                        "kms:GetKeyPolicy", client.get_key_policy,
                        kms.GetKeyPolicyRequest(key_id=key_id, policy_name=POLICY_NAME)).body.policy))
        except Exception as exc:
            return failed(self.name, target, exc, "listing the keys")
        try:
            for body in secret_metadata(clients, target.region):
                if body.dkmsinstance_id and not body.planned_delete_time:
                    subjects.append(("ACS::KMS::Secret", body.secret_name, lambda name=body.secret_name: clients.call(
                        "kms:GetSecretPolicy", client.get_secret_policy,
                        kms.GetSecretPolicyRequest(secret_name=name, policy_name=POLICY_NAME)).body.policy))
        except Exception as exc:
            add_gap(result, "listing the secrets", exc)

        def read(subject):
            try:
                return subject[2](), None
            except Exception as exc:  # one policy not read: a gap, the others still judged
                return None, exc

        for (resource_type, resource_id, _), (text, error) in zip(subjects, fan_out(read, subjects, CONCURRENCY)):
            noun = "key" if resource_type.endswith("Key") else "secret"
            if error is not None:
                add_gap(result, f"{noun} {resource_id} policy", error)
                continue
            result.findings.extend(self._judge(resource_type, resource_id, noun, text, target, allowed))
        return result

    def _judge(self, resource_type: str, resource_id: str, noun: str, text: str, target: SweepTarget,
               allowed: frozenset[str]) -> list[Finding]:
        def finding(kind: str, severity: str, message: str, **detail) -> Finding:
            return Finding(check=self.name, kind=kind, severity=severity, account=target.account, region=target.region,
                           resource_type=resource_type, resource_id=resource_id, message=message, detail=detail)

        try:
            principals = granted_principals(text)
        except UnreadablePolicy as exc:
            return [finding("unreadable_policy", "WARN", f"{noun} {resource_id}: {exc}, so what it grants cannot be shown")]
        wildcards, foreign = classify(principals, target.account, allowed)
        out = []
        if wildcards:
            out.append(finding("wildcard_principal", "CRITICAL",
                               f"{noun} {resource_id}: its policy allows every principal ({', '.join(wildcards[:3])})",
                               principals=wildcards[:10]))
        if foreign:
            out.append(finding("foreign_principal", "WARN",
                               f"{noun} {resource_id}: its policy allows account(s) outside the allow-list: "
                               f"{', '.join(foreign[:5])}", accounts=foreign[:20]))
        return out


CHECK = PoliciesCheck()
