"""Pipeline runs, their links and their logs (`/api/v2/runs`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.dialect2.jsonapi import BASE
from core.events.models import Event
from core.pipelines.runs import RunInfo, ui_link
from core.settings import Settings


def run(info: RunInfo, settings: Settings, *, with_steps: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": info.id,
        "workflowId": info.workflowId,
        "version": info.version,
        "status": info.status.value,
        "inputs": info.inputs,
        "createdAt": iso(info.createdAt),
        "startedAt": iso(info.startedAt),
        "endedAt": iso(info.endedAt),
        "durationMs": info.duration_ms,
        "error": info.error,
        "summary": info.summary,
        "links": run_links(info.id, info.workflowId, settings),
    }
    if with_steps:
        body["steps"] = [step.model_dump(mode="json", exclude_none=True) for step in info.steps]
    return body


def run_links(run_id: str, workflow_id: str, settings: Settings) -> dict[str, str]:
    return {
        "self": f"{BASE}/runs/{run_id}",
        "workflow": f"{BASE}/workflows/{workflow_id}",
        "events": f"{BASE}/runs/{run_id}/logs",
        "logs": f"{BASE}/runs/{run_id}/logs",
        "cancel": f"{BASE}/runs/{run_id}/cancel",
        "temporalUi": ui_link(settings, run_id),
    }


def event(item: Event) -> dict[str, Any]:
    return {"seq": item.seq, "type": item.type, "at": iso(item.at), "data": item.data}


def logs(info: RunInfo, events: list[Event]) -> dict[str, Any]:
    steps = []
    for step in info.steps:
        for unit in step.instances or [step]:
            entry = {"stepId": unit.id, "status": unit.status.value, "attempts": unit.attempts}
            for key in ("exitCode", "stdout", "stderr", "truncated"):
                if key in unit.outputs:
                    entry[key] = unit.outputs[key]
            if unit.error:
                entry["error"] = unit.error
            steps.append(entry)
    return {"runId": info.id, "status": info.status.value, "steps": steps, "events": [event(e) for e in events]}
