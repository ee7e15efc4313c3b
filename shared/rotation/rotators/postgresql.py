"""PostgreSQL, through pg8000.

Why pg8000 (pure Python) and not psycopg: psycopg 3 needs libpq at run time, either from the system
(FC's python3.10 image is not documented to carry it) or from the psycopg-binary wheel, a compiled
package that s.yaml's pre-deploy must fetch for FC's exact platform. pg8000 and its dependencies
(scramp, asn1crypto, python-dateutil) are pure-Python wheels: they install the same way on any machine,
with no compiler and no system library, and run unchanged on FC. It speaks SCRAM-SHA-256 and TLS.

Passwords are never sent in clear: `ALTER ROLE ... PASSWORD` is given the SCRAM-SHA-256 verifier,
computed here, because "the password will be transmitted to the server in cleartext, and it might also
be logged in the client's command history or the server log" otherwise (PostgreSQL docs, ALTER ROLE and
CREATE ROLE, notes: https://www.postgresql.org/docs/current/sql-alterrole.html). A pre-hashed SCRAM
verifier is stored as is ("If the presented password string is already in MD5-encrypted or
SCRAM-encrypted format, then it is stored as-is", https://www.postgresql.org/docs/current/sql-createrole.html),
and logs in whatever password_encryption says (pg_hba `md5` also accepts a SCRAM verifier:
https://www.postgresql.org/docs/current/auth-password.html).

The alternate user of the alternating strategy is created `IN ROLE` the user it alternates with: a member
of that role, it inherits every privilege granted to it, the roles it belongs to and what it owns
(PostgreSQL docs, "Role Membership": https://www.postgresql.org/docs/current/role-membership.html).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import ssl

import pg8000.native
from pg8000.native import identifier, literal

from shared.rotation.credentials import DatabaseCredential
from shared.rotation.errors import Redactor, TargetError
from shared.rotation.rotators import LoginCheck

# SQLSTATE class 28, "Invalid Authorization Specification": 28P01 invalid_password, 28000 (no pg_hba entry, or
# an unknown user under some methods) (PostgreSQL docs, Appendix A "PostgreSQL Error Codes").
_AUTH_REFUSED = ("28P01", "28000")
SCRAM_ITERATIONS = 4096
# Predefined roles that read or write the server's files or run programs on it (PostgreSQL docs, "Predefined Roles").
_SERVER_ACCESS_ROLES = frozenset({"pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"})  # PostgreSQL's scram_iterations default


def scram_sha256_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The verifier PostgreSQL stores for `password` (RFC 5802 / RFC 7677 SCRAM-SHA-256; the text format
    `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` of pg_authid.rolpassword). PostgreSQL
    SASLprep-normalises the password first; for ASCII passwords, as GetRandomPassword makes, that changes nothing."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def tls_context(credential: DatabaseCredential) -> ssl.SSLContext | bool:
    """`"ssl": true`: TLS verifying the server's certificate and host name, against `ssl_ca` when given.
    Otherwise False: pg8000 would otherwise try TLS without verifying anything, which proves nothing about
    the server and hides a secret that should say "ssl": true."""
    if not credential.ssl:
        return False
    return ssl.create_default_context(cadata=credential.ssl_ca) if credential.ssl_ca else ssl.create_default_context()


class PostgresRotator(LoginCheck):
    name = "postgresql"
    max_username_length = 63  # NAMEDATALEN - 1 (PostgreSQL docs, "Identifiers and Key Words")

    def __init__(self, redactor: Redactor, *, timeout_s: float = 10.0):
        self.redactor = redactor
        self.timeout_s = timeout_s

    # ------------------------------------------------------------ connections

    def _connect(self, credential: DatabaseCredential) -> pg8000.native.Connection:
        self.redactor.add(credential.password)
        try:
            return pg8000.native.Connection(credential.username, host=credential.host, port=credential.port,
                                            password=credential.password, database=credential.dbname or "postgres",
                                            ssl_context=tls_context(credential), timeout=self.timeout_s,
                                            application_name="kms-steward-rotation")
        except Exception as exc:
            raise self._error(exc, f"logging in as {credential.username!r}") from None

    def _error(self, exc: BaseException, doing: str) -> TargetError:
        error = TargetError(self.redactor.reason(f"PostgreSQL at {doing}: {describe(exc)}"))
        error.auth_refused = sqlstate(exc) in _AUTH_REFUSED
        return error

    def _run(self, credential: DatabaseCredential, doing: str, *statements: tuple[str, dict]) -> list:
        conn = self._connect(credential)
        try:
            rows: list = []
            for sql, params in statements:
                rows = conn.run(sql, **params) or []
            return rows
        except Exception as exc:
            raise self._error(exc, doing) from None
        finally:
            try:
                conn.close()
            except Exception:
                pass

    # ------------------------------------------------------------ the operations strategies use

    def check(self, credential: DatabaseCredential) -> None:
        [[who]] = self._run(credential, f"checking the login of {credential.username!r}", ("SELECT current_user", {}))
        if who != credential.username:
            raise TargetError(f"PostgreSQL: a login as {credential.username!r} runs as {who!r}")

    def change_own_password(self, credential: DatabaseCredential, new_password: str) -> None:
        self.redactor.add(new_password)
        self._run(credential, f"changing the password of {credential.username!r}",
                  (f"ALTER ROLE {identifier(credential.username)} PASSWORD {literal(scram_sha256_verifier(new_password))}", {}))

    def user_exists(self, admin: DatabaseCredential, username: str) -> bool:
        rows = self._run(admin, f"looking up role {username!r}", ("SELECT 1 FROM pg_roles WHERE rolname = :name", {"name": username}))
        return bool(rows)

    def privileged(self, admin: DatabaseCredential, username: str) -> str | None:
        """SUPERUSER or CREATEROLE on the role or on any role it belongs to, directly or not (a member may SET ROLE
        to it: PostgreSQL docs, "Role Membership"), membership of the administrator's role, or of the predefined
        roles that reach the server's files and programs (PostgreSQL docs, "Predefined Roles")."""
        rows = self._run(admin, f"looking up the privileges of role {username!r}", (
            "WITH RECURSIVE up(oid) AS (SELECT oid FROM pg_roles WHERE rolname = :name "
            "UNION SELECT m.roleid FROM pg_auth_members m JOIN up ON m.member = up.oid) "
            "SELECT r.rolname, r.rolsuper, r.rolcreaterole FROM pg_roles r JOIN up ON r.oid = up.oid", {"name": username}))
        for rolname, rolsuper, rolcreaterole in rows:
            via = "" if rolname == username else f" through role {rolname!r}"
            if rolsuper:
                return f"SUPERUSER{via}"
            if rolcreaterole:
                return f"CREATEROLE{via}"
            if rolname == admin.username:
                return f"member of the administrator's role {rolname!r}"
            if rolname in _SERVER_ACCESS_ROLES:
                return f"member of {rolname}"
        return None

    def clone_user(self, admin: DatabaseCredential, source: str, new_username: str, password: str) -> None:
        self.redactor.add(password)
        if not self.user_exists(admin, source):
            raise TargetError(f"PostgreSQL: role {source!r}, whose grants the alternate user takes, does not exist")
        self._run(admin, f"creating role {new_username!r} in role {source!r}",
                  (f"CREATE ROLE {identifier(new_username)} LOGIN PASSWORD {literal(scram_sha256_verifier(password))} "
                   f"IN ROLE {identifier(source)}", {}))

    def set_password(self, admin: DatabaseCredential, username: str, password: str) -> None:
        self.redactor.add(password)
        self._run(admin, f"setting the password of {username!r}",
                  (f"ALTER ROLE {identifier(username)} PASSWORD {literal(scram_sha256_verifier(password))}", {}))


def sqlstate(exc: BaseException) -> str | None:
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return fields.get("C")


def describe(exc: BaseException) -> str:
    """The error's class, SQLSTATE and message (pg8000 carries the server's error fields as a dict: the
    message "M" never holds the statement)."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if fields is not None:
        return f"{fields.get('C', '?')} {fields.get('M', '')}".strip()
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause):
        text = f"{text} ({type(cause).__name__}: {cause})"
    return f"{type(exc).__name__}: {text}"
