"""Agents, tasks and swarms in both dialects: pure functions from the domain's state to response bodies.

Dialect 1 (`/api/...`, claude-flow) is plain snake_case JSON; durations are **seconds**, as its examples are
(`duration: 300`, `average_time: 120`, `estimated_duration: 1800`). Dialect 2 (`/api/v2/...`) is JSON:API
resources (`{id, type, attributes, relationships, links}`) that the routes put in `ok()`/`paged()` envelopes;
durations are **milliseconds**, as its examples are (`executionTime: 7245`, `avgCompletionTime: 2340`).

Every figure here is something the platform measured or was told. Where a spec field has no honest source it is
null or left out, never a constant — each such place says so in a comment. The choices, in one list:

* agent `resource_usage.cpu` / health `cpu_usage`: the CPU share of the agent's last task (CPU seconds / wall
  seconds), null before it has finished one with measured CPU; `memory`: that task's peak RSS in MB.
* swarm `resource_usage.cpu`, `.memory`, `.network`: null (nothing samples a swarm's live resource use); the
  measured `agent_busy_s` (seconds agents spent on the swarm's tasks) is given instead.
* agent metrics (dialect 2) `memoryUsage` (a share of an unknown limit), `messagesSent`, `coordinationScore`: null.
* task results (dialect 2) `agent.performance.efficiency` / `quality` and `documentation`: left out.
* `estimatedTime` / `estimated_duration`: left out when the service has no estimate (no similar finished task).
* `success_rate` / `successRate`, averages: null until a task has finished.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.presenters.v2 import iso
from core.agents.agents import AgentHealth, AgentMetricsReport
from core.agents.contracts import CancelOutcome, ControlOutcome
from core.agents.models import TaskResult, TaskStatus
from core.agents.state import AgentState, Directive, HistoryEntry, SwarmState, TaskState
from core.agents.swarms import SwarmStatusReport
from core.operations.service import OperationInfo

V2 = "/api/v2"


# ---- shared arithmetic ----------------------------------------------------------------------------------------


def seconds(ms: float | None) -> float | None:
    """Milliseconds → seconds (dialect 1), to the millisecond."""
    return None if ms is None else round(ms / 1000, 3)


def millis(s: float | None) -> int | None:
    """Seconds → whole milliseconds (dialect 2)."""
    return None if s is None else int(round(s * 1000))


def _cpu_share(entry: HistoryEntry | None) -> float | None:
    """CPU seconds per wall second of one finished task: measured, unlike a live CPU gauge we do not have."""
    if entry is None or entry.cpu_time_s is None or not entry.duration_ms:
        return None
    return round(entry.cpu_time_s / max(entry.duration_ms / 1000, 0.001), 4)


def _last_measured(state: AgentState) -> HistoryEntry | None:
    return next((h for h in reversed(state.history) if h.cpu_time_s is not None), None)


def _task_progress(state: SwarmState) -> float:
    done = state.tasks_completed + state.tasks_failed + state.tasks_cancelled
    return round(done / state.tasks_total, 4) if state.tasks_total else 0.0


def _swarm_averages(state: SwarmState) -> tuple[float | None, float | None]:
    """(average ms per finished task, success rate) from what the swarm's agents reported."""
    finished = sum(a.completed + a.failed for a in state.agents)
    total_ms = sum(a.total_ms for a in state.agents)
    completed = sum(a.completed for a in state.agents)
    if not finished:
        return None, None
    return round(total_ms / finished, 1), round(completed / finished, 4)


def estimated_completion(state: TaskState) -> datetime | None:
    """When the task should end, from what is known: its end once finished; while running, the pace of its
    progress so far (the same extrapolation as the `task.progress` event), else its start plus the estimate."""
    timeline = state.timeline
    if state.status in (TaskStatus.completed, TaskStatus.failed):
        return timeline.completed_at
    if state.status != TaskStatus.running or timeline.started_at is None:
        return None
    if state.progress > 0 and state.updated_at is not None and state.updated_at > timeline.started_at:
        return timeline.started_at + (state.updated_at - timeline.started_at) / state.progress
    if state.spec.estimated_duration_s is not None:
        return timeline.started_at + timedelta(seconds=state.spec.estimated_duration_s)
    return None


