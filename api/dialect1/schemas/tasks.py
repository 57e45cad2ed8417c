"""`POST /api/tasks`, `PUT /api/tasks/{id}`, `POST /api/tasks/{id}/assign`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames, UtcDatetime
from core.agents.contracts import TaskPatch
from core.agents.models import Priority, TaskConstraints
from core.agents.tasks import TaskCreate

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
    shared_with: Usernames = Field(default_factory=list, description="users who may read its results")

    def to_domain(self) -> TaskCreate:
        return TaskCreate(type=self.type, description=self.description, priority=self.priority,
                          requirements=self.requirements,
                          constraints=TaskConstraints(**self.constraints.model_dump()),
                          metadata=self.metadata, swarm_id=self.swarm_id, shared_with=self.shared_with)


class TaskUpdateV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"priority": "critical", "deadline": "2024-01-01T18:00:00Z",
         "metadata": {"escalated": True, "reason": "customer request"}}]})
    priority: Priority | None = None
    deadline: UtcDatetime | None = None
    description: str | None = Field(default=None, max_length=100_000)
    metadata: dict[str, Any] | None = None
    shared_with: Usernames | None = Field(default=None, description="replaces the current list")

    def to_domain(self) -> TaskPatch:
        return TaskPatch(**self.model_dump())


class AssignV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"agent_id": "ag-01J00000000000000000000000", "priority_override": "critical", "start_immediately": True}]})
    agent_id: str = Field(max_length=100)
    priority_override: Priority | None = Field(default=None, description="becomes the task's priority")
    start_immediately: bool = Field(
        default=True, description="the task joins the agent's queue at once (by priority) and runs as soon as the "
                                  "agent is free; `false` (hold it assigned but unstarted) is not supported")
