"""The demo: on the built-in demo account, alice schedules the deletion of the payments key, which
still encrypts two live database disks, their nightly snapshot and the invoices bucket. key-guard,
wired by s.yaml's EventBridge trigger, audits, cancels, alerts and records; the key ends Enabled.

Everything runs over HTTP against the local cloud with the official SDKs; the demo only watches.
"""
from __future__ import annotations

import json
import threading

from alibabacloud_kms20160120 import models as kms
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from kms_steward.local import build_cloud
from shared.clients import Clients, Credentials

KEY_ID = "0b2f3e4a-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
# What each of key-guard's calls is for, so the live trace reads as the steps it takes.
PURPOSE = {
    "oss:PutObject": "claim / complete the event (idempotency)",
    "oss:GetObject": "read an existing claim",
    "kms:DescribeKey": "re-read the key (never trust the event alone)",
    "kms:ListResourceTags": "intended-deletion tag?",
    "kms:ListAliasesByKeyId": "aliases, for the record",
    "ecs:DescribeDisks": "audit: disks encrypted with the key",
    "ecs:DescribeSnapshots": "audit: snapshots encrypted with the key",
    "oss:ListBuckets": "audit: buckets in the key's region",
    "oss:GetBucketEncryption": "audit: a bucket's default encryption",
    "kms:CancelKeyDeletion": "ACT: cancel the deletion",
    "kms:EnableKey": "ACT: re-enable the key",
    "cms:PutCustomEvent": "alert (CloudMonitor custom event)",
    "sls:PutLogs": "decision record (SLS)",
}
ALIAS = "alias/payments"


class _Narrator:
    """Prints what happens in the local cloud as it happens: events, deliveries, key-guard's calls."""

    def __init__(self, console: Console):
        self.console = console
        self.lock = threading.Lock()
        self.guard_running = False

    def on_bus(self, stage: str, info: dict) -> None:
        event = info["event"]
        data = event["data"]
        with self.lock:
            if stage == "published":
                if data["serviceName"] != "Kms":
                    return
                who = data["userIdentity"]
                self.console.print(f"[cyan]ActionTrail[/] recorded [bold]{data['eventName']}[/] ({data['eventType']}) "
                                   f"by {who['type']} [bold]{who['userName']}[/] from {data['sourceIpAddress']}"
                                   + (f", error {data['errorCode']}" if data["errorCode"] else ""))
            elif stage == "delivering":
                copy = f" (delivery #{info['copy']}, same event id)" if info["copy"] > 1 else ""
                self.console.print(f"[cyan]EventBridge[/] {event['type']} matched s.yaml trigger of "
                                   f"[bold]{info['function']}[/] -> invoking it asynchronously{copy}")
                self.guard_running = True
            elif stage == "delivered":
                self.guard_running = False
                inv = info["invocation"]
                if not inv.ok:
                    self.console.print(f"[red]{info['function']} failed[/]: {inv.error['errorType']}: {inv.error['errorMessage']}")
                    return
                for result in inv.result.get("results", []):
                    _show_result(self.console, result)

    def on_call(self, api: str) -> None:
        if self.guard_running:
            with self.lock:
                self.console.print(f"    [dim]key-guard ->[/] {api:26} [dim]{PURPOSE.get(api, '')}[/]")


def _show_result(console: Console, result: dict) -> None:
    status = result.get("status")
    if status in ("duplicate", "in_flight"):
        console.print(f"  [yellow]key-guard[/]: duplicate delivery of event {result.get('eventId')}: no second action, no second alert")
        return
    deps = result.get("dependents") or {}
    if deps:
        table = Table(title=f"What still depends on key {result.get('keyId')}", title_justify="left")
        table.add_column("service")
        table.add_column("resource (state, how it uses the key)")
        for service, items in deps.items():
            for item in items:
                table.add_row(service, item)
        console.print(table)
    if result.get("auditIncomplete"):
        for part in result["auditIncomplete"]:
            console.print(f"  [red]audit incomplete[/]: {part['part']}: {part['reason']}")
    console.print(f"  [bold]decision[/]: {result.get('decision')} (mode {result.get('mode')}); "
                  f"action: {result.get('action')} -> {result.get('actionResult')}")
    if result.get("alert"):
        console.print(f"  [bold]alert[/]: CloudMonitor custom event [bold]{result['alert']}[/] raised")
    console.print(f"  [bold]record[/]: decision recorded (status {status}, key {result.get('keyStateBefore')} -> "
                  f"{result.get('keyStateAfter')})")


def run_demo(*, duplicate_delivery: bool = False, console: Console | None = None) -> int:
    console = console or Console(highlight=False, width=None if Console().is_terminal else 120)
    cloud = build_cloud(duplicate_delivery=duplicate_delivery)
    narrator = _Narrator(console)
    with cloud:
        region = cloud.default_region
        alice = next(c for c in cloud.account.credentials if c.UserName == "alice")
        clients = Clients(Credentials(alice.AccessKeyId, alice.AccessKeySecret), region, endpoint_override=cloud.endpoint_override())
        client = clients.kms()
        console.print(Panel.fit(
            f"Local Alibaba Cloud account {cloud.account.account_id}, region {region}, at http://{cloud.endpoint(region)}\n"
            f"key-guard is wired from s.yaml (EventBridge trigger on kms:ActionTrail:ApiCall / ConsoleOperation).\n"
            f"Key {KEY_ID} ({ALIAS}) protects payments data.",
            title="kms-steward demo"))
        before = client.describe_key(kms.DescribeKeyRequest(key_id=KEY_ID)).body.key_metadata
        console.print(f"key {ALIAS} is [bold]{before.key_state}[/]\n")

        cloud.bus.listeners.append(narrator.on_bus)
        cloud.calls.listeners.append(narrator.on_call)
        console.print("[bold]1.[/] alice, tidying up, schedules the deletion of the payments key (7-day window):")
        cloud.bus.hold()  # EventBridge delivers a moment later; hold it so the story reads in order
        client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY_ID, pending_window_in_days=7))
        pending = client.describe_key(kms.DescribeKeyRequest(key_id=KEY_ID)).body.key_metadata
        console.print(f"    KMS accepted it: key is [bold red]{pending.key_state}[/], to be deleted on {pending.delete_date}\n")
        console.print("[bold]2.[/] key-guard reacts:")
        cloud.bus.release()
        if not cloud.bus.drain(timeout=120):
            console.print("[red]key-guard did not finish within 120 s[/]")
            return 1

        after = client.describe_key(kms.DescribeKeyRequest(key_id=KEY_ID)).body.key_metadata
        console.print(f"\n[bold]3.[/] key {ALIAS} is [bold green]{after.key_state}[/] again"
                      + ("" if after.key_state == "Enabled" else " [red](expected Enabled)[/]"))
        for event in cloud.account.cms.events:
            content = json.loads(event.Content)
            console.print(f"    CloudMonitor event {event.Name} [{content.get('severity')}]: key {content.get('keyId')}, "
                          f"caller {content.get('caller')}, dependents "
                          + ", ".join(f"{svc} x{d['count']}" for svc, d in content.get("dependents", {}).items()))
        records = [log for log in cloud.account.sls.logs if log.logstoreName == "key-guard-decisions"]
        console.print(f"    {len(records)} decision record(s) in SLS kms-steward-logs/key-guard-decisions"
                      f"; API calls served by the local cloud: {sum(cloud.calls.snapshot().values())}")
        return 0 if after.key_state == "Enabled" else 1