# ==== dialect 1 ================================================================================================


def _agent_metrics_v1(state: AgentState, *, detail: bool) -> dict[str, Any]:
    metrics = state.metrics
    body: dict[str, Any] = {"tasks_completed": metrics.tasks_completed, "tasks_failed": metrics.tasks_failed,
                            "success_rate": None if metrics.success_rate is None else round(metrics.success_rate, 4),
                            "average_time": seconds(metrics.average_time_ms)}
    if detail:
        body["tasks_cancelled"] = metrics.tasks_cancelled
        body["resource_usage"] = {"cpu": _cpu_share(_last_measured(state)), "memory": metrics.last_memory_mb}
    return body


def agent_v1(state: AgentState, *, detail: bool = False) -> dict[str, Any]:
    """A list item (`current_task` is an id) or, with `detail`, `GET /api/agents/{id}` (`current_task` is
    `{id, description, progress}`, plus history, resource use, config and metadata)."""
    spec = state.spec
    current = state.current_task
    body: dict[str, Any] = {"id": spec.id, "name": spec.name, "type": spec.type, "status": state.status.value,
                            "capabilities": spec.capabilities, "swarm_id": spec.swarm_id, "role": spec.role}
    if detail:
        body["current_task"] = None if current is None else {
            "id": current.id, "description": current.description, "progress": current.progress}
        body["queue_size"] = len(state.queue)
        body["history"] = [{"task_id": h.task_id, "completed_at": iso(h.completed_at),
                            "duration": seconds(h.duration_ms), "result": h.result} for h in reversed(state.history)]
    else:
        body["current_task"] = current.id if current else None
    body["metrics"] = _agent_metrics_v1(state, detail=detail)
    if detail:
        body["config"] = spec.config
        body["metadata"] = spec.metadata
        body["executor"] = spec.executor
    body["created_at"] = iso(spec.created_at)
    body["updated_at"] = iso(state.updated_at or spec.created_at)
    return body


def agent_created_v1(state: AgentState) -> dict[str, Any]:
    """`POST /api/agents`: the spec's create response, plus what the caller sent that it does not echo."""
    spec = state.spec
    return {"id": spec.id, "name": spec.name, "type": spec.type, "status": state.status.value,
            "capabilities": spec.capabilities, "config": spec.config, "metadata": spec.metadata,
            "swarm_id": spec.swarm_id, "executor": spec.executor, "created_at": iso(spec.created_at)}


def agent_terminated_v1(state: AgentState) -> dict[str, Any]:
    return {"message": "Agent terminated successfully", "agent_id": state.spec.id, "final_status": state.status.value,
            "terminated_at": iso(state.terminated_at)}


def health_v1(health: AgentHealth) -> dict[str, Any]:
    return {"agent_id": health.agent_id, "status": health.status, "checks": health.checks,
            # uptime in seconds, memory_usage in MB (the last task's peak), cpu_usage a share (see module doc)
            "metrics": {"uptime": health.metrics.get("uptime"), "memory_usage": health.metrics.get("memory_usage"),
                        "cpu_usage": health.metrics.get("cpu_usage"), "queue_size": health.metrics.get("queue_size")},
            "last_heartbeat": iso(health.last_heartbeat)}


