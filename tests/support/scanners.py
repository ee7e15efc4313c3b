"""What the scanner tests share: the docs' sample responses, an audit target, clients that talk to a local
cloud without pacing (those tests are about what is called; key-guard paces for real), and the
usage-evidence scan."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from shared.audit.scanner import AuditTarget
from shared.audit.scanners.kms_usage import KmsUsageScanner
from shared.clients import Clients, Credentials
from shared.ratelimit import RateLimiter
from tests.support.accounts import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, REGION

SAMPLES = Path(__file__).resolve().parents[1] / "contract" / "samples"


def sample(product: str, api: str) -> dict:
    """tests/contract/samples/<product>/<api>.json: {"source": <doc URL>, "response": <sample body>, ...}."""
    return json.loads((SAMPLES / product / f"{api}.json").read_text(encoding="utf-8"))


def target(key_id: str = KEY, region: str = REGION) -> AuditTarget:
    # The test keys are in no KMS instance, as the account files say.
    return AuditTarget(key_id=key_id, key_arn=f"acs:kms:{region}:{ACCOUNT_ID}:key/{key_id}", region=region, account_id=ACCOUNT_ID,
                       kms_instance_id="")


def clients(cloud, region: str = REGION) -> Clients:
    """Every region's endpoint, as key-guard is given them in the local cloud; unpaced."""
    return Clients(Credentials(ALICE_AK, ALICE_SECRET), region, endpoint_override=cloud.endpoint_override(region),
                   limiter=RateLimiter(lambda api: None))


def now() -> datetime:
    # The usage scanner's window ends at the wall clock, so its tests run the local cloud on it too.
    return datetime.now(timezone.utc).replace(microsecond=0)


def scan_usage(cloud, **kwargs):
    """({caller: dependent} the usage-evidence scanner finds for KEY, the clients it used); `kwargs` are
    AuditTarget fields (usage_window_days, trail_project, ...)."""
    clients = Clients(Credentials(ALICE_AK, ALICE_SECRET), REGION, endpoint_override=cloud.endpoint_url())
    usage_target = AuditTarget(key_id=KEY, key_arn=f"acs:kms:{REGION}:{ACCOUNT_ID}:key/{KEY}", region=REGION, account_id=ACCOUNT_ID,
                               **{"kms_instance_id": "", **kwargs})
    return {d.resource_id: d for d in KmsUsageScanner().scan(usage_target, clients)}, clients
