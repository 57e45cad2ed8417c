"""Dialect 2: shared memory (`/api/v2/memory`) — store and search. The same service as dialect 1."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Principal, SettingsDep, require
from api.presenters import memory as present
from api.routes.memory_v1 import AccessLevel, IfMatch, ServiceDep, caller_of, if_match_version, tag_list
from core.memory.service import DEFAULT_NAMESPACE

router = APIRouter(prefix="/api/v2/memory", tags=["memory"])
MAX_PAGE_SIZE = 100


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    namespace: str = Field(default=DEFAULT_NAMESPACE, min_length=1, max_length=64)
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(description="any JSON, up to the entry size limit (1 MiB by default)")
    ttl: int | None = Field(default=None, description="seconds until the entry expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list, max_length=32)
    accessLevel: AccessLevel | None = Field(default=None, description="private, shared (default) or public")


@router.post("", status_code=201)
def store_memory(body: StoreBody, service: ServiceDep, settings: SettingsDep,
                 principal: Annotated[Principal, Depends(require("memory:write"))],
                 if_match: IfMatch = None) -> JSONResponse:
    entry = service.store(caller_of(principal), body.namespace, body.key, body.value, tags=body.tags, ttl=body.ttl,
                          access_level=body.accessLevel, if_match=if_match_version(if_match), settings=settings)
    return JSONResponse(present.stored_v2(entry), status_code=201, headers=present.etag(entry))


@router.get("/search")
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
    return JSONResponse(present.search_v2(result, page=number, size=size))
