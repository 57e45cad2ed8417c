"""Pipeline runs, their links and their logs (`/api/v2/runs`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import withheld
from api.dialect2.jsonapi import BASE
from core.events.models import Event
from core.pipelines.models import StepState
from core.pipelines.runs import RunInfo, ui_link
from core.settings import Settings

REDACTED_NAMES = {"inputs": "inputs", "outputs": "steps.outputs", "step_errors": "steps.error"}
LOG_FIELDS = ["steps.exitCode", "steps.stdout", "steps.stderr", "steps.error", "events"]


def redacted_meta(info: RunInfo) -> dict[str, Any] | None:
    """`meta.redacted`: the fields withheld from the caller (each null in the body), if any."""
    names = withheld(info, REDACTED_NAMES)
    return {"redacted": names} if names else None


def _step(step: StepState, info: RunInfo) -> dict[str, Any]:
    body = step.model_dump(mode="json", exclude_none=True, exclude={"instances"})
    if step.instances is not None:
        body["instances"] = [_step(instance, info) for instance in step.instances]
    if "outputs" in info.redacted:
        body["outputs"], body["error"] = None, None
        if step.artifacts is not None:
            body["artifacts"] = None
    if step.childRunId:
        body["links"] = {"childRun": f"{BASE}/runs/{step.childRunId}"}
    return body


def run(info: RunInfo, settings: Settings, *, with_steps: bool = True) -> dict[str, Any]:
    """A run. For a caller not entitled to its details (see `core.pipelines.runs`), `inputs` and every step's
    `outputs` and `error` are null."""
    body: dict[str, Any] = {
        "id": info.id,
        "workflowId": info.workflowId,
        "version": info.version,
        "startedBy": info.startedBy.model_dump() if info.startedBy else None,
        "status": info.status.value,
        "inputs": None if "inputs" in info.redacted else info.inputs,
        "createdAt": iso(info.createdAt),
        "startedAt": iso(info.startedAt),
        "endedAt": iso(info.endedAt),
        "durationMs": info.duration_ms,
        "error": info.error,
        "summary": info.summary,
        "trigger": info.trigger,
        "rerunOf": info.rerunOf,
        "reruns": info.reruns,
        "parentRunId": info.parentRunId,
        "concurrency": info.concurrency,
        "links": run_links(info.id, info.workflowId, settings),
    }
    if info.rerunOf:
        body["links"]["rerunOf"] = f"{BASE}/runs/{info.rerunOf}"
    if info.parentRunId:
        body["links"]["parent"] = f"{BASE}/runs/{info.parentRunId}"
    if with_steps:
        body["steps"] = [_step(step, info) for step in info.steps]
    return body


def run_links(run_id: str, workflow_id: str, settings: Settings) -> dict[str, str]:
    return {
        "self": f"{BASE}/runs/{run_id}",
        "workflow": f"{BASE}/workflows/{workflow_id}",
        "events": f"{BASE}/runs/{run_id}/logs",
        "logs": f"{BASE}/runs/{run_id}/logs",
        "cancel": f"{BASE}/runs/{run_id}/cancel",
        "rerun": f"{BASE}/runs/{run_id}/rerun",
        "artifacts": f"{BASE}/runs/{run_id}/artifacts",
        "temporalUi": ui_link(settings, run_id),
    }


def event(item: Event) -> dict[str, Any]:
    return {"seq": item.seq, "type": item.type, "at": iso(item.at), "data": item.data}


def logs_meta(events: list[Event] | None) -> dict[str, Any] | None:
    """`meta.redacted` of the logs: what was withheld from the caller, if anything."""
    return {"redacted": LOG_FIELDS} if events is None else None


def logs(info: RunInfo, events: list[Event] | None) -> dict[str, Any]:
    """The steps' output and the run's events; for a caller not entitled to them, each step's `exitCode`,
    `stdout`, `stderr` and `error` and the `events` are null."""
    steps = []
    hidden = events is None
    for step in info.steps:
        for unit in step.instances or [step]:
            entry: dict[str, Any] = {"stepId": unit.id, "status": unit.status.value, "attempts": unit.attempts}
            if hidden:
                entry.update({"exitCode": None, "stdout": None, "stderr": None, "error": None})
                steps.append(entry)
                continue
            for key in ("exitCode", "stdout", "stderr", "truncated"):
                if key in unit.outputs:
                    entry[key] = unit.outputs[key]
            if unit.error:
                entry["error"] = unit.error
            steps.append(entry)
    return {"runId": info.id, "status": info.status.value, "startedBy": info.startedBy.model_dump()
            if info.startedBy else None, "steps": steps,
            "events": None if events is None else [event(e) for e in events]}


def artifact(item: Any) -> dict[str, Any]:
    """An artifact's metadata (`GET /api/v2/runs/{id}/artifacts`)."""
    return {"id": item.id, "name": item.name, "path": item.path, "size": item.size, "sha256": item.sha256,
            "contentType": item.contentType, "runId": item.runId, "taskId": item.taskId, "stepId": item.stepId,
            "createdAt": iso(item.createdAt), "expiresAt": iso(item.expiresAt),
            "links": {"self": f"{BASE}/artifacts/{item.id}"}}
