"""secret_rotation on the local cloud: managed secrets must rotate automatically; generic secrets need a young
current value or the kms-steward:rotation-interval tag secret-rotation uses; what is due falls due as time passes."""
from __future__ import annotations

from datetime import timedelta

from shared.sweeps.checks.secret_rotation import CHECK
from tests.support.sweeps import NOW, by_resource, days_before, run, secret, sweep_account

SECRETS = [
    secret("rds/rotating", created=days_before(NOW, 300), secret_type="Rds", AutomaticRotation="Enabled"),
    secret("rds/manual", created=days_before(NOW, 30), secret_type="Rds", AutomaticRotation="Disabled"),
    secret("ram/manual", created=days_before(NOW, 300), secret_type="RAMCredentials", AutomaticRotation="Disabled"),
    secret("app/young", created=days_before(NOW, 10)),
    secret("app/old", created=days_before(NOW, 120)),
    secret("app/tagged", created=days_before(NOW, 20), tags={"kms-steward:rotation-interval": "30d"}),
    secret("app/bad-tag", created=days_before(NOW, 5), tags={"kms-steward:rotation-interval": "monthly"}),
    secret("app/leaving", created=days_before(NOW, 400), PlannedDeleteTime=days_before(NOW, -7)),
]


def test_out_of_policy_secrets_are_found(start_cloud):
    cloud = start_cloud(sweep_account(secrets=SECRETS, replace_keys=False), now=NOW)
    result = run(cloud, CHECK)
    assert result.complete
    found = by_resource(result)
    assert {name: (f.kind, f.severity) for name, f in found.items()} == {
        "rds/manual": ("rotation_off", "WARN"),
        "ram/manual": ("rotation_off", "CRITICAL"),  # unrotated for more than twice the 90 days
        "app/old": ("stale", "WARN"),
        "app/bad-tag": ("bad_rotation_tag", "WARN"),
    }
    assert "120 days old" in found["app/old"].message


def test_time_makes_a_tagged_secret_overdue_and_a_young_one_stale(start_cloud):
    cloud = start_cloud(sweep_account(secrets=SECRETS, replace_keys=False), now=NOW)
    cloud.clock.advance(timedelta(days=100))
    later = cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    found = by_resource(run(cloud, CHECK, now=later))
    assert found["app/tagged"].kind == "rotation_overdue"  # 120 days on a 30d tag: secret-rotation is not rotating it
    assert found["app/young"].kind == "stale" and found["app/young"].severity == "WARN"
    assert found["app/old"].severity == "CRITICAL"  # 220 days: past twice the policy
    assert "app/leaving" not in found


def test_one_secret_whose_versions_cannot_be_read_is_a_gap_not_a_failure(start_cloud):
    faults = [{"Api": "kms:ListSecretVersionIds", "Code": "Forbidden.RAM", "Status": 403, "Params": {"SecretName": "app/old"}}]
    cloud = start_cloud(sweep_account(secrets=SECRETS, replace_keys=False, faults=faults), now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete and "secret app/old" in result.reason and "access denied" in result.reason
    assert {"rds/manual", "ram/manual", "app/bad-tag"} <= set(by_resource(result))


def test_denied_listing_is_incomplete(start_cloud):
    cloud = start_cloud(sweep_account(secrets=SECRETS, replace_keys=False,
                                      faults=[{"Api": "kms:ListSecrets", "Code": "Forbidden.RAM", "Status": 403}]), now=NOW)
    result = run(cloud, CHECK)
    assert not result.complete and not result.findings and "listing the secrets" in result.reason
