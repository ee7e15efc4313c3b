"""A sweep invocation FC gives up on is told at once (s.yaml: compliance-sweep-failures, cert-sweep-failures): FC hands
its context to the sweep's failure destination, which records it and alerts KmsStewardSweepFailed under its own role.
The events here are ones FC would drop as too old (maxAsyncEventAgeInSeconds, EventAgeExceeded): the local cloud
sends them to the destination s.yaml names, as FC does."""
from __future__ import annotations

import json
import pytest

from localcloud.account import Account
from localcloud.cloud import LocalCloud
from localcloud.clock import Clock
from tests.support.accounts import S_YAML
from tests.support.sweeps import NOW, events, invoke_aged, sweep_account, sweep_records

TIMER = json.dumps({"triggerTime": NOW, "triggerName": "compliance-daily", "payload": '{"task":"compliance-sweep"}'})
WORKER = json.dumps({"task": "cert-sweep", "sweep": {"runId": "cert-sweep-20300101T000000Z", "account": "2234567890123456",
                                                     "region": "cn-shanghai"}})


def cloud_with(faults=()) -> LocalCloud:
    data = sweep_account().to_data()
    data["sls"]["logstores"].append({"projectName": "kms-steward-logs", "logstoreName": "cert-sweep-findings",
                                     "RegionId": "cn-hangzhou"})
    data["faults"] = list(faults)
    return LocalCloud(Account.from_data(data), project=S_YAML, clock=Clock(NOW)).start()


def aged(cloud, resource: str, event: str):
    """The destination record of an event FC accepted too long ago to run."""
    invoke_aged(cloud, resource, event.encode())
    assert cloud.fc.drain(60)
    (sent,) = [d for d in cloud.fc.destinations_sent if d.source_function == resource]
    return sent


@pytest.mark.parametrize("resource, event, what, records", [
    ("compliance-sweep", TIMER, {"what": "the scheduled run", "triggerTime": NOW}, "compliance-sweep-findings"),
    ("cert-sweep", WORKER, {"what": "a worker of a fanned-out run", "targetAccount": "2234567890123456",
                            "targetRegion": "cn-shanghai", "runId": "cert-sweep-20300101T000000Z"}, "cert-sweep-findings"),
])
def test_a_sweep_invocation_fc_gives_up_on_is_alerted_and_recorded_at_once(resource, event, what, records):
    cloud = cloud_with()
    try:
        sent = aged(cloud, resource, event)
        assert sent.function == f"{resource}-failures" and sent.invocation.ok, sent.invocation.error
        (alert,) = events(cloud, "KmsStewardSweepFailed")
        assert {k: alert[k] for k in what} == what
        assert alert["function"] == f"kms-steward-{resource}" and "EventAgeExceeded" in alert["failure"]
        written = [log.contents for log in cloud.account.sls.logs if log.logstoreName == records]
        assert len(written) == 1 and written[0]["kind"] == "sweep_failed" and written[0]["alerted"] == "true"
        # its own role, which only alerts and writes the sweep's records: nothing was swept
        assert {d.role for d in cloud.ram.log.decisions} == {"kms-steward-sweep-failures"}
        assert all(d.allowed for d in cloud.ram.log.decisions)
    finally:
        cloud.stop()


def test_an_alert_that_cannot_be_sent_is_retried_by_fc_and_said_in_the_record():
    # a write is not sent twice blindly (shared/clients.py): each attempt of the function makes one PutCustomEvent
    cloud = cloud_with(faults=[{"Api": "cms:PutCustomEvent", "Kind": "server_error", "Remaining": 2}])
    try:
        sent = aged(cloud, "compliance-sweep", TIMER)
        attempts = [i for i in cloud.fc.invocations if i.function == "compliance-sweep-failures"]
        assert [a.ok for a in attempts] == [False, False, True]
        assert "retry later (alert KmsStewardSweepFailed): InternalError" in attempts[0].error["errorMessage"]
        assert sent.invocation.ok  # the third attempt, once CloudMonitor answers again
        assert len(events(cloud, "KmsStewardSweepFailed")) == 1
        told = [(r["alerted"], r.get("alertError", "")[:13]) for r in sweep_records(cloud)]
        assert told == [(False, "InternalError"), (False, "InternalError"), (True, "")]
    finally:
        cloud.stop()


def test_a_payload_it_cannot_read_is_still_alerted():
    cloud = cloud_with()
    try:
        done = cloud.fc.invoke("compliance-sweep-failures", b'{"not": "a destination record"}')
        assert done.ok, done.error
        (alert,) = events(cloud, "KmsStewardSweepFailed")
        assert alert["what"] == "an invocation the destination payload does not describe"
        assert "requestPayload" in alert["failure"]
    finally:
        cloud.stop()
