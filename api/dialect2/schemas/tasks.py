"""`POST /api/v2/tasks`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames, UtcDatetime
from api.dialect2.schemas.relationships import ToOneAgent, ToOneSwarm, agent_id, swarm_id
from core.agents.models import Priority, TaskConstraints
from core.agents.tasks import TaskCreate

EXAMPLE_CREATE = {"data": {
    "type": "task",
    "attributes": {"description": "Implement user authentication with JWT", "priority": "high",
                   "requirements": {"language": "typescript", "framework": "express",
                                    "features": ["login", "refresh-token", "logout", "password-reset"]},
                   "deadline": "2025-07-25T00:00:00Z"},
    "relationships": {"swarm": {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000"}}},
}}
# The service's field names in validation errors → this body's.
CREATE_FIELDS = {"agent_id": "data.relationships.assignedAgent", "metadata": "data.attributes.metadata",
                 "shared_with": "data.attributes.sharedWith"}


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
    sharedWith: Usernames = Field(default_factory=list, description="users who may read its results")


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

    def to_domain(self) -> tuple[TaskCreate, str | None]:
        """(the task, the agent to assign it to, if any)."""
        a = self.data.attributes
        relationships = self.data.relationships or TaskRelationships()
        swarm, agent = swarm_id(relationships.swarm), agent_id(relationships.assignedAgent)
        task = TaskCreate(type=a.taskType, description=a.description, priority=a.priority,
                          requirements=a.requirements,
                          constraints=TaskConstraints(deadline=a.deadline, max_agents=a.maxAgents, budget=a.budget),
                          metadata=a.metadata, swarm_id=swarm, shared_with=a.sharedWith)
        return task, agent
