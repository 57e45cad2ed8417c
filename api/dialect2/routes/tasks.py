"""Dialect 2 (`/api/v2/tasks`): JSON:API task resources — create (into a swarm, or assigned to an agent), read,
and results."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, Principal, SettingsDep, require
from api.presenters import agents as present
from api.presenters import v2
from api.routes.agents_v2 import ToOneSwarm, swarm_of
from api.routes.entity_common import CONFLICT, UtcDatetime, checked
from api.routes.swarms_v2 import resource_type
from core.agents import agents, tasks
from core.agents.models import Priority, TaskConstraints
from core.agents.state import AgentState
from core.errors import NotFound, ValidationFailed

router = APIRouter(prefix="/api/v2/tasks", tags=["tasks"])

EXAMPLE_CREATE = {"data": {
    "type": "task",
    "attributes": {"description": "Implement user authentication with JWT", "priority": "high",
                   "requirements": {"language": "typescript", "framework": "express",
                                    "features": ["login", "refresh-token", "logout", "password-reset"]},
                   "deadline": "2025-07-25T00:00:00Z"},
    "relationships": {"swarm": {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000"}}},
}}


class TaskAttributes(BaseModel):
    """`requirements` is what the executor reads: `command` (shell), `files` ({path: text} seeded into the
    workspace), `capabilities`/`agent_type` (which swarm agent may take it), `subtasks` (hierarchical swarms)."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(default="", max_length=100_000)
    taskType: str | None = Field(default=None, max_length=200)
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    deadline: UtcDatetime | None = Field(default=None, description="past it, the task fails (`Deadline exceeded`)")
    maxAgents: int | None = Field(default=None, ge=1, le=1000)
    budget: float | None = Field(default=None, ge=0, le=1e12)
    metadata: dict[str, Any] = Field(default_factory=dict)


class AgentLinkage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="`agent`")
    id: str = Field(max_length=100)


class ToOneAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: AgentLinkage | None = None


class TaskRelationships(BaseModel):
    model_config = ConfigDict(extra="forbid")
    swarm: ToOneSwarm | None = None
    assignedAgent: ToOneAgent | None = Field(default=None, description="run it on this agent (not with a swarm)")


class TaskResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="must be `task` (anything else is a 409)")
    attributes: TaskAttributes = Field(default_factory=TaskAttributes)
    relationships: TaskRelationships | None = None


class TaskDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    data: TaskResource


def _agent_of(relationships: TaskRelationships | None) -> str | None:
    if relationships is None or relationships.assignedAgent is None or relationships.assignedAgent.data is None:
        return None
    linkage = relationships.assignedAgent.data
    if linkage.type != "agent":
        raise ValidationFailed("Request validation failed", details=[{
            "field": "data.relationships.assignedAgent.data.type", "constraint": "const", "value": linkage.type,
            "message": "must be 'agent'"}])
    return checked("agent", linkage.id)


@router.post("", status_code=201, responses=CONFLICT)
async def create_task(body: TaskDocument, client: ClientDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    """In a swarm (`relationships.swarm`) the swarm assigns it; with `relationships.assignedAgent` it goes to that
    agent; with neither it waits for `POST /api/tasks/{id}/assign`."""
    resource_type("task", body.data.type)
    a = body.data.attributes
    swarm_id = swarm_of(body.data.relationships)
    agent_id = _agent_of(body.data.relationships)
    if swarm_id and agent_id:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "data.relationships.assignedAgent", "constraint": "exclusive",
            "message": "a task in a swarm is assigned by the swarm; give either swarm or assignedAgent"}])
    request = tasks.TaskCreate(type=a.taskType, description=a.description, priority=a.priority,
                               requirements=a.requirements,
                               constraints=TaskConstraints(deadline=a.deadline, max_agents=a.maxAgents,
                                                           budget=a.budget),
                               metadata=a.metadata, swarm_id=swarm_id)
    state = await tasks.create_task(client, settings, request, owner=principal.id, tier=principal.tier,
                                    agent_id=agent_id, by=principal.username)
    location = f"/api/v2/tasks/{state.spec.id}"
    return JSONResponse(v2.ok(present.task_v2(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{task_id}")
async def get_task(task_id: str, client: ClientDep, _: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    return v2.ok(present.task_v2(await tasks.get_task(client, checked("task", task_id))))


@router.get("/{task_id}/results")
async def task_results(task_id: str, client: ClientDep,
                       _: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """What the task produced, measured in its workspace; `result` is null until it has finished."""
    state = await tasks.get_task(client, checked("task", task_id))
    agent: AgentState | None = None
    if state.agent_id:
        try:
            agent = await agents.get_agent(client, state.agent_id)
        except NotFound:
            agent = None
    return v2.ok(present.task_results_v2(state, agent))
