"""A secret's reads that ActionTrail may not record with the secret as their resource (UNCONFIRMED for GetSecretValue):
when LookupEvents finds no read by the secret's name, every GetSecretValue call of the region in the window is read
and checked by its SecretName, up to 1,000 calls; beyond that the readers count as unknown (fail safe), unless the
trail's logstore, searched by the name, is configured (shared/audit/scanners/kms_usage.py, _unnamed_uses)."""
from __future__ import annotations

from datetime import timedelta

from alibabacloud_kms20160120 import models as kms

from shared.audit.scanners.kms_usage import PAGE_SIZE, UNNAMED_PAGES
from tests.support.accounts import make_account
from tests.support.clients import alice_kms
from tests.support.resources import TRAIL, iso
from tests.support.scanners import now
from tests.test_secret_guard import RECORDS, SECRET, alice_deletes, guard, planned_delete_time, records, secret
from tests.test_secret_guard_readers_and_canary import read_event


def unnamed(event: dict) -> dict:
    """The read as ActionTrail may record it: the secret in its request only, no resource named."""
    return {**event, "referencedResources": {}}


def test_a_read_that_names_the_secret_in_its_request_only_is_found_among_the_regions_reads(start_cloud):
    t = now()
    reads = [unnamed(read_event(SECRET, t - timedelta(days=3))), unnamed(read_event("billing/api-token", t - timedelta(days=1)))]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret(), secret("billing/api-token")]},
                                     actiontrail={"events": reads}))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [record] = records(cloud)
    assert [r["caller"] for r in record["readers"]] == ["ram-user:payments-api"] and record["readerCount"] == 1
    assert cloud.calls.get("actiontrail:LookupEvents") == 2  # by the name, then the region's GetSecretValue calls


def test_a_read_found_by_the_secrets_name_spares_the_scan_of_the_regions_reads(start_cloud):
    # LookupEvents is paced at 2 QPS per account: the region's reads are scanned only when none names the secret.
    t = now()
    reads = [read_event(SECRET, t - timedelta(days=3)), unnamed(read_event("billing/api-token", t - timedelta(days=1)))]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret(), secret("billing/api-token")]},
                                     actiontrail={"events": reads}))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [record] = records(cloud)
    assert [r["caller"] for r in record["readers"]] == ["ram-user:payments-api"] and record["readersComplete"] is True
    assert cloud.calls.get("actiontrail:LookupEvents") == 1  # by the name only


def test_more_reads_in_the_region_than_can_be_checked_leave_the_readers_unknown_and_the_secret_restored(start_cloud):
    t = now()
    others = [unnamed(read_event(f"app/secret-{i}", t - timedelta(minutes=i))) for i in range(UNNAMED_PAGES * PAGE_SIZE + 1)]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret()]}, actiontrail={"events": others}))

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is None
    [record] = records(cloud)
    assert record["readersComplete"] is False
    assert "the region's GetSecretValue calls in the window are more than 1000" in record["readersIncomplete"]
    assert "set TRAIL_SLS_PROJECT/LOGSTORE" in record["readersIncomplete"]


def test_only_the_regions_reads_count_against_the_bound_of_the_scan(start_cloud):
    # More than the bound of other calls (each naming some secret) in the window: only GetSecretValue calls are asked
    # for, so the scan stays within its bound and finds the read.
    t = now()
    others = [unnamed(read_event(f"app/secret-{i}", t - timedelta(minutes=i), event="DescribeSecret"))
              for i in range(UNNAMED_PAGES * PAGE_SIZE + 1)]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret()]},
                                     actiontrail={"events": others + [unnamed(read_event(SECRET, t - timedelta(days=2)))]}))

    alice_deletes(cloud)

    [record] = records(cloud)
    assert record["readersComplete"] is True and [r["caller"] for r in record["readers"]] == ["ram-user:payments-api"]


def test_with_the_trail_logstore_configured_the_regions_reads_are_not_scanned(start_cloud):
    t = now()
    trail = {**TRAIL, "StartLoggingTime": iso(t - timedelta(days=60)), "CreateTime": iso(t - timedelta(days=60))}
    others = [unnamed(read_event(f"app/secret-{i}", t - timedelta(minutes=i))) for i in range(3)]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret()]},
                                     actiontrail={"events": others, "trails": [trail]}),
                        env={"TRAIL_SLS_PROJECT": TRAIL["SlsProjectArn"], "TRAIL_SLS_LOGSTORE": "actiontrail_audit-trail"})

    alice_deletes(cloud)

    assert planned_delete_time(cloud) is not None  # no read of it anywhere: deleted as asked
    assert cloud.calls.get("actiontrail:LookupEvents") == 1


# LookupEvents is asked for the window with both StartTime and EndTime (the reference: both or neither): calls made
# after the window's end (the event's time) are no evidence, and must not count against the bound of the scan.
def test_reads_after_the_deletion_do_not_make_an_unread_secrets_readers_unknown(start_cloud):
    t = now()
    # More than the scan's bound of other secrets' reads, all made after the deletion (the last hour); none before it.
    after = [{**read_event(f"app/secret-{i}", t - timedelta(seconds=3 * i)), "referencedResources": {}}
             for i in range(UNNAMED_PAGES * PAGE_SIZE + 1)]
    cloud = start_cloud(make_account(sls={"logstores": [RECORDS]}, kms={"secrets": [secret()]}, actiontrail={"events": after}))
    cloud.bus.hold()
    alice_kms(cloud).delete_secret(kms.DeleteSecretRequest(secret_name=SECRET))
    event = next(e for e in cloud.bus.published if e["data"].get("eventName") == "DeleteSecret")
    deleted_at = iso(t - timedelta(hours=2))  # the deletion was two hours ago; decided now (say, a retry)
    event = {**event, "time": deleted_at, "data": {**event["data"], "eventTime": deleted_at}}

    [result] = guard(cloud).handle(event, "inv-1")["results"]

    [record] = records(cloud)
    assert record["readersComplete"] is True, record.get("readersIncomplete")
    assert result["status"] != "acted" and planned_delete_time(cloud) is not None  # no reader: deleted as asked
