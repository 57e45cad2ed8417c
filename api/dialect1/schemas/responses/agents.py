"""`/api/agents` bodies (api/dialect1/presenters/agents.py). Durations in seconds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Paged, Timestamp

AgentStatusV1 = Literal["initializing", "idle", "active", "terminated"]


class ResourceUsage(Open):
    cpu: float | None = Field(description="CPU share of the agent's last task (CPU s / wall s); null before one "
                                          "finished with measured CPU")
    memory: float | None = Field(description="That task's peak RSS, MB")


class AgentMetricsV1(Open):
    tasks_completed: int
    tasks_failed: int
    success_rate: float | None = Field(description="null until a task has finished")
    average_time: float | None = Field(description="seconds; null until a task has finished")
    tasks_cancelled: int | None = Field(default=None, description="detail only")
    resource_usage: ResourceUsage | None = Field(default=None, description="detail only")


class CurrentTaskV1(Open):
    id: str
    description: str
    progress: float


class HistoryItem(Open):
    task_id: str
    completed_at: Timestamp | None
    duration: float | None = Field(description="seconds")
    result: str = Field(description="success, failure or cancelled")


class AgentV1(Open):
    """A list item, or (`GET /api/agents/{id}`) the detail with `queue_size`, `history`, `config`, `metadata`,
    `executor`, and `current_task` as an object instead of an id. A config withheld from the caller is null and
    named in `redacted`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "ag-01J9Z6X1QH5V2M8T4K7W3R0ABC", "name": "Coder-Alpha", "type": "coder", "status": "active",
        "capabilities": ["code_generation", "refactoring", "debugging"], "swarm_id": "sw-01J9Z6X1QH5V2M8T4K7W3R0ABF",
        "role": "worker",
        "owner": "usr-01J9Z6X1QH5V2M8T4K7W3R0ABD", "shared_with": [], "current_task": "tk-01J9Z6X1QH5V2M8T4K7W3R0ABE",
        "metrics": {"tasks_completed": 42, "tasks_failed": 2, "success_rate": 0.9545, "average_time": 120.0},
        "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T12:00:00Z"}]})

    id: str = Field(examples=["ag-01J9Z6X1QH5V2M8T4K7W3R0ABC"])
    name: str
    type: str = Field(examples=["coder"])
    status: AgentStatusV1
    capabilities: list[str]
    swarm_id: str | None
    role: str = Field(description="coordinator or worker")
    owner: str | None = Field(description="the creator's user id")
    shared_with: list[str]
    current_task: str | CurrentTaskV1 | None = Field(
        description="list item: the running task's id; detail: {id, description, progress}")
    queue_size: int | None = Field(default=None, description="detail only")
    history: list[HistoryItem] | None = Field(default=None, description="detail only, newest first")
    metrics: AgentMetricsV1
    config: dict[str, Any] | None = Field(default=None, description="detail only; null when withheld")
    metadata: dict[str, Any] | None = Field(default=None, description="detail only")
    executor: str | None = Field(default=None, description="detail only: shell, llm, agent-cli or python")
    redacted: list[str] | None = Field(default=None, description="fields withheld from the caller")
    created_at: Timestamp
    updated_at: Timestamp


class AgentListV1(Paged):
    agents: list[AgentV1]


class AgentCreatedV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "ag-01J9Z6X1QH5V2M8T4K7W3R0ABC", "name": "Coder-Beta", "type": "coder", "status": "initializing",
        "capabilities": ["code_generation", "testing"],
        "config": {"model": "claude-3-sonnet", "temperature": 0.7, "max_tokens": 4000},
        "metadata": {"project": "api-v2", "team": "backend"}, "swarm_id": "sw-01J9Z6X1QH5V2M8T4K7W3R0ABF",
        "executor": "llm",
        "owner": "usr-01J9Z6X1QH5V2M8T4K7W3R0ABD", "shared_with": [], "created_at": "2024-01-01T12:00:00Z"}]})
    id: str
    name: str
    type: str
    status: AgentStatusV1
    capabilities: list[str]
    config: dict[str, Any] | None = Field(description="null when withheld from the caller")
    metadata: dict[str, Any]
    swarm_id: str | None
    executor: str
    owner: str | None
    shared_with: list[str]
    created_at: Timestamp


class AgentTerminatedV1(Open):
    message: str = Field(examples=["Agent terminated successfully"])
    agent_id: str
    final_status: AgentStatusV1
    terminated_at: Timestamp | None


class HealthMetricsV1(Open):
    uptime: float | None = Field(description="seconds")
    memory_usage: float | None = Field(description="MB, the last task's peak")
    cpu_usage: float | None = Field(description="a share")
    queue_size: int | None


class AgentHealthV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "agent_id": "ag-01J9Z6X1QH5V2M8T4K7W3R0ABC", "status": "healthy",
        "checks": {"connectivity": "ok", "task_queue": "ok", "memory": "ok", "cpu": "ok"},
        "metrics": {"uptime": 3600.0, "memory_usage": 512.0, "cpu_usage": 0.45, "queue_size": 3},
        "last_heartbeat": "2024-01-01T12:00:00Z"}]})
    agent_id: str
    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, str]
    metrics: HealthMetricsV1
    last_heartbeat: Timestamp | None
