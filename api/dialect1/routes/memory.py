"""Dialect 1: shared memory (`/api/memory`) — store, retrieve, query, update, delete, stats.

Keys may contain `/` (children of a key: `project/api`), so the key is the rest of the path. `query` and `stats`
are routes of their own, declared first; a key named `query` or `stats` is read with
`GET /api/v2/memory/search?q=…` or is better named otherwise.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Principal, SettingsDep, require
from api.presenters import memory as present
from core.errors import ValidationFailed
from core.memory.service import DEFAULT_NAMESPACE, Caller, MemoryService, service_for
from core.memory.values import invalid

router = APIRouter(prefix="/api/memory", tags=["memory"])
MAX_LIMIT = 100
_VERSION = 2**31 - 1
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')
AccessLevel = Literal["private", "shared", "public"]


async def memory_service(request: Request) -> MemoryService:
    """The store of the app's configured database (a test app may point at PostgreSQL). `async`: a dict lookup
    (the first call per process also opens the store), so FastAPI runs it on the loop instead of sending it to the
    thread pool — one thread hop less on every memory request."""
    return service_for(request.app.state.settings.db_url)


ServiceDep = Annotated[MemoryService, Depends(memory_service)]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64,
                                       description='the version you read (its ETag, e.g. "3"); 412 if it moved on')]


def caller_of(principal: Principal) -> Caller:
    return Caller(owner=principal.id, tier=principal.tier, name=principal.username)


def if_match_version(header: str | None) -> int | None:
    if header is None:
        return None
    match = _ETAG.match(header)
    if match is None or not 1 <= int(match.group(1)) <= _VERSION:
        raise invalid("If-Match", "format", 'Send the entry\'s version as its ETag, e.g. "3"')
    return int(match.group(1))


def tag_list(values: list[str] | None) -> list[str]:
    """`tags=a&tags=b` or `tags=a,b`."""
    return [tag.strip() for value in values or [] for tag in value.split(",") if tag.strip()]


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(description="any JSON, up to the entry size limit (1 MiB by default)")
    namespace: str = Field(default=DEFAULT_NAMESPACE, min_length=1, max_length=64)
    ttl: int | None = Field(default=None, description="seconds until the entry expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list, max_length=32)
    access_level: AccessLevel | None = Field(default=None, description="private, shared (default) or public")


class UpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Any = Field(description="the new value, or with `merge` an RFC 7386 merge patch")
    merge: bool = False
    create_version: bool = Field(default=True, description="keep the superseded version in the history")
    namespace: str | None = Field(default=None, min_length=1, max_length=64)
    ttl: int | None = None
    tags: list[str] | None = Field(default=None, max_length=32)
    access_level: AccessLevel | None = None


def _with_etag(body: dict[str, Any], headers: dict[str, str], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("", status_code=201)
def store_memory(body: StoreBody, service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:write"))],
                 if_match: IfMatch = None) -> JSONResponse:
    """Store a value under (namespace, key): a new entry, or a new version of an existing one."""
    entry = service.store(caller_of(principal), body.namespace, body.key, body.value, tags=body.tags, ttl=body.ttl,
                          access_level=body.access_level, if_match=if_match_version(if_match), settings=settings)
    return _with_etag(present.entry_v1(entry), present.etag(entry), 201)


@router.get("/query")
def query_memory(
    service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:read"))],
    pattern: Annotated[str | None, Query(max_length=500, description='words, "phrases", prefix*, OR, -not')] = None,
    namespace: Annotated[str | None, Query(max_length=64)] = None,
    tags: Annotated[list[str] | None, Query(description="entries carrying every tag (repeat or comma-separate)")] \
    = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> JSONResponse:
    """Full-text search ranked by relevance, with highlighted snippets; `query_time` is measured (ms)."""
    result = service.search(caller_of(principal), pattern, namespace=namespace, tags=tag_list(tags), limit=limit,
                            offset=offset, field="pattern")
    return JSONResponse(present.query_v1(result))  # plain JSON already: no second pass through FastAPI's encoder


@router.get("/stats")
def memory_stats(service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:read"))]) -> dict:
    """Entries, namespaces and bytes you can see, this API process's read-cache counters, and your usage of your
    tier's memory quota."""
    return present.stats_v1(service.stats(caller_of(principal), tier=principal.tier, settings=settings))


@router.get("/{key:path}")
def get_memory(key: str, service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:read"))],
               namespace: Annotated[str, Query(max_length=64)] = DEFAULT_NAMESPACE,
               version: Annotated[int | None, Query(ge=1, le=_VERSION)] = None) -> JSONResponse:
    entry = service.get(caller_of(principal), namespace, key, version=version)
    return _with_etag(present.entry_v1(entry), present.etag(entry))


@router.put("/{key:path}")
def update_memory(key: str, service: ServiceDep, settings: SettingsDep,
                  principal: Annotated[Principal, Depends(require("memory:write"))],
                  body: Annotated[UpdateBody, Body()],
                  namespace: Annotated[str | None, Query(max_length=64)] = None,
                  if_match: IfMatch = None) -> JSONResponse:
    """A new version of an existing key; `merge: true` applies `value` as an RFC 7386 merge patch."""
    if namespace is not None and body.namespace is not None and namespace != body.namespace:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "namespace", "constraint": "mismatch", "message": "The query and the body name different "
            "namespaces"}])
    entry = service.update(caller_of(principal), namespace or body.namespace or DEFAULT_NAMESPACE, key, body.value,
                           merge=body.merge, create_version=body.create_version, tags=body.tags, ttl=body.ttl,
                           access_level=body.access_level, if_match=if_match_version(if_match), settings=settings)
    return _with_etag(present.entry_v1(entry), present.etag(entry))


@router.delete("/{key:path}")
def delete_memory(key: str, service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:write"))],
                  namespace: Annotated[str, Query(max_length=64)] = DEFAULT_NAMESPACE,
                  cascade: bool = False, if_match: IfMatch = None) -> dict:
    """Delete the entry; `cascade=true` also deletes its version history and its child keys `key/…`."""
    result = service.delete(caller_of(principal), namespace, key, cascade=cascade,
                            if_match=if_match_version(if_match))
    return present.deleted_v1(result)
