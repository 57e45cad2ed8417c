"""The projection writers of agents, tasks and swarms (`agents`, `tasks`, `swarms` tables) for the one record path
(`core.events.store.record`): a snapshot → the row list views filter, sort and count."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from core.agents.models import PRIORITY_RANK, Priority
from core.agents.state import AgentState, SwarmState, TaskState
from core.agents.tables import AgentRow, SwarmRow, TaskRow
from core.events.contracts import EntityRecord


def similarity_key(task_type: str | None, command: Any) -> str | None:
    """Tasks of one type are alike; untyped tasks are alike when they run the same command."""
    if task_type:
        return f"type:{task_type}"
    if isinstance(command, str | list) and command:
        text = command if isinstance(command, str) else "\x00".join(map(str, command))
        return "command:" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return None


class AgentProjection:
    kind = "agent"

    @staticmethod
    def row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        return _agent_row(request)


class TaskProjection:
    kind = "task"

    @staticmethod
    def row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        return _task_row(request)


class SwarmProjection:
    kind = "swarm"

    @staticmethod
    def row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        return _swarm_row(request)


def _agent_row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
    state = AgentState.model_validate(request.snapshot)
    spec = state.spec
    return AgentRow.__table__, {  # type: ignore[attr-defined]
        "id": spec.id, "name": spec.name, "type": spec.type, "status": state.status.value, "role": spec.role,
        "swarm_id": spec.swarm_id, "owner": spec.owner,
        "current_task_id": state.current_task.id if state.current_task else None,
        "tasks_completed": state.metrics.tasks_completed, "tasks_failed": state.metrics.tasks_failed,
        "seq": request.seq, "state": request.snapshot, "created_at": spec.created_at,
        "updated_at": state.updated_at or datetime.now(UTC),
    }


def _task_row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
    state = TaskState.model_validate(request.snapshot)
    spec = state.spec
    timeline = state.timeline
    wait_ms = None
    if timeline.queued_at and timeline.started_at:
        wait_ms = int((timeline.started_at - timeline.queued_at).total_seconds() * 1000)
    return TaskRow.__table__, {  # type: ignore[attr-defined]
        "id": spec.id, "type": spec.type, "description": spec.description, "status": state.status.value,
        "priority": spec.priority.value, "priority_rank": PRIORITY_RANK[Priority(spec.priority)],
        "swarm_id": spec.swarm_id, "agent_id": state.agent_id, "parent_id": spec.parent_id, "owner": spec.owner,
        "similarity": similarity_key(spec.type, spec.requirements.get("command")), "progress": state.progress,
        "duration_ms": state.duration_ms, "wait_ms": wait_ms, "seq": request.seq, "state": request.snapshot,
        "created_at": spec.created_at, "queued_at": timeline.queued_at, "started_at": timeline.started_at,
        "completed_at": timeline.completed_at or timeline.cancelled_at,
        "updated_at": state.updated_at or datetime.now(UTC),
    }


def _swarm_row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
    state = SwarmState.model_validate(request.snapshot)
    spec = state.spec
    return SwarmRow.__table__, {  # type: ignore[attr-defined]
        "id": spec.id, "name": spec.name, "topology": spec.topology.value, "strategy": spec.strategy.value,
        "status": state.status.value, "max_agents": spec.max_agents, "owner": spec.owner, "seq": request.seq,
        "state": request.snapshot, "created_at": spec.created_at, "updated_at": state.updated_at or datetime.now(UTC),
    }


AGENT_PROJECTION = AgentProjection()
TASK_PROJECTION = TaskProjection()
SWARM_PROJECTION = SwarmProjection()
WRITERS = {writer.kind: writer for writer in (AGENT_PROJECTION, TASK_PROJECTION, SWARM_PROJECTION)}
