"""How a secret's credential is replaced: one strategy per secret, chosen by its tag
`kms-steward:rotation-strategy` (a token ignores it: it has no user).

single-user (the default)
    The same user gets a new password. The user changes its own password, logged in with ACSCurrent (or
    ACSPrevious), so no administrator is needed. Between set_secret and finish_secret the database
    already takes only the new password while ACSCurrent still holds the old one: Alibaba's template
    calls this the "brief gap while credentials update" ("Rotate generic secrets by using Function
    Compute", https://www.alibabacloud.com/help/en/key-management-service/latest/use-function-compute-to-rotate-generic-secrets);
    the steps run back to back, and a run that stops in the gap is finished by the next.

alternating-users
    Two users take turns: `app` and `app_rt` (the "_rt" suffix of Alibaba's dual-account template, same
    page). Each rotation sets a new password on the user that is *not* current, so the old credential
    (now ACSPrevious) keeps working until the rotation after: no gap. The alternate user is created on
    first use, with the grants of the current one. This needs an administrator login, read from the
    secret named by the tag `kms-steward:rotation-admin-secret` (its ACSCurrent value, a credential for
    the same server); it is never the user rotated. Refused (never retried) when either user of the pair
    is the administrator or privileged (PostgreSQL: superuser or CREATEROLE, itself or through a role it
    belongs to; MySQL/MariaDB: a grant WITH GRANT OPTION, or SUPER, ALL PRIVILEGES, CREATE USER ... on *.*),
    and the administrator creates or resets a user only once the current value has logged in, and only the
    other user of ACSCurrent's pair: whoever can write the secret must not be able to name a user (another
    secret's) and get a login with its grants, or break that secret's credentials.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from shared.rotation.credentials import DatabaseCredential, SecretValue, Token, parse_secret_value
from shared.rotation.errors import Redactor, RotationRefused, TargetError
from shared.rotation.rotators import DatabaseRotator, database_rotator
from shared.rotation.rotators.generic_token import GenericTokenRotator

STRATEGY_TAG = "kms-steward:rotation-strategy"
ADMIN_SECRET_TAG = "kms-steward:rotation-admin-secret"
SINGLE_USER = "single-user"
ALTERNATING_USERS = "alternating-users"
GENERIC = "generic"
ALTERNATE_SUFFIX = "_rt"


def alternate_of(username: str) -> str:
    """The other user of an alternating pair: app <-> app_rt."""
    return username[: -len(ALTERNATE_SUFFIX)] if username.endswith(ALTERNATE_SUFFIX) else username + ALTERNATE_SUFFIX


class TokenPlan:
    kind = GENERIC

    def __init__(self):
        self.rotator = GenericTokenRotator()

    def next_value(self, current: SecretValue, new_password: str) -> SecretValue:
        if not isinstance(current, Token):
            raise RotationRefused("create_secret", "the current value is a database credential, not a token")
        return self.rotator.next_value(current, new_password)

    def pairs_with(self, pending: SecretValue, current: SecretValue) -> bool:
        return True  # a token has no user

    def set(self, pending: SecretValue, current: SecretValue | None, previous: SecretValue | None, *,
            pending_is_new: bool = False, others=None) -> str:
        return "nothing to set (no target system)"

    def test(self, pending: SecretValue, current: SecretValue | None) -> None:
        if not isinstance(pending, Token):
            raise TargetError("the pending value is not a token")
        self.rotator.check(pending, current if isinstance(current, Token) else None)


@dataclass
class SingleUserPlan:
    rotator: DatabaseRotator
    kind = SINGLE_USER

    def next_value(self, current: SecretValue, new_password: str) -> SecretValue:
        return _credential(current, "create_secret").with_login(_credential(current, "create_secret").username, new_password)

    def pairs_with(self, pending: SecretValue, current: SecretValue) -> bool:
        """The pending value is for ACSCurrent's user (single user: the same user gets a new password)."""
        return isinstance(pending, DatabaseCredential) and isinstance(current, DatabaseCredential) \
            and pending.username == current.username

    def set(self, pending: SecretValue, current: SecretValue | None, previous: SecretValue | None, *,
            pending_is_new: bool = False, others: Callable[[], list[tuple[str, SecretValue]]] | None = None) -> str:
        """`pending_is_new`: create_secret made the pending value in this very run, so it cannot be set yet (a
        login attempt with it is skipped). Otherwise a retry may find it already set.
        `others()`: the values of the versions that hold no stage any more, newest first. Tried last: a
        rotation abandoned after its set_secret (its pending stage removed), or overtaken by another run,
        left the database with a password that only such a version still holds."""

        def logins():
            yield "ACSCurrent", current
            yield "ACSPrevious", previous
            for label, value in (others() if others else []):
                yield label, value

        pending = _credential(pending, "set_secret")
        if not pending_is_new and self.rotator.logs_in(pending):
            return "already set: the pending password logs in"
        for label, login in logins():
            if not (isinstance(login, DatabaseCredential) and login.username == pending.username and login.same_server(pending)):
                continue
            try:
                self.rotator.change_own_password(login, pending.password)
            except TargetError as exc:
                if getattr(exc, "auth_refused", False):
                    continue  # this stored password is not the database's: try the next one
                raise
            return f"password of {pending.username!r} changed (logged in with {label})"
        raise TargetError(f"no stored password of {pending.username!r} logs in (pending, ACSCurrent, ACSPrevious, the "
                          "versions without a stage): its password was changed outside the rotation")

    def test(self, pending: SecretValue, current: SecretValue | None) -> None:
        self.rotator.check(_credential(pending, "test_secret"))


