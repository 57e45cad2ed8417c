"""Pydantic models of every resource the SDK returns.

Attributes are snake_case whatever the dialect: agents, tasks, swarms and memory come from dialect 1 (`/api/...`,
snake_case on the wire), workflows, runs, users and API keys from dialect 2 (`/api/v2/...`, camelCase on the wire,
read through aliases). Every model keeps fields it does not declare (`extra="allow"`, read them with
`model.model_extra` or `getattr`), so a field the server adds later is never lost or an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TERMINAL_TASK = frozenset({"completed", "failed", "cancelled"})
TERMINAL_RUN = frozenset({"succeeded", "failed", "cancelled"})


class Resource(BaseModel):
    """A dialect-1 body: names as on the wire."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CamelResource(BaseModel):
    """A dialect-2 body: camelCase on the wire, snake_case here."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


# ---- agents --------------------------------------------------------------------------------------------------


class Agent(Resource):
    id: str
    name: str | None = None
    type: str
    status: str
    capabilities: list[str] = Field(default_factory=list)
    swarm_id: str | None = None
    role: str | None = None
    owner: str | None = None
    shared_with: list[str] = Field(default_factory=list)
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    executor: str | None = None
    created_at: str | None = None


class AgentHealth(Resource):
    """`GET /api/agents/{id}/health`: what was measured; unmeasured figures are null."""

    agent_id: str | None = None
    status: str | None = None


class Terminated(Resource):
    message: str | None = None
    agent_id: str | None = None


# ---- tasks ---------------------------------------------------------------------------------------------------


class TaskResult(Resource):
    """A finished task's result. `success` is false for a failed task even when its executor left no result."""

    success: bool
    executor: str | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    artifacts: list[dict[str, Any]] = Field(default_factory=list)


class Task(Resource):
    id: str
    type: str | None = None
    description: str = ""
    status: str
    priority: str | None = None
    assigned_agent: str | None = None
    assigned_agents: list[str] = Field(default_factory=list)
    progress: float | None = None
    swarm_id: str | None = None
    owner: str | None = None
    created_at: str | None = None
    result: TaskResult | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_TASK


class Assignment(Resource):
    task_id: str
    agent_id: str
    queue_position: int
    status: str
    message: str | None = None


class TaskCancellation(Resource):
    task_id: str
    status: str
    cancelled_at: str | None = None
    rollback_performed: bool = False


# ---- swarms --------------------------------------------------------------------------------------------------


class SwarmMember(Resource):
    id: str
    role: str | None = None
    type: str | None = None


class Swarm(Resource):
    id: str
    name: str
    topology: str
    strategy: str | None = None
    status: str
    objective: str | None = None
    owner: str | None = None
    shared_with: list[str] = Field(default_factory=list)
    agents: list[SwarmMember] = Field(default_factory=list)
    progress: float | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None


class SwarmStatus(Resource):
    id: str
    status: str
    health: str | None = None
    topology: str | None = None
    strategy: str | None = None
    agents: Any = None
    tasks: Any = None
    progress: float | None = None
    performance: dict[str, Any] = Field(default_factory=dict)


class ControlResult(Resource):
    swarm_id: str
    action: str
    status: str
    result: Any = None


class Broadcast(Resource):
    swarm_id: str
    recipients: int


# ---- memory --------------------------------------------------------------------------------------------------


class MemoryEntry(Resource):
    id: str | None = None
    key: str
    value: Any = None
    namespace: str
    version: int
    tags: list[str] = Field(default_factory=list)
    access_level: str | None = None
    owner: str | None = None
    ttl: int | None = None
    expires_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    size: int | None = None


class MemoryHit(Resource):
    key: str
    namespace: str
    relevance: float | None = None
    snippet: str | None = None
    tags: list[str] = Field(default_factory=list)
    version: int | None = None


class MemoryDeleted(Resource):
    deleted: bool
    namespace: str
    keys: list[str] = Field(default_factory=list)
    versions_deleted: int | None = None


class MemoryStats(Resource):
    total_entries: int
    namespaces: int
    size_bytes: int


# ---- workflows and runs (dialect 2) --------------------------------------------------------------------------


class Workflow(CamelResource):
    id: str
    name: str
    description: str | None = None
    status: str | None = None
    version: int
    content_hash: str | None = None
    source: str | None = None
    owner: str | None = None
    shared_with: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    definition: dict[str, Any] | None = None


class Step(CamelResource):
    id: str
    status: str
    outputs: dict[str, Any] | None = None
    error: str | None = None
    attempts: int | None = None


class Run(CamelResource):
    id: str
    workflow_id: str
    version: int | None = None
    status: str
    inputs: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = None
    error: str | None = None
    summary: Any = None
    steps: list[Step] = Field(default_factory=list)
    links: dict[str, Any] = Field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_RUN

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


class StepLog(CamelResource):
    step_id: str
    status: str
    attempts: int | None = None
    exit_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    error: str | None = None


class RunLogs(CamelResource):
    steps: list[StepLog] = Field(default_factory=list)
    events: list[dict[str, Any]] | None = None


# ---- users, sessions and API keys (dialect 2) ----------------------------------------------------------------


class User(CamelResource):
    id: str
    username: str
    role: str
    email: str | None = None
    full_name: str | None = None
    permissions: list[str] = Field(default_factory=list)
    tier: str | None = None
    auth_method: str | None = None
    created_at: str | None = None


class TokenPair(CamelResource):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: User | None = None


class ApiKey(CamelResource):
    id: str
    name: str
    prefix: str | None = None
    created_at: str | None = None
    last_used_at: str | None = None
    expires_at: str | None = None
    key: str | None = Field(default=None, description="the secret; only in the answer to its creation")


# ---- streams -------------------------------------------------------------------------------------------------


class StreamEvent(Resource):
    """One message of a stream. `id` is what a reconnect resumes after (`since`)."""

    id: str | int | None = None
    type: str = Field(validation_alias=AliasChoices("type", "event"))
    data: dict[str, Any] = Field(default_factory=dict)
    timestamp: str | None = None

    @property
    def progress(self) -> float | None:
        """`data.progress` (0..1) when the event carries one (`swarm.progress`, `task.progress`)."""
        value = self.data.get("progress") if isinstance(self.data, dict) else None
        return float(value) if isinstance(value, int | float) else None
