"""The trail's SLS logstore is read beside LookupEvents, never instead of it (shared/audit/scanners/kms_usage.py,
scan): a trail that delivers Write events only -- ActionTrail's default, which leaves out read-type events such as
Decrypt (UNCONFIRMED that crypto calls are read-type; the module docstring says why) -- must not hide the calls
LookupEvents answers; and a trail configured by half (a project without a logstore) is not read at all, so the
audit stands on LookupEvents alone. The records of both are counted once per call: by eventId, or, for a record
without one, by its whole content. Against the local cloud with the official ActionTrail and SLS SDKs."""
from __future__ import annotations

from datetime import timedelta

from shared.audit.runner import run_audit
from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from tests.support.accounts import ACCOUNT_ID, KEY, REGION, make_account
from tests.support.scanners import clients
from tests.test_usage_trail_logstore import LOGSTORE, call, iso, now, project_arn, trail


def scan(cloud, **trail_target):
    target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                         kms_instance_id="", **trail_target)
    [result] = run_audit(target, clients(cloud), scanners=(KmsUsageScanner(),), deadline_s=20).results
    return result


def test_a_write_only_trail_does_not_hide_the_calls_lookup_events_answers(start_cloud):
    write_only = {**trail(), "EventRW": "Write"}
    use = call("Decrypt", now() - timedelta(days=2), in_request_only=False)
    cloud = start_cloud(make_account(actiontrail={"events": [use], "trails": [write_only]}))

    result = scan(cloud, trail_project=project_arn(), trail_logstore=LOGSTORE)

    assert result.complete, result.reason
    [app] = result.dependents
    assert (app.resource_id, app.usage) == ("ram-user:payments-api", "Decrypt×1 in the last 30 days")
    assert app.detail["evidence"] == f"ActionTrail LookupEvents; trail logstore {project_arn()}/{LOGSTORE}"


def test_a_trail_project_without_its_logstore_is_not_read(start_cloud):
    use = call("Decrypt", now() - timedelta(days=2), in_request_only=False)
    cloud = start_cloud(make_account(actiontrail={"events": [use], "trails": [trail()]}))

    result = scan(cloud, trail_project=project_arn(), trail_logstore=None)

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.detail["evidence"] == "ActionTrail LookupEvents" and not cloud.calls.get("sls:GetLogs")


def test_calls_recorded_without_an_event_id_are_each_counted(start_cloud):
    # A record without eventId is told apart by its whole content: two different calls are two calls. (The local
    # cloud records every event with an id, so LookupEvents' answer is given as such a record would come back.)
    t = now()
    calls = [{k: v for k, v in call("Decrypt", t - timedelta(days=d), in_request_only=False).items() if k != "eventId"}
             for d in (1, 2)]
    cloud = start_cloud(make_account())
    cloud.faults.respond("actiontrail:LookupEvents", {"RequestId": "5A0E6E4E-7E3F-4C38-9C4E-2D1D6B1C0A03", "Events": calls,
                                                      "StartTime": iso(t - timedelta(days=30)), "EndTime": iso(t)})

    result = scan(cloud)

    assert result.complete, result.reason
    [app] = result.dependents
    assert app.usage == "Decrypt×2 in the last 30 days"
