"""`/api/tasks` bodies (api/dialect1/presenters/tasks.py). Durations in seconds."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Paged, Timestamp

TaskStatusV1 = Literal["pending", "queued", "running", "completed", "failed", "cancelled"]
PriorityV1 = Literal["low", "medium", "high", "critical"]


class TaskOutput(Open):
    """Every figure measured; one the executor could not measure is null."""

    files_created: list[str]
    files_changed: list[str]
    files_deleted: list[str]
    lines_of_code: int
    tests_created: int | None
    tests_passed: int | None
    tests_failed: int | None
    coverage: float | None
    exit_code: int | None
    text: str = Field(description="the executor's output")
    truncated: bool


class ArtifactV1(Open):
    type: str = Field(description="code, test, doc, data or file")
    path: str
    size: int
    id: str | None = None
    sha256: str | None = None
    url: str | None = None


class TaskResultV1(Open):
    success: bool
    executor: str
    output: TaskOutput
    error: str | None
    artifacts: list[ArtifactV1]


class TimelineV1(Open):
    created_at: Timestamp | None
    queued_at: Timestamp | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    cancelled_at: Timestamp | None


class TaskMetricsV1(Open):
    duration: float | None = Field(description="seconds")
    cpu_time: float | None = Field(description="CPU seconds")
    memory_peak: float | None = Field(description="MB")
    api_calls: int | None


class TaskV1(Open):
    """A list item, or (`GET /api/tasks/{id}`) the detail with result, timeline and metrics. Fields withheld from
    the caller are null and named in `redacted`."""

    id: str = Field(examples=["tk-01J9Z6X1QH5V2M8T4K7W3R0ABC"])
    type: str | None
    description: str
    status: TaskStatusV1
    priority: PriorityV1
    assigned_agent: str | None
    progress: float
    swarm_id: str | None
    owner: str | None
    created_at: Timestamp | None
    started_at: Timestamp | None
    estimated_completion: Timestamp | None
    estimated_duration: float | None = Field(default=None, description="seconds; absent when nothing similar has "
                                                                        "finished")
    requirements: dict[str, Any] | None = Field(default=None, description="detail only; null when withheld")
    shared_with: list[str] | None = Field(default=None, description="detail only")
    constraints: dict[str, Any] | None = Field(default=None, description="detail only: deadline, max_agents, budget")
    metadata: dict[str, Any] | None = Field(default=None, description="detail only")
    parent_id: str | None = Field(default=None, description="detail only")
    subtasks: list[str] | None = Field(default=None, description="detail only")
    progress_message: str | None = Field(default=None, description="detail only; null when withheld")
    result: TaskResultV1 | None = Field(default=None, description="detail only; null until finished or withheld")
    error: str | None = Field(default=None, description="detail only")
    retry_count: int | None = Field(default=None, description="detail only")
    rollback_performed: bool | None = Field(default=None, description="detail only")
    timeline: TimelineV1 | None = Field(default=None, description="detail only")
    metrics: TaskMetricsV1 | None = Field(default=None, description="detail only")
    updated_at: Timestamp | None = Field(default=None, description="detail only")
    redacted: list[str] | None = Field(default=None, description="fields withheld from the caller")


class TaskListV1(Paged):
    tasks: list[TaskV1]


class TaskCreatedV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "tk-01J9Z6X1QH5V2M8T4K7W3R0ABE", "type": "code_generation",
        "description": "Implement user authentication API", "status": "queued", "priority": "high",
        "swarm_id": "sw-01J9Z6X1QH5V2M8T4K7W3R0ABF", "created_at": "2024-01-01T12:00:00Z",
        "estimated_duration": 1800.0, "assigned_agents": []}]})
    id: str
    type: str | None
    description: str
    status: TaskStatusV1
    priority: PriorityV1
    swarm_id: str | None
    created_at: Timestamp | None
    estimated_duration: float | None = Field(default=None, description="seconds; absent when unknown")
    assigned_agents: list[str]


class TaskCancelledV1(Open):
    """200: the final state. 202: cancellation under way (`cancelled_at`, `rollback_performed` null)."""

    message: str = Field(examples=["Task cancelled successfully"])
    task_id: str
    status: TaskStatusV1
    cancelled_at: Timestamp | None
    rollback_performed: bool | None


class TaskAssignedV1(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "message": "Task assigned", "task_id": "tk-01J9Z6X1QH5V2M8T4K7W3R0ABE",
        "agent_id": "ag-01J9Z6X1QH5V2M8T4K7W3R0ABC", "queue_position": 0, "status": "queued"}]})
    message: str = Field(examples=["Task assigned"])
    task_id: str
    agent_id: str
    queue_position: int = Field(ge=0, description="0: the agent runs it next; n: n tasks are ahead of it")
    status: Literal["queued"]
