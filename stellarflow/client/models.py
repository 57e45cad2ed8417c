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
TERMINAL_ORCHESTRATION = frozenset({"completed", "failed", "cancelled"})
TERMINAL_JOB = frozenset({"completed", "failed"})  # GitHub analyses and PR enhancements
TERMINAL_TRAINING = frozenset({"completed", "failed", "cancelled"})


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


# ---- orchestrations, GitHub, neural (dialect 2) ------------------------------------------------------------


class Orchestration(CamelResource):
    """`POST /api/v2/tasks/orchestrate` answers the plan (`phases` with their `assigned_agents`, the estimate);
    `get` adds each phase's `tasks`, `progress`, `agents` (spawned, released) and the `timeline`."""

    orchestration_id: str
    status: str
    task: str | None = None
    strategy: str | None = None
    swarm_id: str | None = None
    owner: str | None = None
    progress: float | None = None
    current_phase: str | None = None
    phases: list[dict[str, Any]] = Field(default_factory=list)
    agents: dict[str, Any] | None = None
    estimated_completion: str | None = None
    estimate_source: str | None = None
    error: str | None = None
    timeline: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.orchestration_id

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_ORCHESTRATION


class Analysis(CamelResource):
    """A repository analysis: per phase its tools and `findings` (file, line, rule, severity, message, tool)."""

    analysis_id: str
    repository: str
    status: str
    branch: str | None = None
    depth: str | None = None
    commit: str | None = None
    languages: dict[str, int] = Field(default_factory=dict)
    phases: list[dict[str, Any]] = Field(default_factory=list)
    summary: dict[str, int] = Field(default_factory=dict)
    error: str | None = None

    @property
    def id(self) -> str:
        return self.analysis_id

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_JOB

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Every phase's findings, in phase order."""
        return [finding for phase in self.phases for finding in phase.get("findings") or []]


class Enhancement(CamelResource):
    """A pull-request enhancement: each part of `enhancements` (description, tests, documentation, optimization,
    security) with its `status`; `preview` once a branch was pushed."""

    enhancement_id: str
    repository: str
    pr_number: int
    status: str
    enhancements: dict[str, Any] = Field(default_factory=dict)
    preview: dict[str, Any] | None = None
    error: str | None = None

    @property
    def id(self) -> str:
        return self.enhancement_id

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_JOB


class Training(CamelResource):
    """A training's progress (`current_epoch`, `loss`, held-out `validation`, `estimated_time` seconds left),
    then its `held_out_metrics` and the `model` version it registered."""

    training_id: str
    status: str
    pattern_type: str | None = None
    current_epoch: int = 0
    total_epochs: int | None = None
    loss: float | None = None
    validation: dict[str, float] = Field(default_factory=dict)
    estimated_time: float | None = None
    model: dict[str, Any] = Field(default_factory=dict)
    held_out_metrics: list[dict[str, Any]] = Field(default_factory=list)
    accuracy: float | None = None
    error: str | None = None

    @property
    def id(self) -> str:
        return self.training_id

    @property
    def model_id(self) -> str | None:
        return self.model.get("modelId")

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_TRAINING


class Prediction(CamelResource):
    """`prediction` holds each output's value plus `confidenceScore` and `reasoning`, as the spec shows them."""

    prediction: dict[str, Any]
    probabilities: dict[str, dict[str, float]] = Field(default_factory=dict)
    feature_contributions: list[dict[str, Any]] = Field(default_factory=list)
    model_info: dict[str, Any] = Field(default_factory=dict)


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
