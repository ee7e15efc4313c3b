"""s.yaml: every fc3 resource's props validate against the fc3 component's schema, and the
key-guard trigger matches exactly the events it should."""
from __future__ import annotations

import json

import jsonschema
import pytest

from localcloud.eventbridge_pattern import matches, parse_pattern
from localcloud.serverless import ServerlessError, ServerlessProject
from tests.support.accounts import ROOT, S_YAML

SCHEMA = ROOT.parent / "shared" / "reference" / "fc3-props.schema.json"
PROJECT = ServerlessProject.load(S_YAML, account_id="1234567890123456", env={})


@pytest.mark.skipif(not SCHEMA.is_file(), reason="../shared/reference/fc3-props.schema.json is not present")
@pytest.mark.parametrize("resource", sorted(PROJECT.functions))
def test_props_validate_against_the_fc3_schema(resource):
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(PROJECT.functions[resource].props), key=str)
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_key_guard_is_wired_as_documented():
    spec = PROJECT.function("key-guard")
    assert spec.props["runtime"] == "python3.10"
    assert (spec.code_dir / "functions" / "key_guard" / "index.py").is_file()
    assert spec.handler == "functions/key_guard/index.handler"
    [(trigger, pattern)] = spec.eventbridge_patterns()
    assert trigger.config["eventSourceConfig"]["eventSourceType"] == "Default"
    assert trigger.config["asyncInvocationType"] is True


@pytest.mark.parametrize("kind, name, expected", [
    ("kms:ActionTrail:ApiCall", "ScheduleKeyDeletion", True),
    ("kms:ActionTrail:ConsoleOperation", "ScheduleKeyDeletion", True),
    ("kms:ActionTrail:ApiCall", "DisableKey", True),
    ("kms:ActionTrail:ApiCall", "CancelKeyDeletion", False),
    ("kms:ActionTrail:ApiCall", "DescribeKey", False),
    ("actiontrail:ActionTrail:ApiCall", "ScheduleKeyDeletion", False),
])
def test_trigger_pattern_selects_the_mutations_key_guard_handles(kind, name, expected):
    [(_, pattern)] = PROJECT.function("key-guard").eventbridge_patterns()
    event = {"type": kind, "source": "acs.kms", "data": {"serviceName": "Kms", "eventName": name}}
    assert matches(parse_pattern(pattern), event) is expected


def test_environment_variables_are_resolved_with_defaults_and_overrides():
    overridden = ServerlessProject.load(S_YAML, account_id="1234567890123456", env={"GUARD_DELETION_MODE": "alert"})
    assert PROJECT.function("key-guard").environment["GUARD_DELETION_MODE"] == "enforce"
    assert overridden.function("key-guard").environment["GUARD_DELETION_MODE"] == "alert"
    assert PROJECT.function("key-guard").role == "acs:ram::1234567890123456:role/kms-steward-key-guard"


def test_unknown_function_is_a_clear_error():
    with pytest.raises(ServerlessError, match="key-guard"):
        PROJECT.function("no-such-function")


def test_sample_events_are_matched_by_exactly_the_trigger_of_the_guard_they_are_for():
    [(_, key_rule)] = PROJECT.function("key-guard").eventbridge_patterns()
    [(_, secret_rule)] = PROJECT.function("secret-guard").eventbridge_patterns()
    cloud_events = [p for p in sorted((ROOT / "events").glob("*.json")) if "type" in json.loads(p.read_text())]
    assert len(cloud_events) >= 4
    for path in cloud_events:
        event = json.loads(path.read_text())
        for_secrets = path.name.startswith("delete_secret")
        assert matches(parse_pattern(secret_rule), event) is for_secrets, path.name
        assert matches(parse_pattern(key_rule), event) is not for_secrets, path.name


def test_the_timer_sample_names_key_guard_safety_net_trigger():
    from shared.events import parse_timer_event

    timer = parse_timer_event((ROOT / "events" / "safety_net_timer.json").read_bytes())
    [trigger] = [t for t in PROJECT.function("key-guard").timer_triggers if t.name == timer.triggerName]
    assert trigger.enable and trigger.payload == timer.payload


def test_key_guard_failures_is_key_guard_failure_destination_and_reads_the_sample():
    from shared.events import parse_fc_event
    from shared.failed_invocations import parse_destination_payload

    destination = PROJECT.function("key-guard").destination("onFailure")
    assert destination.endswith(":functions/" + PROJECT.function("key-guard-failures").function_name)
    original, failure = parse_destination_payload((ROOT / "events" / "key_guard_failure_destination.json").read_bytes())
    assert parse_fc_event(original)[0].data.eventName == "ScheduleKeyDeletion" and "Throttling" in failure


@pytest.mark.parametrize("resource, handler, task", [
    ("compliance-sweep", "functions/compliance_sweep/index.handler", "compliance-sweep"),
    ("cert-sweep", "functions/cert_sweep/index.handler", "cert-sweep"),
])
def test_both_sweeps_are_timer_functions_with_the_fan_out_settings(resource, handler, task):
    spec = PROJECT.function(resource)
    assert spec.handler == handler and (spec.code_dir / handler.rsplit(".", 1)[0]).with_suffix(".py").is_file()
    [timer] = spec.timer_triggers
    assert timer.enable and json.loads(timer.payload) == {"task": task}
    env = spec.environment
    assert env["SWEEP_ROLE_NAME"] == "kms-steward-sweep" and env["SWEEP_FANOUT"] == "auto" and env["STATE_BUCKET"]
    assert "SWEEP_ACCOUNTS" in env and "SWEEP_REGIONS" in env
    if task == "cert-sweep":  # where its CAS certificates are read (README's sweep table)
        assert env["SWEEP_CERT_CAS_REGION"] == "cn-hangzhou"


def test_the_deploy_guide_names_every_deploy_time_setting_of_s_yaml_with_its_default():
    """A person deploying reads the settings in the README: none may be missing, none with a wrong default."""
    import re

    text = (ROOT / "s.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Deploy-time settings"):]
    settings = dict(re.findall(r"\$\{env\('([A-Z_]+)', '([^']*)'\)\}", text))
    assert len(settings) > 20
    for name, default in settings.items():
        shown = f"`{default}`" if default else "empty"
        assert re.search(rf"^\| `{name}` \| {re.escape(shown)} \|", table, re.M), (name, shown)


def test_the_deploy_guide_pages_for_every_custom_event_the_functions_raise():
    """Each name needs its own CloudMonitor rule to page anyone: the guide's table must list them all."""
    import re

    from shared import alerts
    from shared.sweeps import failed, notify

    raised = {*alerts.EVENT_NAMES.values(), *alerts.SECRET_EVENT_NAMES.values(), alerts.GUARD_FAILED, alerts.EVENT_REJECTED,
              alerts.SECRET_GUARD_FAILED, alerts.SECRET_EVENT_REJECTED, alerts.SECRET_ROTATION_FAILED,
              alerts.SECRET_ROTATION_EVENT_REJECTED, notify.SUMMARY_EVENT, notify.CRITICAL_EVENT,
              notify.STATE_UNREADABLE_EVENT, failed.SWEEP_FAILED_EVENT}
    readme = (ROOT / "README.md").read_text()
    guide = readme[readme.index("### 6. Turn the custom events into pages"):readme.index("### Packages")]
    listed = set(re.findall(r"`([A-Za-z]+)`", "\n".join(l for l in guide.splitlines() if l.startswith("| ")
                                                          and not l.startswith("| level"))))
    assert listed == raised
