"""Memory entries, search results and stats (`/api/memory`), with the claude-flow spec's snake_case fields."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from core.memory.service import DeleteResult, MemoryEntry, MemoryStats, SearchHit, SearchResult


def entry(item: MemoryEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item.id, "key": item.key, "value": item.value, "namespace": item.namespace,
        "version": item.version, "created_at": iso(item.created_at), "updated_at": iso(item.updated_at),
        "accessed_count": item.accessed_count, "last_accessed": iso(item.last_accessed), "tags": item.tags,
        "access_level": item.access_level, "owner": item.owner, "ttl": item.ttl,
        "expires_at": iso(item.expires_at), "size": item.size,
    }
    if item.latest_version is not None:
        body["latest_version"] = item.latest_version
    return body


def hit(item: SearchHit) -> dict[str, Any]:
    return {"key": item.key, "namespace": item.namespace, "relevance": item.relevance, "snippet": item.snippet,
            "tags": item.tags, "id": item.id, "version": item.version, "size": item.size,
            "access_level": item.access_level, "created_at": iso(item.created_at), "updated_at": iso(item.updated_at),
            "accessed_count": item.accessed_count, "expires_at": iso(item.expires_at)}


def query(result: SearchResult) -> dict[str, Any]:
    """`query_time` is the measured time of the search in milliseconds."""
    return {"results": [hit(item) for item in result.hits], "total": result.total, "query_time": result.took_ms}


def deleted(result: DeleteResult) -> dict[str, Any]:
    return {"deleted": True, "namespace": result.namespace, "keys": result.keys,
            "versions_deleted": result.versions_deleted}


def stats(result: MemoryStats) -> dict[str, Any]:
    return {
        "total_entries": result.total_entries, "namespaces": result.namespaces, "size_bytes": result.size_bytes,
        "cache_hits": result.cache_hits, "cache_misses": result.cache_misses, "hit_rate": result.hit_rate,
        "top_namespaces": [{"name": n.name, "entries": n.entries, "size": n.size} for n in result.top_namespaces],
        "memory_usage": {"used": result.used, "limit": result.limit, "percentage": result.percentage},
    }
