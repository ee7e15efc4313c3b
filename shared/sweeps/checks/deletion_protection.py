"""deletion_protection: a customer key that something depends on has deletion protection on, so that a deletion
must first be argued past SetDeletionProtection (SetDeletionProtection API reference,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-setdeletionprotection).

What depends on which key comes from the region's inventory (shared/sweeps/inventory.py: each product listed once),
never from the per-key audit. Findings (ACS::KMS::Key), for Enabled and Disabled keys (a key pending deletion is
key-guard's: its event and the daily safety net decide it):
- unprotected_with_dependents: WARN when a dependent is live (serving now), INFO when all are data at rest.
When a product's listing is incomplete the result is incomplete and names it: a key with no dependent found may
still have one there, so it is never reported as fine.
"""
from __future__ import annotations

from shared.audit.facts import FactsPlace
from shared.sweeps.check_kit import failed
from shared.sweeps.findings import CheckResult, Finding, SweepTarget
from shared.sweeps.inventory import NOT_INVENTORIED, build_inventory
from shared.sweeps.kms_reads import customer_keys, is_service_key

MAX_IDS = 10


class DeletionProtectionCheck:
    name = "deletion_protection"

    def run(self, target: SweepTarget, clients) -> CheckResult:
        try:
            keys = customer_keys(clients, target.region)
        except Exception as exc:
            return failed(self.name, target, exc, "listing the keys")
        # The inventory's secret describes also feed the audit's facts store (STATE_BUCKET), for key-guard and the
        # pre-flight, in the function's own account only: a member account's worker holds that account's credentials,
        # and a fact a member could write is one key-guard would trust.
        own = target.settings.get("home_account") == target.account
        inventory = build_inventory(clients, target.region, account_id=target.account, facts=FactsPlace.from_env() if own else None)
        result = CheckResult(check=self.name, account=target.account, region=target.region, complete=inventory.complete,
                             reason=f"inventory incomplete ({inventory.reason()})" if not inventory.complete else None)
        for meta in keys:
            if is_service_key(meta) or meta.key_state not in ("Enabled", "Disabled") or meta.deletion_protection == "Enabled":
                continue
            dependents = inventory.dependents_of(meta.key_id)
            if not dependents:
                continue
            live = [d for d in dependents if d.state == "live"]
            by_service: dict[str, int] = {}
            for d in dependents:
                by_service[d.service] = by_service.get(d.service, 0) + 1
            summary = ", ".join(f"{service}: {count}" for service, count in by_service.items())
            result.findings.append(Finding(
                check=self.name, kind="unprotected_with_dependents", severity="WARN" if live else "INFO",
                account=target.account, region=target.region, resource_type="ACS::KMS::Key", resource_id=meta.key_id,
                message=f"key {meta.key_id} has no deletion protection, and {len(dependents)} resource(s) depend on it "
                        f"({summary}; {len(live)} live)",
                detail={"dependents": by_service, "live": len(live), "ids": [d.resource_id for d in dependents[:MAX_IDS]],
                        "keyState": meta.key_state}))
        result.note = "not inventoried yet: " + ", ".join(NOT_INVENTORIED)
        return result


CHECK = DeletionProtectionCheck()
