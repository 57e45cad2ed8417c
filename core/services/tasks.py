"""Tasks: create, read (live), list, update, cancel, results.

A task is a TaskWorkflow whose workflow id is the task id; agents run it and the database holds its projection.
`estimated_duration_s` is the median duration of finished tasks like it (same type, or same command), or absent
when there are none: never a constant."""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import Client
from temporalio.service import RPCError

from core.agents.models import TERMINAL_TASK, Priority, SwarmStatus, TaskConstraints, TaskSpec, TaskStatus
from core.agents.projection import similarity_key
from core.agents.state import CancelOutcome, TaskPatch, TaskState, Timeline
from core.agents.tables import TaskRow
from core.db import session_scope
from core.errors import Conflict, NotFound, Unavailable
from core.events import list_events
from core.ids import new_id
from core.listing import Page, PageRequest, paginate
from core.models import RunEvent
from core.quotas import check_quota, quota_limit
from core.services.entities import live_state, seed_projection, update
from core.settings import Settings
from workflows.task import TaskInput, TaskWorkflow

SORTABLE = {"createdAt": TaskRow.created_at, "priority": TaskRow.priority_rank, "status": TaskRow.status,
            "updatedAt": TaskRow.updated_at}
FILTERABLE = {"status": TaskRow.status, "agentId": TaskRow.agent_id, "priority": TaskRow.priority,
              "swarmId": TaskRow.swarm_id, "type": TaskRow.type, "parentId": TaskRow.parent_id}
SIMILAR_SAMPLE = 50


class TaskCreate(BaseModel):
    type: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=100_000)
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    constraints: TaskConstraints = Field(default_factory=TaskConstraints)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = None


def tasks_created_since(owner: str | None, since: datetime) -> tuple[int, datetime | None]:
    with session_scope() as session:
        query = select(func.count(), func.min(TaskRow.created_at)).where(TaskRow.created_at >= since)
        if owner is not None:
            query = query.where(TaskRow.owner == owner)
        count, oldest = session.exec(query).one()
        return int(count), oldest


def estimate_duration_s(task_type: str | None, command: Any) -> float | None:
    """The median duration of the last finished tasks of the same type (or, untyped, with the same command)."""
    key = similarity_key(task_type, command)
    if key is None:
        return None
    with session_scope() as session:
        durations = session.exec(
            select(TaskRow.duration_ms)
            .where(TaskRow.similarity == key, TaskRow.status == TaskStatus.completed.value)
            .order_by(TaskRow.completed_at.desc())  # type: ignore[union-attr]
            .limit(SIMILAR_SAMPLE)
        ).all()
        values = [d for d in durations if d is not None]
        return round(statistics.median(values) / 1000, 3) if values else None


async def create_task(client: Client, settings: Settings, body: TaskCreate, *, owner: str | None,
                      tier: str) -> TaskState:
    now = datetime.now(UTC)
    if quota_limit(tier, "tasks_per_hour", settings) is not None:  # unlimited tiers need no count
        used, oldest = await asyncio.to_thread(tasks_created_since, owner, now - timedelta(hours=1))
        retry_after = None
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            retry_after = max((oldest + timedelta(hours=1) - now).total_seconds(), 1)
        check_quota(tier, "tasks_per_hour", used, 1, settings=settings, retry_after=retry_after)
    if body.swarm_id:  # the projection, not a query: a busy swarm must not be asked once per submitted task
        from core.services.swarms import swarm_row

        swarm = await asyncio.to_thread(swarm_row, body.swarm_id)
        if swarm is None:
            raise NotFound("swarm", body.swarm_id)
        if swarm.status == SwarmStatus.terminated:
            raise Conflict(f"Swarm {body.swarm_id} is terminated")
    estimate = await asyncio.to_thread(estimate_duration_s, body.type, body.requirements.get("command"))
    spec = TaskSpec(id=new_id("tk"), type=body.type, description=body.description, priority=body.priority,
                    requirements=body.requirements, constraints=body.constraints, metadata=body.metadata,
                    swarm_id=body.swarm_id, owner=owner, estimated_duration_s=estimate, created_at=now)
    state = TaskState(spec=spec, timeline=Timeline(created_at=now), updated_at=now)
    await asyncio.to_thread(seed_projection, "task", spec.id, state.model_dump(mode="json"), "task.submitted",
                            {"task_id": spec.id})
    try:
        await client.start_workflow(TaskWorkflow.run, TaskInput(spec=spec), id=spec.id,
                                    task_queue=settings.task_queue)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the task: {err.message}") from None
    return state


def _from_row(row: TaskRow) -> TaskState:
    return TaskState.model_validate(row.state)


def task_row(task_id: str) -> TaskState | None:
    with session_scope() as session:
        row = session.get(TaskRow, task_id)
        return _from_row(row) if row is not None else None


async def get_task(client: Client, task_id: str) -> TaskState:
    return await live_state(client, task_id, TaskState, lambda: task_row(task_id), "task")


def list_tasks(page: PageRequest, *, swarm_id: str | None = None) -> Page[TaskState]:
    with session_scope() as session:
        query = select(TaskRow)
        if swarm_id is not None:
            query = query.where(TaskRow.swarm_id == swarm_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=TaskRow.id,
                        filterable=FILTERABLE)
        return rows.map(_from_row)


async def update_task(client: Client, task_id: str, patch: TaskPatch) -> TaskState:
    current = await get_task(client, task_id)
    if current.status in TERMINAL_TASK:
        raise Conflict(f"Task {task_id} is already {current.status.value}")
    return await update(client, task_id, "update", patch, TaskState, "task")


async def cancel_task(client: Client, task_id: str) -> CancelOutcome:
    """Stop the task wherever it is; `rollback_performed` says whether its workspace was really restored."""
    current = await get_task(client, task_id)
    if current.status in TERMINAL_TASK:
        if current.status == TaskStatus.cancelled:
            return CancelOutcome(task_id=task_id, status=current.status, cancelled_at=current.timeline.cancelled_at,
                                 rollback_performed=current.rollback_performed)
        raise Conflict(f"Task {task_id} already finished ({current.status.value})")
    return await update(client, task_id, "cancel", None, CancelOutcome, "task")


def task_events(task_id: str) -> list[RunEvent]:
    return list_events(task_id)
