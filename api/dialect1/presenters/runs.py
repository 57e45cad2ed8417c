"""Pipeline runs (`GET /api/runs`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import withheld
from core.pipelines.runs import RunInfo


def run(info: RunInfo) -> dict[str, Any]:
    """`inputs` is null (named in `redacted`) for a run the caller may not read in full."""
    body = {"id": info.id, "workflow_id": info.workflowId, "version": info.version, "status": info.status.value,
            "started_by": info.startedBy.model_dump() if info.startedBy else None,
            "inputs": None if "inputs" in info.redacted else info.inputs, "created_at": iso(info.createdAt),
            "started_at": iso(info.startedAt), "ended_at": iso(info.endedAt), "duration_ms": info.duration_ms,
            "error": info.error, "summary": info.summary}
    if info.redacted:
        body["redacted"] = withheld(info, {"inputs": "inputs"})
    return body