def _result_v1(result: TaskResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    output = {"files_created": result.files_created, "files_changed": result.files_changed,
              "files_deleted": result.files_deleted, "lines_of_code": result.lines_of_code,
              "tests_created": result.tests_written, "tests_passed": result.tests_passed,
              "tests_failed": result.tests_failed, "coverage": result.coverage, "exit_code": result.exit_code,
              "text": result.output, "truncated": result.truncated}
    return {"success": result.success, "executor": result.executor, "output": output, "error": result.error,
            "artifacts": [a.model_dump() for a in result.artifacts]}


def _assigned(state: TaskState) -> list[str]:
    return [state.agent_id] if state.agent_id else []


def task_v1(state: TaskState, *, detail: bool = False) -> dict[str, Any]:
    """A list item, or with `detail` `GET /api/tasks/{id}` (result, timeline, metrics)."""
    spec = state.spec
    timeline = state.timeline
    body: dict[str, Any] = {"id": spec.id, "type": spec.type, "description": spec.description,
                            "status": state.status.value, "priority": spec.priority.value,
                            "assigned_agent": state.agent_id, "progress": state.progress,
                            "swarm_id": spec.swarm_id, "created_at": iso(timeline.created_at),
                            "started_at": iso(timeline.started_at),
                            "estimated_completion": iso(estimated_completion(state))}
    if spec.estimated_duration_s is not None:  # never invented: absent when nothing similar has finished
        body["estimated_duration"] = spec.estimated_duration_s
    if not detail:
        return body
    result = state.result
    body.update({
        "requirements": spec.requirements,
        "constraints": spec.constraints.model_dump(mode="json"),
        "metadata": spec.metadata,
        "parent_id": spec.parent_id,
        "subtasks": state.children,
        "progress_message": state.progress_message,
        "result": _result_v1(result),
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
    return body


def task_created_v1(state: TaskState) -> dict[str, Any]:
    spec = state.spec
    body: dict[str, Any] = {"id": spec.id, "type": spec.type, "description": spec.description,
                            "status": state.status.value, "priority": spec.priority.value,
                            "swarm_id": spec.swarm_id, "created_at": iso(spec.created_at)}
    if spec.estimated_duration_s is not None:
        body["estimated_duration"] = spec.estimated_duration_s
    body["assigned_agents"] = _assigned(state)
    return body


def cancelled_v1(outcome: CancelOutcome) -> dict[str, Any]:
    return {"message": "Task cancelled successfully", "task_id": outcome.task_id, "status": outcome.status.value,
            "cancelled_at": iso(outcome.cancelled_at), "rollback_performed": outcome.rollback_performed}


def swarm_v1(state: SwarmState) -> dict[str, Any]:
    """A list item, also the body of `POST /api/swarms` (agents join as the swarm spawns them)."""
    spec = state.spec
    return {"id": spec.id, "name": spec.name, "topology": spec.topology.value, "strategy": spec.strategy.value,
            "status": state.status.value, "objective": spec.objective,
            "agents": [{"id": a.id, "role": a.role, "type": a.type} for a in state.live_agents],
            "progress": _task_progress(state),
            "config": {**spec.config, "max_agents": spec.max_agents, "auto_scale": spec.auto_scale},
            "created_at": iso(spec.created_at), "updated_at": iso(state.updated_at or spec.created_at)}


def swarm_status_v1(report: SwarmStatusReport) -> dict[str, Any]:
    state = report.state
    perf = report.performance
    return {
        "id": state.spec.id, "status": state.status.value, "health": report.health,
        "topology": state.spec.topology.value, "strategy": state.spec.strategy.value,
        "agents": report.agents, "tasks": report.tasks, "progress": report.progress,
        # throughput: tasks per minute; efficiency, coordination_overhead: shares (core/services/swarms.py)
        "performance": {"throughput": perf.throughput, "efficiency": perf.efficiency,
                        "coordination_overhead": perf.coordination_overhead, "window": perf.window_s},
        # Nothing samples a swarm's live CPU, memory or network: null, with the busy time we did measure.
        "resource_usage": {"cpu": None, "memory": None, "network": None, **report.resource_usage},
        "last_update": iso(state.updated_at or state.spec.created_at),
    }


def control_v1(swarm_id: str, outcome: ControlOutcome) -> dict[str, Any]:
    return {"swarm_id": swarm_id, "action": outcome.action, "status": outcome.status.value,
            "result": outcome.detail}


def broadcast_v1(swarm_id: str, directive: Directive, recipients: int) -> dict[str, Any]:
    return {"swarm_id": swarm_id, "recipients": recipients,
            "message": {"type": directive.type, "content": directive.content, "target": directive.target,
                        "priority": directive.priority.value}}


# ==== dialect 2 ================================================================================================


def _linkage(kind: str, resource_id: str | None) -> dict[str, Any]:
    return {"data": {"type": kind, "id": resource_id} if resource_id else None}


def agent_v2(state: AgentState) -> dict[str, Any]:
    spec = state.spec
    metrics = state.metrics
    return {
        "id": spec.id,
        "type": "agent",
        "attributes": {
            "name": spec.name, "agentType": spec.type, "status": state.status.value, "role": spec.role,
            "capabilities": spec.capabilities, "executor": spec.executor, "configuration": spec.config,
            "metadata": spec.metadata,
            "metrics": {"tasksCompleted": metrics.tasks_completed, "tasksFailed": metrics.tasks_failed,
                        "avgResponseTime": None if metrics.average_time_ms is None else round(metrics.average_time_ms),
                        "successRate": None if metrics.success_rate is None else round(metrics.success_rate, 4)},
            "queueSize": len(state.queue),
            "createdAt": iso(spec.created_at), "updatedAt": iso(state.updated_at or spec.created_at),
            "terminatedAt": iso(state.terminated_at),
        },
        "relationships": {"swarm": _linkage("swarm", spec.swarm_id),
                          "currentTask": _linkage("task", state.current_task.id if state.current_task else None)},
        "links": {"self": f"{V2}/agents/{spec.id}", "metrics": f"{V2}/agents/{spec.id}/metrics"},
    }


def agent_metrics_v2(report: AgentMetricsReport, groups: list[str] | None = None) -> dict[str, Any]:
    """`GET /api/v2/agents/{id}/metrics`: `groups` (the `metrics` parameter) picks performance/resource/
    coordination. The spec's `tasksFaild` and `messagessSent` are spelled correctly here."""
    active_s = report.active_ms / 1000
    metrics = {
        "performance": {"tasksCompleted": report.tasks_completed, "tasksFailed": report.tasks_failed,
                        "avgCompletionTime": report.avg_completion_ms, "successRate": report.success_rate},
        "resource": {
            # CPU seconds per active second over the timeframe: measured. memoryUsage would be a share of a
            # limit nobody set: null; the measured peak (MB) is memoryPeak.
            "cpuUsage": round(report.cpu_time_s / active_s, 4) if active_s > 0 else None,
            "memoryUsage": None, "memoryPeak": report.memory_peak_mb, "cpuTime": report.cpu_time_s,
            "activeTime": report.active_ms,
        },
        # Agents do not send messages of their own and nothing scores coordination: null, not made up.
        "coordination": {"messagesSent": None, "messagesReceived": report.messages_received,
                         "coordinationScore": None},
    }
    if groups:
        metrics = {name: value for name, value in metrics.items() if name in groups}
    return {"agentId": report.agent_id, "timeframe": report.timeframe, "metrics": metrics,
            "timeline": [{**point, "timestamp": iso(point["timestamp"]) if isinstance(point.get("timestamp"), datetime)
                          else point.get("timestamp")} for point in report.timeline]}


def task_v2(state: TaskState) -> dict[str, Any]:
    spec = state.spec
    timeline = state.timeline
    attributes: dict[str, Any] = {
        "description": spec.description, "taskType": spec.type, "status": state.status.value,
        "priority": spec.priority.value, "progress": state.progress, "progressMessage": state.progress_message,
        "requirements": spec.requirements, "deadline": iso(spec.constraints.deadline), "metadata": spec.metadata,
        "error": state.error, "retryCount": state.retry_count, "rollbackPerformed": state.rollback_performed,
        "subtasks": state.children, "parentId": spec.parent_id,
        "createdAt": iso(timeline.created_at), "queuedAt": iso(timeline.queued_at),
        "startedAt": iso(timeline.started_at), "completedAt": iso(timeline.completed_at),
        "cancelledAt": iso(timeline.cancelled_at), "estimatedCompletion": iso(estimated_completion(state)),
        "updatedAt": iso(state.updated_at or timeline.created_at),
    }
    if spec.estimated_duration_s is not None:  # never invented: absent when nothing similar has finished
        attributes["estimatedTime"] = millis(spec.estimated_duration_s)
    return {
        "id": spec.id, "type": "task", "attributes": attributes,
        "relationships": {"swarm": _linkage("swarm", spec.swarm_id),
                          "assignedAgent": _linkage("agent", state.agent_id)},
        "links": {"self": f"{V2}/tasks/{spec.id}", "results": f"{V2}/tasks/{spec.id}/results"},
    }


def task_results_v2(state: TaskState, agent: AgentState | None) -> dict[str, Any]:
    """`GET /api/v2/tasks/{id}/results`. `result` is null until the task has one. `artifacts` is the list of
    files the task produced ({type, path, size}) — there is no artifact store to link to. The spec's
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
            "artifacts": [a.model_dump() for a in result.artifacts],
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


def swarm_v2(state: SwarmState, *, detail: bool = False, task_count: int | None = None,
             task_ids: list[str] | None = None) -> dict[str, Any]:
    """A swarm resource. Relationships carry links and counts always, and linkage `data` for agents (the swarm
    knows them) and for tasks when they were fetched (`include=tasks`)."""
    spec = state.spec
    live = state.live_agents
    attributes: dict[str, Any] = {
        "name": spec.name, "objective": spec.objective, "topology": spec.topology.value,
        "status": state.status.value, "maxAgents": spec.max_agents, "strategy": spec.strategy.value,
        "autoScale": spec.auto_scale, "configuration": spec.config,
        "createdAt": iso(spec.created_at), "updatedAt": iso(state.updated_at or spec.created_at),
    }
    if detail:
        avg_ms, success = _swarm_averages(state)
        attributes["activeAgents"] = len(live)
        attributes["metrics"] = {"tasksTotal": state.tasks_total, "tasksCompleted": state.tasks_completed,
                                 "tasksFailed": state.tasks_failed, "tasksCancelled": state.tasks_cancelled,
                                 "tasksQueued": len(state.queue), "tasksInProgress": len(state.assigned),
                                 "avgCompletionTime": avg_ms, "successRate": success,
                                 "progress": _task_progress(state)}
        attributes["terminatedAt"] = iso(state.terminated_at)
    base = f"{V2}/swarms/{spec.id}"
    tasks = relationship_v2(spec.id, "tasks", None if task_ids is None else [("task", i) for i in task_ids],
                            state.tasks_total if task_count is None else task_count)
    agents = relationship_v2(spec.id, "agents", [("agent", a.id) for a in live], len(live))
    return {"id": spec.id, "type": "swarm", "attributes": attributes,
            "relationships": {"agents": agents, "tasks": tasks}, "links": {"self": base}}


def relationship_v2(swarm_id: str, name: str, linkage: list[tuple[str, str]] | None, count: int) -> dict[str, Any]:
    """A swarm's to-many relationship: links (`self` = the relationship, `related` = the resources), `meta.count`,
    and linkage `data` when it is known."""
    base = f"{V2}/swarms/{swarm_id}"
    body: dict[str, Any] = {"links": {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"},
                            "meta": {"count": count}}
    if linkage is not None:
        body["data"] = [{"type": kind, "id": item} for kind, item in linkage]
    return body


def operation_started_v2(operation_id: str, message: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(data, links) of a 202. No `estimatedTime`: nothing predicts how long a swarm takes to start or stop."""
    return {"message": message, "operationId": operation_id}, {"status": f"{V2}/operations/{operation_id}"}


def operation_v2(info: OperationInfo) -> dict[str, Any]:
    return {
        "id": info.id, "type": "operation",
        "attributes": {"kind": info.kind, "status": info.status, "resourceType": info.resource_type,
                       "resourceId": info.resource_id, "result": info.result, "error": info.error,
                       "createdAt": iso(info.created_at), "completedAt": iso(info.completed_at)},
        "links": {"self": f"{V2}/operations/{info.id}", "resource": f"{V2}/{info.resource_type}s/{info.resource_id}"},
    }
