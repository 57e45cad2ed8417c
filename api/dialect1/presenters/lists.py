"""Dialect 1 (`/api/...`): plain JSON bodies with snake_case fields."""

from __future__ import annotations

from typing import Any

from api.presenters.v2 import iso
from core.auth.api_keys import ApiKeyInfo
from core.auth.sessions import TokenPair
from core.listing import Page
from core.pipelines.definitions import WorkflowInfo
from core.pipelines.runs import RunInfo


def token(pair: TokenPair) -> dict[str, Any]:
    return {"token": pair.access_token, "expires_in": pair.expires_in, "refresh_token": pair.refresh_token,
            "token_type": "Bearer"}


def api_key(info: ApiKeyInfo, *, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": info.id, "name": info.name, "prefix": info.prefix,
                            "created_at": iso(info.createdAt), "last_used_at": iso(info.lastUsedAt),
                            "expires_at": iso(info.expiresAt)}
    if key is not None:
        body["key"] = key  # shown once, at creation
    return body


def paged(name: str, items: list[Any], page: Page) -> dict[str, Any]:
    """A dialect-1 list body: `{<name>: [...], "pagination": {page, limit, total, pages}, "nextCursor"}`.
    `nextCursor` is null on the last page; pass it back as `cursor` for the next one (`page` is then null)."""
    request = page.request
    return {name: items,
            "pagination": {"page": None if request.cursor else request.number, "limit": request.size,
                           "total": page.total, "pages": page.page_count},
            "nextCursor": page.next_cursor}


def workflow(info: WorkflowInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "description": info.description, "status": info.status,
            "version": info.version, "content_hash": info.contentHash, "source": info.source,
            "created_at": iso(info.createdAt), "updated_at": iso(info.updatedAt),
            "stats": {"total_runs": info.stats.totalRuns, "success_rate": info.stats.successRate,
                      "average_duration_ms": info.stats.avgDuration}}


def run(info: RunInfo) -> dict[str, Any]:
    return {"id": info.id, "workflow_id": info.workflowId, "version": info.version, "status": info.status.value,
            "inputs": info.inputs, "created_at": iso(info.createdAt), "started_at": iso(info.startedAt),
            "ended_at": iso(info.endedAt), "duration_ms": info.duration_ms, "error": info.error,
            "summary": info.summary}
