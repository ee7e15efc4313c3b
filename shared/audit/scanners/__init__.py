"""The scanner table: every scanner the audit runs, one file each."""
from shared.audit.scanners.ecs_default_key import EcsDefaultKeyScanner
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_images import EcsImagesScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.audit.scanners.lb_certificates import LbCertificatesScanner
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from shared.audit.scanners.oss_buckets import OssBucketsScanner
from shared.audit.scanners.oss_replication import OssReplicationScanner
from shared.audit.scanners.redis_instances import RedisInstancesScanner

SCANNERS = (
    EcsDisksScanner(),
    EcsSnapshotsScanner(),
    EcsImagesScanner(),
    EcsDefaultKeyScanner(),
    OssBucketsScanner(),
    OssReplicationScanner(),
    LbCertificatesScanner(),
    KmsUsageScanner(),
    NasFileSystemsScanner(),
    RedisInstancesScanner(),
)