@dataclass
class AlternatingUsersPlan:
    rotator: DatabaseRotator
    admin: DatabaseCredential
    kind = ALTERNATING_USERS

    def next_value(self, current: SecretValue, new_password: str) -> SecretValue:
        current = _credential(current, "create_secret")
        other = alternate_of(current.username)
        if len(other) > self.rotator.max_username_length:
            raise RotationRefused("create_secret", f"the alternate user {other!r} would be longer than the "
                                                   f"{self.rotator.max_username_length} characters the engine allows")
        # Refused before anything is stored: a pending version that can never be set would only fail every run.
        self._refuse_privileged("create_secret", current.username, other)
        # Proven whether or not the alternate user exists yet: an existing one gets its password reset by the
        # administrator, and a secret naming another secret's user (with any password) must not be able to reset
        # the other user of that pair (a login with its grants for whoever wrote this secret, and the other
        # secret's ACSCurrent or ACSPrevious broken).
        self._require_login("create_secret", current, other)
        return current.with_login(other, new_password)

    def pairs_with(self, pending: SecretValue, current: SecretValue) -> bool:
        """The pending value is for the other user of ACSCurrent's pair (app <-> app_rt)."""
        return isinstance(pending, DatabaseCredential) and isinstance(current, DatabaseCredential) \
            and pending.username == alternate_of(current.username)

    def _refuse_privileged(self, step: str, *usernames: str) -> None:
        """Alternating users gives a second login the grants of the first (PostgreSQL: membership of its role;
        MySQL: its SHOW GRANTS replayed): for the administrator, or any user that can grant, create roles or
        act as superuser, that is a second administrator made from a value whoever can write the secret chose."""
        for username in usernames:
            if username == self.admin.username:
                raise RotationRefused(step, f"user {username!r} is the administrator of the admin secret: "
                                            f"{ALTERNATING_USERS} would give a second user its grants")
            why = self.rotator.privileged(self.admin, username)
            if why:
                raise RotationRefused(step, f"user {username!r} is privileged ({why}): {ALTERNATING_USERS} copies grants "
                                            "to a second user only for unprivileged application users; use "
                                            f"{SINGLE_USER} for it")

    def _require_login(self, step: str, current: SecretValue | None, new_username: str) -> None:
        if not (isinstance(current, DatabaseCredential) and current.same_server(self.admin)
                and self.rotator.logs_in(current)):
            raise RotationRefused(step, f"the current value does not log in: the administrator neither creates nor resets "
                                        f"user {new_username!r} for a secret whose stored password is not the database's "
                                        "(it may name another secret's user)")

    def set(self, pending: SecretValue, current: SecretValue | None, previous: SecretValue | None, *,
            pending_is_new: bool = False, others=None) -> str:
        pending = _credential(pending, "set_secret")
        if pending.username == self.admin.username:
            raise RotationRefused("set_secret", f"the user to rotate, {pending.username!r}, is the administrator itself")
        if not pending.same_server(self.admin):
            raise RotationRefused("set_secret", "the administrator secret is for another server")
        # The administrator acts only on the other user of ACSCurrent's pair: a pending version stored by hand
        # naming any other user (another secret's) is no authority to reset or create it.
        if not self.pairs_with(pending, current):
            raise RotationRefused("set_secret", f"the pending user {pending.username!r} is not the alternate of the "
                                                "ACSCurrent user: the administrator acts only on the secret's own pair")
        source = current.username
        self._refuse_privileged("set_secret", pending.username, source)
        if not pending_is_new and self.rotator.logs_in(pending):
            return "already set: the pending password logs in"
        # Reset or cloned only for a pair proven by ACSCurrent's own stored password: the username in the secret
        # alone is no authority to reset another login or copy grants.
        self._require_login("set_secret", current, pending.username)
        if self.rotator.user_exists(self.admin, pending.username):
            self.rotator.set_password(self.admin, pending.username, pending.password)
            return f"password of {pending.username!r} set"
        self.rotator.clone_user(self.admin, source, pending.username, pending.password)
        return f"user {pending.username!r} created with the grants of {source!r}"

    def test(self, pending: SecretValue, current: SecretValue | None) -> None:
        self.rotator.check(_credential(pending, "test_secret"))


