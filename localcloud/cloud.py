"""LocalCloud: an offline Alibaba Cloud account the official SDKs talk to over HTTP.

    with LocalCloud(Account.load("account.yaml"), project="s.yaml") as cloud:
        cloud.endpoint("cn-hangzhou")   # "127.0.0.1:41231": give it to any SDK Config
        ...
        cloud.bus.drain()               # wait for EventBridge deliveries to functions
        cloud.account.dump("state.yaml")

Several accounts (a multi-account file, `Account.load_all`): `LocalCloud([home, member, ...])`. The first is the
home account, where the project's functions run and whose credentials `cloud.account` means outside a request.
Every request is served for the account that owns the AccessKey it is signed with (`acting_for`), as the real cloud
tells accounts apart by the caller's credential; STS AssumeRole (localcloud/products/sts.py) issues credentials in the
account whose role is entered, so its calls are served there.
"""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from pathlib import Path

from localcloud import catalog
from localcloud.account import Account, Credential, write_data
from localcloud.actiontrail import ActionTrail
from localcloud.clock import Clock, parse_time
from localcloud.eventbridge import EventBus
from localcloud.fc import FunctionRuntime, issue_role_credentials
from localcloud.gateway import CallCounter, Faults, Gateway, Listener, Network
from localcloud.products.oss import Oss
from localcloud.products.sls import Sls
from localcloud.ram_access import RamAccess, function_roles
from localcloud.serverless import ServerlessProject


def _check_port(port: int) -> None:
    """OSError unless 127.0.0.1:port can be listened on. Asked first because werkzeug's server, on a port in
    use, prints its own advice and exits the process instead of raising."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a TIME_WAIT port is free
        probe.bind(("127.0.0.1", port))


class LocalCloud:
    def __init__(self, account: Account | list[Account], *, project: str | Path | ServerlessProject | None = None,
                 clock: Clock | None = None, duplicate_delivery: bool = False, env: dict[str, str] | None = None,
                 network: Network | None = None):
        accounts = list(account) if isinstance(account, (list, tuple)) else [account]
        self.home = accounts[0]
        self.accounts: dict[str, Account] = {a.account_id: a for a in accounts}
        self._acting = threading.local()
        self.clock = clock or Clock()
        if isinstance(project, (str, Path)):
            project = ServerlessProject.load(project, account_id=self.home.account_id, env=env)
        self.project = project
        self.calls = CallCounter()
        self.ram = RamAccess(self)
        self.faults = Faults(self)
        self.network = network or Network()
        # Every POP product a module of localcloud/products defines (localcloud/catalog.py), by product code.
        self.products = {cls.code: cls(self) for cls in catalog.rpc_products()}
        self.products_by_version = {p.version: p for p in self.products.values()}
        self.roa_products = {cls.code: cls(self) for cls in catalog.roa_products()}
        self.roa_products_by_version = {p.version: p for p in self.roa_products.values()}
        self.oss = Oss(self)
        self.sls = Sls(self)
        self.trail = ActionTrail(self)
        self.fc = FunctionRuntime(self)
        self.bus = EventBus(self, duplicate_delivery=duplicate_delivery)
        self.gateway = Gateway(self)
        self.listeners: dict[str, Listener] = {}
        if self.project is not None:
            function_roles(self.project, self.ram)


    # ------------------------------------------------------------ lifecycle

    def start(self, port: int = 0) -> "LocalCloud":
        """Serve every region on 127.0.0.1: on free ports, or from `port` on (the first region on `port`, the
        next on port+1, ...). A port that cannot be bound raises OSError, nothing left listening."""
        try:
            for i, region in enumerate(self.region_ids):
                if port:
                    _check_port(port + i)
                listener = Listener(self.gateway, region, port + i if port else 0)
                listener.start()
                self.listeners[region] = listener
        except OSError:
            for listener in self.listeners.values():
                listener.stop()
            self.listeners.clear()
            raise
        self.bus.start()
        return self

    def stop(self) -> None:
        self.fc.drain(timeout=30)
        if not self.bus.held:  # a held bus delivers nothing more: waiting for it would only run out the timeout
            self.bus.drain(timeout=30)
        self.bus.stop()
        for listener in self.listeners.values():
            listener.stop()
        self.listeners.clear()

    def __enter__(self) -> "LocalCloud":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ accounts

    @property
    def account(self) -> Account:
        """The account being served: the caller's during a request (`acting_for`), else the home account."""
        return getattr(self._acting, "account", None) or self.home

    @account.setter
    def account(self, value: Account) -> None:
        self.home = value
        self.accounts[value.account_id] = value

    @property
    def region_ids(self) -> list[str]:
        """Every region of every account, the home account's first (each is served on its own listener)."""
        return list(dict.fromkeys(r for a in [self.home, *self.accounts.values()] for r in a.region_ids))

    def account_of_key(self, access_key_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.credential(access_key_id) is not None), None)

    @contextmanager
    def acting_for(self, access_key_id: str | None):
        """Serve what runs inside for the account owning `access_key_id` (the home account when none does:
        its authentication then refuses the key as the real cloud does)."""
        owner = self.account_of_key(access_key_id) if access_key_id else None
        before = getattr(self._acting, "account", None)
        self._acting.account = owner
        try:
            yield owner
        finally:
            self._acting.account = before

    # ------------------------------------------------------------ addressing

    @property
    def default_region(self) -> str:
        return self.home.region_ids[0]

    def endpoint(self, region: str | None = None) -> str:
        """host:port of a region's endpoint, for `Config(endpoint=..., protocol="http")`."""
        region = region or self.default_region
        if region not in self.listeners:
            raise KeyError(f"region {region} is not in the account (regions: {', '.join(self.listeners)})")
        return self.listeners[region].endpoint

    def endpoint_url(self, region: str | None = None) -> str:
        return f"http://{self.endpoint(region)}"

    def endpoint_override(self, default_region: str | None = None) -> str:
        """Every region's endpoint, as ALIBABA_CLOUD_ENDPOINT_OVERRIDE takes them (region=URL,...), then
        a default for regions the account does not have (they answer as the real cloud would there)."""
        regions = [f"{region}={self.endpoint_url(region)}" for region in self.listeners]
        return ",".join([*regions, self.endpoint_url(default_region)])

    # ------------------------------------------------------------ identity

    def assume_role(self, role_arn: str | None, *, session: str) -> Credential:
        """Issue temporary credentials for a role (what FC hands a function), dropping expired ones."""
        return self.issue_credentials(self.home, role_arn, session)

    def issue_credentials(self, account: Account, role_arn: str | None, session: str, seconds: int = 3600,
                          session_policy: str | None = None) -> Credential:
        """Temporary credentials of a role of `account` (kept in its credentials until they expire)."""
        now = self.clock.now()
        creds = issue_role_credentials(account.account_id, role_arn, session, now, seconds=seconds)
        creds.SessionPolicy = session_policy
        with account.lock:
            account.credentials = [c for c in account.credentials
                                   if not (c.SecurityToken and c.Expiration and parse_time(c.Expiration) <= now)]
            account.credentials.append(creds)
        return creds

    def state(self) -> dict:
        """The account as an account file holds it, without temporary credentials."""
        data = self.home.to_data()
        data["credentials"] = [c for c in data.get("credentials", []) if not c.get("SecurityToken")]
        return data

    def dump_state(self, path: str | Path) -> None:
        write_data(self.state(), path)
