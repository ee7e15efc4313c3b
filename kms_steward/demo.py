"""The demo: on the built-in demo account, payments-api does envelope encryption with the payments
key, an operator's pre-flight shows what depends on the key, and alice schedules its deletion anyway.
The key still encrypts two live database disks, their nightly snapshot and the invoices bucket, and
payments-api uses it. key-guard, wired by s.yaml's EventBridge trigger, audits (resources and usage
evidence), cancels, alerts and records; the key ends Enabled and payments-api keeps working. Then alice
deletes payments-api's database password, which it read a moment before, and a secret no one reads:
secret-guard restores the first and lets the second go.

Everything runs over HTTP against the local cloud with the official SDKs; the demo only watches.
"""
from __future__ import annotations

import json
import threading

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client as kms_client
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
    "ecs:DescribeDisks": "audit: disks encrypted with the key (server-side KMSKeyId filter)",
    "ecs:DescribeSnapshots": "audit: snapshots encrypted with the key",
    "ecs:DescribeImages": "audit: images built from those snapshots",
    "ecs:DescribeDiskDefaultKMSKeyId": "audit: is it the region's default key for new disks?",
    "ecs:DescribeDiskEncryptionByDefaultStatus": "audit: is encryption by default on?",
    "oss:ListBuckets": "audit: every bucket (once, shared by the OSS scanners)",
    "oss:GetBucketInfo": "audit: a bucket's region and default encryption",
    "oss:GetBucketReplication": "audit: replication rules that encrypt replicas with the key",
    "rds:DescribeKmsAssociateResources": "audit: RDS instances using the key (reverse lookup)",
    "rds:DescribeDBInstanceEncryptionKey": "audit: verify an RDS instance's key",
    "polardb:DescribeDBClusters": "audit: PolarDB clusters",
    "polardb:DescribeDBClusterEncryptionKey": "audit: a cluster's TDE / storage keys",
    "kms:ListSecrets": "audit: secrets",
    "kms:DescribeSecret": "audit: a secret's encryption key",
    "nas:DescribeFileSystems": "audit: NAS file systems and their keys",
    "redis:DescribeInstances": "audit: Redis/Tair instances",
    "redis:DescribeInstanceTDEStatus": "audit: an instance's TDE",
    "redis:DescribeEncryptionKey": "audit: an instance's TDE key",
    "mongodb:DescribeDBInstances": "audit: MongoDB instances (replica set, sharded, serverless)",
    "mongodb:DescribeDBInstanceTDEInfo": "audit: a MongoDB instance's TDE key",
    "mongodb:DescribeDBInstanceAttribute": "audit: a MongoDB instance's cloud disk key",
    "cs:DescribeClustersV1": "audit: ACK clusters and their Secrets encryption key (meta_data)",
    "cs:DescribeClusterDetail": "audit: an ACK cluster listed without its meta_data",
    "sls:ListProject": "audit: SLS projects",
    "sls:ListLogStores": "audit: a project's logstores",
    "sls:GetLogStore": "audit: a logstore's encryption",
    "actiontrail:LookupEvents": "usage evidence: crypto calls naming the key",
    "kms:CancelKeyDeletion": "ACT: cancel the deletion",
    "kms:EnableKey": "ACT: re-enable the key",
    "cms:PutCustomEvent": "alert (CloudMonitor custom event)",
    "sls:PutLogs": "decision record (SLS)",
}
ALIAS = "alias/payments"
# secret-guard's calls, where they are for something else than key-guard's.
SECRET_GUARD_PURPOSE = {
    "kms:DescribeSecret": "re-read the secret (never trust the event alone)",
    "actiontrail:LookupEvents": "readers: GetSecretValue calls naming the secret",
    "kms:RestoreSecret": "ACT: restore the secret",
}
READ_SECRET, UNREAD_SECRET = "payments/db-password", "web/session-signing-key"


