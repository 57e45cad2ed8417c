"""Memory bodies for both dialects: dialect 1 (`/api/memory`, snake_case, the claude-flow spec's fields) and
dialect 2 (`/api/v2/memory`, camelCase inside the `{"success", "data", "meta"}` envelope)."""

from __future__ import annotations

from typing import Any

from api.presenters.v2 import iso, ok
from core.memory.service import DeleteResult, MemoryEntry, MemoryStats, SearchHit, SearchResult


def etag(entry: MemoryEntry) -> dict[str, str]:
    """The entry's version as an ETag, so a client can send it back in `If-Match`."""
    return {"ETag": f'"{entry.version}"'}


# ---- dialect 1 -----------------------------------------------------------------------------------------------


def entry_v1(entry: MemoryEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": entry.id, "key": entry.key, "value": entry.value, "namespace": entry.namespace,
        "version": entry.version, "created_at": iso(entry.created_at), "updated_at": iso(entry.updated_at),
        "accessed_count": entry.accessed_count, "last_accessed": iso(entry.last_accessed), "tags": entry.tags,
        "access_level": entry.access_level, "owner": entry.owner, "ttl": entry.ttl,
        "expires_at": iso(entry.expires_at), "size": entry.size,
    }
    if entry.latest_version is not None:
        body["latest_version"] = entry.latest_version
    return body


def hit_v1(hit: SearchHit) -> dict[str, Any]:
    return {"key": hit.key, "namespace": hit.namespace, "relevance": hit.relevance, "snippet": hit.snippet,
            "tags": hit.tags, "id": hit.id, "version": hit.version, "size": hit.size,
            "access_level": hit.access_level, "created_at": iso(hit.created_at), "updated_at": iso(hit.updated_at),
            "accessed_count": hit.accessed_count, "expires_at": iso(hit.expires_at)}


def query_v1(result: SearchResult) -> dict[str, Any]:
    """`query_time` is the measured time of the search in milliseconds."""
    return {"results": [hit_v1(hit) for hit in result.hits], "total": result.total, "query_time": result.took_ms}


def deleted_v1(result: DeleteResult) -> dict[str, Any]:
    return {"deleted": True, "namespace": result.namespace, "keys": result.keys,
            "versions_deleted": result.versions_deleted}


def stats_v1(stats: MemoryStats) -> dict[str, Any]:
    return {
        "total_entries": stats.total_entries, "namespaces": stats.namespaces, "size_bytes": stats.size_bytes,
        "cache_hits": stats.cache_hits, "cache_misses": stats.cache_misses, "hit_rate": stats.hit_rate,
        "top_namespaces": [{"name": n.name, "entries": n.entries, "size": n.size} for n in stats.top_namespaces],
        "memory_usage": {"used": stats.used, "limit": stats.limit, "percentage": stats.percentage},
    }


# ---- dialect 2 -----------------------------------------------------------------------------------------------


def stored_v2(entry: MemoryEntry) -> dict[str, Any]:
    return ok({"id": entry.id, "namespace": entry.namespace, "key": entry.key, "size": entry.size,
               "version": entry.version, "tags": entry.tags, "accessLevel": entry.access_level,
               "expiresAt": iso(entry.expires_at), "createdAt": iso(entry.created_at),
               "updatedAt": iso(entry.updated_at)})


def hit_v2(hit: SearchHit) -> dict[str, Any]:
    return {"id": hit.id, "namespace": hit.namespace, "key": hit.key, "preview": hit.preview,
            "snippet": hit.snippet, "relevance": hit.relevance, "size": hit.size, "tags": hit.tags,
            "version": hit.version, "accessLevel": hit.access_level, "createdAt": iso(hit.created_at),
            "updatedAt": iso(hit.updated_at), "accessCount": hit.accessed_count,
            "lastAccessed": iso(hit.last_accessed), "expiresAt": iso(hit.expires_at)}


def search_v2(result: SearchResult, *, page: int, size: int) -> dict[str, Any]:
    """`meta.searchTime` is the measured time of the search in milliseconds."""
    pages = max(1, -(-result.total // size))
    return ok([hit_v2(hit) for hit in result.hits],
              meta={"totalResults": result.total, "searchTime": result.took_ms,
                    "pagination": {"page": page, "pageSize": size, "pageCount": pages,
                                   "totalCount": result.total}})
