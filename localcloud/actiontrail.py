"""ActionTrail: every call an emulated RPC product serves becomes an ActionTrail record, reads
(eventRW Read) as well as writes, as ActionTrail's management events are; write records also go to
EventBridge as the CloudEvent EventBridge delivers (reference §1).

Request parameters that carry secrets (a plaintext, a ciphertext, a secret value, a password) are
recorded masked, as ActionTrail shows a KMS crypto call ("CiphertextBlob": "****"); responses are never
recorded, so a data key KMS returns appears nowhere. Recording is on every call's path (benchmarks make
tens of thousands), so a record is built from the call as is: no copies beyond the parameter dict.

OSS and SLS (REST, served outside the RPC path) are not recorded yet. Their object and log traffic is
data-plane, which ActionTrail records only for trails configured for data events; their bucket and
logstore management calls would be recorded by the real service.

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

    def record(self, product: "RpcProduct", call: "Call", error: "ApiError | None" = None) -> dict:
        write = product.is_write(call.action)
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
            "requestParameters": {k: MASK if k in SECRET_PARAMS else v for k, v in call.params.items() if k not in _SIGNATURE_PARAMS},
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
MASK = "****"
# Parameters whose values are secret or wrap a secret: KMS Encrypt / Decrypt / ReEncrypt /
# ImportKeyMaterial, Secrets Manager values, database and account passwords.
SECRET_PARAMS = frozenset({"Plaintext", "CiphertextBlob", "EncryptedKeyMaterial", "SecretData", "AccountPassword", "Password",
                           "NewPassword", "AccessKeySecret"})
