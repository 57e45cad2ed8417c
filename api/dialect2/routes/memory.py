"""Dialect 2: shared memory (`/api/v2/memory`) — store and search. The same service as dialect 1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.common.deps import Principal, SettingsDep, require
from api.common.memory import IfMatch, ServiceDep, caller_of, etag, if_match_version, tag_list
from api.common.openapi import returns
from api.dialect2.presenters import memory as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.envelopes import errors, headed
from api.dialect2.schemas.memory import MemorySearchDocument, StoreBody, StoredEntry

router = APIRouter(prefix="/api/v2/memory", tags=["memory"])
MAX_PAGE_SIZE = 100


@router.post("", **headed(returns(Document[StoredEntry], 201, "Stored (a new key, or a new version of it)",
                                  responses=errors(
                                      e409="The key is held privately by another user, or too many concurrent writes "
                                           "to it (CONFLICT)",
                                      e412="`If-Match` names another version than the current one")),
                          "ETag"))
def store_memory(body: StoreBody, service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:write"))],
                 if_match: IfMatch = None) -> JSONResponse:
    entry = service.store(caller_of(principal), body.namespace, body.key, body.value, tags=body.tags, ttl=body.ttl,
                          access_level=body.accessLevel, if_match=if_match_version(if_match), settings=settings)
    return JSONResponse(present.stored(entry), status_code=201, headers=etag(entry))


@router.get("/search", **returns(MemorySearchDocument))
def search_memory(
    service: ServiceDep, principal: Annotated[Principal, Depends(require("memory:read"))],
    q: Annotated[str | None, Query(max_length=500, description='words, "phrases", prefix*, OR, -not')] = None,
    namespace: Annotated[str | None, Query(max_length=64)] = None,
    tags: Annotated[str | None, Query(max_length=2000, description="comma-separated; entries carrying every tag")]
    = None,
    before: Annotated[datetime | None, Query(description="created before")] = None,
    after: Annotated[datetime | None, Query(description="created after")] = None,
    number: Annotated[int, Query(alias="page[number]", ge=1, le=10_000)] = 1,
    size: Annotated[int, Query(alias="page[size]", ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> JSONResponse:
    """Full-text search ranked by relevance; `meta.searchTime` is measured (ms), `meta.totalResults` counts all
    matches."""
    result = service.search(caller_of(principal), q, namespace=namespace, tags=tag_list([tags] if tags else None),
                            before=before, after=after, limit=size, offset=(number - 1) * size, field="q")
    return JSONResponse(present.search(result, page=number, size=size))
