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


def items_by_number(fetch: Callable[[int], Any], items_of: Callable[[Any], Iterable[Any] | None],
                    total_of: Callable[[Any], int | None], page_size: int, concurrency: int = 8,
                    keep: Callable[[Any], Any] = lambda item: item) -> list[Any]:
    """Every item of a PageNumber/PageSize listing. The first page tells the total; the remaining pages
    are fetched concurrently (they are independent), and items come back in page order. `keep` reduces
    each item as its page lands (a name instead of the whole SDK model), so a listing of tens of
    thousands never sits in memory whole."""
    from shared.audit.fanout import fan_out

    def kept(body) -> list:
        return [keep(item) for item in items_of(body) or []]

    first = fetch(1)
    items = kept(first)
    total = total_of(first) or 0
    pages = -(-total // page_size)
    for page in fan_out(lambda number: kept(fetch(number)), range(2, pages + 1), concurrency):
        items += page
    return items
