"""Workflow definitions (`GET /api/workflows`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from core.pipelines.definitions import WorkflowInfo


def workflow(info: WorkflowInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "description": info.description, "status": info.status,
            "version": info.version, "content_hash": info.contentHash, "source": info.source,
            "owner": info.owner, "shared_with": info.sharedWith,
            "created_at": iso(info.createdAt), "updated_at": iso(info.updatedAt),
            "stats": {"total_runs": info.stats.totalRuns, "success_rate": info.stats.successRate,
                      "average_duration_ms": info.stats.avgDuration}}
