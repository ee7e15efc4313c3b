"""Option types of the CLI: a bad value is the option's error ("Invalid value for '--now': ..."), given
before anything runs, never a traceback or a failure halfway through."""
from __future__ import annotations

import click

from localcloud.clock import iso, parse_time


class Instant(click.ParamType):
    """An ISO 8601 instant (2026-01-01T00:00:00Z, or with an offset; without one, UTC), normalised to UTC."""

    name = "INSTANT"

    def convert(self, value, param, ctx):
        try:
            return iso(parse_time(str(value)))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 instant (such as 2026-01-01T00:00:00Z)", param, ctx)


class KeyRef(click.ParamType):
    """A key id, alias or ARN: surrounding spaces dropped, and never empty (an empty id would be sent to KMS)."""

    name = "KEY"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if not text:
            self.fail("is empty: give the key's id, alias (alias/...) or ARN", param, ctx)
        if any(c.isspace() or not c.isprintable() for c in text):
            self.fail(f"{text[:60]!r} has spaces or control characters: no key id, alias or ARN has", param, ctx)
        return text


class StateOut(click.Path):
    """A file the account state is written to afterwards: checked writable now, so that a session's state is
    not lost at its end (a directory that does not exist, a path that is a directory, no permission)."""

    def __init__(self):
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        from localcloud.account import check_writable

        path = super().convert(value, param, ctx)
        try:
            check_writable(path)
        except OSError as exc:
            self.fail(f"{click.format_filename(path)!r} cannot be written ({exc.strerror or exc})", param, ctx)
        return path


INSTANT = Instant()
KEY_REF = KeyRef()
