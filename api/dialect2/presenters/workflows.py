"""Workflow definitions (`/api/v2/workflows`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE
from core.pipelines.definitions import WorkflowInfo
from core.schedules.service import ScheduleView


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
        "lastRun": iso(info.lastRun),
        "commit": info.commit,
        "stats": info.stats.model_dump(),
        "links": {"self": f"{BASE}/workflows/{info.id}", "runs": f"{BASE}/workflows/{info.id}/runs",
                  "schedules": f"{BASE}/workflows/{info.id}/schedules"},
    }
    if with_definition:
        body["definition"] = info.definition
    return body


def schedule(view: ScheduleView) -> dict[str, Any]:
    body = view.model_dump(mode="json")
    body["nextRun"], body["lastRun"] = iso(view.nextRun), iso(view.lastRun)
    if view.every is not None:
        body["every"] = int(view.every * 1000)  # milliseconds, like every duration of dialect 2
    return body
