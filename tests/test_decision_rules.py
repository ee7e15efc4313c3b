"""Rules of the domain the decision path must keep, one test each (kept by mutation testing: MUTATION.md)."""
from __future__ import annotations

from shared.audit.model import AuditReport, ScanResult
from tests.conftest import KEY, REGION


def test_an_audit_that_could_not_look_everywhere_may_have_dependents():
    report = AuditReport(key_id=KEY, region=REGION, results=[ScanResult(scanner="ecs_disks", service="ECS", complete=False,
                                                                        reason="access denied (Forbidden.RAM)")])
    assert report.may_have_dependents
