"""The scanner table: every scanner the audit runs, one file each."""
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.ecs_snapshots import EcsSnapshotsScanner
from shared.audit.scanners.oss_buckets import OssBucketsScanner

SCANNERS = (
    EcsDisksScanner(),
    EcsSnapshotsScanner(),
    OssBucketsScanner(),
)
