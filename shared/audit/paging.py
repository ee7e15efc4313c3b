"""Listings that never end early and still call themselves complete.

Three ways the APIs page, one helper each:
- NextToken (ECS, and OSS's NextMarker): ask again with the token until none comes back;
- PageNumber/PageSize (KMS ListSecrets, PolarDB, NAS, Redis, MongoDB, ECS DescribeImages, ACK): the
  first page tells the total;
- offset/size (SLS): ask from where the items received so far end.

A service may cap the page size below the one asked without saying so (many clamp an out-of-range
PageSize to their maximum), leave the total out, or let items shift between pages while they are read
(one created or deleted meanwhile). So the page size is the one the answer reports when it has one,
else the number of items that came back; a missing total means asking page after page until a short or
empty one; and a listing is complete only when the answers show every item was seen. When they do not,
IncompleteListing is raised: the audit runner turns it into an incomplete scanner, which the guard
reads as "may have dependents". A server that answers the same page or token forever meets an error
too, never an endless loop.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

from shared.audit.fanout import fan_out

# A bound on a server that never stops answering full pages: no listing the scanners read comes near
# it (a million items at 100 a page), yet it ends a broken one.
MAX_PAGES = 10_000
DEFAULT_CONCURRENCY = 8


class IncompleteListing(RuntimeError):
    """A listing whose answers do not show that every item was seen. `code` and `message` are what the
    audit's reason is made of, as for an API error."""

    code = "IncompleteListing"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ListingShifted(IncompleteListing):
    """Items moved between pages while they were listed: the listing is worth one more reading."""


def _as_is(item: Any) -> Any:
    return item


# ---------------------------------------------------------------- NextToken


def _next_token(body: Any) -> Optional[str]:
    return getattr(body, "next_token", None)


def pages_by_token(fetch: Callable[[Optional[str]], Any], next_of: Callable[[Any], Optional[str]] = _next_token,
                   api: str = "the API") -> Iterator[Any]:
    """Yield each page's response body; `fetch(token)` makes one call (token None for the first) and
    `next_of(body)` reads the token of the next page (None or "" at the end). A token that comes back a
    second time would loop forever: it raises IncompleteListing, as does a listing past MAX_PAGES."""
    token, seen = None, set()
    for _ in range(MAX_PAGES):
        body = fetch(token)
        yield body
        token = next_of(body)
        if not token:
            return
        if token in seen:
            raise IncompleteListing(f"{api} answered the same next-page token twice: the listing loops")
        seen.add(token)
    raise IncompleteListing(f"{api} still answered a next-page token after {MAX_PAGES} pages")


def items_by_token(fetch: Callable[[Optional[str]], Any], items_of: Callable[[Any], Iterable[Any] | None],
                   next_of: Callable[[Any], Optional[str]] = _next_token, api: str = "the API") -> Iterator[Any]:
    """Every item of every page: `items_of(body)` picks a page's list out of its wrapper."""
    for body in pages_by_token(fetch, next_of, api):
        yield from items_of(body) or []


# ---------------------------------------------------------------- pages as read


@dataclass
class _Page:
    """One answer of a listing, reduced to what the checks need and the items the caller keeps."""

    items: list  # the kept items (`keep` applied)
    received: int  # how many items the answer carried
    total: Optional[int]  # the total it reports; None when missing (or 0 beside items: no total at all)
    size: Optional[int]  # the page size it reports, if any
    fingerprint: Optional[int]  # identifies the items it carried; None for an empty page


@dataclass
class _Reader:
    """Makes one call and reduces its answer to a _Page."""

    fetch: Callable[[Any], Any]
    items_of: Callable[[Any], Iterable[Any] | None]
    total_of: Callable[[Any], Optional[int]]
    size_of: Optional[Callable[[Any], Optional[int]]]
    keep: Callable[[Any], Any]
    key: Optional[Callable[[Any], Any]]

    def __call__(self, where: Any) -> _Page:
        body = self.fetch(where)
        raw = list(self.items_of(body) or [])
        kept = [self.keep(item) for item in raw]
        return _Page(items=kept, received=len(raw), total=_reported_total(self.total_of(body), len(raw)),
                     size=self.size_of(body) if self.size_of else None, fingerprint=self._fingerprint(raw, kept))

    def _fingerprint(self, raw: list, kept: list) -> Optional[int]:
        if not raw:
            return None
        if self.key is not None:
            return hash(tuple(self.key(item) for item in kept))
        return hash(tuple(_identity(item) for item in raw))


def _reported_total(total: Optional[int], received: int) -> Optional[int]:
    """The total an answer reports, None when it says nothing: missing, negative, or 0 beside items."""
    if total is None or total < 0 or (total == 0 and received):
        return None
    return total


def _identity(item: Any) -> str:
    """What tells two items apart when the caller gave no key: the whole item."""
    to_map = getattr(item, "to_map", None)
    return json.dumps(to_map(), sort_keys=True, default=str) if callable(to_map) else repr(item)


def _distinct(pages: list[_Page], key: Optional[Callable[[Any], Any]]) -> list:
    """The kept items of every page in order, each once when a key tells them apart."""
    items = [item for page in pages for item in page.items]
    if key is None:
        return items
    by_key: dict = {}
    for item in items:
        by_key.setdefault(key(item), item)
    return list(by_key.values())


