"""The scanner table: every scanner the audit runs, one file each."""
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from shared.audit.scanners.oss_buckets import OssBucketsScanner
from shared.audit.scanners.redis_instances import RedisInstancesScanner

SCANNERS = (
    EcsDisksScanner(),
    EcsSnapshotsScanner(),
    OssBucketsScanner(),
    KmsUsageScanner(),
    NasFileSystemsScanner(),
    RedisInstancesScanner(),
)
