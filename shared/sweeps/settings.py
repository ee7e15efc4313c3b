"""The sweeps' configuration (compliance-sweep, cert-sweep), from the function's environment (s.yaml). A value that is
not understood is reported (in the summary and the record) and the stricter default is used: a typo must not loosen a
policy."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from shared.config import _BUCKET_NAME
from shared.events import is_region_id

DEFAULT_ROLE = "kms-steward-sweep"
FANOUT_MODES = ("auto", "on", "off")
KEY_ROTATION_DAYS = (365, 7, 730)  # default, and the bounds UpdateRotationPolicy accepts (7 to 730 days)
SECRET_ROTATION_DAYS = (90, 1, 365)  # default; Secrets Manager's RotationInterval goes up to 8,760 hours (365 days)
# Where Certificate Management Service (SSL certificates) answers: cn-hangzhou (cas.aliyuncs.com) for China-site
# accounts, ap-southeast-1 (cas.ap-southeast-1.aliyuncs.com) for international-site ones ("Certificate Management
# Service: Endpoints", https://www.alibabacloud.com/help/en/ssl-certificate/developer-reference/endpoints).
CAS_REGIONS = ("cn-hangzhou", "ap-southeast-1")
DEFAULT_CAS_REGION = CAS_REGIONS[0]


@dataclass(frozen=True)
class SweepSettings:
    regions: tuple[str, ...] = ()  # empty: the function's own region
    checks: tuple[str, ...] = ()  # empty: the compliance checks (shared/sweeps/checks COMPLIANCE_CHECKS)
    key_rotation_days: int = KEY_ROTATION_DAYS[0]
    secret_rotation_days: int = SECRET_ROTATION_DAYS[0]
    allowed_accounts: tuple[str, ...] = ()
    state_bucket: str = ""
    alert_group_id: str = "0"
    records_project: str = ""
    records_logstore: str = "compliance-sweep-findings"
    region: str = ""
    endpoint_override: str = ""
    # Fan-out (shared/sweeps/fanout.py): the accounts swept besides this one (ids), or every member of the Resource
    # Directory; every region the API lists (SWEEP_REGIONS=all); the role entered in the other accounts.
    accounts: tuple[str, ...] = ()
    accounts_from_directory: bool = False
    all_regions: bool = False
    role_name: str = DEFAULT_ROLE
    fanout: str = "auto"  # auto: one worker per target when there are several; on: always; off: in-process
    cert_cas_region: str = DEFAULT_CAS_REGION  # cert-sweep: the run that reports the account's CAS certificates
    problems: tuple[str, ...] = field(default_factory=tuple)

    def check_settings(self, swept_regions: tuple[str, ...] | list[str] = ()) -> dict:
        """What every check reads from SweepTarget.settings. `swept_regions`: the regions this run sweeps in the
        target's account (resolved: SWEEP_REGIONS=all is the listed regions), where cert_expiry looks for the
        listeners serving a CAS certificate (cert_regions); without them it looks in the target's region only."""
        return {"key_rotation_days": self.key_rotation_days, "secret_rotation_days": self.secret_rotation_days,
                "allowed_accounts": list(self.allowed_accounts), "cert_cas_region": self.cert_cas_region,
                **({"cert_regions": list(swept_regions)} if swept_regions else {})}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SweepSettings":
        env = os.environ if env is None else env
        problems: list[str] = []

        def days(name: str, bounds: tuple[int, int, int]) -> int:
            default, low, high = bounds
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if re.fullmatch(r"[0-9]{1,4}", raw) and low <= int(raw) <= high:
                return int(raw)
            problems.append(f"{name}={raw[:20]!r} is not a whole number of days from {low} to {high}; using {default}")
            return default

        def listed(name: str, valid, what: str) -> tuple[str, ...]:
            out: list[str] = []
            for item in (i.strip() for i in env.get(name, "").split(",")):
                if not item:
                    continue
                if not valid(item):
                    problems.append(f"{name} names {item[:40]!r}, which is not {what}; left out")
                elif item not in out:
                    out.append(item)
            return tuple(out)

        state_bucket = env.get("STATE_BUCKET", "").strip()
        if state_bucket and not _BUCKET_NAME.fullmatch(state_bucket):
            problems.append(f"STATE_BUCKET={state_bucket[:70]!r} is not a valid OSS bucket name: the previous findings "
                            "cannot be kept, so every CRITICAL finding alerts on every run")
            state_bucket = ""
        elif not state_bucket:
            problems.append("STATE_BUCKET is not set: the previous findings cannot be kept, so every CRITICAL finding "
                            "alerts on every run and nothing is recorded as resolved")
        regions_raw = env.get("SWEEP_REGIONS", "").strip()
        all_regions = regions_raw.lower() == "all"
        accounts_raw = env.get("SWEEP_ACCOUNTS", "").strip()
        from_directory = accounts_raw.lower() == "resource-directory"
        role_name = env.get("SWEEP_ROLE_NAME", "").strip() or DEFAULT_ROLE
        if not re.fullmatch(r"[A-Za-z0-9.@_-]{1,64}", role_name):  # RAM role names: 1-64 of these characters
            problems.append(f"SWEEP_ROLE_NAME={role_name[:70]!r} is not a RAM role name; using {DEFAULT_ROLE}")
            role_name = DEFAULT_ROLE
        cas_region = env.get("SWEEP_CERT_CAS_REGION", "").strip() or DEFAULT_CAS_REGION
        if cas_region not in CAS_REGIONS:
            problems.append(f"SWEEP_CERT_CAS_REGION={cas_region[:30]!r} is not a Certificate Management Service region "
                            f"({', '.join(CAS_REGIONS)}); using {DEFAULT_CAS_REGION}")
            cas_region = DEFAULT_CAS_REGION
        fanout = env.get("SWEEP_FANOUT", "").strip().lower() or "auto"
        if fanout not in FANOUT_MODES:
            problems.append(f"SWEEP_FANOUT={fanout[:20]!r} is not one of {', '.join(FANOUT_MODES)}; using auto")
            fanout = "auto"
        return cls(
            regions=() if all_regions else listed("SWEEP_REGIONS", is_region_id, "a region id"),
            all_regions=all_regions,
            accounts=() if from_directory else listed("SWEEP_ACCOUNTS", lambda a: re.fullmatch(r"[0-9]{16}", a) is not None,
                                                      "a 16-digit account id"),
            accounts_from_directory=from_directory,
            role_name=role_name,
            fanout=fanout,
            cert_cas_region=cas_region,
            checks=listed("SWEEP_CHECKS", lambda c: re.fullmatch(r"[a-z_]{1,40}", c) is not None, "a check name"),
            key_rotation_days=days("SWEEP_KEY_ROTATION_DAYS", KEY_ROTATION_DAYS),
            secret_rotation_days=days("SWEEP_SECRET_ROTATION_DAYS", SECRET_ROTATION_DAYS),
            # Account ids are digits (16 in practice): anything else could only ever widen the allow-list by mistake.
            allowed_accounts=listed("SWEEP_ALLOWED_ACCOUNTS", lambda a: re.fullmatch(r"[0-9]{1,32}", a) is not None,
                                    "an account id"),
            state_bucket=state_bucket,
            alert_group_id=env.get("ALERT_GROUP_ID", "0").strip() or "0",
            records_project=env.get("RECORDS_PROJECT", "").strip(),
            records_logstore=env.get("RECORDS_LOGSTORE", "").strip() or "compliance-sweep-findings",
            region=(env.get("FC_REGION") or env.get("ALIBABA_CLOUD_REGION_ID") or "").strip(),
            endpoint_override=env.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", "").strip(),
            problems=tuple(problems),
        )
