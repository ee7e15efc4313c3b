"""`kms-steward doctor`: is the account ready for the functions of s.yaml, and are they wired as s.yaml says? Read-only.

Before a deploy: credentials; the ActionTrail trail exists and is logging (and delivers to the SLS logstore TRAIL_SLS_*
name, when set); each STATE_BUCKET exists in the region; the SLS projects and logstores the functions write to
(RECORDS_PROJECT/RECORDS_LOGSTORE and logConfig) exist; each function's role exists and its attached policies allow
every action of the policy file ram/<role>.json made concrete for the function (what `kms-steward policy` prints).
After a deploy: each function exists with its s.yaml role; each trigger exists as s.yaml declares it (type, cron and
enable, event pattern and switch); the asynchronous failure destination is the declared one; the newest record in each
records logstore and the newest invocation in the functions' log (none yet is not a failure: no event or timer may
have come).

Every call goes through `Clients.call` (counted, paced, throttling retried) and only reads. A check that cannot be made
(access denied, throttled past the retries, a network failure) is a failure naming the error code, never a crash. Each
failure carries its fix: a command, or the console step. Nothing printed holds a secret: records and invocations are
named by their time and outcome fields only.
"""
from __future__ import annotations

import fnmatch
import json
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from localcloud.ram_access import SLS_PROJECT_ARN, SettingError, function_policy
from localcloud.ram_policy import Policy, allow_grants, evaluate
from localcloud.serverless import FunctionSpec, ServerlessProject
from shared.clients import Clients, describe_error, error_code, is_not_found
from shared.config import _BUCKET_NAME

BEFORE, AFTER = "before deploy", "after deploy"
RECORD_WINDOW = timedelta(days=7)
# The fields a record's outcome is read from, first present wins (key-guard and secret-guard: decision; the sweeps and
# rotation: status / outcome). Nothing else of a record is printed.
OUTCOME_FIELDS = ("decision", "outcome", "status", "step")
FUNCTION_ARN = re.compile(r"acs:fc:([^:]*):([^:]*):functions/([^/]+)")
ROLE_NAME = re.compile(r"acs:ram::[^:]*:role/([A-Za-z0-9.@_-]{1,64})")
FC_TRUST = '{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["fc.aliyuncs.com"]}}],"Version":"1"}'


@dataclass(frozen=True)
class Check:
    """One check's verdict: `ok`, what was found (`detail`, one line) and, when it failed, how to fix it. `note`: it
    passed with nothing to show yet (no invocation before the first timer)."""

    phase: str
    name: str
    ok: bool
    detail: str
    fix: str = ""
    note: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Unsearchable(Exception):
    """GetLogs answered IndexConfigNotExist: the logstore takes logs, but without an index nothing can search them."""

    def __init__(self, project: str, logstore: str):
        super().__init__(f"{project}/{logstore}")
        self.project, self.logstore = project, logstore

    def check(self, phase: str, name: str) -> "Check":
        return Check(phase, name, False, f"{self.project}/{self.logstore} has no index: its logs cannot be searched "
                     "(IndexConfigNotExist)", f"create an index on the logstore {self.logstore} in project {self.project} "
                     "(SLS console: the logstore's query page, Enable; full-text is enough)")


class _CannotCheck(Exception):
    """A call of a check failed for a reason other than what the check looks for: the check fails with its code."""

    def __init__(self, api: str, exc: BaseException):
        super().__init__(f"{api}: {describe_error(exc)}")
        self.api, self.code = api, error_code(exc)


