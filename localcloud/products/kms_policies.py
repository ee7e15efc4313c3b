"""KMS 2016-01-20 key and secret policies: GetKeyPolicy and GetSecretPolicy (mixed into localcloud.products.kms.Kms).

Facts (API reference, GetKeyPolicy,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getkeypolicy;
GetSecretPolicy, https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getsecretpolicy;
the policy shape from SetKeyPolicy,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-setkeypolicy,
and SetSecretPolicy, https://alibabacloud.com/help/en/kms/developer-reference/api-setsecretpolicy):

- Policies exist for keys and secrets in a KMS instance. GetKeyPolicy takes KeyId (the key's id or ARN) and
  GetSecretPolicy SecretName (the name or ARN); PolicyName may only be `default`: "Otherwise, a Not Found error is
  returned". Both answer `Policy` (a JSON string) and RequestId.
- A policy is {"Version": "1", "Statement": [{"Sid", "Effect": Allow|Deny, "Principal": {"RAM": [...]},
  "Action": ["kms:..."], "Resource": ["*"], "Condition"}]}, at most 32,768 bytes; a RAM principal is
  `acs:ram::<account id>:*` (the whole account), `...:user/<name>` or `...:role/<name>`.

An account file gives a key or secret its policy in `Policy` (the JSON text, as GetKeyPolicy answers it). One
without gets the default the SetKeyPolicy page shows (Sid "kms default key policy", the key's own account, kms:*):
UNCONFIRMED that the service answers exactly that for a key never given a policy.
UNCONFIRMED: the code of the Not Found answer (Forbidden.ResourceNotFound, 404, as a missing secret is answered) and
the answer for a key or secret outside any KMS instance (Rejected.UnsupportedOperation, 400, as kms_crypto.py refuses
what no doc names).
"""
from __future__ import annotations

import json

from alibabacloud_kms20160120 import models as m

from localcloud import errors
from localcloud.products.base import Call, api

DEFAULT_POLICY_NAME = "default"


def default_policy(account_id: str, what: str) -> str:
    return json.dumps({"Version": "1", "Statement": [{
        "Sid": f"kms default {what} policy", "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{account_id}:*"]},
        "Action": ["kms:*"], "Resource": ["*"]}]}, separators=(",", ":"))


def _policy_name(call: Call, ref: str) -> None:
    name = call.get("PolicyName")
    if name is not None and name != DEFAULT_POLICY_NAME:
        raise errors.ApiError("Forbidden.ResourceNotFound", f"The policy {name!r} of {ref} is not found: the only policy "
                                                            f"name is {DEFAULT_POLICY_NAME}.", 404)


def _outside_instance(api_name: str, what: str, ref: str) -> errors.ApiError:
    return errors.ApiError("Rejected.UnsupportedOperation",
                           f"{api_name} is not supported for this {what}: {ref} is not in a KMS instance.", 400)


class KmsPolicies:
    """GetKeyPolicy and GetSecretPolicy (mixed into localcloud.products.kms.Kms, which provides find and _find_secret)."""

    @api("GetKeyPolicy")
    def get_key_policy(self, call: Call) -> dict:
        from localcloud.products.kms import ID_ALIAS_OR_ARN  # the names a KeyId takes (kms.py's docstring)

        ref = call.require("KeyId")
        key = self.find(call, ref, ID_ALIAS_OR_ARN)
        _policy_name(call, ref)
        if not getattr(key, "DKMSInstanceId", None):
            raise _outside_instance("GetKeyPolicy", "key", ref)
        policy = getattr(key, "Policy", None) or default_policy(self.account.account_id, "key")
        return m.GetKeyPolicyResponseBody(policy=policy).to_map()

    @api("GetSecretPolicy")
    def get_secret_policy(self, call: Call) -> dict:
        ref = call.require("SecretName")
        secret = self._find_secret(call, ref)
        call.refer("ACS::KMS::Secret", secret.SecretName)
        _policy_name(call, ref)
        if not secret.wire().get("DKMSInstanceId"):
            raise _outside_instance("GetSecretPolicy", "secret", ref)
        policy = secret.wire().get("Policy") or default_policy(self.account.account_id, "secret")
        return m.GetSecretPolicyResponseBody(policy=policy).to_map()
