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

from core.agents.contracts import (
    AgentHandlers,
    AssignAck,
    AssignedBy,
    CancelOutcome,
    TaskHandlers,
    TaskInput,
    TaskPatch,
)
from core.agents.entities import seed_projection, update
from core.agents.lookup import get_agent, get_task, swarm_row
from core.agents.models import TERMINAL_TASK, Priority, SwarmStatus, TaskConstraints, TaskSpec, TaskStatus
from core.agents.projection import TASK_PROJECTION, similarity_key
from core.agents.state import Assignment, TaskState, Timeline
from core.agents.tables import TaskRow
from core.db import session_scope
from core.errors import Conflict, DomainError, NotFound, Unavailable, ValidationFailed
from core.events.models import Event
from core.events.store import list_events
from core.ids import new_id
from core.limits.quotas import check_quota, quota_limit
from core.listing import Page, PageRequest, paginate
from core.names import TASK_WORKFLOW
from core.settings import Settings

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
                      tier: str, agent_id: str | None = None, by: str | None = None) -> TaskState:
    """Create the task (queued in its swarm when it names one). With `agent_id` it is then assigned to that agent;
    if the agent refuses, the task is cancelled rather than left waiting forever."""
    if body.swarm_id and agent_id:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "agent_id", "constraint": "exclusive",
            "message": "a task in a swarm is assigned by the swarm; give either swarm or assignedAgent"}])
    if agent_id:
        await get_agent(client, agent_id)  # 404 before anything is created
    now = datetime.now(UTC)
    if quota_limit(tier, "tasks_per_hour", settings) is not None:  # unlimited tiers need no count
        used, oldest = await asyncio.to_thread(tasks_created_since, owner, now - timedelta(hours=1))
        retry_after = None
        if oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            retry_after = max((oldest + timedelta(hours=1) - now).total_seconds(), 1)
        check_quota(tier, "tasks_per_hour", used, 1, settings=settings, retry_after=retry_after)
    if body.swarm_id:  # the projection, not a query: a busy swarm must not be asked once per submitted task
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
    await asyncio.to_thread(seed_projection, TASK_PROJECTION.kind, spec.id, state.model_dump(mode="json"),
                            "task.submitted", {"task_id": spec.id})
    try:
        await client.start_workflow(TASK_WORKFLOW, TaskInput(spec=spec), id=spec.id,
                                    task_queue=settings.task_queue)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the task: {err.message}") from None
    if agent_id:
        try:
            await assign_task(client, spec.id, agent_id, by=by)
        except DomainError:  # the agent refused (terminated meanwhile): do not leave the task waiting forever
            await cancel_task(client, spec.id)
            raise
        state.agent_id = agent_id
    return state


def list_tasks(page: PageRequest, *, swarm_id: str | None = None) -> Page[TaskState]:
    with session_scope() as session:
        query = select(TaskRow)
        if swarm_id is not None:
            query = query.where(TaskRow.swarm_id == swarm_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=TaskRow.id,
                        filterable=FILTERABLE)
        return rows.map(lambda row: TaskState.model_validate(row.state))


async def update_task(client: Client, task_id: str, patch: TaskPatch) -> TaskState:
    current = await get_task(client, task_id)
    if current.status in TERMINAL_TASK:
        raise Conflict(f"Task {task_id} is already {current.status.value}")
    return await update(client, task_id, TaskHandlers.UPDATE, patch, TaskState, "task")


async def cancel_task(client: Client, task_id: str) -> CancelOutcome:
    """Stop the task wherever it is; `rollback_performed` says whether its workspace was really restored."""
    current = await get_task(client, task_id)
    if current.status in TERMINAL_TASK:
        if current.status == TaskStatus.cancelled:
            return CancelOutcome(task_id=task_id, status=current.status, cancelled_at=current.timeline.cancelled_at,
                                 rollback_performed=current.rollback_performed)
        raise Conflict(f"Task {task_id} already finished ({current.status.value})")
    return await update(client, task_id, TaskHandlers.CANCEL, None, CancelOutcome, "task")


def task_events(task_id: str) -> list[Event]:
    return list_events(task_id)


async def assign_task(client: Client, task_id: str, agent_id: str, *, priority: Priority | None = None,
                      by: str | None = None) -> AssignAck:
    """Hand a task to an agent (an Update the agent can refuse, e.g. when terminated), then tell the task. A
    `priority` becomes the task's own priority too, once the agent has accepted it."""
    task = await get_task(client, task_id)
    if task.status not in (TaskStatus.pending, TaskStatus.queued):
        raise Conflict(f"Task {task_id} is already {task.status.value}")
    if task.spec.swarm_id:
        raise Conflict(f"Task {task_id} belongs to swarm {task.spec.swarm_id}, which assigns it")
    if task.agent_id and task.agent_id != agent_id:
        raise Conflict(f"Task {task_id} is already assigned to {task.agent_id}")
    await get_agent(client, agent_id)  # 404 for an unknown agent
    spec = task.spec
    assignment = Assignment(task_id=spec.id, description=spec.description, type=spec.type,
                            priority=priority or spec.priority, requirements=spec.requirements, assigned_by=by or "api")
    ack = await update(client, agent_id, AgentHandlers.ASSIGN, assignment, AssignAck, "agent")
    await client.get_workflow_handle(task_id).signal(TaskHandlers.ASSIGNED, AssignedBy(
        agent_id=agent_id, assigned_by=by, at=ack.assigned_at))
    if priority is not None:
        try:
            await update_task(client, task_id, TaskPatch(priority=priority))
        except Conflict:  # it finished already: its priority no longer matters
            pass
    return ack
