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

What the service adds to a record of a POP RPC call, as the documentation's samples show it (every
value below is in one of them; nothing else is added):
- requestParameters gains `AcsHost`, `HostId` (the endpoint called), `AcsProduct` (the product's code,
  "Kms", as serviceName), `RequestId` and `Region` (the region served), beside the caller's own
  parameters; the signature's common parameters (Action, Version, Format, Timestamp, AccessKeyId,
  SignatureMethod, SignatureVersion, SignatureNonce, SignatureType, Signature, SecurityToken) are not
  recorded. Samples: "ActionTrail" (UpdateTrail in the console,
  https://www.alibabacloud.com/help/doc-detail/28826.htm); "Query ActionTrail events by assuming a RAM role"
  (LookupEvents by an SDK with signature v1, https://www.alibabacloud.com/help/doc-detail/286997.htm); "STS"
  (https://www.alibabacloud.com/help/en/actiontrail/user-guide/sts; AssumeRole, doc-detail/289050).
- A parameter whose value is a decimal integer is recorded as a JSON number ("DurationSeconds": 3600,
  "RoleSessionName": 169074 in the STS samples; "stsTokenPlayerUid" in the assumed-role sample). UNCONFIRMED:
  that every such value becomes a number (a value with a leading zero stays text here, so nothing is lost).
- For an assumed role (STS credentials), requestParameters gains `stsTokenPrincipalName`
  ("<role>/<session>") and userIdentity gains `sessionContext.attributes` {mfaAuthenticated: "false",
  creationDate} (localcloud/pop.py, Caller.user_identity). The sample's `stsTokenPlayerUid` (the uid of
  who assumed the role) is not added: a function's role is assumed by Function Compute, whose uid the
  sample does not show (UNCONFIRMED).
- eventType: the management event structure (https://www.alibabacloud.com/help/doc-detail/28819.html)
  defines ApiCall (an API call) and ConsoleOperation (a management operation on a console page or buy
  page). The samples of calls the consoles make through the API are ApiCall: UpdateTrail from the
  ActionTrail console (userAgent "actiontrail.console.aliyun.com", doc-detail/28826) and a KMS DescribeKey
  with userAgent "AliyunConsole" (doc-detail/86812, as tests/contract/samples/actiontrail cites it). So every
  call the gateway serves is recorded as ApiCall and published as `<product>:ActionTrail:ApiCall`, whatever
  its User-Agent; key-guard's EventBridge rule (s.yaml) takes ConsoleOperation events as well, which a test
  publishes itself.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

from localcloud.clock import iso
from localcloud.products.base import RpcProduct
from localcloud.products.sls_state import SlsLog, SlsLogstore

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.errors import ApiError
    from localcloud.products.base import Call


class ActionTrail:
    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud
        self.kms_instance_log = KmsInstanceLog(cloud)

    def record(self, product: "RpcProduct", call: "Call", error: "ApiError | None" = None) -> dict:
        if self.kms_instance_log.takes(product, call, error):  # a dedicated gateway's call: SLS, not ActionTrail
            return {}
        write = product.is_write(call.action)
        now = self.cloud.clock.now()
        source = f"{product.endpoint_prefix}.{call.region}.aliyuncs.com"
        record = {
            "eventId": str(uuid.uuid4()),
            "eventVersion": 1,
            "eventSource": source,
            "eventType": "ApiCall",
            "eventRW": "Write" if write else "Read",
            "eventName": call.action,
            "serviceName": product.service_name,
            "apiVersion": product.version,
            "acsRegion": call.region,
            "eventTime": iso(now),
            "requestId": call.request_id,
            "sourceIpAddress": call.source_ip,
            "userAgent": call.user_agent,
            "requestParameters": self.request_parameters(product, call, source),
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

    @staticmethod
    def request_parameters(product, call: "Call", source: str) -> dict[str, Any]:
        """requestParameters of the record: the caller's parameters, secrets masked; for a POP RPC call also
        what the gateway adds and numbers as numbers (module docstring). REST and ROA calls keep their
        parameters as sent (no sample shows what the service adds to those)."""
        if not isinstance(product, RpcProduct):
            return {k: MASK if k in SECRET_PARAMS else v for k, v in call.params.items() if k not in _SIGNATURE_PARAMS}
        params: dict[str, Any] = {k: MASK if k in SECRET_PARAMS else _as_recorded(v)
                                  for k, v in call.params.items() if k not in _RPC_COMMON_PARAMS}
        params.update({"AcsHost": source, "HostId": source, "AcsProduct": product.service_name, "RequestId": call.request_id,
                       "Region": call.region})
        identity = call.caller.credential
        if identity.IdentityType == "assumed-role" and ":" in identity.UserName:
            params["stsTokenPrincipalName"] = identity.UserName.replace(":", "/", 1)
        return params

    def cloud_event(self, product: "RpcProduct", record: dict) -> dict:
        """The ActionTrail record wrapped as EventBridge delivers it to a function (reference §1a, §1c)."""
        account = self.cloud.account.account_id
        kind = "ConsoleOperation" if record["eventType"] == "ConsoleOperation" else "ApiCall"
        key_ids = record["referencedResources"].get("ACS::KMS::Key", [])
        secrets = record["referencedResources"].get("ACS::KMS::Secret", [])
        resource = f"secret/{secrets[0]}" if secrets else f"key/{key_ids[0]}" if key_ids else record["eventName"]
        subject = f"acs:{product.code}:{record['acsRegion']}:{account}:{resource}"
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
# The common parameters of an RPC call (signature v1 sends them all as parameters); none appears in the samples'
# requestParameters, RegionId does (the assumed-role sample).
_RPC_COMMON_PARAMS = _SIGNATURE_PARAMS | {"Action", "Version", "Format", "Timestamp", "SignatureType"}
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")


def _as_recorded(value: str) -> Any:
    """A decimal integer as a JSON number, as the samples record DurationSeconds; anything else as sent."""
    return int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else value

MASK = "****"
# Parameters whose values are secret or wrap a secret: KMS Encrypt / Decrypt / ReEncrypt /
# ImportKeyMaterial, Secrets Manager values, database and account passwords.
SECRET_PARAMS = frozenset({"Plaintext", "CiphertextBlob", "EncryptedKeyMaterial", "SecretData", "AccountPassword", "Password",
                           "NewPassword", "AccessKeySecret"})


class KmsInstanceLog:
    """Crypto calls through a KMS instance's dedicated gateway, which are audited in SLS, not in ActionTrail.

    "审计差异" (audit difference): the shared gateway's calls are audited in ActionTrail, the dedicated gateway's
    in Simple Log Service (KMS "阿里云SDK", the two gateways compared,
    https://help.aliyun.com/zh/kms/key-management-service/developer-reference/classic-kms-sdkclassic-kms-sdk/);
    the dedicated gateway serves every crypto API but ReEncrypt (same page). The local cloud has one endpoint
    per region, no `<instance id>.cryptoservice.kms.aliyuncs.com`, so, kept simple: every crypto call on a key
    with a DKMSInstanceId (localcloud.products.kms_state.KmsKey) but ReEncrypt counts as made through that
    instance's dedicated gateway. It is not recorded in ActionTrail; when the instance's log delivery is set up
    (`deliver(instance, project, logstore)`, or `cloud.trail.kms_instance_log.deliver(...)` in a test) it is
    written to that SLS logstore as one log with the fields of KMS's access log ("Log fields",
    https://www.alibabacloud.com/help/en/kms/key-management-service/log-field-details; its Chinese edition adds
    gateway_type), else it leaves no trace, as with the real log delivery off. Successful and refused calls
    alike (status_code, error_message). UNCONFIRMED, and chosen here: the SLS topic and source (empty), the
    api_version value (the doc's example, dkms-gcs-0.2), key_version_id left empty (the record sees the
    request, not the answer), and identity_type ram-role for STS credentials.
    """

    CRYPTO_APIS = frozenset({"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"})  # not ReEncrypt
    # A secret of a KMS instance is read through the instance's endpoint: "Retrieve secret values via a KMS instance
    # endpoint: Simple Log Service" only ("Query the usage records of keys and secrets",
    # https://www.alibabacloud.com/help/en/kms/key-management-service/use-cases/query-usage-records-for-kms-keys-and-secrets).
    # Its entry names the secret in resource_id and the key encrypting it in resource_parameters.key_id ("Log fields").
    SECRET_READS = frozenset({"GetSecretValue"})
    _IDENTITY_TYPES = {"root-account": "cloud-account", "ram-user": "ram-user", "assumed-role": "ram-role"}

    def __init__(self, cloud: "LocalCloud"):
        self.cloud = cloud
        self.destinations: dict[str, tuple[str, str, str]] = {}  # instance id -> (region, project, logstore)

    def deliver(self, instance_id: str, project: str, logstore: str, region: str | None = None) -> None:
        """Deliver the instance's access log to `project/logstore` (created when the account lacks it)."""
        region = region or self.cloud.account.region_ids[0]
        with self.cloud.account.lock:
            self.destinations[instance_id] = (region, project, logstore)
            if not any(s.projectName == project and s.logstoreName == logstore for s in self.cloud.account.sls.logstores):
                self.cloud.account.sls.logstores.append(SlsLogstore(projectName=project, logstoreName=logstore, RegionId=region))

    def instance_of(self, product, call: "Call") -> str | None:
        """The KMS instance a call went through: a crypto call on a key of an instance, or a read of a secret of an
        instance, else None."""
        if getattr(product, "code", "") != "kms":
            return None
        if call.action in self.SECRET_READS:
            secret = self._secret(call)
            return (secret.wire().get("DKMSInstanceId") or None) if secret is not None else None
        if call.action not in self.CRYPTO_APIS:
            return None
        key_ids = call.referenced.get("ACS::KMS::Key") or []
        key = next((k for k in self.cloud.account.kms.keys if key_ids and k.KeyId == key_ids[0]), None)
        return getattr(key, "DKMSInstanceId", None) if key is not None else None

    def _secret(self, call: "Call"):
        names = call.referenced.get("ACS::KMS::Secret") or []
        return next((s for s in self.cloud.account.kms.secrets if names and s.SecretName == names[0] and s.RegionId == call.region),
                    None)

    def takes(self, product, call: "Call", error: "ApiError | None" = None) -> bool:
        """Whether the call went through a dedicated gateway (then it is logged here, if at all, never in ActionTrail)."""
        instance = self.instance_of(product, call)
        if instance is None:
            return False
        destination = self.destinations.get(instance)
        if destination is not None:
            self._write(instance, destination, call, error)
        return True

    def _write(self, instance: str, destination: tuple[str, str, str], call: "Call", error: "ApiError | None") -> None:
        region, project, logstore = destination
        now = self.cloud.clock.now()
        identity = call.caller.user_identity()
        key_id = (call.referenced.get("ACS::KMS::Key") or [""])[0]
        resource, encrypting_key = key_id, ""
        if call.action in self.SECRET_READS:
            secret = self._secret(call)
            resource, encrypting_key = secret.SecretName, secret.EncryptionKeyId or ""
        contents = {
            "version": "V1.0", "level": "INFO", "gateway_type": "dedicated", "instance_id": instance, "region_id": call.region,
            "api_name": call.action, "api_version": "dkms-gcs-0.2", "request_id": call.request_id, "time": iso(now),
            "resource_id": resource,
            "resource_parameters": json.dumps({"key_id": encrypting_key, "key_version_id": "", "index": ""}),
            "identity_type": self._IDENTITY_TYPES.get(identity.get("type", ""), "ram-user"),
            "account_id": identity.get("accountId", ""), "user_id": self.cloud.account.account_id,
            "principal_id": str(identity.get("principalId", "")).split(":", 1)[0],
            "access_key_id": identity.get("accessKeyId", ""), "client_ip": call.source_ip, "useragent": call.user_agent,
            "status_code": str(error.status) if error else "200", "error_message": error.message if error else "", "duration": "1.0",
        }
        with self.cloud.account.lock:
            self.cloud.account.sls.logs.append(SlsLog(projectName=project, logstoreName=logstore, time=int(now.timestamp()),
                                                      contents=contents))
