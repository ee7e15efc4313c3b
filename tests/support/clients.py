"""The official SDK clients pointed at a local cloud (only the endpoint differs from the real cloud), and how
a call they make is refused."""
from __future__ import annotations

import pytest
from alibabacloud_actiontrail20200706 import models as at
from alibabacloud_actiontrail20200706.client import Client as ActionTrailClient
from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from localcloud.cloud import LocalCloud
from tests.support.accounts import ALICE_AK, ALICE_SECRET, KEY, REGION


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
