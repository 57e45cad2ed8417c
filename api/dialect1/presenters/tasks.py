"""Tasks (`/api/tasks`): list items, detail, creation, cancellation and assignment."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import shown, withheld
from api.dialect1.presenters.units import seconds
from core.agents import figures
from core.agents.contracts import AssignAck, CancelOutcome
from core.agents.models import TERMINAL_TASK, TaskResult
from core.agents.state import TaskState


def _result(result: TaskResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    output = {"files_created": result.files_created, "files_changed": result.files_changed,
              "files_deleted": result.files_deleted, "lines_of_code": result.lines_of_code,
              "tests_created": result.tests_written, "tests_passed": result.tests_passed,
              "tests_failed": result.tests_failed, "coverage": result.coverage, "exit_code": result.exit_code,
              "text": result.output, "truncated": result.truncated}
    return {"success": result.success, "executor": result.executor, "output": output, "error": result.error,
            "artifacts": [a.model_dump() for a in result.artifacts]}


REDACTED_NAMES = {"requirements": "requirements", "result": "result", "error": "error",
                  "progress_message": "progress_message"}


def task(state: TaskState, *, detail: bool = False) -> dict[str, Any]:
    """A list item, or with `detail` `GET /api/tasks/{id}` (result, timeline, metrics). Fields withheld from the
    caller are null and named in `redacted`."""
    spec = state.spec
    timeline = state.timeline
    body: dict[str, Any] = {"id": spec.id, "type": spec.type, "description": spec.description,
                            "status": state.status.value, "priority": spec.priority.value,
                            "assigned_agent": state.agent_id, "progress": state.progress,
                            "swarm_id": spec.swarm_id, "owner": spec.owner, "created_at": iso(timeline.created_at),
                            "started_at": iso(timeline.started_at),
                            "estimated_completion": iso(figures.estimated_completion(state))}
    if spec.estimated_duration_s is not None:  # never invented: absent when nothing similar has finished
        body["estimated_duration"] = spec.estimated_duration_s
    if not detail:
        return body
    result = state.result
    body.update({
        "requirements": shown(state, "requirements", spec.requirements),
        "shared_with": spec.shared_with,
        "constraints": spec.constraints.model_dump(mode="json"),
        "metadata": spec.metadata,
        "parent_id": spec.parent_id,
        "subtasks": state.children,
        "progress_message": state.progress_message,
        "result": _result(result),
        "error": state.error,
        "retry_count": state.retry_count,
        "rollback_performed": state.rollback_performed,
        "timeline": {"created_at": iso(timeline.created_at), "queued_at": iso(timeline.queued_at),
                     "started_at": iso(timeline.started_at), "completed_at": iso(timeline.completed_at),
                     "cancelled_at": iso(timeline.cancelled_at)},
        # seconds, CPU seconds, MB, calls — each null when the executor could not measure it
        "metrics": {"duration": seconds(state.duration_ms),
                    "cpu_time": result.cpu_time_s if result else None,
                    "memory_peak": result.memory_peak_mb if result else None,
                    "api_calls": result.api_calls if result else None},
        "updated_at": iso(state.updated_at),
    })
    if state.redacted:
        body["redacted"] = withheld(state, REDACTED_NAMES)
    return body


def task_created(state: TaskState) -> dict[str, Any]:
    spec = state.spec
    body: dict[str, Any] = {"id": spec.id, "type": spec.type, "description": spec.description,
                            "status": state.status.value, "priority": spec.priority.value,
                            "swarm_id": spec.swarm_id, "created_at": iso(spec.created_at)}
    if spec.estimated_duration_s is not None:
        body["estimated_duration"] = spec.estimated_duration_s
    body["assigned_agents"] = [state.agent_id] if state.agent_id else []
    return body


def cancelled(outcome: CancelOutcome) -> dict[str, Any]:
    """The final outcome, or (a status not yet terminal) a cancellation still under way: whether the workspace
    is rolled back is not known yet, so `rollback_performed` is null."""
    if outcome.status not in TERMINAL_TASK:
        return {"message": "Task cancellation requested", "task_id": outcome.task_id, "status": outcome.status.value,
                "cancelled_at": None, "rollback_performed": None}
    return {"message": "Task cancelled successfully", "task_id": outcome.task_id, "status": outcome.status.value,
            "cancelled_at": iso(outcome.cancelled_at), "rollback_performed": outcome.rollback_performed}


def assigned(ack: AssignAck) -> dict[str, Any]:
    """`queue_position` 0: the agent runs it next (now, when idle); n: n tasks are ahead of it."""
    return {"message": "Task assigned", "task_id": ack.task_id, "agent_id": ack.agent_id,
            "queue_position": ack.queue_position, "status": "queued"}
