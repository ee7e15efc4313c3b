"""The scanner table: every scanner the audit runs, one file each."""
from shared.audit.scanners.ack_clusters import AckClustersScanner
from shared.audit.scanners.ecs_default_key import EcsDefaultKeyScanner
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_images import EcsImagesScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.kms_secrets import KmsSecretsScanner
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.audit.scanners.lb_certificates import LbCertificatesScanner
from shared.audit.scanners.mongodb_instances import MongodbInstancesScanner
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from shared.audit.scanners.oss_buckets import OssBucketsScanner
from shared.audit.scanners.oss_replication import OssReplicationScanner
from shared.audit.scanners.polardb_clusters import PolardbClustersScanner
from shared.audit.scanners.rds_instances import RdsInstancesScanner
from shared.audit.scanners.redis_instances import RedisInstancesScanner
from shared.audit.scanners.sls_logstores import SlsLogstoresScanner

SCANNERS = (
    EcsDisksScanner(),
    EcsSnapshotsScanner(),
    EcsImagesScanner(),
    EcsDefaultKeyScanner(),
    OssBucketsScanner(),
    OssReplicationScanner(),
    RdsInstancesScanner(),
    PolardbClustersScanner(),
    KmsSecretsScanner(),
    NasFileSystemsScanner(),
    RedisInstancesScanner(),
    MongodbInstancesScanner(),
    AckClustersScanner(),
    SlsLogstoresScanner(),
    LbCertificatesScanner(),
    KmsUsageScanner(),
)