@dataclass
class Doctor:
    """The checks of one project against one account and region."""

    project: ServerlessProject
    clients: Clients
    region: str
    account_id: str = ""
    now: datetime | None = None  # the instant "the last 7 days" ends at (the local cloud's clock; else wall time)

    # ------------------------------------------------------------ running

    def run(self) -> list[Check]:
        checks: list[Check] = []
        for phase, step in ((BEFORE, self.trail), (BEFORE, self.state_buckets), (BEFORE, self.log_stores),
                            (BEFORE, self.roles), (AFTER, self.functions), (AFTER, self.records), (AFTER, self.invocations)):
            checks.extend(step(phase))
        return checks

    def _call(self, api: str, fn: Callable, *args, **kwargs):
        """`Clients.call`, a failure turned into _CannotCheck unless the caller looks for it (see `_find`)."""
        try:
            return self.clients.call(api, fn, *args, **kwargs)
        except Exception as exc:  # any SDK's error: named by its code, never raised out of doctor
            raise _CannotCheck(api, exc) from exc

    def _find(self, api: str, fn: Callable, *args, **kwargs):
        """The answer, or None when the service says the thing is not there (404, *NotExist, *NotFound, NoSuchBucket)."""
        try:
            return self.clients.call(api, fn, *args, **kwargs)
        except Exception as exc:
            if is_not_found(exc) or error_code(exc) in ("NoSuchBucket",):
                return None
            raise _CannotCheck(api, exc) from exc

    @staticmethod
    def _guarded(phase: str, name: str, make: Callable[[], Iterable[Check]], why: str) -> list[Check]:
        try:
            return list(make())
        except _CannotCheck as exc:
            return [Check(phase, name, False, f"could not check: {exc}",
                          f"let these credentials call {exc.api} ({why}), or retry if it was throttled ({exc.code})")]

    @property
    def specs(self) -> list[FunctionSpec]:
        return list(self.project.functions.values())

    def _settings(self, name: str) -> list[str]:
        """The distinct values of an environment variable over the functions, in s.yaml order, empty ones left out."""
        return list(dict.fromkeys(v for s in self.specs if (v := s.environment.get(name, "").strip())))

    # ------------------------------------------------------------ before deploy

    def trail(self, phase: str) -> list[Check]:
        from alibabacloud_actiontrail20200706 import models as at

        def checks():
            client = self.clients.actiontrail(self.region)
            trails = self._call("actiontrail:DescribeTrails", client.describe_trails,
                                at.DescribeTrailsRequest(include_shadow_trails=True)).body.trail_list or []
            if not trails:
                yield Check(phase, "actiontrail trail", False, f"no trail in {self.region}: EventBridge receives no ActionTrail "
                            "event, so no mutation reaches the guards",
                            f"aliyun actiontrail CreateTrail --Name kms-steward-trail --region {self.region} && "
                            f"aliyun actiontrail StartLogging --Name kms-steward-trail --region {self.region}")
                return
            statuses = {t.name: self._call("actiontrail:GetTrailStatus", client.get_trail_status,
                                           at.GetTrailStatusRequest(name=t.name)).body for t in trails}
            logging = [name for name, status in statuses.items() if status.is_logging]
            # KMS's mutations are write events: a trail of read events only records none of them
            writes = [t.name for t in trails if t.name in logging and (t.event_rw or "Write") in ("Write", "All")]
            if writes:
                yield Check(phase, "actiontrail trail", True, f"{', '.join(writes)} logging write events")
            elif logging:
                yield Check(phase, "actiontrail trail", False, f"{', '.join(logging)} logging read events only: no key "
                            "mutation is recorded", " && ".join(f"aliyun actiontrail UpdateTrail --Name {n} --EventRW All "
                                                               f"--region {self.region}" for n in logging))
            else:
                yield Check(phase, "actiontrail trail", False, f"{', '.join(statuses)} not logging: no event is recorded",
                            " && ".join(f"aliyun actiontrail StartLogging --Name {n} --region {self.region}" for n in statuses))
            yield from self._trail_delivery(phase, trails, statuses)

        return self._guarded(phase, "actiontrail trail", checks, "actiontrail:DescribeTrails, actiontrail:GetTrailStatus")

    def _trail_delivery(self, phase: str, trails: list, statuses: dict) -> Iterable[Check]:
        """The trail's logstore TRAIL_SLS_PROJECT / TRAIL_SLS_LOGSTORE name, when the functions are given one."""
        for spec in self.specs:
            project, logstore = spec.environment.get("TRAIL_SLS_PROJECT", ""), spec.environment.get("TRAIL_SLS_LOGSTORE", "")
            if project and logstore:
                break
        else:
            return
        arn = SLS_PROJECT_ARN.fullmatch(project)
        project = arn[1] if arn else project
        name = f"trail delivery {project}/{logstore}"
        trail = next((t for t in trails if (m := SLS_PROJECT_ARN.fullmatch(t.sls_project_arn or "")) and m[1] == project
                      and f"actiontrail_{t.name}" == logstore), None)
        if trail is None:
            trail_name = logstore.removeprefix("actiontrail_")
            yield Check(phase, name, False, f"no trail delivers to {project}/{logstore} (TRAIL_SLS_PROJECT/LOGSTORE)",
                        f"aliyun actiontrail UpdateTrail --Name {trail_name} --SlsProjectArn "
                        f"acs:log:{self.region}:{self.account_id or '<account id>'}:project/{project} --region {self.region} "
                        f"(the trail's logstore is actiontrail_<trail name>; or unset TRAIL_SLS_*)")
            return
        status = statuses[trail.name]
        if not status.is_logging or (trail.event_rw or "Write") not in ("Write", "All"):
            # the guards read write events there: a stopped trail, or one of read events, delivers none
            yield Check(phase, name, False, f"trail {trail.name} delivers there but is "
                        f"{'not logging' if not status.is_logging else 'of read events only'}",
                        f"aliyun actiontrail StartLogging --Name {trail.name} --region {self.region}" if not status.is_logging
                        else f"aliyun actiontrail UpdateTrail --Name {trail.name} --EventRW All --region {self.region}")
            return
        error = status.latest_delivery_log_service_error or status.latest_delivery_error
        if error:
            yield Check(phase, name, False, f"trail {trail.name}: last delivery failed: {error[:120]}",
                        f"let ActionTrail write to project {project} (its service role AliyunServiceRoleForActionTrail)")
            return
        when = status.latest_delivery_log_service_time or _millis(status.latest_delivery_time) or "nothing delivered yet"
        yield Check(phase, name, True, f"trail {trail.name} delivers there (latest: {when})")

    def state_buckets(self, phase: str) -> list[Check]:
        out = []
        for bucket in self._settings("STATE_BUCKET"):
            def check(bucket=bucket):
                if not _BUCKET_NAME.fullmatch(bucket):  # oss2 refuses such a name before any call
                    yield Check(phase, f"state bucket {bucket}", False, f"STATE_BUCKET={bucket!r} is not a bucket name: "
                                "the functions run without duplicate protection", "set STATE_BUCKET to a bucket name: 3-63 "
                                "lower-case letters, digits and hyphens, starting and ending with a letter or digit")
                    return
                found = self._find("oss:GetBucketInfo", self.clients.oss_bucket(bucket, self.region).get_bucket_info)
                if found is None:
                    yield Check(phase, f"state bucket {bucket}", False, f"no bucket {bucket} in {self.region} (STATE_BUCKET): no "
                                "duplicate protection, every audit cold", f"aliyun oss mb oss://{bucket} --region {self.region}")
                else:
                    yield Check(phase, f"state bucket {bucket}", True, f"exists in {self.region}")
            out += self._guarded(phase, f"state bucket {bucket}", check, f"oss:GetBucketInfo on {bucket}")
        return out

    def _log_targets(self) -> dict[str, list[str]]:
        """SLS project -> its logstores the functions write to (records, then logConfig), in s.yaml order."""
        targets: dict[str, list[str]] = {}
        for spec in self.specs:
            pairs = [(spec.environment.get("RECORDS_PROJECT", ""), spec.environment.get("RECORDS_LOGSTORE", "")),
                     ((spec.props.get("logConfig") or {}).get("project", ""), (spec.props.get("logConfig") or {}).get("logstore", ""))]
            for project, logstore in pairs:
                if project and logstore and logstore not in targets.setdefault(project, []):
                    targets[project].append(logstore)
        return targets

    def log_stores(self, phase: str) -> list[Check]:
        out = []
        client = self.clients.sls(self.region)
        for project, logstores in self._log_targets().items():
            def check(project=project, logstores=logstores):
                if self._find("sls:GetProject", client.get_project, project) is None:
                    yield Check(phase, f"sls project {project}", False, f"no SLS project {project} in {self.region}",
                                f"create the SLS project {project} in {self.region} (SLS console > Create Project), then "
                                f"its logstores {', '.join(logstores)}")
                    return
                yield Check(phase, f"sls project {project}", True, f"exists in {self.region}")
                for logstore in logstores:
                    if self._find("sls:GetLogStore", client.get_logstore, project, logstore) is None:
                        yield Check(phase, f"logstore {project}/{logstore}", False, f"no logstore {logstore} in project {project}",
                                    f"create the logstore {logstore} in project {project} (SLS console > project {project} "
                                    "> Create Logstore)")
                    else:
                        yield Check(phase, f"logstore {project}/{logstore}", True, "exists")
            out += self._guarded(phase, f"sls project {project}", check, "log:GetProject, log:GetLogStore")
        return out

    def roles(self, phase: str) -> list[Check]:
        """Each role once, against the policies of every function that runs with it (made concrete for each)."""
        wanted: dict[str, list[tuple[FunctionSpec, dict]]] = {}
        out = []
        for spec in self.specs:
            match = ROLE_NAME.fullmatch(spec.role or "")
            if match is None:
                out.append(Check(phase, f"role of {spec.resource}", False, f"s.yaml names no RAM role for {spec.function_name}",
                                 f"set `role: acs:ram::<account id>:role/<name>` for {spec.resource} in s.yaml"))
                continue
            try:
                found = function_policy(spec, Path(self.project.path).parent)
            except SettingError as exc:  # a setting that would widen the role's policy (ram_access.render_policy)
                out.append(Check(phase, f"role {match[1]}", False, f"{spec.resource}: {exc}",
                                 "set it to the one bucket, logstore, project or role it names, and deploy again"))
                continue
            if found is None:
                out.append(Check(phase, f"role {match[1]}", False, f"no policy file ram/{match[1]}.json for {spec.resource}",
                                 f"write ram/{match[1]}.json (README, Roles)"))
                continue
            wanted.setdefault(found[0], []).append((spec, found[1]))
        for role, uses in wanted.items():
            out += self._guarded(phase, f"role {role}", lambda role=role, uses=uses: self._role(phase, role, uses),
                                 f"ram:GetRole, ram:ListPoliciesForRole, ram:GetPolicy on {role}")
        return out

    def _role(self, phase: str, role: str, uses: list[tuple[FunctionSpec, dict]]) -> Iterable[Check]:
        from alibabacloud_ram20150501 import models as ram

        client = self.clients.ram(self.region)
        name = f"role {role}"
        resources = ", ".join(s.resource for s, _ in uses)
        found = self._find("ram:GetRole", client.get_role, ram.GetRoleRequest(role_name=role))
        if found is None:
            yield Check(phase, name, False, f"no RAM role {role} (the role of {resources})",
                        f"aliyun ram CreateRole --RoleName {role} --AssumeRolePolicyDocument '{FC_TRUST}', then attach "
                        f"ram/{role}.json as its policy (`kms-steward policy {uses[0][0].resource}`; README, Roles)")
            return
        trust = found.body.role.assume_role_policy_document if found.body.role else None
        if not _trusts_fc(trust):
            # FC cannot enter a role that does not trust it: the function would get no credentials at all
            yield Check(phase, f"{name} trust", False, f"{role} does not let Function Compute assume it "
                        f"(no Allow of sts:AssumeRole to the service fc.aliyuncs.com)",
                        f"aliyun ram UpdateRole --RoleName {role} --NewAssumeRolePolicyDocument '{FC_TRUST}'")
        attached = self._call("ram:ListPoliciesForRole", client.list_policies_for_role,
                              ram.ListPoliciesForRoleRequest(role_name=role)).body.policies
        policies = []
        for item in (attached.policy if attached else None) or []:
            body = self._call("ram:GetPolicy", client.get_policy,
                              ram.GetPolicyRequest(policy_name=item.policy_name, policy_type=item.policy_type)).body
            document = (body.default_policy_version.policy_document if body.default_policy_version else None) \
                or (body.policy.policy_document if body.policy else None)
            if document:
                policies.append(Policy.parse(item.policy_name, document))
        missing: dict[str, list[str]] = {}
        for spec, document in uses:
            for action, resource in allow_grants(document):
                if not evaluate(policies, action, resource, {}).allowed:
                    missing.setdefault(action, []).append(spec.resource)
        if missing:
            first = uses[0][0].resource
            yield Check(phase, name, False, f"its policies ({', '.join(p.name for p in policies) or 'none attached'}) do not allow "
                        f"{', '.join(sorted(missing))}",
                        f"attach ram/{role}.json to role {role} (`kms-steward policy {first}` prints it; aliyun ram "
                        f"CreatePolicyVersion --PolicyName {role} --SetAsDefault true --PolicyDocument \"$(kms-steward policy "
                        f"{first})\", or CreatePolicy and AttachPolicyToRole --PolicyType Custom --RoleName {role})")
        else:
            yield Check(phase, name, True, f"exists; {', '.join(p.name for p in policies)} allow every action of ram/{role}.json "
                        f"for {resources}")

    # ------------------------------------------------------------ after deploy

    def functions(self, phase: str) -> list[Check]:
        out = []
        for spec in self.specs:
            out += self._guarded(phase, f"function {spec.function_name}", lambda spec=spec: self._function(phase, spec),
                                 f"fc:GetFunction, fc:ListTriggers, fc:GetFunctionAsyncInvokeConfig on {spec.function_name}")
        return out

    def _function(self, phase: str, spec: FunctionSpec) -> Iterable[Check]:
        from alibabacloud_fc20230330 import models as fc

        region = spec.region or self.region
        client = self.clients.fc(region, self.account_id)
        name = spec.function_name
        found = self._find("fc:GetFunction", client.get_function, name, fc.GetFunctionRequest())
        if found is None:
            yield Check(phase, f"function {name}", False, f"not deployed in {region}", f"s deploy (creates {name}; README, "
                        "Deploying with Serverless Devs)")
            return
        deployed = found.body
        drift = []
        if _role_name(deployed.role) != _role_name(spec.role):
            drift.append(f"role {_role_name(deployed.role) or 'none'} (s.yaml: {_role_name(spec.role)})")
        log_config = spec.props.get("logConfig") or {}
        have = deployed.log_config
        if log_config and (have is None or (have.project, have.logstore) != (log_config.get("project"), log_config.get("logstore"))):
            drift.append(f"logConfig {have.project + '/' + have.logstore if have and have.project else 'none'} (s.yaml: "
                         f"{log_config.get('project')}/{log_config.get('logstore')})")
        if drift:
            yield Check(phase, f"function {name}", False, "differs from s.yaml: " + "; ".join(drift), f"s deploy {spec.resource}")
        else:
            yield Check(phase, f"function {name}", True, f"deployed in {region}, role {_role_name(deployed.role)}")
        yield from self._triggers(phase, spec, client)
        yield from self._async_config(phase, spec, client)

    def _triggers(self, phase: str, spec: FunctionSpec, client) -> Iterable[Check]:
        from alibabacloud_fc20230330 import models as fc

        declared = spec.props.get("triggers") or []
        if not declared:
            return
        deployed, token = {}, None
        while True:
            page = self._call("fc:ListTriggers", client.list_triggers, spec.function_name,
                              fc.ListTriggersRequest(limit=100, next_token=token)).body
            deployed.update({t.trigger_name: t for t in page.triggers or []})
            token = page.next_token
            if not token:
                break
        for raw in declared:
            trigger = raw["triggerName"]
            name = f"trigger {spec.function_name}/{trigger}"
            have = deployed.get(trigger)
            if have is None:
                yield Check(phase, name, False, f"no {raw.get('triggerType')} trigger {trigger} on {spec.function_name}",
                            f"s deploy {spec.resource} (creates the trigger {trigger})")
                continue
            drift = _trigger_drift(raw, have)
            if drift:
                yield Check(phase, name, False, "differs from s.yaml: " + "; ".join(drift), f"s deploy {spec.resource}")
            else:
                yield Check(phase, name, True, _trigger_summary(raw))

    def _async_config(self, phase: str, spec: FunctionSpec, client) -> Iterable[Check]:
        from alibabacloud_fc20230330 import models as fc

        wanted = spec.destination("onFailure")
        if not wanted:
            return
        name = f"failure destination of {spec.function_name}"
        found = self._find("fc:GetAsyncInvokeConfig", client.get_async_invoke_config, spec.function_name,
                           fc.GetAsyncInvokeConfigRequest())
        have = found.body.destination_config.on_failure.destination if (
            found is not None and found.body.destination_config and found.body.destination_config.on_failure) else None
        if _same_function(have, wanted):
            yield Check(phase, name, True, f"{_function_of(wanted)} ({spec.max_async_retries} retries first)")
        else:
            yield Check(phase, name, False, f"onFailure is {have or 'not set'}; s.yaml: {wanted}",
                        f"s deploy {spec.resource} (sets asyncInvokeConfig.destinationConfig.onFailure)")

    def records(self, phase: str) -> list[Check]:
        out = []
        seen = set()
        for spec in self.specs:
            target = (spec.environment.get("RECORDS_PROJECT", ""), spec.environment.get("RECORDS_LOGSTORE", ""))
            if not all(target) or target in seen:
                continue
            seen.add(target)
            project, logstore = target
            name = f"latest record {project}/{logstore}"

            def check(project=project, logstore=logstore, name=name):
                try:
                    latest = self._latest(project, logstore, None)
                except _Unsearchable as exc:
                    yield exc.check(phase, name)
                    return
                if latest is None:
                    yield Check(phase, name, True, "no record in the last 7 days (none is written before the first event "
                                "or timer)", note=True)
                    return
                when, contents = latest
                field = next((f for f in OUTCOME_FIELDS if contents.get(f)), None)
                outcome = f"{field} {contents[field]}" if field else "no outcome field"
                yield Check(phase, name, True, f"{when}: {outcome}")
            out += self._guarded(phase, name, check, f"log:GetLogStoreLogs on {project}/{logstore}")
        return out

    def invocations(self, phase: str) -> list[Check]:
        out = []
        for spec in self.specs:
            log_config = spec.props.get("logConfig") or {}
            project, logstore = log_config.get("project"), log_config.get("logstore")
            if not (project and logstore):
                continue
            name = f"latest invocation of {spec.function_name}"

            def check(project=project, logstore=logstore, name=name, spec=spec):
                # The function's own name as a full-text term: FC's log lines carry it (which field holds it is not relied on)
                try:
                    latest = self._latest(project, logstore, spec.function_name)
                except _Unsearchable as exc:
                    yield exc.check(phase, name)
                    return
                if latest is None:
                    yield Check(phase, name, True, f"no invocation yet in {project}/{logstore} (the last 7 days; not a failure "
                                "before the first event or timer)", note=True)
                    return
                when, contents = latest
                request = contents.get("requestId") or contents.get("request_id")
                yield Check(phase, name, True, f"{when}" + (f", request {request}" if request else ""))
            out += self._guarded(phase, name, check, f"log:GetLogStoreLogs on {project}/{logstore}")
        return out

    def _latest(self, project: str, logstore: str, query: str | None) -> tuple[str, dict] | None:
        """(its time, its contents) of the newest log of the last 7 days matching `query`, or None; a missing logstore
        is None too (its own check says so)."""
        end = self.now or datetime.now(timezone.utc)
        client = self.clients.sls(self.region)
        try:
            found = self.clients.call("sls:GetLogs", client.get_log, project, logstore,
                                      int((end - RECORD_WINDOW).timestamp()), int(end.timestamp()) + 1,
                                      query=query or "*", reverse=True, size=1)
        except Exception as exc:
            # Only a logstore or project that is not there is "nothing to show" (its own check fails for it); any
            # other refusal, IndexConfigNotExist included (a logstore without an index can never be searched), is a
            # check that could not be made.
            if error_code(exc) in ("LogStoreNotExist", "ProjectNotExist"):
                return None
            if error_code(exc) == "IndexConfigNotExist":
                raise _Unsearchable(project, logstore) from exc
            raise _CannotCheck("sls:GetLogs", exc) from exc
        logs = found.get_logs() if found is not None else []
        if not logs:
            return None
        log = logs[0]
        when = datetime.fromtimestamp(int(log.get_time()), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return when, dict(log.get_contents())


# ---------------------------------------------------------------- comparisons


FC_SERVICE = re.compile(r"(\d+@)?fc\.aliyuncs\.com")


def _trusts_fc(document: str | None) -> bool:
    """Whether a role's trust policy lets Function Compute assume it ("Principal": {"Service": ["fc.aliyuncs.com"]})."""
    try:
        statements = json.loads(document or "").get("Statement") or []
    except (ValueError, AttributeError):
        return False
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(isinstance(a, str) and fnmatch.fnmatchcase("sts:AssumeRole", a) for a in actions):
            continue
        services = (statement.get("Principal") or {}).get("Service") if isinstance(statement.get("Principal"), dict) else None
        services = services if isinstance(services, list) else [services]
        # "fc.aliyuncs.com", or the account-scoped "<account id>@fc.aliyuncs.com"
        if any(isinstance(v, str) and FC_SERVICE.fullmatch(v) for v in services):
            if statement["Effect"] == "Deny":
                return False  # a Deny wins over any Allow
            allowed = True
    return allowed


def _role_name(arn: str | None) -> str:
    match = ROLE_NAME.fullmatch(arn or "")
    return match[1].lower() if match else (arn or "")


def _function_of(arn: str | None) -> str:
    match = FUNCTION_ARN.fullmatch(arn or "")
    return match[3] if match else (arn or "")


def _same_function(have: str | None, wanted: str) -> bool:
    """Whether two fc3 function ARNs name the same function (an s.yaml ARN may hold an unresolved account id)."""
    a, b = FUNCTION_ARN.fullmatch(have or ""), FUNCTION_ARN.fullmatch(wanted)
    if a is None or b is None:
        return have == wanted
    same_account = a[2] == b[2] or "${" in b[2] or not b[2]
    return a[1] == b[1] and a[3] == b[3] and same_account


def _trigger_config(text: Any) -> dict:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pattern(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _trigger_drift(declared: dict, deployed) -> list[str]:
    """What of a deployed trigger differs from s.yaml: its type, a timer's cron and switch, an EventBridge trigger's
    pattern and switch."""
    drift = []
    kind = declared.get("triggerType")
    if deployed.trigger_type != kind:
        drift.append(f"type {deployed.trigger_type} (s.yaml: {kind})")
        return drift
    want, have = declared.get("triggerConfig") or {}, _trigger_config(deployed.trigger_config)
    if kind == "timer":
        if str(have.get("cronExpression")) != str(want.get("cronExpression")):
            drift.append(f"cron {have.get('cronExpression')} (s.yaml: {want.get('cronExpression')})")
        if bool(have.get("enable", True)) != bool(want.get("enable", True)):
            drift.append(f"enable {have.get('enable')} (s.yaml: {want.get('enable', True)})")
    elif kind == "eventbridge":
        if _pattern(have.get("eventRuleFilterPattern")) != _pattern(want.get("eventRuleFilterPattern")):
            drift.append("eventRuleFilterPattern differs")
        if bool(have.get("triggerEnable", True)) != bool(want.get("triggerEnable", True)):
            drift.append(f"triggerEnable {have.get('triggerEnable')} (s.yaml: {want.get('triggerEnable', True)})")
    return drift


def _trigger_summary(declared: dict) -> str:
    config = declared.get("triggerConfig") or {}
    if declared.get("triggerType") == "timer":
        return f"timer '{config.get('cronExpression')}', {'enabled' if config.get('enable', True) else 'disabled'}"
    if declared.get("triggerType") == "eventbridge":
        return f"eventbridge, pattern as s.yaml, {'enabled' if config.get('triggerEnable', True) else 'disabled'}"
    return str(declared.get("triggerType"))


def _millis(value: str | None) -> str:
    """LatestDeliveryTime (epoch milliseconds as text, the GetTrailStatus doc's example) as ISO 8601."""
    if not value or not str(value).isdigit():
        return value or ""
    return datetime.fromtimestamp(int(value) / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def passed(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)


def wall_clock() -> datetime:
    return datetime.fromtimestamp(time.time(), timezone.utc)
