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


# PutLogs takes one LogGroup a call: at most 4096 logs (PutLogs API reference,
# https://www.alibabacloud.com/help/en/sls/developer-reference/api-sls-2020-12-30-putlogs; UNCONFIRMED: the figure is
# not in the pages this repository could check) and at most 5 MB ("Log group",
# https://www.alibabacloud.com/help/doc-detail/108219.htm: "The maximum length of a log group is 5 MB"). A batch is
# kept under both, its size estimated from its contents with room left for the protobuf framing, topic and tags.
LOGS_PER_CALL = 4096
LOG_GROUP_BYTES = 5 * 1024 * 1024
BATCH_BYTES = 4 * 1024 * 1024


def _log_bytes(contents: list[tuple[str, str]]) -> int:
    return 16 + sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) + 8 for k, v in contents)


def write_records(records: list[dict[str, Any]], *, clients: Clients | None, project: str, logstore: str, region: str,
                  topic: str = TOPIC) -> dict[str, int]:
    """Write many records in as few PutLogs calls as its limits allow; {"sls": n, "stdout": m}: how many went where.
    A batch SLS refuses (or whose answer is lost) goes to stdout whole, each record with the error, as write_record does."""
    where = {"sls": 0, "stdout": 0}
    flat = [_flatten(r) for r in records]
    batches: list[list[int]] = []
    size = 0
    for i, contents in enumerate(flat):
        n = _log_bytes(contents)
        if not batches or len(batches[-1]) >= LOGS_PER_CALL or size + n > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(i)
        size += n
    for batch in batches:
        error = None
        if clients is not None and project:
            try:
                from aliyun.log import LogItem, PutLogsRequest

                stamp = int(time.time())
                items = [LogItem(timestamp=stamp, contents=flat[i]) for i in batch]
                client = clients.sls(region)
                # A write: a lost answer is not retried blindly (that would record the batch twice); the batch then
                # also goes to stdout below, so it is kept whatever happened at SLS.
                clients.call("sls:PutLogs", client.put_logs, PutLogsRequest(project, logstore, topic, "", items), write=True)
                where["sls"] += len(batch)
                continue
            except Exception as exc:
                error = describe_error(exc)
        for i in batch:
            record = records[i] if error is None else {**records[i], "recordWriteError": error}
            print(json.dumps({"kms-steward-record": record}, default=str, separators=(",", ":")), file=sys.stdout, flush=True)
        where["stdout"] += len(batch)
    return where