class _Narrator:
    """Prints what happens in the local cloud as it happens: events, deliveries, key-guard's calls."""

    def __init__(self, console: Console):
        self.console = console
        self.lock = threading.Lock()
        self.guard_running = False
        self.function = "key-guard"

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
                self.function = info["function"]
            elif stage == "delivered":
                self.guard_running = False
                inv = info["invocation"]
                if not inv.ok:
                    self.console.print(f"[red]{info['function']} failed[/]: {inv.error['errorType']}: {inv.error['errorMessage']}")
                    return
                show = _show_secret_result if info["function"] == "secret-guard" else _show_result
                for result in inv.result.get("results", []):
                    show(self.console, result)

    def on_call(self, api: str) -> None:
        if self.guard_running:
            with self.lock:
                purpose = (SECRET_GUARD_PURPOSE.get(api) if self.function == "secret-guard" else None) or PURPOSE.get(api, "")
                self.console.print(f"    [dim]{self.function} ->[/] {api:32} [dim]{purpose}[/]")


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


def _show_secret_result(console: Console, result: dict) -> None:
    status = result.get("status")
    if status in ("duplicate", "in_flight"):
        console.print(f"  [yellow]secret-guard[/]: duplicate delivery of event {result.get('eventId')}: no second action, no second alert")
        return
    readers = result.get("readers") or []
    for reader in readers:
        console.print(f"  reader of {result.get('secretName')}: [bold]{reader['caller']}[/], {reader['reads']} read(s), "
                      f"first {reader.get('firstRead')}, last {reader.get('lastRead')}")
    if not readers:
        console.print(f"  no GetSecretValue call named {result.get('secretName')} in the window"
                      + ("" if result.get("readersComplete", True) else f" [red](readers unknown: {result.get('readersIncomplete')})[/]"))
    console.print(f"  [bold]decision[/]: {result.get('decision')} (mode {result.get('mode')}); "
                  f"action: {result.get('action')} -> {result.get('actionResult')}")
    if result.get("alert"):
        console.print(f"  [bold]alert[/]: CloudMonitor custom event [bold]{result['alert']}[/] raised")
    console.print(f"  [bold]record[/]: decision recorded (status {status}, secret {result.get('secretStateBefore')} -> "
                  f"{result.get('secretStateAfter')})")


def _secret_chapter(console: Console, cloud, client) -> bool:
    """payments-api reads its database password; alice deletes it and an unused secret. secret-guard restores the one
    still read and lets the other go."""
    from alibabacloud_tea_openapi.utils_models import Config

    console.print(f"\n[bold]6.[/] payments-api reads its database password ({READ_SECRET}) with GetSecretValue; "
                  f"then alice deletes it, and {UNREAD_SECRET}, which no one has read:")
    app = next(c for c in cloud.account.credentials if c.UserName == "payments-api")
    reader = kms_client(Config(access_key_id=app.AccessKeyId, access_key_secret=app.AccessKeySecret, protocol="http",
                               endpoint=cloud.endpoint(cloud.default_region), region_id=cloud.default_region))
    reader.get_secret_value(kms.GetSecretValueRequest(secret_name=READ_SECRET))  # the value stays in the app
    cloud.bus.hold()
    for name in (READ_SECRET, UNREAD_SECRET):
        client.delete_secret(kms.DeleteSecretRequest(secret_name=name, recovery_window_in_days="7"))
    cloud.bus.release()
    if not cloud.bus.drain(timeout=3600):
        console.print("[red]secret-guard did not finish within an hour[/]")
        return False
    planned = {name: client.describe_secret(kms.DescribeSecretRequest(secret_name=name)).body.planned_delete_time
               for name in (READ_SECRET, UNREAD_SECRET)}
    console.print(f"\n[bold]7.[/] {READ_SECRET} is " + ("[bold green]restored[/]" if not planned[READ_SECRET] else
                                                         f"[red]still pending deletion ({planned[READ_SECRET]})[/]")
                  + f"; {UNREAD_SECRET} is pending deletion as alice asked (deleted on {planned[UNREAD_SECRET]})")
    value = reader.get_secret_value(kms.GetSecretValueRequest(secret_name=READ_SECRET)).body
    console.print(f"    payments-api still reads its password (version {value.version_id}); no value is printed anywhere")
    return not planned[READ_SECRET] and bool(planned[UNREAD_SECRET])


def _show_app(console: Console, summary: dict) -> None:
    calls = ", ".join(f"{api} x{n}" for api, n in summary["kms_calls"].items())
    console.print(f"    payments-api ({summary['caller']['user_name']}, AK {summary['caller']['access_key_id']}) sealed "
                  f"{summary['records_written']} payment records under fresh data keys and read "
                  f"{summary['records_read_back']} back (AES-256-GCM locally; KMS calls: {calls})"
                  + ("" if summary["round_trip_ok"] else " [red]round trip FAILED[/]"))
    console.print("    its store holds only encrypted data keys: no resource inventory shows that it needs this key\n")


