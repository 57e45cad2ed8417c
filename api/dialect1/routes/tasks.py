"""Dialect 1 (`/api/tasks`): create, list, read, update, cancel tasks and assign them to agents, with the
claude-flow spec's plain snake_case bodies.

A task in a swarm is queued there and the swarm assigns it; a task without one waits for
`POST /api/tasks/{id}/assign`. Which agent runs it decides how: a `shell` agent runs `requirements.command`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageV1Dep, Principal, SettingsDep, require
from api.presenters import agents as present
from api.presenters import v1
from api.routes.entity_common import CONFLICT, UtcDatetime, checked
from core.agents import tasks
from core.agents.contracts import TaskPatch
from core.agents.models import Priority, TaskConstraints
from core.errors import ValidationFailed

router = APIRouter(prefix="/api/tasks", tags=["tasks (dialect 1)"])

EXAMPLE_CREATE = {
    "type": "code_generation", "description": "Create REST API endpoints for user management", "priority": "high",
    "requirements": {"language": "typescript", "framework": "express",
                     "features": ["CRUD operations", "validation", "authentication"]},
    "constraints": {"deadline": "2024-01-02T00:00:00Z", "max_agents": 3, "budget": 100},
    "metadata": {"project": "api-v2", "sprint": "2024-Q1-S1"},
}


class ConstraintsV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deadline: UtcDatetime | None = Field(default=None, description="past it, the task fails (`Deadline exceeded`)")
    max_agents: int | None = Field(default=None, ge=1, le=1000)
    budget: float | None = Field(default=None, ge=0, le=1e12)


class TaskCreateV1(BaseModel):
    """`requirements` is what the executor reads: `command` (shell), `files` ({path: text} seeded into the
    workspace before it runs), `capabilities`/`agent_type` (which swarm agent may take it), `subtasks`
    (hierarchical swarms)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    type: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=100_000)
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    constraints: ConstraintsV1 = Field(default_factory=ConstraintsV1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = Field(default=None, max_length=100, description="queue it in this swarm")


class TaskUpdateV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"priority": "critical", "deadline": "2024-01-01T18:00:00Z",
         "metadata": {"escalated": True, "reason": "customer request"}}]})
    priority: Priority | None = None
    deadline: UtcDatetime | None = None
    description: str | None = Field(default=None, max_length=100_000)
    metadata: dict[str, Any] | None = None


class AssignV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"agent_id": "ag-01J00000000000000000000000", "priority_override": "critical", "start_immediately": True}]})
    agent_id: str = Field(max_length=100)
    priority_override: Priority | None = Field(default=None, description="becomes the task's priority")
    start_immediately: bool = Field(
        default=True, description="the task joins the agent's queue at once (by priority) and runs as soon as the "
                                  "agent is free; `false` (hold it assigned but unstarted) is not supported")


def to_domain(body: TaskCreateV1) -> tasks.TaskCreate:
    return tasks.TaskCreate(type=body.type, description=body.description, priority=body.priority,
                            requirements=body.requirements,
                            constraints=TaskConstraints(**body.constraints.model_dump()),
                            metadata=body.metadata, swarm_id=body.swarm_id)


@router.get("")
def list_tasks(page: PageV1Dep, _: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """Filters: `status`, `agent_id`, `priority`, `swarm_id`, `type`, `parent_id`. Sort: `created_at` (default),
    `priority`, `status`, `updated_at`."""
    result = tasks.list_tasks(page)
    return v1.paged("tasks", [present.task_v1(state) for state in result.items], result)


@router.post("", status_code=201, responses=CONFLICT)
async def create_task(body: TaskCreateV1, client: ClientDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    if body.swarm_id is not None:
        checked("swarm", body.swarm_id)
    state = await tasks.create_task(client, settings, to_domain(body), owner=principal.id, tier=principal.tier)
    return JSONResponse(present.task_created_v1(state), status_code=201,
                        headers={"Location": f"/api/tasks/{state.spec.id}"})


@router.get("/{task_id}")
async def get_task(task_id: str, client: ClientDep, _: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    return present.task_v1(await tasks.get_task(client, checked("task", task_id)), detail=True)


@router.put("/{task_id}", responses=CONFLICT)
async def update_task(task_id: str, body: TaskUpdateV1, client: ClientDep,
                      _: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    state = await tasks.update_task(client, checked("task", task_id), TaskPatch(**body.model_dump()))
    return present.task_v1(state, detail=True)


@router.delete("/{task_id}", responses=CONFLICT)
async def cancel_task(task_id: str, client: ClientDep,
                      _: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    """Stops the task wherever it is. `rollback_performed` is true only when its workspace really had to be
    restored. Cancelling a cancelled task answers the same again; a finished one is a 409."""
    checked("task", task_id)
    return present.cancelled_v1(await tasks.cancel_task(client, task_id))


@router.post("/{task_id}/assign", responses=CONFLICT)
async def assign_task(task_id: str, body: AssignV1, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    """`queue_position` 0: the agent runs it next (now, when idle); n: n tasks are ahead of it."""
    checked("task", task_id)
    if not body.start_immediately:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "start_immediately", "constraint": "enum", "value": False,
            "message": "an assigned task always joins the agent's queue; hold it by not assigning it yet"}])
    agent_id = checked("agent", body.agent_id)
    ack = await tasks.assign_task(client, task_id, agent_id, priority=body.priority_override,
                                  by=principal.username)
    return {"message": "Task assigned", "task_id": ack.task_id, "agent_id": ack.agent_id,
            "queue_position": ack.queue_position, "status": "queued"}
