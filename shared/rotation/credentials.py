"""The secret values rotation understands.

A database credential is a JSON object (the shape AWS's rotation templates made common, and what an
application reads to connect):

  {"engine": "postgresql" | "postgres" | "mysql" | "mariadb", "host": "...", "port": 5432,
   "username": "...", "password": "...", "dbname": "...",
   "ssl": true,            optional: connect over TLS, verifying the server's certificate and name
   "ssl_ca": "-----BEGIN CERTIFICATE-----..."}   optional: the CA to verify it with (PEM), e.g. the RDS CA;
                                                 without it the system's trusted CAs are used
Other fields are kept as they are in every new version.

A token is any value that is not a JSON object (the whole value is the token), or a JSON object with
"engine": "generic" whose "password" is the token. A value starting with `{` or `[` that does not parse as
JSON is refused, not taken for a token: it is a credential with a typo.

Parsing errors name the field, never its value; `repr` never shows a password.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from shared.rotation.errors import RotationRefused

# engine as written in the secret -> the rotator that serves it
ENGINES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql",
           "generic": "generic"}
_KNOWN = ("engine", "host", "port", "username", "password", "dbname", "ssl", "ssl_ca")


@dataclass(frozen=True)
class DatabaseCredential:
    engine: str  # as written in the secret (kept in new versions)
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str | None = None
    ssl: bool = False
    ssl_ca: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def rotator(self) -> str:
        return ENGINES[self.engine.lower()]

    def with_login(self, username: str, password: str) -> "DatabaseCredential":
        return replace(self, username=username, password=password)

    def to_secret_data(self) -> str:
        doc: dict[str, Any] = {**self.extra, "engine": self.engine, "host": self.host, "port": self.port,
                               "username": self.username, "password": self.password}
        if self.dbname is not None:
            doc["dbname"] = self.dbname
        if self.ssl:
            doc["ssl"] = True
        if self.ssl_ca:
            doc["ssl_ca"] = self.ssl_ca
        return json.dumps(doc, separators=(",", ":"))

    def same_server(self, other: "DatabaseCredential") -> bool:
        return (self.rotator, self.host.lower(), self.port) == (other.rotator, other.host.lower(), other.port)


@dataclass(frozen=True)
class Token:
    """A token with no target system: the whole value, or the "password" of an {"engine": "generic"} object."""

    value: str = field(repr=False)
    document: dict[str, Any] | None = field(default=None, repr=False)  # the JSON object it sits in, if any

    rotator = "generic"

    def with_value(self, value: str) -> "Token":
        return replace(self, value=value)

    def to_secret_data(self) -> str:
        if self.document is None:
            return self.value
        return json.dumps({**self.document, "password": self.value}, separators=(",", ":"))


SecretValue = DatabaseCredential | Token


def parse_secret_value(text: str, *, step: str = "plan", what: str = "the secret value") -> SecretValue:
    """The credential or token in a secret's value. Raises RotationRefused naming what is wrong (never the value)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip()[:1] in ("{", "["):
            # Meant as JSON (a database credential, most likely) but mistyped: rotating it as a token would replace
            # the credential with a bare password nothing can log in with. The parser's message and position name
            # no part of the text.
            raise RotationRefused(step, f"{what} starts like JSON but does not parse ({exc.msg} at line {exc.lineno} "
                                        f"column {exc.colno}): fix the JSON; a token must not start with {{ or [") from None
        doc = None
    except (ValueError, RecursionError):
        if text.lstrip()[:1] in ("{", "["):
            raise RotationRefused(step, f"{what} starts like JSON but cannot be read as JSON: fix it") from None
        doc = None
    if not isinstance(doc, dict):
        if not text:
            raise RotationRefused(step, f"{what} is empty")
        return Token(text)
    engine = doc.get("engine")
    if not isinstance(engine, str) or engine.lower() not in ENGINES:
        raise RotationRefused(step, f"{what} is a JSON object without a known engine (one of "
                                    f"{', '.join(sorted(ENGINES))}): nothing knows how to rotate it")
    if ENGINES[engine.lower()] == "generic":
        if not isinstance(doc.get("password"), str) or not doc["password"]:
            raise RotationRefused(step, f'{what} has engine "generic" but no "password" string to rotate')
        return Token(doc["password"], {k: v for k, v in doc.items() if k != "password"})
    problems = []
    for name in ("host", "username", "password"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            problems.append(f'"{name}" (a non-empty string)')
    port = doc.get("port")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        problems.append('"port" (a number from 1 to 65535)')
    if doc.get("dbname") is not None and not isinstance(doc.get("dbname"), str):
        problems.append('"dbname" (a string)')
    if not isinstance(doc.get("ssl", False), bool):
        problems.append('"ssl" (true or false)')
    if doc.get("ssl_ca") is not None and not isinstance(doc.get("ssl_ca"), str):
        problems.append('"ssl_ca" (PEM text)')
    if problems:
        raise RotationRefused(step, f"{what} lacks or mistypes {', '.join(problems)}")
    return DatabaseCredential(engine=engine, host=doc["host"], port=port, username=doc["username"], password=doc["password"],
                              dbname=doc.get("dbname"), ssl=bool(doc.get("ssl", False)), ssl_ca=doc.get("ssl_ca"),
                              extra={k: v for k, v in doc.items() if k not in _KNOWN})


def changed_apart_from_login(pending: SecretValue, current: SecretValue) -> list[str]:
    """The fields in which `current` differs from `pending` other than the login a rotation changes (a database
    credential's username and password, a token's value): their names only, never their values."""
    if isinstance(pending, DatabaseCredential) and isinstance(current, DatabaseCredential):
        changed = [name for name in ("engine", "host", "port", "dbname", "ssl", "ssl_ca")
                   if getattr(pending, name) != getattr(current, name)]
        return changed + sorted(str(k)[:40] for k in set(pending.extra) | set(current.extra)
                                if pending.extra.get(k) != current.extra.get(k))
    if isinstance(pending, Token) and isinstance(current, Token):
        before, after = pending.document or {}, current.document or {}
        if (pending.document is None) != (current.document is None):
            return ["the shape of the value (a plain token and a JSON object)"]
        return sorted(str(k)[:40] for k in set(before) | set(after) if before.get(k) != after.get(k))
    return ["the kind of value (a database credential and a token)"]
