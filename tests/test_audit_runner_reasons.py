"""Why a part of the audit is incomplete, in the words the decision record, the alert and the pre-flight
report carry (shared/audit/runner.py, incomplete_reason): a product not enabled in the region, throttling past
the retries and a refused request each read as such and keep the service's own code and message, so an
operator can tell "turn NAS on or ignore it" from "grant the permission" from "try again later". Real scanners
with the official SDKs against the local cloud, whose faults answer as the products do."""
from __future__ import annotations

import re
import threading
import time

from alibabacloud_kms20160120 import models as kms

from shared.audit.runner import run_audit
from shared.audit.scanners.ecs_disks import EcsDisksScanner
from shared.audit.scanners.nas_file_systems import NasFileSystemsScanner
from tests.conftest import KEY, alerts, alice_kms, decision_records, make_account
from tests.scanner_kit import clients, target

LISTING = "nas:DescribeFileSystems"
REQUEST_ID = re.compile(r" request id: [0-9A-F-]+")


def nas_result(start_cloud, **fault):
    """The NAS scanner's result when its listing meets `fault`."""
    cloud = start_cloud(make_account(faults=[{"Api": LISTING, **fault}]))
    [result] = run_audit(target(), clients(cloud), scanners=(NasFileSystemsScanner(),)).results
    assert not result.complete and result.dependents == []
    return result


def without_request_id(reason: str) -> str:
    return REQUEST_ID.sub("", reason)


def test_a_product_not_enabled_in_the_region_says_so_with_the_services_code_and_message(start_cloud):
    # One of the "not here" codes the runner knows (the spellings vary by product).
    result = nas_result(start_cloud, Code="RegionId.NotSupport", Message="The specified region does not support NAS.")

    assert without_request_id(result.reason) == \
        "service not enabled in the region (RegionId.NotSupport: code: 400, The specified region does not support NAS.)"


def test_throttling_past_the_retries_says_so_with_the_services_code_and_message(start_cloud):
    result = nas_result(start_cloud, Kind="throttled")

    assert without_request_id(result.reason) == \
        "throttled past retries (Throttling.User: code: 400, Request was denied due to user flow control.)"


def test_a_refused_request_is_given_as_the_service_answered_it_and_not_as_a_timeout(start_cloud):
    result = nas_result(start_cloud, Code="InvalidParameter", Message="The parameter FileSystemType is invalid.")

    assert without_request_id(result.reason) == "InvalidParameter: code: 400, The parameter FileSystemType is invalid."


def test_the_reason_reaches_the_alert_and_the_decision_record_word_for_word(start_cloud):
    cloud = start_cloud(make_account(faults=[{"Api": LISTING, "Code": "RegionId.NotSupport",
                                              "Message": "The specified region does not support NAS."}]))
    alice_kms(cloud).schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY, pending_window_in_days=7))
    assert cloud.bus.drain(timeout=60), "key-guard did not finish"

    [alert] = alerts(cloud)
    [part] = alert["auditIncomplete"]
    assert part["part"] == "nas_file_systems"
    assert without_request_id(part["reason"]) == \
        "service not enabled in the region (RegionId.NotSupport: code: 400, The specified region does not support NAS.)"
    [record] = [r for r in decision_records(cloud) if r.get("eventName") == "ScheduleKeyDeletion"]
    assert record["auditComplete"] is False and record["decision"] == "block"
    assert [p["reason"] for p in record["auditIncomplete"]] == [part["reason"]]


def test_a_listing_that_never_answers_in_time_says_timeout(start_cloud, monkeypatch):
    # The SDK wraps its read timeout (UnretryableException around a RetryError): the reason still says timeout.
    monkeypatch.setenv("KMS_STEWARD_READ_TIMEOUT_MS", "200")
    result = nas_result(start_cloud, Kind="timeout", LatencyMs=600)

    assert result.reason.startswith("timeout (") and "timed out" in result.reason


def test_a_scanners_result_carries_its_caveat_for_the_preflight_report(start_cloud):
    # What a scanner cannot see (its note) is shown beside what it found, complete or not.
    cloud = start_cloud(make_account())

    [result] = run_audit(target(), clients(cloud), scanners=(EcsDisksScanner(),)).results

    assert result.complete and result.note == EcsDisksScanner.note and result.note


class Rendezvous:
    """A scanner that finds nothing once all its `party` have started: only scanners running at once get there."""

    service = "test"

    def __init__(self, name: str, party: threading.Barrier, pause_s: float = 0.0):
        self.name, self.party, self.pause_s = name, party, pause_s

    def scan(self, target, clients):
        self.party.wait()  # BrokenBarrierError after its timeout unless every scanner of the party is running
        time.sleep(self.pause_s)
        return []


def test_every_scanner_runs_at_once_however_few_cores_the_machine_has(start_cloud):
    # A pool sized by the machine (6 threads on two cores) would queue the seventh scanner behind a slow sixth,
    # and a slow scanner would push the others past the audit's deadline. Eight scanners that can only finish
    # together all finish; each is timed from its own start, and each result reaches the progress display.
    cloud, party = start_cloud(make_account()), threading.Barrier(8, timeout=20)
    landed = []

    report = run_audit(target(), clients(cloud), scanners=tuple(Rendezvous(f"s{n}", party, 0.3) for n in range(8)),
                       on_result=landed.append)

    assert all(r.complete for r in report.results), [r.reason for r in report.results]
    assert sorted(r.scanner for r in landed) == [f"s{n}" for n in range(8)] and all(r in report.results for r in landed)
    assert all(300 <= r.duration_ms < 20_000 for r in report.results), [r.duration_ms for r in report.results]


def test_a_scanner_past_the_audit_deadline_is_incomplete_and_timed_at_the_deadline(start_cloud):
    # The audit answers at its deadline, not when the stuck scanner gives up (10 s later): the guard's decision, its
    # action and its alert must fit in what is left of the invocation.
    cloud, never_complete = start_cloud(make_account()), threading.Barrier(2, timeout=10)  # a party of two; one comes

    started = time.monotonic()
    [result] = run_audit(target(), clients(cloud), scanners=(Rendezvous("stuck", never_complete),), deadline_s=0.5).results

    assert time.monotonic() - started < 5
    assert (result.complete, result.reason, result.duration_ms) == (
        False, "timeout: not finished within the audit deadline of 0.5 s", 500)
