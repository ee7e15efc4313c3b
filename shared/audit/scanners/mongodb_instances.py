"""ApsaraDB for MongoDB instances that use the key for TDE or cloud disk encryption.

MongoDB has no reverse lookup by key, and DescribeDBInstances says nothing about encryption. It also
lists one architecture at a time (DBInstanceType defaults to `replicate`: replica set and standalone
instances only), so the region is listed once per type, `sharding` and `serverless` (the China site's
reference lists it) too, each at the largest page, the later pages fetched concurrently.

Then, per instance, the two reads that can name a key (their SDK models show no other that covers both):
- DescribeDBInstanceTDEInfo: the TDE key (EncryptionKey is `NoActiveBYOK` where the region has no BYOK,
  i.e. a service-managed key, which never names a customer key). TDE needs a replica set or sharded
  cluster instance, so a single-node instance (ReplicationFactor 1) is not asked: what the API answers
  for one is unpublished (the terraform provider does not ask them either).
- DescribeDBInstanceAttribute: the cloud disk encryption key (`Encrypted`, `EncryptionKey`), and the
  instance's current status.

An instance released between the listing and the reads (InvalidDBInstanceId.NotFound, or an empty
Attribute answer, which the terraform provider also reads as "not found") is skipped. UNCONFIRMED: the
error an instance that cannot use TDE (engine older than 4.0, not WiredTiger) gets from
DescribeDBInstanceTDEInfo; it is not documented, so it is not excused: any other error stops the
scanner (incomplete).

Not remembered by the warm audit (shared/audit/facts.py): TDE can be enabled on an existing instance
("ApsaraDB for MongoDB: ModifyDBInstanceTDE", https://alibabacloud.com/help/en/mongodb/api-modifydbinstancetde), and
whether the cloud disk encryption key can change after creation is UNCONFIRMED; DescribeDBInstanceAttribute also gives
the current status. Both are read fresh every time.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

from alibabacloud_dds20151201 import models as dds

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import IncompleteListing, items_by_number
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 100  # DescribeDBInstances takes 30 (default), 50 or 100
INSTANCE_TYPES = ("replicate", "sharding", "serverless")  # DescribeDBInstances lists one at a time
# Only the China site documents the serverless type. A region that refuses the value as a parameter
# error has no serverless instances to list: the other listings, with the same parameters but the
# type, succeeded. Any other error on it stops the scanner, as everywhere.
OPTIONAL_TYPE = "serverless"
REFUSED_VALUE = ("InvalidParameter", "InvalidDBInstanceType", "Parameter")
GONE = "InvalidDBInstanceId.NotFound"  # released between the listing and the reads
SINGLE_NODE = "1"  # ReplicationFactor of a standalone instance: it cannot use TDE
# Instance states (MongoDB's state table) in which nothing serves the data: being released. An
# instance locked because its subscription expired or it was released (LockMode) serves nothing either.
AT_REST = ("Deleting",)
LOCKED_AT_REST = ("LockByExpiration", "Released")
TDE = "TDE (transparent data encryption)"
DISK = "cloud disk encryption"


class Instance(NamedTuple):
    """What the scanner keeps of a listed instance (a listing of thousands is not kept whole)."""

    id: str
    region: Optional[str]
    name: Optional[str]
    status: Optional[str]
    kind: Optional[str]
    version: Optional[str]
    replication_factor: Optional[str]
    lock_mode: Optional[str]


def _kept(item) -> Instance:
    return Instance(item.dbinstance_id, item.region_id, item.dbinstance_description, item.dbinstance_status,
                    item.dbinstance_type, item.engine_version, item.replication_factor, item.lock_mode)


class MongodbInstancesScanner:
    name = "mongodb_instances"
    service = "MongoDB"
    note = "single-node instances are not asked for TDE: it needs a replica set or sharded cluster instance"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        client = clients.mongodb(target.region)

        def listing(kind: str) -> list[Instance]:
            def page(number: int):
                request = dds.DescribeDBInstancesRequest(region_id=target.region, dbinstance_type=kind, page_number=number,
                                                         page_size=PAGE_SIZE)
                return clients.call("mongodb:DescribeDBInstances", client.describe_dbinstances, request).body

            try:
                return items_by_number(page, lambda b: b.dbinstances and b.dbinstances.dbinstance, lambda b: b.total_count,
                                       PAGE_SIZE, keep=_kept, size_of=lambda b: b.page_size, key=lambda i: i.id,
                                       api=f"DescribeDBInstances ({kind})", noun="instances")
            except Exception as exc:
                if kind == OPTIONAL_TYPE and error_code(exc).startswith(REFUSED_VALUE):
                    return []
                raise

        listed = [i for per_type in fan_out(listing, INSTANCE_TYPES) for i in per_type]
        # The central endpoint may answer for other regions: keep the region's own instances, each once.
        instances = list({i.id: i for i in listed if i.region in (None, target.region)}.values())

        def dependent(instance: Instance) -> Dependent | None:
            """The instance as a dependent of the key, or None: it does not use the key, or it is gone."""
            try:
                tde = None
                if instance.replication_factor != SINGLE_NODE:
                    tde = clients.call("mongodb:DescribeDBInstanceTDEInfo", client.describe_dbinstance_tdeinfo,
                                       dds.DescribeDBInstanceTDEInfoRequest(dbinstance_id=instance.id)).body
                attribute = clients.call("mongodb:DescribeDBInstanceAttribute", client.describe_dbinstance_attribute,
                                         dds.DescribeDBInstanceAttributeRequest(dbinstance_id=instance.id)).body
            except Exception as exc:
                if error_code(exc) == GONE:
                    return None
                raise
            described = (attribute.dbinstances and attribute.dbinstances.dbinstance) or []
            if not described:
                if tde is not None and target.names_key(tde.encryption_key):
                    # The TDE read just named the key: an empty Attribute cannot be taken for "released"
                    # (it may be a silent denial); the evidence in hand is never thrown away (fail safe).
                    raise IncompleteListing(f"DescribeDBInstanceAttribute described nothing for {instance.id}, whose TDE "
                                            "names the key: released, or not allowed to look?")
                return None  # released: nothing is described for the id asked (UNCONFIRMED, see above)
            attr = described[0]  # the answer describes the one instance asked for
            # The key named is the evidence: a flag saying otherwise (TDEStatus, Encrypted) does not
            # outweigh it (fail safe).
            uses = [use for use, key in ((TDE, tde and tde.encryption_key), (DISK, attr.encryption_key)) if target.names_key(key)]
            if not uses:
                return None
            status = attr.dbinstance_status or instance.status
            lock_mode = attr.lock_mode or instance.lock_mode
            return Dependent(
                service=self.service, resource_type="ACS::MongoDB::DBInstance", resource_id=instance.id,
                region=instance.region or target.region,
                state="inert" if status in AT_REST or lock_mode in LOCKED_AT_REST else "live",
                usage=" and ".join(uses), name=instance.name or attr.dbinstance_description or None,
                detail={k: v for k, v in {
                    "status": status, "version": attr.engine_version or instance.version,
                    "type": attr.dbinstance_type or instance.kind, "storage": attr.storage_type,
                    "lock": None if lock_mode == "Unlock" else lock_mode,
                    "role": tde.role_arn if tde is not None and TDE in uses else None,
                }.items() if v},
            )

        return [d for d in fan_out(dependent, instances) if d is not None]