Plan = TokenPlan | SingleUserPlan | AlternatingUsersPlan


def _credential(value: SecretValue | None, step: str) -> DatabaseCredential:
    if not isinstance(value, DatabaseCredential):
        raise RotationRefused(step, "the value is a token where a database credential was expected")
    return value


def build_plan(value: SecretValue, tags: dict[str, str], *, redactor: Redactor, read_admin: Callable[[str], str],
               timeout_s: float) -> Plan:
    """The strategy and rotator for a secret whose ACSCurrent (or pending) value is `value`. `read_admin(name)`
    returns the ACSCurrent value of the administrator secret. Raises RotationRefused."""
    if isinstance(value, Token):
        return TokenPlan()
    strategy = (tags.get(STRATEGY_TAG) or SINGLE_USER).strip().lower()
    rotator = database_rotator(value.rotator, redactor, timeout_s=timeout_s)
    if strategy == SINGLE_USER:
        return SingleUserPlan(rotator)
    if strategy != ALTERNATING_USERS:
        raise RotationRefused("plan", f"tag {STRATEGY_TAG} must be {SINGLE_USER} or {ALTERNATING_USERS}")
    admin_name = (tags.get(ADMIN_SECRET_TAG) or "").strip()
    if not admin_name:
        raise RotationRefused("plan", f"{ALTERNATING_USERS} needs an administrator: tag {ADMIN_SECRET_TAG} with the name "
                                      "of the secret holding its login")
    admin = parse_secret_value(read_admin(admin_name), what=f"the administrator secret {admin_name!r}")
    if not isinstance(admin, DatabaseCredential):
        raise RotationRefused("plan", f"the administrator secret {admin_name!r} holds no database credential")
    redactor.add(admin.password)
    if not admin.same_server(value):
        raise RotationRefused("plan", f"the administrator secret {admin_name!r} is for another server")
    return AlternatingUsersPlan(rotator, admin)