def _show_preflight(console: Console, report) -> None:
    table = Table(title=f"Pre-flight before deleting {ALIAS}: what would break", title_justify="left")
    table.add_column("category")
    table.add_column("dependents (state, how it uses the key)")
    for category in report.categories:
        if category.dependents or not category.complete:
            table.add_row(f"{category.service} ({category.scanner})",
                          "\n".join(f"{d.resource_id} ({d.state}, {d.usage})" for d in category.dependents)
                          or f"[red]INCOMPLETE: {category.reason}[/]")
    for caller in report.usage.dependents:
        table.add_row("KMS usage (ActionTrail)", f"{caller.resource_id} from {caller.detail.get('source_ip', '?')}: {caller.usage}")
    console.print(table)
    considered = ", ".join(c.scanner for c in report.categories if c.complete and not c.dependents)
    console.print(f"    also looked at, nothing on this key: {considered}")
    verdict = report.assessments["delete"]
    console.print(f"    delete: [bold red]{verdict.verdict.upper()}[/]; {report.recommendation}")
    console.print(f"    (the full checklist: kms-steward preflight --key-id {ALIAS} --account kms_steward/data/demo-account.yaml)\n")


def run_demo(*, duplicate_delivery: bool = False, console: Console | None = None) -> int:
    from kms_steward.envelope_app import run_payments_app
    from shared.preflight import build_preflight

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

        console.print("[bold]1.[/] payments-api does envelope encryption with the key (GenerateDataKey, then Decrypt of the stored data key):")
        _show_app(console, run_payments_app(cloud, KEY_ID, n_records=2))

        console.print("[bold]2.[/] an operator runs the read-only pre-flight before touching the key:")
        as_of = cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        _show_preflight(console, build_preflight(clients, ALIAS, region, as_of=as_of))

        cloud.bus.listeners.append(narrator.on_bus)
        cloud.calls.listeners.append(narrator.on_call)
        console.print("[bold]3.[/] alice, tidying up, schedules the deletion of the payments key anyway (7-day window):")
        cloud.bus.hold()  # EventBridge delivers a moment later; hold it so the story reads in order
        client.schedule_key_deletion(kms.ScheduleKeyDeletionRequest(key_id=KEY_ID, pending_window_in_days=7))
        pending = client.describe_key(kms.DescribeKeyRequest(key_id=KEY_ID)).body.key_metadata
        console.print(f"    KMS accepted it: key is [bold red]{pending.key_state}[/], to be deleted on {pending.delete_date}\n")
        console.print("[bold]4.[/] key-guard reacts:")
        cloud.bus.release()
        if not cloud.bus.drain(timeout=3600):
            console.print("[red]key-guard did not finish within an hour[/]")
            return 1

        after = client.describe_key(kms.DescribeKeyRequest(key_id=KEY_ID)).body.key_metadata
        console.print(f"\n[bold]5.[/] key {ALIAS} is [bold green]{after.key_state}[/] again"
                      + ("" if after.key_state == "Enabled" else " [red](expected Enabled)[/]"))
        for event in cloud.account.cms.events:
            content = json.loads(event.Content)
            console.print(f"    CloudMonitor event {event.Name} [{content.get('severity')}]: key {content.get('keyId')}, "
                          f"caller {content.get('caller')}, dependents "
                          + ", ".join(f"{svc} x{d['count']}" for svc, d in content.get("dependents", {}).items()))
        records = [log for log in cloud.account.sls.logs if log.logstoreName == "key-guard-decisions"]
        console.print(f"    {len(records)} decision record(s) in SLS kms-steward-logs/key-guard-decisions"
                      f"; API calls served by the local cloud: {sum(cloud.calls.snapshot().values())}")
        calls_after = run_payments_app(cloud, KEY_ID, n_records=1)
        console.print(f"    payments-api still works: {calls_after['records_read_back']} record sealed and opened"
                      + ("" if calls_after["round_trip_ok"] else " [red](it FAILED)[/]"))
        ok = after.key_state == "Enabled" and calls_after["round_trip_ok"]
        ok = _secret_chapter(console, cloud, client) and ok
        return 0 if ok else 1
