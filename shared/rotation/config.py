"""The secret-rotation function's configuration, from its environment variables (s.yaml). A bad value is
reported in the records and replaced by the default: it never stops rotations."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

RECORDS_LOGSTORE = "secret-rotation-decisions"


@dataclass(frozen=True)
class RotationConfig:
    region: str = ""
    endpoint_override: str = ""
    alert_group_id: str = "0"
    records_project: str = ""
    records_logstore: str = RECORDS_LOGSTORE
    # How long a database may take to accept a login or answer a statement.
    db_timeout_s: float = 10.0
    # Secrets rotated at once by a timer run.
    concurrency: int = 4
    # A timer run starts no secret with less than this many seconds left before the function's timeout:
    # what it leaves stays due, and the next run takes it.
    seconds_per_secret: float = 120.0
    # The secrets it may rotate (ROTATION_SECRETS): a name pattern, `*` any characters (a "/" too) and `?` one, as RAM
    # matches the role's resource `acs:kms:*:*:secret/<pattern>` ("Policy elements": wildcards). "*": every secret.
    secret_names: str = "*"
    problems: tuple[str, ...] = ()

    def rotates(self, name: str) -> bool:
        """Whether the secret is one this function may rotate (its role may touch no other)."""
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in self.secret_names)
        return re.fullmatch(body, name, re.DOTALL) is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RotationConfig":
        env = os.environ if env is None else env
        problems: list[str] = []

        def number(name: str, default: float, lo: float, hi: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not lo <= value <= hi:
                problems.append(f"{name}={raw[:20]!r} is not a number from {lo:g} to {hi:g}; using {default:g}")
                return default
            return value

        return cls(
            region=(env.get("FC_REGION") or env.get("ALIBABA_CLOUD_REGION_ID") or "").strip(),
            endpoint_override=env.get("ALIBABA_CLOUD_ENDPOINT_OVERRIDE", "").strip(),
            alert_group_id=env.get("ALERT_GROUP_ID", "0").strip() or "0",
            records_project=env.get("RECORDS_PROJECT", "").strip(),
            records_logstore=env.get("RECORDS_LOGSTORE", "").strip() or RECORDS_LOGSTORE,
            db_timeout_s=number("ROTATION_DB_TIMEOUT_S", cls.db_timeout_s, 1, 120),
            concurrency=int(number("ROTATION_CONCURRENCY", cls.concurrency, 1, 32)),
            seconds_per_secret=number("ROTATION_SECONDS_PER_SECRET", cls.seconds_per_secret, 1, 3600),
            secret_names=_secret_names(env.get("ROTATION_SECRETS"), problems),
            problems=tuple(problems),
        )


# A secret name: letters, digits and /_+=.@- ("CreateSecret": SecretName), with the pattern's * and ?
_PATTERN = re.compile(r"[A-Za-z0-9/_+=.@*?-]{1,192}")


def _secret_names(raw: str | None, problems: list[str]) -> str:
    if raw is None:  # not set (outside FC: the CLI's `rotate`): every secret the caller's credentials allow
        return "*"
    pattern = raw.strip()
    if _PATTERN.fullmatch(pattern):
        return pattern
    if not pattern:  # set, and empty: the role's policy then grants no secret (ram/), and the function rotates none
        problems.append("ROTATION_SECRETS is empty: rotating no secret (its role may touch none); `*` rotates any")
        return ""
    # The role's policy is scoped by the same text: a value it cannot hold is refused here, and no secret is rotated
    # rather than every one (the role would refuse them anyway).
    problems.append(f"ROTATION_SECRETS={raw[:40]!r} is not a secret name pattern (letters, digits, /_+=.@-, * and ?); "
                    "rotating no secret")
    return ""
