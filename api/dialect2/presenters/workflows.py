"""Workflow definitions (`/api/v2/workflows`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE
from core.pipelines.definitions import WorkflowInfo


def workflow(info: WorkflowInfo, *, with_definition: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "description": info.description,
        "status": info.status,
        "version": info.version,
        "contentHash": info.contentHash,
        "source": info.source,
        "owner": info.owner,
        "sharedWith": info.sharedWith,
        "createdAt": iso(info.createdAt),
        "updatedAt": iso(info.updatedAt),
        "nextRun": iso(info.nextRun),
        "stats": info.stats.model_dump(),
        "links": {"self": f"{BASE}/workflows/{info.id}", "runs": f"{BASE}/workflows/{info.id}/runs"},
    }
    if with_definition:
        body["definition"] = info.definition
    return body
