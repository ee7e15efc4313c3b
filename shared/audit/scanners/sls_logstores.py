"""SLS logstores whose data is encrypted with the key (GetLogStore `encrypt_conf.user_cmk_info`).

Nothing lists logstores by key (dependency-apis.md §7): list the region's projects (ListProject, 500 a
page), each project's logstores (ListLogStores returns names only, 500 a page), then GetLogStore per
logstore, concurrently. A logstore encrypted without `user_cmk_info` uses the SLS service key, not
this one.
"""
from __future__ import annotations

from shared.audit.fanout import fan_out
from shared.audit.model import Dependent
from shared.audit.scanner import AuditTarget
from shared.clients import Clients, error_code

PAGE_SIZE = 500  # ListProject / ListLogStores maximum
GONE = ("LogStoreNotExist", "ProjectNotExist")  # deleted between the listing and the read


def _paged(fetch, items_of) -> list:
    items, offset = [], 0
    while True:
        response = fetch(offset)
        page = items_of(response) or []
        items += page
        offset += len(page)
        if len(page) < PAGE_SIZE or offset >= (response.get_total() or 0):
            return items


class SlsLogstoresScanner:
    name = "sls_logstores"
    service = "SLS"

    def scan(self, target: AuditTarget, clients: Clients) -> list[Dependent]:
        log = clients.sls(target.region)
        call = clients.call
        projects = [p["projectName"] for p in _paged(lambda off: call("sls:ListProject", log.list_project, off, PAGE_SIZE),
                                                     lambda r: r.get_projects())]

        def stores_of(project: str) -> list[tuple[str, str]]:
            try:
                names = _paged(lambda off: call("sls:ListLogStores", log.list_logstore, project, None, off, PAGE_SIZE),
                               lambda r: r.get_logstores())
            except Exception as exc:
                if error_code(exc) in GONE:
                    return []
                raise
            return [(project, name) for name in names]

        stores = [s for per_project in fan_out(stores_of, projects) for s in per_project]

        def encryption(store: tuple[str, str]):
            try:
                return call("sls:GetLogStore", log.get_logstore, *store).get_encrypt_conf() or {}
            except Exception as exc:
                if error_code(exc) in GONE:
                    return {}
                raise

        found = []
        for (project, name), conf in zip(stores, fan_out(encryption, stores)):
            cmk = conf.get("user_cmk_info") or {}
            if not conf.get("enable", False) or not target.names_key(cmk.get("cmk_key_id")):
                continue
            found.append(Dependent(
                service=self.service, resource_type="ACS::SLS::Logstore", resource_id=f"{project}/{name}", region=target.region,
                state="live", usage=f"logstore encryption ({conf.get('encrypt_type') or 'default'}, your own key)",
                detail={k: v for k, v in {"project": project, "role": cmk.get("arn")}.items() if v},
            ))
        return found
