"""Decision records: one SLS log per event handled, rejected or ignored.

The record is written to the configured logstore; when that fails (or none is configured) it is
printed as one JSON line on stdout, which FC's logConfig ships to SLS as well, so no decision is
ever lost. Records hold ids, states and reasons: never a secret, data key or credential.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Any

from shared.clients import Clients, describe_error

TOPIC = "key-guard"


def _flatten(record: dict[str, Any]) -> list[tuple[str, str]]:
    """SLS contents are string pairs; nested values are kept as JSON so they stay queryable."""
    out = []
    for key, value in record.items():
        if value is None:
            continue
        out.append((key, value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)))
    return out


def write_record(record: dict[str, Any], *, clients: Clients | None, project: str, logstore: str, region: str,
                 topic: str = TOPIC) -> str:
    """Write one decision record (under `topic`: each function its own); returns where it went ("sls" or "stdout")."""
    if clients is not None and project:
        try:
            from aliyun.log import LogItem, PutLogsRequest

            item = LogItem(timestamp=int(time.time()), contents=_flatten(record))
            client = clients.sls(region)
            # A write: a lost answer is not retried blindly (that would record the decision twice); the
            # record then also goes to stdout below, so it is kept whatever happened at SLS.
            clients.call("sls:PutLogs", client.put_logs, PutLogsRequest(project, logstore, topic, "", [item]), write=True)
            return "sls"
        except Exception as exc:
            record = {**record, "recordWriteError": describe_error(exc)}
    print(json.dumps({"kms-steward-record": record}, default=str, separators=(",", ":")), file=sys.stdout, flush=True)
    return "stdout"
