"""ActionTrail: every KMS call and every write call the local cloud serves becomes an ActionTrail
record; write records also go to EventBridge as the CloudEvent EventBridge delivers (reference §1).

Console calls (User-Agent naming AliyunConsole, as the console's own calls do) are recorded with
eventType ConsoleOperation and published as `<product>:ActionTrail:ConsoleOperation`.
"""
from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from localcloud.clock import iso

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.errors import ApiError
    from localcloud.products.base import Call, RpcProduct

CONSOLE_AGENT = "AliyunConsole"


class ActionTrail:
    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud

    def record(self, product: "RpcProduct", call: "Call", error: "ApiError | None" = None) -> dict | None:
        write = product.is_write(call.action)
        if not (write or product.code == "kms"):
            return None
        now = self.cloud.clock.now()
        console = CONSOLE_AGENT in call.user_agent
        record = {
            "eventId": str(uuid.uuid4()),
            "eventVersion": 1,
            "eventSource": f"{product.endpoint_prefix}.{call.region}.aliyuncs.com",
            "eventType": "ConsoleOperation" if console else "ApiCall",
            "eventRW": "Write" if write else "Read",
            "eventName": call.action,
            "serviceName": product.service_name,
            "apiVersion": product.version,
            "acsRegion": call.region,
            "eventTime": iso(now),
            "requestId": call.request_id,
            "sourceIpAddress": call.source_ip,
            "userAgent": call.user_agent,
            # The request as the API received it, minus what is secret (none of these APIs take secrets).
            "requestParameters": {k: v for k, v in call.params.items() if k not in _SIGNATURE_PARAMS},
            "userIdentity": call.caller.user_identity(),
            "referencedResources": dict(call.referenced),
            "isGlobal": False,
            "errorCode": error.code if error else "",
            "errorMessage": error.message if error else "",
        }
        with self.cloud.account.lock:
            self.cloud.account.actiontrail.events.append(record)
        if write:
            self.cloud.bus.publish(self.cloud_event(product, record))
        return record

    def cloud_event(self, product: "RpcProduct", record: dict) -> dict:
        """The ActionTrail record wrapped as EventBridge delivers it to a function (reference §1a, §1c)."""
        account = self.cloud.account.account_id
        kind = "ConsoleOperation" if record["eventType"] == "ConsoleOperation" else "ApiCall"
        key_ids = record["referencedResources"].get("ACS::KMS::Key", [])
        subject = f"acs:{product.code}:{record['acsRegion']}:{account}:" + (f"key/{key_ids[0]}" if key_ids else record["eventName"])
        return {
            "id": str(uuid.uuid4()),
            "source": f"acs.{product.code}",
            "specversion": "1.0",
            "type": f"{product.code}:ActionTrail:{kind}",
            "subject": subject,
            "time": record["eventTime"],
            "datacontenttype": "application/json;charset=utf-8",
            "aliyunaccountid": account,
            "aliyunoriginalaccountid": account,
            "aliyunpublishtime": record["eventTime"].replace("Z", ".000Z"),
            "aliyuneventbusname": "default",
            "aliyunregionid": record["acsRegion"],
            "aliyunpublishaddr": "127.0.0.1",
            "data": json.loads(json.dumps(record)),
        }


_SIGNATURE_PARAMS = {"Signature", "SignatureMethod", "SignatureNonce", "SignatureVersion", "AccessKeyId", "SecurityToken"}
