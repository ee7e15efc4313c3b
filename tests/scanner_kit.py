"""What the scanner tests share: the docs' sample responses, an audit target, and clients that talk to
a local cloud without pacing (those tests are about what is called; key-guard paces for real)."""
from __future__ import annotations

import json
from pathlib import Path

from shared.audit.scanner import AuditTarget
from shared.clients import Clients, Credentials
from shared.ratelimit import RateLimiter
from tests.conftest import ACCOUNT_ID, ALICE_AK, ALICE_SECRET, KEY, REGION

SAMPLES = Path(__file__).parent / "contract" / "samples"


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
