"""MySQL and MariaDB, through PyMySQL (pure Python: installs and runs on FC's python3.10 with nothing
compiled; speaks TLS, given an ssl.SSLContext).

Statements are sent with PyMySQL's parameter escaping, never assembled by hand from values. A password
does appear in the statement text (`IDENTIFIED BY %s`), so a server error quoting the statement
("... near '...'") would carry it: every message is redacted before it leaves this file.

Own password (single user): MariaDB lets a user change its own password with
`SET PASSWORD = PASSWORD('...')` ("SET PASSWORD", https://mariadb.com/kb/en/set-password/), while its
ALTER USER needs the CREATE USER privilege even for oneself (seen on MariaDB 10.11); MySQL 5.7.6+ and 8
take `ALTER USER CURRENT_USER() IDENTIFIED BY '...'` with no privilege (MySQL docs, "ALTER USER
Statement") and dropped PASSWORD().

Alternate user (alternating users): created for every host the original user has, with the original's
grants: each line of `SHOW GRANTS FOR` is replayed for the new account, the `IDENTIFIED BY PASSWORD '<hash>'`
clause MariaDB adds to the USAGE line taken out (it would set the original's password). This is the
approach of Alibaba's dual-account sample ("Rotate generic secrets by using Function Compute",
https://www.alibabacloud.com/help/en/key-management-service/latest/use-function-compute-to-rotate-generic-secrets)
and AWS's multi-user MySQL rotation template.
"""
from __future__ import annotations

import re
import ssl

import pymysql

from shared.rotation.credentials import DatabaseCredential
from shared.rotation.errors import Redactor, TargetError
from shared.rotation.rotators import LoginCheck

# ER_ACCESS_DENIED_ERROR (1045): a wrong password, an unknown user, or a user refused this way in (no TLS for a
# REQUIRE SSL user); ER_ACCESS_DENIED_NO_PASSWORD_ERROR (1698) (MariaDB / MySQL server error references).
_AUTH_REFUSED = (1045, 1698)
# The password clause MariaDB's SHOW GRANTS adds to the USAGE line, and the authentication clause it may add instead.
_IDENTIFIED = re.compile(r"\s+IDENTIFIED\s+(?:BY\s+PASSWORD\s+'[^']*'|VIA\s+.*?(?=\s+REQUIRE\b|\s+WITH\b|$))", re.I)


def tls_context(credential: DatabaseCredential) -> ssl.SSLContext | None:
    if not credential.ssl:
        return None
    return ssl.create_default_context(cadata=credential.ssl_ca) if credential.ssl_ca else ssl.create_default_context()


def quoted_account(user: str, host: str) -> str:
    """`user`@`host` as SHOW GRANTS writes an account (backticks doubled inside)."""
    return "`{}`@`{}`".format(user.replace("`", "``"), host.replace("`", "``"))


