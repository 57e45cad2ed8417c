"""Lists as iterators over every item, page after page (both dialects' conventions: core/listing.py).

Dialect 1 (`/api/agents`, `/api/tasks`, `/api/swarms`): `{<name>: [...], "pagination": {...}, "nextCursor"}`; the
next page is the same request with `cursor=<nextCursor>`, a keyset walk that visits every row once however many
are inserted meanwhile. Dialect 2 (`/api/v2/...`): `{"data": [...], "meta": {"pagination"}, "links": {"next"}}`;
the next page is `links.next`, which keeps the request's filters and sort.

`client.agents.list()` returns a `Paginator`: `for agent in ...` on the sync client, `async for agent in ...` on the
async one; `.pages()` / `.apages()` yield whole pages (`Page`: items, total, cursor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast

import httpx
from pydantic import BaseModel

from stellarflow.client._http import Call, Transport

M = TypeVar("M", bound=BaseModel)


@dataclass
class Page(Generic[M]):
    items: list[M]
    total: int | None
    next: Call[Page[M]] | None  # the request for the following page, None on the last
    cursor: str | None = None  # dialect 1's nextCursor


def v1_list(path: str, name: str, model: type[M], params: dict[str, Any]) -> Call[Page[M]]:
    """The first page of a dialect-1 list; each page's `next` carries the cursor of the one after."""

    def parse(response: httpx.Response) -> Page[M]:
        body = response.json()
        cursor = body.get("nextCursor")
        items = [model.model_validate(item) for item in body.get(name, [])]
        following = None
        if cursor:
            query = {k: v for k, v in (call.params or {}).items() if k != "page"}
            following = replace(call, params={**query, "cursor": cursor})
        return Page(items=items, total=(body.get("pagination") or {}).get("total"), next=following, cursor=cursor)

    call: Call[Page[M]] = Call("GET", path, parse, params=params)
    return call


def v2_list(path: str, model: type[M], params: dict[str, Any], read: Callable[[Any], Any] | None = None) -> \
        Call[Page[M]]:
    """The first page of a dialect-2 list; each page's `next` is its `links.next`."""

    def parse(response: httpx.Response) -> Page[M]:
        body = response.json()
        items = [model.model_validate(read(item) if read else item) for item in body.get("data", [])]
        link = (body.get("links") or {}).get("next")
        following = Call("GET", link, parse) if link else None
        total = ((body.get("meta") or {}).get("pagination") or {}).get("totalCount")
        return Page(items=items, total=total, next=following)

    return Call("GET", path, parse, params=params)


class Paginator(Generic[M]):
    """Every item of a list, fetched a page at a time as iteration reaches it."""

    def __init__(self, transport: Transport, first: Call[Page[M]]) -> None:
        self._transport = transport
        self._first = first

    def pages(self) -> Iterator[Page[M]]:
        if self._transport.is_async:
            raise TypeError("this is an AsyncStellarFlow list: use `async for` (or .apages())")
        call: Call[Page[M]] | None = self._first
        while call is not None:
            page = cast(Page[M], self._transport.run(call))
            yield page
            call = page.next

    def __iter__(self) -> Iterator[M]:
        for page in self.pages():
            yield from page.items

    async def apages(self) -> AsyncIterator[Page[M]]:
        if not self._transport.is_async:
            raise TypeError("this is a StellarFlow (sync) list: use `for` (or .pages())")
        call: Call[Page[M]] | None = self._first
        while call is not None:
            page = await self._transport.run(call)  # type: ignore[misc]
            yield page
            call = page.next

    async def __aiter__(self) -> AsyncIterator[M]:
        async for page in self.apages():
            for item in page.items:
                yield item

    def first_page(self) -> Any:
        """The first page only (a `Page`, or an awaitable of one on the async client)."""
        return self._transport.run(self._first)
