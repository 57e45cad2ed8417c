"""Pipeline runs (`GET /api/runs`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from core.pipelines.runs import RunInfo


def run(info: RunInfo) -> dict[str, Any]:
    return {"id": info.id, "workflow_id": info.workflowId, "version": info.version, "status": info.status.value,
            "inputs": info.inputs, "created_at": iso(info.createdAt), "started_at": iso(info.startedAt),
            "ended_at": iso(info.endedAt), "duration_ms": info.duration_ms, "error": info.error,
            "summary": info.summary}
