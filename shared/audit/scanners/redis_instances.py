"""Redis/Tair instances whose TDE encrypts with the key (dependency-apis.md §7).

DescribeInstances says nothing about encryption, so each instance of the region is asked
DescribeInstanceTDEStatus, and only those with TDE enabled DescribeEncryptionKey: the doc requires TDE to
be enabled before DescribeEncryptionKey is called, and what it answers otherwise is unpublished.

Only Tair (Enterprise Edition) memory-optimized instances support TDE; the others answer
InstanceType.NotSupport and cannot use a key. Any other error stops the scanner (incomplete).

Not remembered by the warm audit (shared/audit/facts.py): TDE can be enabled on an existing instance with a custom key
("Tair (Redis OSS-compatible): ModifyInstanceTDE",
https://alibabacloud.com/help/en/redis/developer-reference/api-r-kvstore-2015-01-01-modifyinstancetde-redis), so
neither answer is final. Read fresh every time.
"""
from __future__ import annotations

from typing import Optional

from alibabacloud_r_kvstore20150101 import models as kvstore

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 50  # the API's maximum PageSize
TDE_NOT_SUPPORTED = "InstanceType.NotSupport"
VANISHED = "InvalidInstanceId.NotFound"  # released between the listing and the describe
# Not serving: disabled (overdue), released, stopped, or never created. The rest counts as live.
AT_REST = ("Inactive", "Released", "Unavailable", "Error")


class RedisInstancesScanner:
    name = "redis_instances"
    service = "Redis"
    note = "TDE is supported only by Tair (Enterprise Edition) memory-optimized instances; the others cannot use a key"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.redis(target.region)

        def fetch(number: int):
            request = kvstore.DescribeInstancesRequest(region_id=target.region, page_number=number, page_size=PAGE_SIZE)
            return clients.call("redis:DescribeInstances", client.describe_instances, request).body

        listed = items_by_number(fetch, lambda body: body.instances and body.instances.kvstore_instance,
                                 lambda body: body.total_count, PAGE_SIZE, size_of=lambda body: body.page_size,
                                 key=lambda i: i.instance_id, api="DescribeInstances", noun="instances")
        # Most regions share the central endpoint: keep the region's own instances, each once.
        instances = list({i.instance_id: i for i in listed if i.region_id in (None, target.region)}.values())

        def key_of(instance) -> Optional[kvstore.DescribeEncryptionKeyResponseBody]:
            try:
                status = clients.call("redis:DescribeInstanceTDEStatus", client.describe_instance_tdestatus,
                                      kvstore.DescribeInstanceTDEStatusRequest(instance_id=instance.instance_id)).body
                if status.tdestatus != "Enabled":
                    return None
                return clients.call("redis:DescribeEncryptionKey", client.describe_encryption_key,
                                    kvstore.DescribeEncryptionKeyRequest(instance_id=instance.instance_id)).body
            except Exception as exc:
                if error_code(exc) in (TDE_NOT_SUPPORTED, VANISHED):
                    return None
                raise

        found = []
        for instance, key in zip(instances, fan_out(key_of, instances)):
            if key is None or not target.names_key(key.encryption_key):
                continue
            found.append(Dependent(
                service=self.service, resource_type="ACS::Redis::DBInstance", resource_id=instance.instance_id,
                region=instance.region_id or target.region, state="inert" if instance.instance_status in AT_REST else "live",
                usage="TDE (transparent data encryption)", name=instance.instance_name or None,
                detail={k: v for k, v in {
                    "status": instance.instance_status, "engine": instance.instance_type, "version": instance.engine_version,
                    "edition": instance.edition_type, "keyStatus": key.encryption_key_status, "role": key.role_arn,
                }.items() if v},
            ))
        return found
