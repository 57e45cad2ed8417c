"""`/api/memory` bodies (api/dialect1/presenters/memory.py)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Timestamp


class MemoryEntryV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "mem-01J9Z6X1QH5V2M8T4K7W3R0ABJ", "key": "project/api/config",
        "value": {"database": "postgresql", "cache": "redis", "auth": "jwt"}, "namespace": "default",
        "version": 3, "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T12:00:00Z",
        "accessed_count": 15, "last_accessed": "2024-01-01T12:30:00Z", "tags": ["config", "api"],
        "access_level": "private", "owner": "usr-01J9Z6X1QH5V2M8T4K7W3R0ABD", "ttl": 86400,
        "expires_at": "2024-01-02T12:00:00Z", "size": 58}]})
    id: str
    key: str = Field(examples=["project/api/config"])
    value: Any = Field(description="the stored JSON value")
    namespace: str = Field(examples=["default"])
    version: int = Field(ge=1, description="also the `ETag`; send it back in `If-Match`")
    created_at: Timestamp
    updated_at: Timestamp
    accessed_count: int
    last_accessed: Timestamp | None
    tags: list[str]
    access_level: str
    owner: str
    ttl: int | None = Field(description="seconds")
    expires_at: Timestamp | None
    size: int = Field(description="bytes")
    latest_version: int | None = Field(default=None, description="on a `?version=N` read of an older version")


class MemoryHitV1(Open):
    key: str
    namespace: str
    relevance: float | None
    snippet: str = Field(description="highlighted")
    tags: list[str]
    id: str
    version: int
    size: int
    access_level: str
    created_at: Timestamp
    updated_at: Timestamp
    accessed_count: int
    expires_at: Timestamp | None


class MemoryQueryV1(Open):
    results: list[MemoryHitV1]
    total: int
    query_time: float = Field(description="the search's measured time, ms")


class MemoryDeletedV1(Open):
    deleted: bool
    namespace: str
    keys: list[str] = Field(description="the keys deleted (with `cascade`, the children too)")
    versions_deleted: int


class NamespaceUsageV1(Open):
    name: str
    entries: int
    size: int


class MemoryUsageV1(Open):
    used: int = Field(description="bytes")
    limit: int | None = Field(description="the tier's quota in bytes; null: unlimited")
    percentage: float | None


class MemoryStatsV1(Open):
    total_entries: int
    namespaces: int
    size_bytes: int
    cache_hits: int
    cache_misses: int
    hit_rate: float
    top_namespaces: list[NamespaceUsageV1]
    memory_usage: MemoryUsageV1
