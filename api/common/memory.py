"""What both dialects' memory routes share: the store, the caller as the memory service sees it, `If-Match`
versions, tag lists and the `ETag` of an entry (HTTP conditional requests, the same in both dialects)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request

from api.common.deps import Principal
from core.memory.service import Caller, MemoryEntry, MemoryService, service_for
from core.memory.values import invalid

MAX_VERSION = 2**31 - 1
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


async def memory_service(request: Request) -> MemoryService:
    """The store of the app's configured database (a test app may point at PostgreSQL). `async`: a dict lookup
    (the first call per process also opens the store), so FastAPI runs it on the loop instead of sending it to the
    thread pool — one thread hop less on every memory request."""
    return service_for(request.app.state.settings.db_url)


ServiceDep = Annotated[MemoryService, Depends(memory_service)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64,
                                       description='the version you read (its ETag, e.g. "3"); 412 if it moved on')]


def caller_of(principal: Principal) -> Caller:
    return Caller(owner=principal.id, tier=principal.tier, name=principal.username,
                  admin=principal.caller.is_admin)


def if_match_version(header: str | None) -> int | None:
    if header is None:
        return None
    match = _ETAG.match(header)
    if match is None or not 1 <= int(match.group(1)) <= MAX_VERSION:
        raise invalid("If-Match", "format", 'Send the entry\'s version as its ETag, e.g. "3"')
    return int(match.group(1))


def tag_list(values: list[str] | None) -> list[str]:
    """`tags=a&tags=b` or `tags=a,b`."""
    return [tag.strip() for value in values or [] for tag in value.split(",") if tag.strip()]


def etag(entry: MemoryEntry) -> dict[str, str]:
    """The entry's version as an ETag, so a client can send it back in `If-Match`."""
    return {"ETag": f'"{entry.version}"'}
