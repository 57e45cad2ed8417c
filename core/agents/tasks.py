"""Tasks: create, read (live), list, update, cancel, results.

A task is a TaskWorkflow whose workflow id is the task id; agents run it and the database holds its projection.
`estimated_duration_s` is the median duration of finished tasks like it (same type, or same command), or absent
when there are none: never a constant.

Every function acts for a `Caller` (core/access.py): a task belongs to its creator; changing, cancelling and
assigning it need the owner or an admin, and the agent it is assigned to (or the swarm it is submitted into)
must be the caller's own or shared with them. Reads go through `core.agents.visibility`."""

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

from core.access import Caller, may_read, require_use, require_write
from core.agents import lookup
from core.agents.config_rules import refuse_secrets
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
from core.agents.lookup import swarm_row
from core.agents.models import TERMINAL_TASK, Priority, SwarmStatus, TaskConstraints, TaskSpec, TaskStatus
from core.agents.projection import TASK_PROJECTION, similarity_key
from core.agents.state import Assignment, TaskState, Timeline
from core.agents.tables import TaskRow
from core.agents.visibility import task_view
from core.db import session_scope
from core.errors import Conflict, DomainError, NotFound, Unavailable, ValidationFailed
from core.events.models import Event
from core.events.store import list_events
from core.ids import new_id
from core.limits.quotas import check_quota, quota_limit
from core.listing import Page, PageRequest, paginate
from core.names import TASK_WORKFLOW
from core.settings import Settings
from core.sharing import check_shared_with
from core.temporal import check_workflow_input

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
    shared_with: list[str] = Field(default_factory=list)


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


async def create_task(client: Client, settings: Settings, body: TaskCreate, *, caller: Caller,
                      tier: str, agent_id: str | None = None) -> TaskState:
    """Create the task, owned by the caller (queued in its swarm when it names one). With `agent_id` it is then
    assigned to that agent; if the agent refuses, the task is cancelled rather than left waiting forever. The swarm
    or agent must be the caller's own or shared with them (403): the task's requirements run there."""
    if body.swarm_id and agent_id:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "agent_id", "constraint": "exclusive",
            "message": "a task in a swarm is assigned by the swarm; give either swarm or assignedAgent"}])
    refuse_secrets(body.metadata, "metadata")
    shared = await asyncio.to_thread(check_shared_with, body.shared_with)
    owner = caller.id
    if agent_id:
        agent = await lookup.get_agent(client, agent_id)  # 404 before anything is created
        require_use(caller, agent.spec.owner, agent.spec.shared_with, "agent", agent_id, "assign tasks to it")
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
        require_use(caller, swarm.spec.owner, swarm.spec.shared_with, "swarm", body.swarm_id, "submit tasks into it")
        if swarm.status == SwarmStatus.terminated:
            raise Conflict(f"Swarm {body.swarm_id} is terminated")
    estimate = await asyncio.to_thread(estimate_duration_s, body.type, body.requirements.get("command"))
    spec = TaskSpec(id=new_id("tk"), type=body.type, description=body.description, priority=body.priority,
                    requirements=body.requirements, constraints=body.constraints, metadata=body.metadata,
                    swarm_id=body.swarm_id, owner=owner, shared_with=shared or [], estimated_duration_s=estimate,
                    created_at=now)
    state = TaskState(spec=spec, timeline=Timeline(created_at=now), updated_at=now)
    check_workflow_input(TaskInput(spec=spec), "task")
    await asyncio.to_thread(seed_projection, TASK_PROJECTION.kind, spec.id, state.model_dump(mode="json"),
                            "task.submitted", {"task_id": spec.id})
    try:
        await client.start_workflow(TASK_WORKFLOW, TaskInput(spec=spec), id=spec.id,
                                    task_queue=settings.task_queue)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the task: {err.message}") from None
    if agent_id:
        try:
            await _assign(client, state, agent_id, by=caller.username)
        except DomainError:  # the agent refused (terminated meanwhile): do not leave the task waiting forever
            await _cancel(client, spec.id)
            raise
        state.agent_id = agent_id
    return task_view(state, caller)


async def get_task(client: Client, task_id: str, *, caller: Caller) -> TaskState:
    """The task as the caller may see it (live while it runs)."""
    return task_view(await lookup.get_task(client, task_id), caller)


def list_tasks(page: PageRequest, *, caller: Caller, swarm_id: str | None = None) -> Page[TaskState]:
    with session_scope() as session:
        query = select(TaskRow)
        if swarm_id is not None:
            query = query.where(TaskRow.swarm_id == swarm_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=TaskRow.id,
                        filterable=FILTERABLE)
        return rows.map(lambda row: task_view(TaskState.model_validate(row.state), caller))


