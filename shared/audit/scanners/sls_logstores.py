"""SLS logstores whose data is encrypted with the key (GetLogStore `encrypt_conf.user_cmk_info`).

Nothing lists logstores by key (dependency-apis.md §7): list the region's projects (ListProject, 500
a page, addressed to the bare regional endpoint), each project's logstores (ListLogStores returns
names only, 500 a page), then GetLogStore per logstore, concurrently. A logstore encrypted without
`user_cmk_info` uses the SLS service key, not this one. With the customer key invalid, every read
and write of the logstore fails (SLS data-encryption doc), so a logstore on the key is live.
Both listings page by offset: the next offset is where the names received end, so a page shorter than
asked means more pages, not the end (shared/audit/paging.py).

Not remembered by the warm audit (shared/audit/facts.py): once a logstore's encryption is configured its key cannot
change, only `enable` can ("Simple Log Service: UpdateLogStoreEncryption", Limits,
https://alibabacloud.com/help/en/sls/developer-reference/api-sls-2020-12-30-updatelogstoreencryption), but a logstore
without one can be given one later (the same API creates it), and ListLogStores gives names only: no creation time
tells a logstore deleted and re-created under its name from the old one. So GetLogStore is read fresh every time.
"""
from __future__ import annotations

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.paging import items_by_offset
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 500  # ListProject / ListLogStores maximum
GONE = ("LogStoreNotExist", "ProjectNotExist")  # deleted between the listing and the read


class SlsLogstoresScanner:
    name = "sls_logstores"
    service = "SLS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        log = clients.sls(target.region)
        call = clients.call
        projects = [p["projectName"] for p in items_by_offset(
            lambda off: call("sls:ListProject", log.list_project, off, PAGE_SIZE), lambda r: r.get_projects(),
            lambda r: r.get_total(), key=lambda p: p["projectName"], api="ListProject", noun="projects")]

        def stores_of(project: str) -> list[tuple[str, str]]:
            try:
                names = items_by_offset(
                    lambda off: call("sls:ListLogStores", log.list_logstore, project, None, off, PAGE_SIZE),
                    lambda r: r.get_logstores(), lambda r: r.get_total(), key=lambda name: name,
                    api=f"ListLogStores ({project})", noun="logstores")
            except Exception as exc:
                if error_code(exc) in GONE:
                    return []
                raise
            return [(project, name) for name in names]

        stores = [s for per_project in fan_out(stores_of, projects) for s in per_project]

        def dependent(store: tuple[str, str]) -> Dependent | None:
            project, name = store
            try:
                conf = call("sls:GetLogStore", log.get_logstore, project, name).get_encrypt_conf() or {}
            except Exception as exc:
                if error_code(exc) in GONE:
                    return None
                raise
            cmk = conf.get("user_cmk_info") or {}
            if not target.names_key(cmk.get("cmk_key_id")):
                return None
            enabled = bool(conf.get("enable"))
            return Dependent(
                service=self.service, resource_type="ACS::SLS::Logstore", resource_id=f"{project}/{name}", region=target.region,
                # Encryption switched off keeps its key (only `enable` can change): what was written while
                # it was on is still under the key (UNCONFIRMED that SLS leaves it encrypted), at rest.
                state="live" if enabled else "inert", name=name,
                usage=f"logstore encryption with the key ({conf.get('encrypt_type') or 'default'})"
                      + ("" if enabled else ", switched off: data written while it was on"),
                detail={k: v for k, v in {"project": project, "role": cmk.get("arn")}.items() if v},
            )

        return [d for d in fan_out(dependent, stores) if d is not None]
