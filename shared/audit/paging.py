"""NextToken paging, as ECS (and most newer APIs) page: ask again with the token until none comes back."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator


def pages_by_token(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Yield each page's response body; `fetch(token)` makes one call (token None for the first)."""
    token = None
    while True:
        body = fetch(token)
        yield body
        token = getattr(body, "next_token", None)
        if not token:
            return


def items_by_token(fetch: Callable[[str | None], Any], items_of: Callable[[Any], Iterable[Any] | None]) -> Iterator[Any]:
    """Every item of every page: `items_of(body)` picks a page's list out of its wrapper."""
    for body in pages_by_token(fetch):
        yield from items_of(body) or []