async def update_task(client: Client, task_id: str, patch: TaskPatch, *, caller: Caller) -> TaskState:
    current = await lookup.get_task(client, task_id)
    require_write(caller, current.spec.owner, "task", task_id)
    if current.status in TERMINAL_TASK:
        raise Conflict(f"Task {task_id} is already {current.status.value}")
    if patch.metadata is not None:
        refuse_secrets(patch.metadata, "metadata")
    if patch.shared_with is not None:
        patch = patch.model_copy(update={"shared_with": await asyncio.to_thread(check_shared_with, patch.shared_with)})
    return task_view(await update(client, task_id, TaskHandlers.UPDATE, patch, TaskState, "task"), caller)


async def cancel_task(client: Client, task_id: str, *, caller: Caller) -> CancelOutcome:
    """Stop the task wherever it is (owner or admin); `rollback_performed` says whether its workspace was really
    restored."""
    current = await lookup.get_task(client, task_id)
    require_write(caller, current.spec.owner, "task", task_id, "cancel")
    return await _cancel(client, task_id, current)


# How long a cancel waits for the task to be stopped (usually about half a second: docs/benchmarks.md) before it
# answers with the task as it stands (still running, its cancellation under way) instead of the final state.
CANCEL_ANSWER_WITHIN_S = 5.0


async def _cancel(client: Client, task_id: str, current: TaskState | None = None) -> CancelOutcome:
    """The final outcome when the task stops within CANCEL_ANSWER_WITHIN_S; else the task's current (not yet
    terminal) status while the cancellation goes on — the Update keeps running, so it is not lost."""
    current = current or await lookup.get_task(client, task_id)
    if current.status in TERMINAL_TASK:
        if current.status == TaskStatus.cancelled:
            return CancelOutcome(task_id=task_id, status=current.status, cancelled_at=current.timeline.cancelled_at,
                                 rollback_performed=current.rollback_performed)
        raise Conflict(f"Task {task_id} already finished ({current.status.value})")
    asked = asyncio.ensure_future(update(client, task_id, TaskHandlers.CANCEL, None, CancelOutcome, "task"))
    done, _ = await asyncio.wait([asked], timeout=CANCEL_ANSWER_WITHIN_S)
    if done:
        return asked.result()
    asked.add_done_callback(lambda f: f.cancelled() or f.exception())  # its outcome is the task's, read later
    return CancelOutcome(task_id=task_id, status=current.status)


def task_events(task_id: str, *, caller: Caller) -> list[Event] | None:
    """The task's events (its log) for those entitled to its results; None (withheld) for anyone else."""
    state = lookup.task_row(task_id)
    if state is None:
        raise NotFound("task", task_id)
    if not may_read(caller, state.spec.owner, state.spec.shared_with):
        return None
    return list_events(task_id)


async def assign_task(client: Client, task_id: str, agent_id: str, *, caller: Caller,
                      priority: Priority | None = None) -> AssignAck:
    """Hand the caller's task (or any, for an admin) to an agent that is the caller's own or shared with them."""
    task = await lookup.get_task(client, task_id)
    require_write(caller, task.spec.owner, "task", task_id, "assign")
    agent = await lookup.get_agent(client, agent_id)  # 404 for an unknown agent
    require_use(caller, agent.spec.owner, agent.spec.shared_with, "agent", agent_id, "assign tasks to it")
    return await _assign(client, task, agent_id, priority=priority, by=caller.username)


async def _assign(client: Client, task: TaskState, agent_id: str, *, priority: Priority | None = None,
                  by: str | None = None) -> AssignAck:
    """Hand a task to an agent (an Update the agent can refuse, e.g. when terminated), then tell the task. A
    `priority` becomes the task's own priority too, once the agent has accepted it. The assignment carries the
    task's owner: the agent reads memory as that user, never as its own owner."""
    task_id = task.spec.id
    if task.status not in (TaskStatus.pending, TaskStatus.queued):
        raise Conflict(f"Task {task_id} is already {task.status.value}")
    if task.spec.swarm_id:
        raise Conflict(f"Task {task_id} belongs to swarm {task.spec.swarm_id}, which assigns it")
    if task.agent_id and task.agent_id != agent_id:
        raise Conflict(f"Task {task_id} is already assigned to {task.agent_id}")
    spec = task.spec
    assignment = Assignment(task_id=spec.id, description=spec.description, type=spec.type,
                            priority=priority or spec.priority, requirements=spec.requirements, assigned_by=by or "api",
                            owner=spec.owner)
    ack = await update(client, agent_id, AgentHandlers.ASSIGN, assignment, AssignAck, "agent")
    await client.get_workflow_handle(task_id).signal(TaskHandlers.ASSIGNED, AssignedBy(
        agent_id=agent_id, assigned_by=by, at=ack.assigned_at))
    if priority is not None:
        try:
            current = await lookup.get_task(client, task_id)
            if current.status not in TERMINAL_TASK:
                await update(client, task_id, TaskHandlers.UPDATE, TaskPatch(priority=priority), TaskState, "task")
        except Conflict:  # it finished already: its priority no longer matters
            pass
    return ack
