"""The synthetic estate `kms-steward bench sweep` sweeps: 3 accounts x 20 regions holding 10k keys, 10k secrets and 5k
certificates (at --scale 1), and the fewest API calls the sweep's chosen APIs need to cover it.

The estate is written as account data directly (no API calls): a few seconds for 25k objects. It is spread the way
an organisation spreads it: a production account with half of everything, staging and development with less; in each
account a few busy home regions and a long tail (region weights r^-0.7). Within a target (account x region) every
collection follows a fixed mix (the cycles below), so the counts are exact and repeatable:

- keys: customer-managed symmetric keys with rotation on, off, or on at an interval longer than the policy; service
  keys (created by a cloud service, Creator not an account id); imported material (Origin EXTERNAL); asymmetric keys;
  Disabled and PendingDeletion keys; keys in a KMS instance (with key policies, some granting another account or
  everyone); some with deletion protection on.
- secrets: Generic ones (untagged fresh or stale, tagged for kms-steward's rotation on time, overdue, or with a bad
  tag), managed Rds / RAMCredentials / ECS secrets with rotation on or off, Redis and PolarDB secrets, secrets
  scheduled for deletion, and secrets in a KMS instance (with secret policies); ages from days to years.
- certificates: CAS certificates (account-wide) and SLB server certificates (per region), expired, expiring within a
  week or a month, or good for a year; some served by CLB HTTPS listeners or ALB HTTPS listeners, some imported
  from CAS into SLB.
- dependents, so that deletion_protection has work: ECS disks and snapshots, OSS buckets, NAS file systems, PolarDB
  clusters, ACK clusters and SLS logstores encrypted with the region's keys, and some regions' ECS default key.

`minimum_calls` derives, from the seeded records only (never from shared/sweeps), the fewest calls per API.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Iterable

AS_OF = "2026-03-02T00:00:00Z"  # the instant the estate describes; the local cloud's clock is frozen there
REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-zhangjiakou", "cn-qingdao", "cn-huhehaote",
           "cn-wulanchabu", "cn-chengdu", "cn-heyuan", "cn-guangzhou", "cn-hongkong", "ap-southeast-1", "ap-southeast-3",
           "ap-southeast-5", "ap-northeast-1", "eu-central-1", "eu-west-1", "us-west-1", "us-east-1")
# (account id, name, share of the estate)
ACCOUNTS = (("1880000000000101", "prod", 0.5), ("1880000000000102", "staging", 0.3), ("1880000000000103", "dev", 0.2))
_ACCOUNTS, _REGIONS = ACCOUNTS, REGIONS
OUTSIDER = "1999000000000009"  # an account outside the organisation, granted by some policies
CAS_REGION = "cn-hangzhou"  # where each account's CAS certificates are judged (cert_expiry's default cert_cas_region)
HOME_REGION = "cn-hangzhou"  # where the sweep functions run (s.yaml vars.region's default), in the first account
STATE_BUCKET = "kms-steward-state"
LOG_PROJECT = "kms-steward-logs"
RECORD_LOGSTORES = ("compliance-sweep-findings", "cert-sweep-findings")
SWEEP_ROLE = "kms-steward-sweep"  # SWEEP_ROLE_NAME's default: the role the sweep enters in the other accounts
INTERVAL_TAG = "kms-steward:rotation-interval"
DAY = 86400


@dataclass(frozen=True)
class Sizes:
    keys: int = 10_000
    secrets: int = 10_000
    cas_certificates: int = 3_000
    slb_certificates: int = 2_000
    disks: int = 3_000
    snapshots: int = 2_000
    buckets: int = 600
    nas: int = 300
    polardb: int = 150
    ack: int = 120
    logstores: int = 600

    @classmethod
    def scaled(cls, scale: float) -> "Sizes":
        return cls(**{f.name: max(1, round(getattr(cls(), f.name) * scale)) for f in fields(cls)})

    @property
    def certificates(self) -> int:
        return self.cas_certificates + self.slb_certificates

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def split(total: int, weights: list[float]) -> list[int]:
    """`total` shared by `weights`, whole numbers that add up (largest remainder)."""
    s = sum(weights)
    exact = [total * w / s for w in weights]
    out = [math.floor(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: (out[i] - exact[i], i))[: total - sum(out)]:
        out[i] += 1
    return out


def _cycle(mix: dict[str, int]) -> list[str]:
    """A mix {kind: parts} as one cycle, kinds interleaved (so a small target still gets the commonest kinds first)."""
    total = sum(mix.values())
    slots = sorted(((k + 0.5) * total / n, kind) for kind, n in mix.items() for k in range(n))
    return [kind for _, kind in slots]


# Parts per 100 of each kind (the cycles repeat within every target).
KEY_MIX = _cycle({"rotating": 30, "rotation_off": 16, "rotation_off_old": 6, "interval_long": 5, "protected": 8,
                  "service": 5, "imported": 5, "asymmetric": 8, "disabled": 5, "pending_deletion": 3,
                  "instance": 6, "instance_foreign": 2, "instance_wildcard": 1})
SECRET_MIX = _cycle({"generic_fresh": 22, "generic_stale": 8, "generic_stale_old": 4, "tagged_ok": 14, "tagged_overdue": 4,
                     "tagged_bad": 2, "rds_on": 10, "rds_off": 5, "ram_on": 6, "ram_off": 3, "ecs_on": 5, "ecs_off": 2,
                     "redis": 3, "polardb": 2, "pending_deletion": 3, "instance": 5, "instance_foreign": 2})
CERT_END_DAYS = (-40, -3, 2, 5, 12, 25, 45, 90, 180, 240, 300, 365, 400, 500, 700)  # days to expiry, by turns


@dataclass
class Target:
    """One account x region: what was seeded there, enough for the minimum without re-reading the records."""
    account: str
    region: str
    customer_keys: int = 0
    instance_keys: int = 0  # customer keys in a KMS instance, not pending deletion (each has a key policy)
    secrets: int = 0
    generic_versions_read: int = 0  # Generic secrets, not scheduled for deletion, whose tag is absent or valid
    instance_secrets: int = 0  # secrets in a KMS instance, not scheduled for deletion
    encrypted_disks: int = 0
    disks: int = 0
    encrypted_snapshots: int = 0
    buckets: int = 0
    nas: int = 0
    polardb: int = 0
    ack: int = 0
    projects: dict[str, int] = field(default_factory=dict)  # SLS project -> logstores
    slb_certificates: int = 0
    https_listeners: int = 0  # CLB
    alb_listeners: int = 0
    alb_secure_listeners: list[int] = field(default_factory=list)  # certificates per HTTPS/QUIC listener


@dataclass
class Fleet:
    sizes: Sizes
    accounts: list[dict]  # account-file data, one per account
    targets: list[Target]
    cas: dict[str, dict[str, int]]  # account -> {"valid": n, "expired": n}
    buckets_per_account: dict[str, int]
    expected: dict[str, int]  # what the seeding planted that the checks must report (a sanity figure)
    regions: tuple[str, ...] = REGIONS

    def credentials(self, account_id: str) -> tuple[str, str]:
        data = next(a for a in self.accounts if a["account_id"] == account_id)
        cred = data["credentials"][0]
        return cred["AccessKeyId"], cred["AccessKeySecret"]

    def seeded(self) -> dict[str, int]:
        """What was seeded, counted from the account data itself (not from the plan)."""
        out = {"accounts": len(self.accounts), "regions": len(self.regions), "targets": len(self.targets), "keys": 0, "secrets": 0,
               "certificates": 0}
        for a in self.accounts:
            out["keys"] += len(a["kms"]["keys"])
            out["secrets"] += len(a["kms"]["secrets"])
            out["certificates"] += len(a["cas"]["certificates"]) + len(a["slb"]["server_certificates"])
        return out


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid(a: int, r: int, kind: int, i: int) -> str:
    return f"{a:02x}{r:02x}{kind:04x}-{i >> 16:04x}-4{i & 0xfff:03x}-8{(i >> 12) & 0xf:03x}-{a:04x}{r:04x}{i:04x}"


def _policy(account: str, extra: Iterable[str] = ()) -> str:
    principals = [f"acs:ram::{account}:*", *extra]
    return json.dumps({"Version": "1", "Statement": [{"Sid": "kms default policy", "Effect": "Allow",
                                                      "Principal": {"RAM": principals}, "Action": ["kms:*"], "Resource": ["*"]}]},
                      separators=(",", ":"))


def build(sizes: Sizes, *, accounts: int = len(ACCOUNTS), regions: int = len(REGIONS)) -> Fleet:
    """The estate over the first `accounts` accounts and `regions` regions (fewer than all only for quick tests)."""
    now = datetime.strptime(AS_OF, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    ACCOUNTS, REGIONS = _ACCOUNTS[:accounts], _REGIONS[:regions]  # noqa: N806 - the module's tables, cut
    region_w = [(r + 1) ** -0.7 for r in range(len(REGIONS))]
    weights = [aw * rw for _, _, aw in ACCOUNTS for rw in region_w]

    def per_target(n: int) -> list[int]:
        return split(n, weights)

    plan = {name: per_target(getattr(sizes, name)) for name in
            ("keys", "secrets", "slb_certificates", "disks", "snapshots", "buckets", "nas", "polardb", "ack", "logstores")}
    cas_per_account = split(sizes.cas_certificates, [aw for _, _, aw in ACCOUNTS])
    accounts, targets, cas_counts, buckets_per_account = [], [], {}, {}
    expected = {"key_rotation": 0, "secret_rotation": 0, "deletion_protection": 0, "policies": 0, "cert_expiry": 0}
    t_index = 0
    for a, (account, name, _) in enumerate(ACCOUNTS):
        ak = f"LTAI5tSweepBench{a:08d}"
        data: dict = {
            "account_id": account, "as_of": AS_OF,
            "credentials": [{"AccessKeyId": ak, "AccessKeySecret": f"sweep-bench-{name}-local-only", "UserName": "sweeper"}],
            "regions": [{"RegionId": r} for r in REGIONS],
            "kms": {"keys": [], "aliases": [], "secrets": []},
            "ecs": {"disks": [], "snapshots": [], "instances": [], "encryption_defaults": []},
            "oss": {"buckets": []}, "nas": {"file_systems": []}, "polardb": {"clusters": []}, "cs": {"clusters": []},
            "sls": {"logstores": []}, "cas": {"certificates": []}, "slb": {"server_certificates": [], "listeners": []},
            "alb": {"listeners": []},
        }
        if a == 0:  # the management account, where the functions run: the directory, the state bucket, the records
            data["resourcemanager"] = {"ResourceDirectoryId": "rd-sweepbench", "accounts": [
                {"AccountId": acc, "DisplayName": nm, "Type": "CloudAccount" if i == 0 else "ResourceAccount",
                 "Status": "CreateSuccess"} for i, (acc, nm, _) in enumerate(ACCOUNTS)]}
        else:  # a member: the role the sweep enters, trusting the management account
            trust = {"Version": "1", "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                                     "Principal": {"RAM": [f"acs:ram::{ACCOUNTS[0][0]}:root"]}}]}
            data["ram"] = {"roles": [{"RoleName": SWEEP_ROLE, "AssumeRolePolicyDocument": json.dumps(trust)}]}
        cas_ids = [int(f"{a + 1}{i:07d}") for i in range(cas_per_account[a])]
        cas_served: list[tuple[int, str]] = []  # (CAS id, region) an ALB listener or an imported SLB certificate serves
        for r, region in enumerate(REGIONS):
            t = Target(account=account, region=region)
            n = {k: v[t_index] for k, v in plan.items()}
            t_index += 1
            usable = _seed_keys(data, t, a, r, n["keys"], now, expected)
            _seed_secrets(data, t, a, r, n["secrets"], usable, now, expected)
            _seed_dependents(data, t, a, r, n, usable, expected)
            _seed_slb(data, t, a, r, n["slb_certificates"], now, cas_ids, cas_served, expected)
            if a == 0 and region == HOME_REGION:  # what the functions keep there is swept like anything else
                data["oss"]["buckets"].append({"Name": STATE_BUCKET, "Location": f"oss-{region}"})
                t.buckets += 1
                for store in RECORD_LOGSTORES:
                    data["sls"]["logstores"].append({"projectName": LOG_PROJECT, "logstoreName": store, "RegionId": region})
                    t.projects[LOG_PROJECT] = t.projects.get(LOG_PROJECT, 0) + 1
            targets.append(t)
        _seed_cas(data, a, cas_ids, cas_served, now, expected)
        cas_counts[account] = {"valid": sum(1 for c in data["cas"]["certificates"] if _cas_days(c, now) >= 0),
                               "expired": sum(1 for c in data["cas"]["certificates"] if _cas_days(c, now) < 0)}
        buckets_per_account[account] = len(data["oss"]["buckets"])
        expected["deletion_protection"] += len(_unprotected_with_dependents(data))
        accounts.append(data)
    return Fleet(sizes=sizes, accounts=accounts, targets=targets, cas=cas_counts, buckets_per_account=buckets_per_account,
                 expected=expected, regions=REGIONS)


def _seed_keys(data: dict, t: Target, a: int, r: int, n: int, now: datetime, expected: dict) -> list[str]:
    """The target's keys; returns the ids of its usable symmetric customer keys outside any instance (what resources
    and secrets are encrypted with), then its instance keys after a None separator."""
    account, region = t.account, t.region
    usable, instance_keys, aliases = [], [], set()
    for i in range(n):
        kind = KEY_MIX[i % len(KEY_MIX)]
        key_id = _uuid(a, r, 1, i)
        age = 30 + (i * 37) % 1500  # days since creation
        created = now - timedelta(days=age)
        key = {"KeyId": key_id, "RegionId": region, "KeyState": "Enabled", "CreationDate": _iso(created), "Creator": account,
               "KeySpec": "Aliyun_AES_256", "KeyUsage": "ENCRYPT/DECRYPT", "Origin": "Aliyun_KMS", "ProtectionLevel": "SOFTWARE",
               "DeletionProtection": "Disabled", "AutomaticRotation": "Disabled",
               "Description": f"{kind.replace('_', ' ')} key {i}"}
        if kind in ("rotating", "protected", "instance", "instance_foreign", "instance_wildcard"):
            interval = (30, 90, 180, 365)[i % 4]
            last = now - timedelta(days=(i * 13) % interval)
            key.update(AutomaticRotation="Enabled", RotationInterval=f"{interval * DAY}s", LastRotationDate=_iso(last),
                       NextRotationDate=_iso(last + timedelta(days=interval)))
            if kind == "protected":
                key["DeletionProtection"] = "Enabled"
        elif kind == "interval_long":
            last = now - timedelta(days=(i * 11) % 500)
            key.update(AutomaticRotation="Enabled", RotationInterval=f"{730 * DAY}s", LastRotationDate=_iso(last),
                       NextRotationDate=_iso(last + timedelta(days=730)))
            expected["key_rotation"] += 1
        elif kind == "rotation_off_old":
            key["CreationDate"] = _iso(now - timedelta(days=800 + (i * 7) % 900))
            expected["key_rotation"] += 1
        elif kind == "rotation_off":
            expected["key_rotation"] += 1
        elif kind == "service":
            key.update(Creator=("Oss", "Rds", "Ecs", "SecretsManager")[i % 4], Description=f"default key of a cloud service {i}")
        elif kind == "imported":
            key["Origin"] = "EXTERNAL"
        elif kind == "asymmetric":
            key.update(KeySpec=("RSA_2048", "EC_P256", "RSA_3072")[i % 3], KeyUsage="SIGN/VERIFY")
        elif kind == "disabled":
            key["KeyState"] = "Disabled"
        elif kind == "pending_deletion":
            key.update(KeyState="PendingDeletion", DeleteDate=_iso(now + timedelta(days=3 + i % 20)))
        if kind.startswith("instance"):
            key["DKMSInstanceId"] = f"kst-{region.replace('-', '')[:6]}{a}{r:02d}bench"
            extra = [f"acs:ram::{OUTSIDER}:role/partner"] if kind == "instance_foreign" else \
                ["acs:ram::*:*"] if kind == "instance_wildcard" else []
            key["Policy"] = _policy(account, extra)
            if extra:
                expected["policies"] += 1
        data["kms"]["keys"].append(key)
        if kind != "service":
            t.customer_keys += 1
            if key.get("DKMSInstanceId") and key["KeyState"] != "PendingDeletion":
                t.instance_keys += 1
        if key.get("DKMSInstanceId"):
            instance_keys.append(key_id)
        elif kind in ("rotating", "rotation_off", "rotation_off_old", "interval_long", "protected"):
            usable.append(key_id)
        alias = f"alias/acs/{key['Creator'].lower()}"
        if kind == "service" and alias not in aliases:  # a service's own key carries alias/acs/<service>
            aliases.add(alias)
            data["kms"]["aliases"].append({"AliasName": alias, "KeyId": key_id, "RegionId": region})
    return usable + [None] + instance_keys


def _seed_secrets(data: dict, t: Target, a: int, r: int, n: int, keys: list, now: datetime, expected: dict) -> None:
    sep = keys.index(None)
    usable, instance_keys = keys[:sep], keys[sep + 1:]
    region = t.region
    for i in range(n):
        kind = SECRET_MIX[i % len(SECRET_MIX)]
        name = f"{('payments', 'ledger', 'search', 'identity', 'billing')[i % 5]}/{region}/secret-{i:05d}"
        created = now - timedelta(days=20 + (i * 29) % 900)
        secret: dict = {"SecretName": name, "RegionId": region, "SecretType": "Generic", "CreateTime": _iso(created),
                        "Creator": t.account}
        if usable and kind not in ("instance", "instance_foreign") and i % 4:
            secret["EncryptionKeyId"] = usable[(i * 7) % len(usable)]
        current_age = None
        if kind == "generic_fresh":
            current_age = (i * 3) % 80
        elif kind == "generic_stale":
            current_age = 95 + (i * 5) % 80
            expected["secret_rotation"] += 1
        elif kind == "generic_stale_old":
            current_age = 200 + (i * 5) % 500
            expected["secret_rotation"] += 1
        elif kind == "tagged_ok":
            secret["Tags"] = [{"TagKey": INTERVAL_TAG, "TagValue": "30d"}]
            current_age = (i * 3) % 30
        elif kind == "tagged_overdue":
            secret["Tags"] = [{"TagKey": INTERVAL_TAG, "TagValue": "7d"}]
            current_age = 12 + i % 40
            expected["secret_rotation"] += 1
        elif kind == "tagged_bad":
            secret["Tags"] = [{"TagKey": INTERVAL_TAG, "TagValue": "every week"}]
            current_age = 3
            expected["secret_rotation"] += 1
        elif kind.split("_")[0] in ("rds", "ram", "ecs"):
            stype = {"rds": "Rds", "ram": "RAMCredentials", "ecs": "ECS"}[kind.split("_")[0]]
            on = kind.endswith("_on")
            last = now - timedelta(days=(i * 3) % 60 if on else 40 + (i * 17) % 400)
            secret.update(SecretType=stype, AutomaticRotation="Enabled" if on else "Disabled", LastRotationDate=_iso(last))
            if on:
                secret["RotationInterval"] = f"{30 * DAY}s"
            else:
                expected["secret_rotation"] += 1
        elif kind in ("redis", "polardb"):
            secret["SecretType"] = "Redis" if kind == "redis" else "PolarDB"
        elif kind == "pending_deletion":
            secret["PlannedDeleteTime"] = _iso(now + timedelta(days=7 + i % 20))
            current_age = 40
        elif kind.startswith("instance"):
            current_age = (i * 3) % 60
            if instance_keys:
                secret["EncryptionKeyId"] = instance_keys[i % len(instance_keys)]
                secret["DKMSInstanceId"] = f"kst-{region.replace('-', '')[:6]}{a}{r:02d}bench"
                secret["Policy"] = _policy(t.account, [f"acs:ram::{OUTSIDER}:user/ops"] if kind == "instance_foreign" else [])
                if kind == "instance_foreign":
                    expected["policies"] += 1
        if current_age is not None and secret["SecretType"] == "Generic":
            versions = []
            if i % 3 == 0:  # an earlier version, kept as ACSPrevious
                versions.append({"VersionId": "v1", "CreateTime": _iso(now - timedelta(days=current_age + 90)),
                                 "VersionStages": ["ACSPrevious"], "SecretData": f"old-value-{a}-{r}-{i}"})
            versions.append({"VersionId": f"v{len(versions) + 1}", "CreateTime": _iso(now - timedelta(days=current_age)),
                             "VersionStages": ["ACSCurrent"], "SecretData": f"value-{a}-{r}-{i}"})
            secret["Versions"] = versions
        data["kms"]["secrets"].append(secret)
        t.secrets += 1
        pending = "PlannedDeleteTime" in secret
        if secret["SecretType"] == "Generic" and not pending and kind != "tagged_bad":
            t.generic_versions_read += 1
        if secret.get("DKMSInstanceId") and not pending:
            t.instance_secrets += 1


def _seed_dependents(data: dict, t: Target, a: int, r: int, n: dict, keys: list, expected: dict) -> None:
    usable = keys[:keys.index(None)]
    region, account = t.region, t.account

    def key_for(i: int) -> str | None:
        # Two thirds of resources encrypted, mostly with a few busy keys of the region.
        if not usable or i % 3 == 2:
            return None
        return usable[(i * i) % min(len(usable), 7)] if i % 2 else usable[(i * 5) % len(usable)]

    for i in range(n["disks"]):
        k = key_for(i)
        data["ecs"]["disks"].append({"DiskId": f"d-{a}{r:02d}{i:06d}", "RegionId": region, "Status": "In_use" if i % 4 else "Available",
                                     "Encrypted": k is not None, **({"KMSKeyId": k} if k else {}),
                                     **({"InstanceId": f"i-{a}{r:02d}{i // 4:05d}"} if i % 4 else {})})
        t.disks += 1
        t.encrypted_disks += k is not None
    for i in sorted({i // 4 for i in range(n["disks"]) if i % 4}):  # the instances the attached disks name
        data["ecs"]["instances"].append({"InstanceId": f"i-{a}{r:02d}{i:05d}", "RegionId": region, "Status": "Running"})
    for i in range(n["snapshots"]):
        k = key_for(i + 1)
        data["ecs"]["snapshots"].append({"SnapshotId": f"s-{a}{r:02d}{i:06d}", "RegionId": region, "Encrypted": k is not None,
                                         **({"KMSKeyId": k} if k else {}), "Status": "accomplished", "Usage": "none"})
        t.encrypted_snapshots += k is not None
    if usable and r % 3 == 0:
        data["ecs"]["encryption_defaults"].append({"RegionId": region, "KMSKeyId": usable[0], "Encrypted": True})
    for i in range(n["buckets"]):
        k = key_for(i)
        rule = {"SSEAlgorithm": "KMS", "KMSMasterKeyID": k} if k else ({"SSEAlgorithm": "AES256"} if i % 2 else None)
        data["oss"]["buckets"].append({"Name": f"sweep-{a}-{region}-{i:04d}", "Location": f"oss-{region}",
                                       **({"ServerSideEncryptionRule": rule} if rule else {})})
        t.buckets += 1
    for i in range(n["nas"]):
        k = key_for(i)
        data["nas"]["file_systems"].append({"FileSystemId": f"{a}{r:02d}{i:05d}a", "RegionId": region, "FileSystemType": "standard",
                                            "Status": "Running", "EncryptType": 2 if k else 0, **({"KMSKeyId": k} if k else {})})
        t.nas += 1
    for i in range(n["polardb"]):
        k = key_for(i)
        enc = {} if k is None else ({"TDE": {"TDEStatus": "Enabled", "EncryptionKey": k}} if i % 2 else
                                    {"StorageEncryption": {"StorageEncryptionKey": k}})
        data["polardb"]["clusters"].append({"DBClusterId": f"pc-{a}{r:02d}{i:05d}", "RegionId": region, "DBType": "MySQL",
                                            "DBClusterStatus": "Running", **enc})
        t.polardb += 1
    for i in range(n["ack"]):
        k = key_for(i)
        caps = {"EncryptionKMSKeyId": k, "DisableEncryption": False} if k else {}
        data["cs"]["clusters"].append({"cluster_id": f"c{a}{r:02d}{i:05d}", "region_id": region, "name": f"ack-{a}-{r}-{i}",
                                       "state": "running", "cluster_type": "ManagedKubernetes", "cluster_spec": "ack.pro.small",
                                       "profile": "Default", "current_version": "1.31.1-aliyun.1",
                                       "meta_data": json.dumps({"Addons": [{"name": "coredns"}], "Capabilities": caps})})
        t.ack += 1
    per_project = 10
    for i in range(n["logstores"]):
        k = key_for(i)
        project = f"sweep-{a}-{region}-logs-{i // per_project:03d}"
        store = {"projectName": project, "logstoreName": f"store-{i:04d}", "RegionId": region}
        if k:
            store["encrypt_conf"] = {"enable": True, "encrypt_type": "default",
                                     "user_cmk_info": {"cmk_key_id": k, "arn": f"acs:ram::{account}:role/sls-cmk", "region_id": region}}
        data["sls"]["logstores"].append(store)
        t.projects[project] = t.projects.get(project, 0) + 1


def _seed_slb(data: dict, t: Target, a: int, r: int, n: int, now: datetime, cas_ids: list[int], cas_served: list, expected: dict) -> None:
    """SLB server certificates of the region (a third imported from CAS), CLB HTTPS listeners serving half of them, and
    ALB HTTPS listeners serving CAS certificates."""
    region = t.region
    for i in range(n):
        days = CERT_END_DAYS[(i + r) % len(CERT_END_DAYS)]
        cert_id = f"{a}{r:02d}{i:05d}-{region}"
        cert = {"ServerCertificateId": cert_id, "RegionId": region, "CommonName": f"svc{i}.{region}.example.com",
                "ServerCertificateName": f"svc{i}", "ExpireTime": _iso(now + timedelta(days=days, hours=12))}
        if i % 3 == 0 and cas_ids:
            cas_id = cas_ids[(r * 31 + i) % len(cas_ids)]
            cert.update(IsAliCloudCertificate=1, AliCloudCertificateId=str(cas_id))
            cas_served.append((cas_id, region))
        data["slb"]["server_certificates"].append(cert)
        t.slb_certificates += 1
        if days <= 30:
            expected["cert_expiry"] += 1
        if i % 2 == 0:
            data["slb"]["listeners"].append({"LoadBalancerId": f"lb-{a}{r:02d}{i // 2:05d}", "RegionId": region, "ListenerPort": 443,
                                             "ListenerProtocol": "https", "HTTPSListenerConfig": {"ServerCertificateId": cert_id}})
            data["slb"]["listeners"].append({"LoadBalancerId": f"lb-{a}{r:02d}{i // 2:05d}", "RegionId": region, "ListenerPort": 80,
                                             "ListenerProtocol": "http"})
            t.https_listeners += 1
    # ALB: about one HTTPS listener per 25 CAS certificates of the account per region weight, each serving 1-3 of them.
    alb_n = max(0, round(len(cas_ids) * ((r + 1) ** -0.7) / 60))
    for j in range(alb_n):
        certs = []
        for c in range(1 + j % 3):
            cas_id = cas_ids[(r * 97 + j * 7 + c) % len(cas_ids)]
            certs.append({"CertificateId": f"{cas_id}-{region}", "IsDefault": c == 0})
            cas_served.append((cas_id, region))
        data["alb"]["listeners"].append({"ListenerId": f"lsn-{a}{r:02d}{j:05d}", "LoadBalancerId": f"alb-{a}{r:02d}{j // 2:05d}",
                                         "RegionId": region, "ListenerProtocol": "HTTPS", "ListenerPort": 443, "Certificates": certs})
        t.alb_listeners += 1
        t.alb_secure_listeners.append(len(certs))
        if j % 2 == 0:
            data["alb"]["listeners"].append({"ListenerId": f"lsn-{a}{r:02d}{j:05d}h", "LoadBalancerId": f"alb-{a}{r:02d}{j // 2:05d}",
                                             "RegionId": region, "ListenerProtocol": "HTTP", "ListenerPort": 80})
            t.alb_listeners += 1


def _seed_cas(data: dict, a: int, cas_ids: list[int], served: list, now: datetime, expected: dict) -> None:
    today = now.astimezone(timezone(timedelta(hours=8))).date()
    for i, cas_id in enumerate(cas_ids):
        days = CERT_END_DAYS[(i * 7) % len(CERT_END_DAYS)]
        end = today + timedelta(days=days)
        data["cas"]["certificates"].append({"CertificateId": cas_id, "Name": f"cert-{cas_id}", "CommonName": f"www{i}.corp{a}.example.com",
                                            "Sans": f"www{i}.corp{a}.example.com,api{i}.corp{a}.example.com",
                                            "StartDate": (end - timedelta(days=365)).isoformat(), "EndDate": end.isoformat()})
        if days <= 30:
            expected["cert_expiry"] += 1


def _unprotected_with_dependents(data: dict) -> set[str]:
    """Customer keys, Enabled or Disabled, without deletion protection, that some seeded resource names."""
    used = {d.get("KMSKeyId") for d in data["ecs"]["disks"] + data["ecs"]["snapshots"] + data["ecs"]["encryption_defaults"]}
    used |= {(b.get("ServerSideEncryptionRule") or {}).get("KMSMasterKeyID") for b in data["oss"]["buckets"]}
    used |= {s.get("EncryptionKeyId") for s in data["kms"]["secrets"]}
    used |= {f.get("KMSKeyId") for f in data["nas"]["file_systems"]}
    used |= {(c.get("TDE") or {}).get("EncryptionKey") for c in data["polardb"]["clusters"]}
    used |= {(c.get("StorageEncryption") or {}).get("StorageEncryptionKey") for c in data["polardb"]["clusters"]}
    used |= {json.loads(c["meta_data"])["Capabilities"].get("EncryptionKMSKeyId") for c in data["cs"]["clusters"]}
    used |= {((s.get("encrypt_conf") or {}).get("user_cmk_info") or {}).get("cmk_key_id") for s in data["sls"]["logstores"]}
    return {k["KeyId"] for k in data["kms"]["keys"] if k["KeyId"] in used and str(k["Creator"]).isdigit()
            and k["KeyState"] in ("Enabled", "Disabled") and k["DeletionProtection"] != "Enabled"}


def _cas_days(cert: dict, now: datetime) -> int:
    today = now.astimezone(timezone(timedelta(hours=8))).date()
    return (datetime.strptime(cert["EndDate"], "%Y-%m-%d").date() - today).days


# ---------------------------------------------------------------- the minimum


def pages(n: int, size: int) -> int:
    """Pages a listing of n items needs at `size` a page; an empty listing is still one call."""
    return max(1, math.ceil(n / size))


def minimum_calls(fleet: Fleet, *, cert_regions: tuple[str, ...] = (CAS_REGION,), functions: int = 2) -> dict[str, int]:
    """The fewest calls, per API, that the sweep's chosen APIs need to cover the seeded estate, from the seeded records
    and each API's documented page size. Every target (account x region) is its own unit of work (one FC instance
    each), so what a target needs is counted per target; what is the account's (CAS certificates, ALB listeners serving
    them) is counted once per account."""
    m: dict[str, int] = {}

    def add(api: str, n: int) -> None:
        if n:
            m[api] = m.get(api, 0) + n

    for t in fleet.targets:
        # KMS ListKeys: PageNumber/PageSize, PageSize 1-100 (ListKeys API reference,
        # https://www.alibabacloud.com/help/en/kms/support/api-kms-listkeys), the Filters' CreatorType=User leaving the
        # service keys out. Its items carry KeyId and KeyArn only, so DescribeKey once per customer key
        # (https://www.alibabacloud.com/help/doc-detail/28952.htm) for state, spec, origin, rotation and protection.
        add("kms:ListKeys", pages(t.customer_keys, 100))
        add("kms:DescribeKey", t.customer_keys)
        # GetKeyPolicy: policies exist for keys in a KMS instance only (GetKeyPolicy API reference); one call each
        # (keys pending deletion are left to key-guard).
        add("kms:GetKeyPolicy", t.instance_keys)
        # ListSecrets: PageSize 1-100 (ListSecrets API reference); its items lack EncryptionKeyId, AutomaticRotation
        # and DKMSInstanceId, so DescribeSecret once per secret (DescribeSecret API reference).
        add("kms:ListSecrets", pages(t.secrets, 100))
        add("kms:DescribeSecret", t.secrets)
        # ListSecretVersionIds: the ACSCurrent version's CreateTime, which no listing or DescribeSecret carries; one
        # page (PageSize 1-100, a secret holds at most 10 versions) per Generic secret that is judged on its age.
        add("kms:ListSecretVersionIds", t.generic_versions_read)
        add("kms:GetSecretPolicy", t.instance_secrets)
        # ECS DescribeDisks with Encrypted=true: NextToken/MaxResults 10-500 (DescribeDisks API reference). An empty
        # answer is told from a silent denial by one unfiltered DescribeDisks and, if that is empty too, one
        # DescribeInstances (every instance has a system disk).
        add("ecs:DescribeDisks", pages(t.encrypted_disks, 500) + (1 if not t.encrypted_disks else 0))
        add("ecs:DescribeInstances", 1 if not t.disks else 0)
        # DescribeSnapshots with Encrypted=true: MaxResults up to 100 (DescribeSnapshots API reference).
        add("ecs:DescribeSnapshots", pages(t.encrypted_snapshots, 100))
        add("ecs:DescribeDiskDefaultKMSKeyId", 1)
        # OSS ListBuckets (GetService): max-keys up to 1000, every region's buckets from any endpoint and no region
        # filter, so each target lists its account's buckets once; GetBucketInfo per bucket of the region (its
        # default encryption rule).
        add("oss:ListBuckets", pages(fleet.buckets_per_account[t.account], 1000))
        add("oss:GetBucketInfo", t.buckets)
        # NAS DescribeFileSystems: PageSize 1-100, the key in each item (DescribeFileSystems API reference).
        add("nas:DescribeFileSystems", pages(t.nas, 100))
        # PolarDB DescribeDBClusters: PageSize 30/50/100, no encryption field; DescribeDBClusterEncryptionKey per cluster.
        add("polardb:DescribeDBClusters", pages(t.polardb, 100))
        add("polardb:DescribeDBClusterEncryptionKey", t.polardb)
        # ACK DescribeClustersV1: each item carries meta_data (the Secrets encryption key); no maximum page_size is
        # published, 50 is what public tools use.
        add("cs:DescribeClustersV1", pages(t.ack, 50))
        # SLS ListProject / ListLogStores: offset and size up to 500, names only; GetLogStore per logstore (encrypt_conf).
        add("sls:ListProject", pages(len(t.projects), 500))
        add("sls:ListLogStores", sum(pages(n, 500) for n in t.projects.values()))
        add("sls:GetLogStore", sum(t.projects.values()))
        # SLB DescribeServerCertificates: every server certificate of the region, not paged; DescribeLoadBalancerListeners
        # with ListenerProtocol=https: MaxResults 1-100, each HTTPS listener naming its ServerCertificateId.
        add("slb:DescribeServerCertificates", 1)
        add("slb:DescribeLoadBalancerListeners", pages(t.https_listeners, 100))
        # ALB serves CAS certificates only, so its listeners are read for the account's CAS run, once per region
        # where a CAS certificate's listeners are looked for (cert_regions: by default the CAS region): ListListeners (MaxResults 1-100), then ListListenerCertificates (MaxResults 1-100) per HTTPS or QUIC
        # listener (https://www.alibabacloud.com/help/en/slb/application-load-balancer/developer-reference/api-alb-2020-06-16-listlistenercertificates).
        if t.region in cert_regions:
            add("alb:ListListeners", pages(t.alb_listeners, 100))
            add("alb:ListListenerCertificates", sum(pages(n, 100) for n in t.alb_secure_listeners))
            if t.region != CAS_REGION:
                # The CAS run (one worker, CAS_REGION's) also needs the CLB listeners of each other region where it looks
                # (an SLB certificate imported from CAS serves that CAS certificate): that region's two SLB reads again.
                add("slb:DescribeServerCertificates", 1)
                add("slb:DescribeLoadBalancerListeners", pages(t.https_listeners, 100))
    for account, counts in fleet.cas.items():
        # CAS ListUserCertificateOrder (OrderType=CERT): ShowSize default 50, no maximum published; without Status only
        # ISSUED and WILLEXPIRED certificates are listed, so expired ones need a second listing with Status=EXPIRED.
        add("cas:ListUserCertificateOrder", pages(counts["valid"], 50) + pages(counts["expired"], 50))
    # The fan-out, for each sweep function run (compliance-sweep, cert-sweep): the Resource Directory's members
    # (ListAccounts, PageSize at most 100, https://www.alibabacloud.com/help/doc-detail/160016.htm); one asynchronous
    # InvokeFunction per target (one worker each); a worker in another account enters its role there (STS AssumeRole),
    # as credentials are never handed over in a payload; and each worker's result handed to the run's summary through
    # the state bucket: written once (PutObject) and read once (GetObject).
    members = len(fleet.accounts)
    others = sum(1 for t in fleet.targets if t.account != fleet.accounts[0]["account_id"])
    add("resourcemanager:ListAccounts", functions * pages(members, 100))
    add("fc:InvokeFunction", functions * len(fleet.targets))
    add("sts:AssumeRole", functions * others)
    add("oss:PutObject", functions * len(fleet.targets))
    add("oss:GetObject", functions * len(fleet.targets))
    return dict(sorted(m.items()))
