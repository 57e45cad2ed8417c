"""`POST /api/v2/tasks`, and the task resources and results the task routes answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames, UtcDatetime
from api.dialect2.schemas.documents import Document, Relationship, Resource, _Open
from api.dialect2.schemas.envelopes import MaybeRedactedMeta, WithheldMeta
from api.dialect2.schemas.relationships import ToOneAgent, ToOneSwarm, agent_id, swarm_id
from core.agents.models import Priority, TaskConstraints, TaskStatus
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


# ---- what the API answers (api/dialect2/presenters/tasks.py) ----------------------------------------------


class TaskObjectAttributes(_Open):
    """Times are ISO 8601 (UTC), null until they happened."""

    description: str = Field(examples=["Implement user authentication with JWT"])
    taskType: str | None
    status: TaskStatus
    priority: Priority
    progress: float = Field(description="0–1", examples=[0.4])
    progressMessage: str | None = Field(description="Null also when withheld (named in `meta.redacted`)")
    requirements: dict[str, Any] | None = Field(
        description="Null when withheld (named in `meta.redacted`); `env` values always read `***`")
    deadline: str | None
    metadata: dict[str, Any]
    owner: str | None = Field(description="The user id of its creator")
    sharedWith: list[str]
    error: str | None = Field(description="Why it failed; null also when withheld (named in `meta.redacted`)")
    retryCount: int
    rollbackPerformed: bool = Field(description="Its workspace changes were rolled back (cancelled or failed)")
    subtasks: list[str] = Field(description="Ids of the subtasks a coordinator split it into")
    parentId: str | None
    createdAt: str = Field(examples=["2025-07-23T12:00:00Z"])
    queuedAt: str | None
    startedAt: str | None
    completedAt: str | None
    cancelledAt: str | None
    estimatedCompletion: str | None = Field(description="Its end once finished; while running, extrapolated")
    updatedAt: str
    estimatedTime: int | None = Field(
        default=None, description="ms, measured from similar finished tasks; absent when nothing similar has finished",
        examples=[7200])


class TaskRelationshipsOut(_Open):
    swarm: Relationship = Field(description="`data` null when it is in no swarm")
    assignedAgent: Relationship = Field(description="`data` null until an agent has it")


TASK_LINKS = {"self": "/api/v2/tasks/tk-01J00000000000000000000000",
              "results": "/api/v2/tasks/tk-01J00000000000000000000000/results"}


class TaskObject(Resource[TaskObjectAttributes]):
    """A task resource (`type: task`)."""

    type: Literal["task"]
    relationships: TaskRelationshipsOut  # type: ignore[assignment]
    links: dict[str, str] = Field(examples=[TASK_LINKS])  # type: ignore[assignment]
    meta: WithheldMeta | None = None


class TaskTokenCounts(_Open):
    prompt: int
    completion: int
    total: int


class TaskFile(_Open):
    """A file the task produced, and where the artifact store keeps it (absent when it was not stored)."""

    type: str = Field(examples=["code"])
    path: str = Field(examples=["src/auth/jwt.service.ts"])
    size: int = Field(description="bytes")
    id: str | None = None
    sha256: str | None = None
    url: str | None = Field(default=None, examples=["/api/v2/artifacts/art-01J00000000000000000000000"])


class TaskOutcome(_Open):
    """What the executor measured; a figure it could not measure is null."""

    success: bool
    executor: str = Field(examples=["shell"])
    exitCode: int | None
    output: str
    truncated: bool = Field(description="`output` was cut to the size limit")
    error: str | None
    filesCreated: list[str] = Field(examples=[["src/auth/jwt.service.ts", "src/auth/auth.controller.ts"]])
    filesChanged: list[str]
    filesDeleted: list[str]
    linesOfCode: int
    testsWritten: int | None = Field(examples=[12])
    testsPassed: int | None = Field(examples=[12])
    testsFailed: int | None
    coverage: float | None = Field(examples=[0.94])
    artifacts: dict[str, str] = Field(description="Each stored file's path → its download link",
                                      examples=[{"postman.json": "/api/v2/artifacts/art-01J00000000000000000000000"}])
    files: list[TaskFile]
    durationMs: int
    cpuTime: float | None = Field(description="CPU seconds")
    memoryPeak: float | None = Field(description="MB")
    apiCalls: int | None
    tokens: TaskTokenCounts | None


class AgentPerformance(_Open):
    successRate: float | None
    avgCompletionTime: int | None = Field(description="ms")


class ResultAgent(_Open):
    """The agent that ran it (null when there is none, or it is not visible to the caller)."""

    id: str
    name: str
    agentType: str
    performance: AgentPerformance


class TaskResults(_Open):
    """`GET /api/v2/tasks/{id}/results`."""

    taskId: str
    status: TaskStatus
    completedAt: str | None = Field(description="When it completed, failed or was cancelled")
    executionTime: int | None = Field(description="ms from start to end", examples=[7245])
    error: str | None = Field(description="Null also when withheld (named in `meta.redacted`)")
    result: TaskOutcome | None = Field(description="Null until it has finished, or when withheld")
    agent: ResultAgent | None


class TaskResultsDocument(Document[TaskResults]):
    meta: MaybeRedactedMeta
