"""Memory entries and search results (`/api/v2/memory`), camelCase inside the `ok()` envelope."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import ok
from core.memory.service import MemoryEntry, SearchHit, SearchResult


def stored(entry: MemoryEntry) -> dict[str, Any]:
    return ok({"id": entry.id, "namespace": entry.namespace, "key": entry.key, "size": entry.size,
               "version": entry.version, "tags": entry.tags, "accessLevel": entry.access_level,
               "expiresAt": iso(entry.expires_at), "createdAt": iso(entry.created_at),
               "updatedAt": iso(entry.updated_at)})


def hit(item: SearchHit) -> dict[str, Any]:
    return {"id": item.id, "namespace": item.namespace, "key": item.key, "preview": item.preview,
            "snippet": item.snippet, "relevance": item.relevance, "size": item.size, "tags": item.tags,
            "version": item.version, "accessLevel": item.access_level, "createdAt": iso(item.created_at),
            "updatedAt": iso(item.updated_at), "accessCount": item.accessed_count,
            "lastAccessed": iso(item.last_accessed), "expiresAt": iso(item.expires_at)}


def search(result: SearchResult, *, page: int, size: int) -> dict[str, Any]:
    """`meta.searchTime` is the measured time of the search in milliseconds."""
    pages = max(1, -(-result.total // size))
    return ok([hit(item) for item in result.hits],
              meta={"totalResults": result.total, "searchTime": result.took_ms,
                    "pagination": {"page": page, "pageSize": size, "pageCount": pages,
                                   "totalCount": result.total}})
