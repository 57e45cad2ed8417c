"""The write side of agents, tasks and swarms: unseen events are appended and the entity's projection row moved
forward in one transaction. Keyed by (entity id, seq), so a retried write changes nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from core.agents.models import PRIORITY_RANK, Priority
from core.agents.state import AgentState, EntityRecord, SwarmState, TaskState
from core.agents.tables import AgentRow, OperationRow, SwarmRow, TaskRow
from core.db import EventRow, session_scope


def record(request: EntityRecord) -> int:
    """Append the request's unseen events, project its snapshot and end its operations. Returns new events."""
    with session_scope() as session:
        seqs = [event.seq for event in request.events]
        seen: set[int] = set()
        if seqs:
            seen = set(session.exec(
                select(EventRow.seq).where(EventRow.resource_id == request.id, EventRow.seq.in_(seqs))  # type: ignore[attr-defined]
            ).all())
        fresh = [event for event in request.events if event.seq not in seen]
        for event in fresh:
            session.add(EventRow(resource_id=request.id, seq=event.seq, type=event.type, at=event.at, data=event.data))
        PROJECTORS[request.kind](session, request)
        for op in request.operations:
            row = session.get(OperationRow, op["id"])
            if row is not None and row.status == "running":
                row.status = op.get("status", "succeeded")
                row.result = op.get("result") or {}
                row.error = op.get("error")
                row.completed_at = datetime.now(UTC)
                session.add(row)
        return len(fresh)


def similarity_key(task_type: str | None, command: Any) -> str | None:
    """Tasks of one type are alike; untyped tasks are alike when they run the same command."""
    if task_type:
        return f"type:{task_type}"
    if isinstance(command, str | list) and command:
        text = command if isinstance(command, str) else "\x00".join(map(str, command))
        return "command:" + hashlib.sha256(text.encode()).hexdigest()[:32]
    return None


def _newer(row: Any, seq: int) -> bool:
    return row is None or row.seq < seq


def _project_agent(session: Session, request: EntityRecord) -> None:
    row = session.get(AgentRow, request.id)
    if not _newer(row, request.seq):
        return
    state = AgentState.model_validate(request.snapshot)
    spec = state.spec
    if row is None:
        row = AgentRow(id=spec.id, name=spec.name, type=spec.type, status=state.status.value, role=spec.role,
                       swarm_id=spec.swarm_id, owner=spec.owner, created_at=spec.created_at)
    row.name = spec.name
    row.status = state.status.value
    row.current_task_id = state.current_task.id if state.current_task else None
    row.tasks_completed = state.metrics.tasks_completed
    row.tasks_failed = state.metrics.tasks_failed
    row.seq = request.seq
    row.state = request.snapshot
    row.updated_at = state.updated_at or datetime.now(UTC)
    session.add(row)


def _project_task(session: Session, request: EntityRecord) -> None:
    row = session.get(TaskRow, request.id)
    if not _newer(row, request.seq):
        return
    state = TaskState.model_validate(request.snapshot)
    spec = state.spec
    if row is None:
        row = TaskRow(id=spec.id, status=state.status.value, created_at=spec.created_at)
    row.type = spec.type
    row.description = spec.description
    row.status = state.status.value
    row.priority = spec.priority.value
    row.priority_rank = PRIORITY_RANK[Priority(spec.priority)]
    row.swarm_id = spec.swarm_id
    row.agent_id = state.agent_id
    row.parent_id = spec.parent_id
    row.owner = spec.owner
    row.similarity = similarity_key(spec.type, spec.requirements.get("command"))
    row.progress = state.progress
    row.duration_ms = state.duration_ms
    timeline = state.timeline
    row.queued_at, row.started_at = timeline.queued_at, timeline.started_at
    row.completed_at = timeline.completed_at or timeline.cancelled_at
    if timeline.queued_at and timeline.started_at:
        row.wait_ms = int((timeline.started_at - timeline.queued_at).total_seconds() * 1000)
    row.seq = request.seq
    row.state = request.snapshot
    row.updated_at = state.updated_at or datetime.now(UTC)
    session.add(row)


def _project_swarm(session: Session, request: EntityRecord) -> None:
    row = session.get(SwarmRow, request.id)
    if not _newer(row, request.seq):
        return
    state = SwarmState.model_validate(request.snapshot)
    spec = state.spec
    if row is None:
        row = SwarmRow(id=spec.id, name=spec.name, topology=spec.topology.value, strategy=spec.strategy.value,
                       status=state.status.value, max_agents=spec.max_agents, owner=spec.owner,
                       created_at=spec.created_at)
    row.name = spec.name
    row.topology = spec.topology.value
    row.strategy = spec.strategy.value
    row.status = state.status.value
    row.max_agents = spec.max_agents
    row.seq = request.seq
    row.state = request.snapshot
    row.updated_at = state.updated_at or datetime.now(UTC)
    session.add(row)


PROJECTORS = {"agent": _project_agent, "task": _project_task, "swarm": _project_swarm}
