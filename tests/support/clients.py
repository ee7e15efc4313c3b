"""The official SDK clients pointed at a local cloud (only the endpoint differs from the real cloud), and how
a call they make is refused."""
from __future__ import annotations

import json

import pytest
from alibabacloud_actiontrail20200706 import models as at
from alibabacloud_actiontrail20200706.client import Client as ActionTrailClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.cloud import LocalCloud
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, REGION


def sdk_config(cloud: LocalCloud, *, access_key_id: str = ALICE_AK, secret: str = ALICE_SECRET, user_agent: str | None = None) -> Config:
    return Config(access_key_id=access_key_id, access_key_secret=secret, endpoint=cloud.endpoint(REGION), protocol="http",
                  region_id=REGION, user_agent=user_agent)


def alice_kms(cloud: LocalCloud, **kwargs) -> KmsClient:
    return KmsClient(sdk_config(cloud, **kwargs))


def key_state(cloud: LocalCloud, key_id: str = KEY) -> str:
    return alice_kms(cloud).describe_key(kms.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state


def actiontrail_client(cloud: LocalCloud) -> ActionTrailClient:
    return ActionTrailClient(sdk_config(cloud))


def lookup_events(cloud: LocalCloud, *conditions: tuple[str, str], **kwargs) -> at.LookupEventsResponseBody:
    """LookupEvents with `conditions` as its LookupAttribute pairs (key, value)."""
    attrs = [at.LookupEventsRequestLookupAttribute(key=k, value=v) for k, v in conditions]
    return actiontrail_client(cloud).lookup_events(at.LookupEventsRequest(lookup_attribute=attrs, **kwargs)).body


def error_of(call) -> ClientException:
    """What the official SDK raises for `call()`, which must fail with a 4xx answer."""
    with pytest.raises(ClientException) as raised:
        call()
    return raised.value


def refused(call) -> tuple[str, int]:
    """The error code and HTTP status `call()` is refused with."""
    err = error_of(call)
    return err.code, err.status_code


# An operator's role of the account, trusted by alice and entered with STS: the local cloud enforces its policies as it
# does a function's (localcloud/ram_access.py).
TRUST_ALICE = json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"RAM": [f"acs:ram::{ACCOUNT_ID}:user/alice"]}}]})


def operator_kms(cloud: LocalCloud, *policies: tuple[str, str], session_policy: dict | None = None) -> KmsClient:
    """A KMS client with the credentials of role `kms-operator`, whose policies are (name, document) pairs; given a
    `session_policy`, AssumeRole's Policy narrows the session."""
    from alibabacloud_sts20150401 import models as sts
    from alibabacloud_sts20150401.client import Client as StsClient

    from localcloud.products.ram import RamRole

    cloud.home.ram.roles.append(RamRole(RoleName="kms-operator", AssumeRolePolicyDocument=TRUST_ALICE, Policies=[
        {"PolicyName": name, "PolicyDocument": document} for name, document in policies]))
    request = sts.AssumeRoleRequest(role_arn=f"acs:ram::{ACCOUNT_ID}:role/kms-operator", role_session_name="alice",
                                    policy=json.dumps(session_policy) if session_policy else None)
    creds = StsClient(sdk_config(cloud)).assume_role(request).body.credentials
    return KmsClient(Config(access_key_id=creds.access_key_id, access_key_secret=creds.access_key_secret,
                            security_token=creds.security_token, endpoint=cloud.endpoint(REGION), protocol="http",
                            region_id=REGION))
