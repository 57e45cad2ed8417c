"""Dialect 1: shared memory (`/api/memory`) — store, retrieve, query, update, delete, stats.

Keys may contain `/` (children of a key: `project/api`), so the key is the rest of the path. `query` and `stats`
are routes of their own, declared first; a key named `query` or `stats` is read with
`GET /api/v2/memory/search?q=…` or is better named otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse

from api.common.deps import Principal, SettingsDep, require
from api.common.memory import MAX_VERSION, IfMatch, ServiceDep, caller_of, etag, if_match_version, tag_list
from api.common.openapi import returns
from api.dialect1.presenters import memory as present
from api.dialect1.schemas.memory import StoreBodyV1, UpdateBody
from api.dialect1.schemas.responses import memory as out
from core.errors import ValidationFailed
from core.memory.service import DEFAULT_NAMESPACE

router = APIRouter(prefix="/api/memory", tags=["memory"])
MAX_LIMIT = 100


def _with_etag(body: dict[str, Any], headers: dict[str, str], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("", **returns(out.MemoryEntryV1, 201))
def store_memory(body: StoreBodyV1, service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:write"))],
                 if_match: IfMatch = None) -> JSONResponse:
    """Store a value under (namespace, key): a new entry, or a new version of an existing one."""
    entry = service.store(caller_of(principal), body.namespace, body.key, body.value, tags=body.tags, ttl=body.ttl,
                          access_level=body.access_level, if_match=if_match_version(if_match), settings=settings)
    return _with_etag(present.entry(entry), etag(entry), 201)


@router.get("/query", **returns(out.MemoryQueryV1))
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
    return JSONResponse(present.query(result))  # plain JSON already: no second pass through FastAPI's encoder


@router.get("/stats", **returns(out.MemoryStatsV1))
def memory_stats(service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:read"))]) -> dict:
    """Entries, namespaces and bytes you can see, this API process's read-cache counters, and your usage of your
    tier's memory quota."""
    return present.stats(service.stats(caller_of(principal), tier=principal.tier, settings=settings))


@router.get("/{key:path}", **returns(out.MemoryEntryV1))
def get_memory(key: str, service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:read"))],
               namespace: Annotated[str, Query(max_length=64)] = DEFAULT_NAMESPACE,
               version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None) -> JSONResponse:
    entry = service.get(caller_of(principal), namespace, key, version=version)
    return _with_etag(present.entry(entry), etag(entry))


@router.put("/{key:path}", **returns(out.MemoryEntryV1))
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
    return _with_etag(present.entry(entry), etag(entry))


@router.delete("/{key:path}", **returns(out.MemoryDeletedV1))
def delete_memory(key: str, service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:write"))],
                  namespace: Annotated[str, Query(max_length=64)] = DEFAULT_NAMESPACE,
                  cascade: bool = False, if_match: IfMatch = None) -> dict:
    """Delete the entry; `cascade=true` also deletes its version history and its child keys `key/…`."""
    result = service.delete(caller_of(principal), namespace, key, cascade=cascade,
                            if_match=if_match_version(if_match))
    return present.deleted(result)
