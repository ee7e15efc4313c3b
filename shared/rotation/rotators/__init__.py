"""One rotator per kind of target system, one file each, registered in ROTATORS by the engine a secret
names (shared/rotation/credentials.py maps "postgres", "mariadb", ... onto these names).

A database rotator offers the few operations the strategies (shared/rotation/strategies.py) are built
from; each takes the credential to log in with and raises TargetError (already redacted) for anything but
the answer asked for. `logs_in` answers False only when the server refused the login itself (a wrong
password, an unknown user): a server that cannot be reached is an error, never "the password is not set",
so a step never acts on a guess.
"""
from __future__ import annotations

from typing import Protocol

from shared.rotation.credentials import DatabaseCredential
from shared.rotation.errors import Redactor, TargetError


class LoginCheck:
    """`logs_in` for a rotator whose `_connect(credential)` opens a session or raises TargetError, marked
    `auth_refused` when the server itself refused the login."""

    def logs_in(self, credential: DatabaseCredential) -> bool:
        try:
            self._connect(credential).close()
            return True
        except TargetError as exc:
            if getattr(exc, "auth_refused", False):
                return False
            raise


class DatabaseRotator(Protocol):
    name: str
    max_username_length: int

    def logs_in(self, credential: DatabaseCredential) -> bool:
        """Whether the server accepts this login (False only for an authentication refusal)."""

    def check(self, credential: DatabaseCredential) -> None:
        """Log in and make sure the session is that user; raises TargetError otherwise."""

    def change_own_password(self, credential: DatabaseCredential, new_password: str) -> None:
        """Log in as the credential's user and set that user's own password."""

    def user_exists(self, admin: DatabaseCredential, username: str) -> bool:
        ...

    def privileged(self, admin: DatabaseCredential, username: str) -> str | None:
        """Why `username` is too powerful to copy (superuser, may grant or create users), or None (also when
        it does not exist)."""

    def clone_user(self, admin: DatabaseCredential, source: str, new_username: str, password: str) -> None:
        """Create `new_username` with `password` and the grants `source` has."""

    def set_password(self, admin: DatabaseCredential, username: str, password: str) -> None:
        ...


def database_rotator(name: str, redactor: Redactor, *, timeout_s: float) -> DatabaseRotator:
    if name == "postgresql":
        from shared.rotation.rotators.postgresql import PostgresRotator

        return PostgresRotator(redactor, timeout_s=timeout_s)
    if name == "mysql":
        from shared.rotation.rotators.mysql import MySqlRotator

        return MySqlRotator(redactor, timeout_s=timeout_s)
    raise ValueError(f"no database rotator named {name!r}")