class MySqlRotator(LoginCheck):
    name = "mysql"
    # MariaDB allows 80 characters, MySQL 5.7.8+ 32 (each server's "CREATE USER" reference); the smaller is held to.
    # (Alibaba's template says account names with the _rt suffix may not exceed 16 characters: an RDS limit.)
    max_username_length = 32

    def __init__(self, redactor: Redactor, *, timeout_s: float = 10.0):
        self.redactor = redactor
        self.timeout_s = timeout_s

    def _connect(self, credential: DatabaseCredential):
        self.redactor.add(credential.password)
        try:
            return pymysql.connect(host=credential.host, port=credential.port, user=credential.username,
                                   password=credential.password, database=credential.dbname or None,
                                   # "ssl": false is plain: PyMySQL 1.2 would otherwise try TLS verifying nothing
                                   ssl=tls_context(credential), ssl_disabled=not credential.ssl, connect_timeout=self.timeout_s, read_timeout=self.timeout_s * 3,
                                   write_timeout=self.timeout_s * 3, autocommit=True, program_name="kms-steward-rotation")
        except Exception as exc:
            raise self._error(exc, f"logging in as {credential.username!r}") from None

    def _error(self, exc: BaseException, doing: str) -> TargetError:
        error = TargetError(self.redactor.reason(f"MySQL at {doing}: {describe(exc)}"))
        error.auth_refused = error_number(exc) in _AUTH_REFUSED
        return error

    def _session(self, credential: DatabaseCredential, doing: str, work):
        conn = self._connect(credential)
        try:
            with conn.cursor() as cursor:
                return work(conn, cursor)
        except TargetError:
            raise
        except Exception as exc:
            raise self._error(exc, doing) from None
        finally:
            try:
                conn.close()
            except Exception:
                pass

    # ------------------------------------------------------------ the operations strategies use

    def check(self, credential: DatabaseCredential) -> None:
        def work(conn, cursor):
            cursor.execute("SELECT CURRENT_USER()")
            return cursor.fetchone()[0]

        who = self._session(credential, f"checking the login of {credential.username!r}", work)
        if str(who).rsplit("@", 1)[0] != credential.username:
            raise TargetError(f"MySQL: a login as {credential.username!r} runs as {str(who)[:80]!r}")

    def change_own_password(self, credential: DatabaseCredential, new_password: str) -> None:
        self.redactor.add(new_password)

        def work(conn, cursor):
            if "mariadb" in conn.get_server_info().lower():
                cursor.execute("SET PASSWORD = PASSWORD(%s)", (new_password,))
            else:
                cursor.execute("ALTER USER CURRENT_USER() IDENTIFIED BY %s", (new_password,))

        self._session(credential, f"changing the password of {credential.username!r}", work)

    def _hosts(self, cursor, username: str) -> list[str]:
        cursor.execute("SELECT Host FROM mysql.user WHERE User = %s ORDER BY Host", (username,))
        return [row[0] for row in cursor.fetchall()]

    def user_exists(self, admin: DatabaseCredential, username: str) -> bool:
        return bool(self._session(admin, f"looking up user {username!r}", lambda conn, cursor: self._hosts(cursor, username)))

    def privileged(self, admin: DatabaseCredential, username: str) -> str | None:
        """A grant WITH GRANT OPTION (or WITH ADMIN OPTION, for roles), a global grant (ON *.*) of ALL PRIVILEGES,
        SUPER, CREATE USER, FILE or the like, or any grant on the `mysql` schema (the grant tables): each lets
        the user make or become another administrator (MariaDB "GRANT", MySQL "Privileges Provided by MySQL")."""

        def work(conn, cursor):
            for host in self._hosts(cursor, username):
                cursor.execute("SHOW GRANTS FOR %s@%s", (username, host))
                for (grant,) in cursor.fetchall():
                    why = grant_privilege(str(grant))
                    if why:
                        return f"{why} for {username}@{host}"
            return None

        return self._session(admin, f"looking up the grants of {username!r}", work)

    def clone_user(self, admin: DatabaseCredential, source: str, new_username: str, password: str) -> None:
        self.redactor.add(password)

        def work(conn, cursor):
            hosts = self._hosts(cursor, source)
            if not hosts:
                raise TargetError(f"MySQL: user {source!r}, whose grants the alternate user takes, does not exist")
            created: list[str] = []
            try:
                for host in hosts:
                    cursor.execute("SHOW GRANTS FOR %s@%s", (source, host))
                    grants = [row[0] for row in cursor.fetchall()]
                    cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (new_username, host, password))
                    created.append(host)
                    old, new = quoted_account(source, host), quoted_account(new_username, host)
                    for grant in grants:
                        if not grant.upper().startswith(("GRANT ", "SET DEFAULT ROLE ")) or old not in grant:
                            continue
                        # The account follows TO (or FOR, in SET DEFAULT ROLE): replace that one, not a role of the same name.
                        head, sep, tail = grant.rpartition((" TO " if grant.upper().startswith("GRANT ") else " FOR ") + old)
                        # The password clause follows the account: stripped from the tail only. Run over the whole line it
                        # would also cut into a user name holding "IDENTIFIED VIA ..." and send the grant to another account.
                        statement = f"{head}{sep.replace(old, new)}{_IDENTIFIED.sub('', tail)}" if sep else None
                        if statement:
                            cursor.execute(statement)  # no args: PyMySQL sends it as is (no % formatting)
            except Exception:
                # A user created without all its grants would log in, be promoted, and lack what the application needs:
                # dropped, so the next run clones it again (or fails the same way, loudly) instead of resetting its password.
                for host in created:
                    try:
                        cursor.execute("DROP USER %s@%s", (new_username, host))
                    except Exception:
                        pass
                raise

        self._session(admin, f"creating user {new_username!r} with the grants of {source!r}", work)

    def set_password(self, admin: DatabaseCredential, username: str, password: str) -> None:
        self.redactor.add(password)

        def work(conn, cursor):
            hosts = self._hosts(cursor, username)
            if not hosts:
                raise TargetError(f"MySQL: user {username!r} does not exist")
            for host in hosts:
                cursor.execute("ALTER USER %s@%s IDENTIFIED BY %s", (username, host, password))

        self._session(admin, f"setting the password of {username!r}", work)


# Global privileges that administer the server or its accounts (MySQL "Privileges Provided by MySQL", static and
# dynamic; MariaDB "GRANT", global privileges).
_ADMIN_PRIVILEGES = frozenset({"ALL", "ALL PRIVILEGES", "SUPER", "CREATE USER", "GRANT OPTION", "FILE", "SHUTDOWN", "RELOAD",
                               "SYSTEM_USER", "ROLE_ADMIN", "SET_USER_ID", "SET_ANY_DEFINER", "SYSTEM_VARIABLES_ADMIN",
                               "CONNECTION_ADMIN", "BINLOG ADMIN", "REPLICATION MASTER ADMIN", "READ_ONLY ADMIN"})
_GRANT_LINE = re.compile(r"GRANT\s+(?P<privileges>.+?)\s+ON\s+(?P<target>\S+)\s+TO\s", re.I | re.S)


def grant_privilege(grant: str) -> str | None:
    """What makes one SHOW GRANTS line an administrator's, or None."""
    upper = " ".join(grant.upper().split())
    if "WITH GRANT OPTION" in upper:
        return "WITH GRANT OPTION"
    if "WITH ADMIN OPTION" in upper:
        return "WITH ADMIN OPTION"
    match = _GRANT_LINE.match(upper)
    if not match:
        return None
    target = match["target"].replace("`", "")
    if target.startswith("MYSQL."):
        return "a grant on the mysql schema"
    if target != "*.*":
        return None
    privileges = {p.strip() for p in re.sub(r"\([^)]*\)", "", match["privileges"]).split(",")}
    found = sorted(privileges & _ADMIN_PRIVILEGES)
    return f"{', '.join(found)} ON *.*" if found else None


def error_number(exc: BaseException) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def describe(exc: BaseException) -> str:
    number = error_number(exc)
    if number is not None and len(exc.args) > 1:
        return f"{number} {exc.args[1]}"
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause):
        text = f"{text} ({type(cause).__name__}: {cause})"
    return f"{type(exc).__name__}: {text}"
