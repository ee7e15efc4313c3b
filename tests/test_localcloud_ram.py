"""RAM 2015-05-01 through its official SDK (alibabacloud-ram20150501): the roles of the project's functions with their
rendered ram/ policies, the account file's own roles, and the codes for what does not exist."""
from __future__ import annotations

import json

from alibabacloud_ram20150501 import models as ram
from alibabacloud_ram20150501.client import Client as RamClient

from localcloud.ram_access import function_policy
from localcloud.serverless import ServerlessProject
from tests.support.accounts import ACCOUNT_ID, ROOT, S_YAML, make_account
from tests.support.clients import TRUST_ALICE, refused, sdk_config

OWN_POLICY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*"}]}


def client(cloud) -> RamClient:
    return RamClient(sdk_config(cloud))


def test_a_function_role_exists_with_its_rendered_policy(start_cloud):
    cloud = start_cloud(make_account())
    role = client(cloud).get_role(ram.GetRoleRequest(role_name="kms-steward-key-guard")).body.role
    assert (role.role_name, role.arn) == ("kms-steward-key-guard", f"acs:ram::{ACCOUNT_ID}:role/kms-steward-key-guard")
    assert json.loads(role.assume_role_policy_document)["Statement"][0]["Principal"] == {"Service": ["fc.aliyuncs.com"]}
    assert role.max_session_duration == 3600 and role.role_id.isdigit()

    [attached] = client(cloud).list_policies_for_role(ram.ListPoliciesForRoleRequest(role_name="kms-steward-key-guard")).body.policies.policy
    assert (attached.policy_name, attached.policy_type, attached.default_version) == ("kms-steward-key-guard", "Custom", "v1")
    body = client(cloud).get_policy(ram.GetPolicyRequest(policy_name="kms-steward-key-guard", policy_type="Custom")).body
    spec = ServerlessProject.load(S_YAML, account_id=ACCOUNT_ID, env={}).function("key-guard")
    assert json.loads(body.default_policy_version.policy_document) == function_policy(spec, ROOT)[1]
    assert body.default_policy_version.is_default_version is True and body.policy.default_version == "v1"


def test_an_account_file_role_answers_its_own_policies(start_cloud):
    own = {"RoleName": "operator", "AssumeRolePolicyDocument": TRUST_ALICE, "MaxSessionDuration": 7200,
           "Policies": [{"PolicyName": "describe-only", "PolicyDocument": OWN_POLICY}]}
    cloud = start_cloud(make_account(ram={"roles": [own]}))
    role = client(cloud).get_role(ram.GetRoleRequest(role_name="OPERATOR")).body.role  # names are not case-sensitive
    assert (role.role_name, role.max_session_duration) == ("operator", 7200)
    [attached] = client(cloud).list_policies_for_role(ram.ListPoliciesForRoleRequest(role_name="operator")).body.policies.policy
    assert attached.policy_name == "describe-only"
    document = client(cloud).get_policy(ram.GetPolicyRequest(policy_name="describe-only", policy_type="Custom")).body.policy.policy_document
    assert json.loads(document) == OWN_POLICY


def test_what_does_not_exist_is_refused_with_ram_codes(start_cloud):
    cloud = start_cloud(make_account())
    assert refused(lambda: client(cloud).get_role(ram.GetRoleRequest(role_name="no-such-role"))) == ("EntityNotExist.Role", 404)
    assert refused(lambda: client(cloud).list_policies_for_role(ram.ListPoliciesForRoleRequest(role_name="no-such-role"))) \
        == ("EntityNotExist.Role", 404)
    assert refused(lambda: client(cloud).get_policy(ram.GetPolicyRequest(policy_name="nope", policy_type="Custom"))) \
        == ("EntityNotExist.Policy", 404)
    assert refused(lambda: client(cloud).get_policy(ram.GetPolicyRequest(policy_name="kms-steward-key-guard", policy_type="System"))) \
        == ("EntityNotExist.Policy", 404)
    assert refused(lambda: client(cloud).get_role(ram.GetRoleRequest()))[0] == "MissingParameter"
    assert cloud.calls.get("ram:GetRole") == 2
