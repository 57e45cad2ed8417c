"""Domain models of agents, tasks and swarms, and the contract between the agent workflow and the executors.

Field names are the domain's own (snake_case); each API dialect's presenter maps them to its spelling.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


class AgentStatus(StrEnum):
    initializing = "initializing"
    idle = "idle"
    active = "active"
    terminated = "terminated"


class TaskStatus(StrEnum):
    pending = "pending"
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL_TASK = frozenset({TaskStatus.completed, TaskStatus.failed, TaskStatus.cancelled})


class SwarmStatus(StrEnum):
    initializing = "initializing"
    active = "active"
    paused = "paused"
    terminated = "terminated"


class Priority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


PRIORITY_RANK = {Priority.low: 0, Priority.medium: 1, Priority.high: 2, Priority.critical: 3}


class Topology(StrEnum):
    hierarchical = "hierarchical"
    star = "star"
    centralized = "centralized"
    mesh = "mesh"
    ring = "ring"


class Strategy(StrEnum):
    specialized = "specialized"
    balanced = "balanced"
    adaptive = "adaptive"


EXECUTORS = ("shell", "llm", "agent-cli", "python")
MAX_SWARM_AGENTS = 100  # the most agents one swarm may hold (dialect 2 documents "Must not exceed 100")


# ---- what an executor reports ----------------------------------------------------------------------------


class TokenUsage(BaseModel):
    prompt: int = 0
    completion: int = 0
    total: int = 0


class Artifact(BaseModel):
    type: str  # "code", "test", "doc", "data", "file"
    path: str
    size: int
    # Stored in the artifact store (core/artifacts): its id, digest and download path (absent if not stored).
    id: str | None = None
    sha256: str | None = None
    url: str | None = None


class TaskResult(BaseModel):
    """What really happened. Every figure is measured; a figure the executor could not measure stays None."""

    success: bool
    executor: str
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    duration_ms: int = 0
    files_created: list[str] = Field(default_factory=list)
    files_changed: list[str] = Field(default_factory=list)
    files_deleted: list[str] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    lines_of_code: int = 0
    tests_written: int | None = None
    tests_passed: int | None = None
    tests_failed: int | None = None
    coverage: float | None = None
    api_calls: int | None = None
    tokens: TokenUsage | None = None
    cpu_time_s: float | None = None
    memory_peak_mb: float | None = None
    truncated: bool = False


# ---- entities ----------------------------------------------------------------------------------------------


class AgentSpec(BaseModel):
    id: str
    name: str
    type: str
    capabilities: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = None
    role: str = "worker"  # "coordinator" or "worker"
    executor: str = "shell"  # resolved at creation: config.executor, else the agent type's default
    owner: str | None = None  # the user id of its creator (None: made before owners were recorded)
    shared_with: list[str] = Field(default_factory=list, description="usernames that may read its config and use it")
    created_at: datetime


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC (workflows compare it with their own UTC clock)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class TaskConstraints(BaseModel):
    deadline: UtcDatetime | None = None
    max_agents: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, ge=0)


class TaskSpec(BaseModel):
    id: str
    type: str | None = None
    description: str = ""
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    constraints: TaskConstraints = Field(default_factory=TaskConstraints)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = None
    parent_id: str | None = None
    agent_id: str | None = Field(default=None, description="assign to this agent at creation")
    owner: str | None = None  # the user id of its creator; the task reads memory as this user
    shared_with: list[str] = Field(default_factory=list, description="usernames that may read its results")
    estimated_duration_s: float | None = None
    created_at: datetime


class SwarmSpec(BaseModel):
    id: str
    name: str
    objective: str | None = None
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    max_agents: int = Field(default=8, ge=1, le=MAX_SWARM_AGENTS)
    auto_scale: bool = False
    config: dict[str, Any] = Field(default_factory=dict)
    initial_agents: list[dict[str, Any]] = Field(default_factory=list, description="[{type, count, name?, …}]")
    tasks: list[str | dict[str, Any]] = Field(default_factory=list)
    owner: str | None = None  # the user id of its creator
    shared_with: list[str] = Field(default_factory=list, description="usernames that may submit tasks into it")
    created_at: datetime
