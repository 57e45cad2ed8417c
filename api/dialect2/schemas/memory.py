"""`POST /api/v2/memory`, and the stored entries and search results the memory routes answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import AccessLevel
from api.dialect2.schemas.documents import Meta, Pagination, _Open
from core.memory.service import DEFAULT_NAMESPACE


class StoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    namespace: str = Field(default=DEFAULT_NAMESPACE, min_length=1, max_length=64)
    key: str = Field(min_length=1, max_length=255)
    value: Any = Field(description="any JSON, up to the entry size limit (1 MiB by default)")
    ttl: int | None = Field(default=None, description="seconds until the entry expires; omit or 0 to keep it")
    tags: list[str] = Field(default_factory=list, max_length=32)
    accessLevel: AccessLevel | None = Field(default=None, description="private, shared (default) or public")


# ---- what the API answers (api/dialect2/presenters/memory.py) ---------------------------------------------


class StoredEntry(_Open):
    """The entry as stored (without its value, which the caller just sent)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "mem-01J00000000000000000000000", "namespace": "project-alpha", "key": "architecture-decisions",
        "size": 256, "version": 1, "tags": ["architecture", "decisions", "backend"], "accessLevel": "shared",
        "expiresAt": "2025-08-22T12:00:00Z", "createdAt": "2025-07-23T12:00:00Z",
        "updatedAt": "2025-07-23T12:00:00Z"}]})

    id: str = Field(examples=["mem-01J00000000000000000000000"])
    namespace: str = Field(examples=["project-alpha"])
    key: str = Field(examples=["architecture-decisions"])
    size: int = Field(description="bytes of the stored value", examples=[256])
    version: int = Field(description="1 for a new key, then one more per update (the `ETag`)")
    tags: list[str] = Field(examples=[["architecture", "decisions", "backend"]])
    accessLevel: AccessLevel = Field(examples=["shared"])
    expiresAt: str | None = Field(examples=["2025-08-22T12:00:00Z"])
    createdAt: str = Field(examples=["2025-07-23T12:00:00Z"])
    updatedAt: str


class MemoryHit(_Open):
    """One search match: a preview of the value and the matching snippet, not the value itself."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "mem-01J00000000000000000000000", "namespace": "project-alpha", "key": "architecture-decisions",
        "preview": "database: PostgreSQL, cache: Redis...", "snippet": "…decided on [PostgreSQL] for…",
        "relevance": 0.82, "size": 256, "tags": ["architecture", "decisions", "backend"], "version": 2,
        "accessLevel": "shared", "createdAt": "2025-07-23T10:00:00Z", "updatedAt": "2025-07-23T10:30:00Z",
        "accessCount": 15, "lastAccessed": "2025-07-23T11:45:00Z", "expiresAt": "2025-08-22T10:00:00Z"}]})

    id: str
    namespace: str
    key: str
    preview: str = Field(examples=["database: PostgreSQL, cache: Redis..."])
    snippet: str
    relevance: float | None = Field(description="higher is better; null without a query")
    size: int
    tags: list[str]
    version: int
    accessLevel: AccessLevel
    createdAt: str
    updatedAt: str
    accessCount: int = Field(examples=[15])
    lastAccessed: str | None
    expiresAt: str | None


class SearchMeta(Meta):
    totalResults: int = Field(description="All matches, not just this page's", examples=[3])
    searchTime: float = Field(description="The measured time of the search, ms", examples=[12])
    pagination: Pagination


class MemorySearchDocument(_Open):
    """`GET /api/v2/memory/search`: `page[number]`/`page[size]` page through the matches."""

    success: Literal[True]
    data: list[MemoryHit]
    meta: SearchMeta
