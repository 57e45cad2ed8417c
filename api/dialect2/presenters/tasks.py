"""Task resources and task results (`/api/v2/tasks`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import shown, withheld
from api.dialect2.jsonapi import BASE, to_one
from api.dialect2.presenters.units import millis
from core.agents import figures
from core.agents.state import AgentState, TaskState

REDACTED_NAMES = {"requirements": "requirements", "result": "result", "error": "error",
                  "progress_message": "progressMessage"}


def task(state: TaskState) -> dict[str, Any]:
    """Fields withheld from the caller are null and named in `meta.redacted`."""
    spec = state.spec
    timeline = state.timeline
    attributes: dict[str, Any] = {
        "description": spec.description, "taskType": spec.type, "status": state.status.value,
        "priority": spec.priority.value, "progress": state.progress, "progressMessage": state.progress_message,
        "requirements": shown(state, "requirements", spec.requirements), "deadline": iso(spec.constraints.deadline),
        "metadata": spec.metadata, "owner": spec.owner, "sharedWith": spec.shared_with,
        "error": state.error, "retryCount": state.retry_count, "rollbackPerformed": state.rollback_performed,
        "subtasks": state.children, "parentId": spec.parent_id,
        "createdAt": iso(timeline.created_at), "queuedAt": iso(timeline.queued_at),
        "startedAt": iso(timeline.started_at), "completedAt": iso(timeline.completed_at),
        "cancelledAt": iso(timeline.cancelled_at), "estimatedCompletion": iso(figures.estimated_completion(state)),
        "updatedAt": iso(state.updated_at or timeline.created_at),
    }
    if spec.estimated_duration_s is not None:  # never invented: absent when nothing similar has finished
        attributes["estimatedTime"] = millis(spec.estimated_duration_s)
    body: dict[str, Any] = {
        "id": spec.id, "type": "task", "attributes": attributes,
        "relationships": {"swarm": to_one("swarm", spec.swarm_id),
                          "assignedAgent": to_one("agent", state.agent_id)},
        "links": {"self": f"{BASE}/tasks/{spec.id}", "results": f"{BASE}/tasks/{spec.id}/results"},
    }
    if state.redacted:
        body["meta"] = {"redacted": withheld(state, REDACTED_NAMES)}
    return body


def task_results(state: TaskState, agent: AgentState | None) -> dict[str, Any]:
    """`GET /api/v2/tasks/{id}/results`. `result` is null until the task has one. `artifacts` maps each file the
    task produced (path) to its download link in the artifact store; `files` lists them with type, size and sha256.
    The spec's
    `documentation` and the agent's `efficiency`/`quality` have no measurement behind them: left out."""
    result = state.result
    body: dict[str, Any] = {"taskId": state.spec.id, "status": state.status.value,
                            "completedAt": iso(state.timeline.completed_at or state.timeline.cancelled_at),
                            "executionTime": state.duration_ms, "error": state.error, "result": None}
    if result is not None:
        body["result"] = {
            "success": result.success, "executor": result.executor, "exitCode": result.exit_code,
            "output": result.output, "truncated": result.truncated, "error": result.error,
            "filesCreated": result.files_created, "filesChanged": result.files_changed,
            "filesDeleted": result.files_deleted, "linesOfCode": result.lines_of_code,
            "testsWritten": result.tests_written, "testsPassed": result.tests_passed,
            "testsFailed": result.tests_failed, "coverage": result.coverage,
            # the spec's map: name -> link of the stored file (`/api/v2/artifacts/{id}`); `files` lists them all
            "artifacts": {a.path: a.url for a in result.artifacts if a.url},
            "files": [a.model_dump(exclude_none=True) for a in result.artifacts],
            "durationMs": result.duration_ms, "cpuTime": result.cpu_time_s, "memoryPeak": result.memory_peak_mb,
            "apiCalls": result.api_calls, "tokens": result.tokens.model_dump() if result.tokens else None,
        }
    if agent is None:
        body["agent"] = None
    else:
        metrics = agent.metrics
        body["agent"] = {"id": agent.spec.id, "name": agent.spec.name, "agentType": agent.spec.type,
                         "performance": {
                             "successRate": None if metrics.success_rate is None else round(metrics.success_rate, 4),
                             "avgCompletionTime": None if metrics.average_time_ms is None
                             else round(metrics.average_time_ms)}}
    return body


def results_meta(state: TaskState) -> dict[str, Any] | None:
    """`meta` of the results body: which of its fields were withheld from the caller, if any."""
    names = withheld(state, {"result": "result", "error": "error"})
    return {"redacted": names} if names else None