def _check(pages: list[_Page], items: list, page_size: Optional[int], api: str, noun: str) -> None:
    """Raise unless the pages show that every item was seen. `page_size` (PageNumber paging) is the size
    every page but the last must have."""
    totals = [page.total for page in pages if page.total is not None]
    if len(set(totals)) > 1:
        raise ListingShifted(f"{api} reported {totals[0]}, then {totals[-1]} {noun} while they were listed: "
                             f"{noun} moved between pages")
    total = totals[-1] if totals else None
    received = sum(page.received for page in pages)
    if total is not None and len(items) < total:
        raise IncompleteListing(f"{api} listed {received} of {total} {noun}" if received < total else
                                f"{api} listed {len(items)} distinct {noun} of {total} ({received} with repeats)")
    fingerprints = [page.fingerprint for page in pages if page.fingerprint is not None]
    if len(set(fingerprints)) < len(fingerprints):
        raise IncompleteListing(f"{api} answered a later page with the {noun} of an earlier one: the listing does not advance")
    if page_size is not None:
        for number, page in enumerate(pages[:-1], 1):
            if page.received != page_size:
                raise ListingShifted(f"{api} answered page {number} with {page.received} {noun} where a full page holds "
                                     f"{page_size}: {noun} moved between pages")


def _read_again_if_shifted(read_once: Callable[[], list]) -> list:
    """Items created or deleted while a listing is read shift the others between pages: the listing
    is read once more from the start, and a second shift propagates (incomplete)."""
    try:
        return read_once()
    except ListingShifted:
        return read_once()


# ---------------------------------------------------------------- PageNumber/PageSize


def items_by_number(fetch: Callable[[int], Any], items_of: Callable[[Any], Iterable[Any] | None],
                    total_of: Callable[[Any], Optional[int]], page_size: int, concurrency: int = DEFAULT_CONCURRENCY,
                    keep: Callable[[Any], Any] = _as_is, *, size_of: Optional[Callable[[Any], Optional[int]]] = None,
                    key: Optional[Callable[[Any], Any]] = None, api: str = "the API", noun: str = "items") -> list[Any]:
    """Every item of a PageNumber/PageSize listing, in page order. `fetch(number)` asks for one page of
    `page_size`; `total_of` and `size_of` read the total and the page size the answer reports (either
    may be None). `keep` reduces each item as its page lands (a name instead of the whole SDK model), so
    a listing of tens of thousands never sits in memory whole; `key(kept item)` names an item, so one
    that shifted onto two pages is kept once. Raises IncompleteListing (see the module's docstring)."""
    read = _Reader(fetch, items_of, total_of, size_of, keep, key)

    def read_once() -> list:
        first = read(1)
        if not first.received:
            if first.total:
                raise IncompleteListing(f"{api} listed 0 of {first.total} {noun}")
            return []
        size, known = _page_size(first, page_size, api, noun)
        if known:  # the later pages are independent: fetched concurrently, in page order
            later = range(2, -(-first.total // size) + 1)
            pages = [first, *fan_out(read, later, concurrency)]
        else:
            pages = _walk(read, first, size, api, noun)
        items = _distinct(pages, key)
        _check(pages, items, size, api, noun)
        return items

    return _read_again_if_shifted(read_once)


def _page_size(first: _Page, asked: int, api: str, noun: str) -> tuple[int, bool]:
    """The size the server pages by, and whether it is known well enough (with the total) to fetch the
    remaining pages at once rather than one after another."""
    if first.size == first.received or (first.size is None and first.received == asked):
        return first.received, first.total is not None
    more_remain = first.total is not None and first.received < first.total
    if first.size is not None and first.size != asked and more_remain:
        # The answer names a page size of its own and contradicts it: no offset computed from either
        # size can be trusted.
        raise IncompleteListing(f"{api} listed {first.received} of {first.total} {noun}")
    # Capped without saying so, or echoing the size asked: the items that came back tell the size.
    return first.received, False


def _walk(read: _Reader, first: _Page, size: int, api: str, noun: str) -> list[_Page]:
    """Page after page until a short or empty one, the total reached, or a page repeating an earlier one."""
    pages, seen, received, total = [first], {first.fingerprint}, first.received, first.total
    # A short or empty page is the server's end of the listing.
    while pages[-1].received >= size and (total is None or received < total):
        if len(pages) >= MAX_PAGES:
            raise IncompleteListing(f"{api} still answered full pages of {noun} after {MAX_PAGES} pages")
        page = read(len(pages) + 1)
        pages.append(page)
        received += page.received
        total = total if page.total is None else page.total
        if page.fingerprint in seen:
            break
        seen.add(page.fingerprint)
    return pages


# ---------------------------------------------------------------- offset/size


def items_by_offset(fetch: Callable[[int], Any], items_of: Callable[[Any], Iterable[Any] | None],
                    total_of: Callable[[Any], Optional[int]], *, key: Optional[Callable[[Any], Any]] = None,
                    api: str = "the API", noun: str = "items") -> list[Any]:
    """Every item of an offset/size listing: `fetch(offset)` asks for the page starting at `offset`.
    The next offset is where the items received end, so a capped page only means more pages. The listing
    ends at an empty page, or once the reported total is reached. Raises IncompleteListing (see the
    module's docstring)."""
    read = _Reader(fetch, items_of, total_of, None, _as_is, key)

    def read_once() -> list:
        pages, seen, offset = [], set(), 0
        while True:
            if len(pages) >= MAX_PAGES:
                raise IncompleteListing(f"{api} still answered {noun} after {MAX_PAGES} pages")
            page = read(offset)
            pages.append(page)
            offset += page.received
            if not page.received or page.fingerprint in seen or (page.total is not None and offset >= page.total):
                break
            seen.add(page.fingerprint)
        items = _distinct(pages, key)
        _check(pages, items, None, api, noun)
        return items

    return _read_again_if_shifted(read_once)
