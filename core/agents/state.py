"""The live state of agents, tasks and swarms: what their workflows hold, carry over when they continue as new, and
answer their `status` queries with (the projection rows keep a copy). Plain data: the workflows own the logic.
The messages that become part of a state (an assignment queued on an agent, a ticket queued in a swarm, a
directive) are defined here too; the other messages and the workflow inputs are in `core.agents.contracts`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.access import Redactable
from core.agents.models import (
    AgentSpec,
    AgentStatus,
    Priority,
    SwarmSpec,
    SwarmStatus,
    TaskResult,
    TaskSpec,
    TaskStatus,
)

HISTORY_KEPT = 25  # past tasks an agent keeps in its state (all of them stay in the events table)
RECENT_KEPT = 1000  # ids of tasks an agent ran / a swarm saw leave, to ignore signals repeated by a retried write


class Assignment(BaseModel):
    """A task handed to an agent (by the API's Update, or by the agent's swarm as a signal)."""

    task_id: str
    description: str = ""
    type: str | None = None
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = None
    assigned_by: str | None = None  # "api", a swarm id, or a coordinator agent id
    assigned_at: datetime | None = None
    owner: str | None = None  # the task's owner: whose memory it reads (never the agent's owner)


class TaskTicket(BaseModel):
    """A task waiting in its swarm's queue: what assignment decisions need, nothing more."""

    task_id: str
    description: str = ""
    type: str | None = None
    priority: Priority = Priority.medium
    requirements: dict[str, Any] = Field(default_factory=dict)
    parent_id: str | None = None
    submitted_at: datetime
    owner: str | None = None  # the task's owner, passed on to the agent that runs it


class Directive(BaseModel):
    type: str = "directive"
    content: str
    target: str = "all"
    priority: Priority = Priority.medium
    at: datetime | None = None
    by: str | None = None


class CurrentTask(BaseModel):
    id: str
    description: str = ""
    progress: float = 0.0
    started_at: datetime


class HistoryEntry(BaseModel):
    task_id: str
    description: str = ""
    started_at: datetime | None = None
    completed_at: datetime
    duration_ms: int = 0
    result: str  # success | failure | cancelled
    exit_code: int | None = None
    cpu_time_s: float | None = None
    memory_peak_mb: float | None = None


class AgentMetrics(BaseModel):
    tasks_completed: int = 0
    tasks_failed: int = 0
    tasks_cancelled: int = 0
    tasks_delegated: int = 0
    total_duration_ms: int = 0
    cpu_time_s: float = 0.0
    memory_peak_mb: float = 0.0
    last_cpu_time_s: float | None = None
    last_memory_mb: float | None = None
    messages_received: int = 0
    busy_ms: int = 0
    api_calls: int = 0
    tokens: int = 0

    @property
    def finished(self) -> int:
        return self.tasks_completed + self.tasks_failed

    @property
    def success_rate(self) -> float | None:
        return self.tasks_completed / self.finished if self.finished else None

    @property
    def average_time_ms(self) -> float | None:
        return self.total_duration_ms / self.finished if self.finished else None


class AgentState(Redactable):
    spec: AgentSpec
    status: AgentStatus = AgentStatus.initializing
    workspace: str | None = None
    current_task: CurrentTask | None = None
    queue: list[Assignment] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    metrics: AgentMetrics = Field(default_factory=AgentMetrics)
    directives: list[Directive] = Field(default_factory=list)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    last_heartbeat: datetime | None = None
    terminated_at: datetime | None = None
    terminate_reason: str | None = None
    recent: list[str] = Field(default_factory=list, description="tasks run lately: a repeated assignment is ignored")
    seq: int = 0


class Timeline(BaseModel):
    created_at: datetime
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None


class TaskState(Redactable):
    spec: TaskSpec
    status: TaskStatus = TaskStatus.pending
    agent_id: str | None = None
    assigned_by: str | None = None
    progress: float = 0.0
    progress_message: str | None = None
    result: TaskResult | None = None
    error: str | None = None
    rollback_performed: bool = False
    retry_count: int = 0
    children: list[str] = Field(default_factory=list)
    timeline: Timeline
    updated_at: datetime | None = None
    seq: int = 0

    @property
    def duration_ms(self) -> int | None:
        start, end = self.timeline.started_at, self.timeline.completed_at or self.timeline.cancelled_at
        if start and end:
            return int((end - start).total_seconds() * 1000)
        return None


class SwarmAgent(BaseModel):
    id: str
    type: str
    name: str
    role: str = "worker"
    capabilities: list[str] = Field(default_factory=list)
    status: AgentStatus = AgentStatus.initializing
    in_flight: list[str] = Field(default_factory=list)
    completed: int = 0
    failed: int = 0
    total_ms: int = 0
    joined_at: datetime | None = None

    @property
    def load(self) -> int:
        return len(self.in_flight)


class ParentProgress(BaseModel):
    """A task a coordinator decomposed: its subtasks, and how they ended."""

    children: list[str]
    done: dict[str, str] = Field(default_factory=dict)  # child id → final status
    files_created: list[str] = Field(default_factory=list)
    duration_ms: int = 0


class SwarmState(BaseModel):
    spec: SwarmSpec
    status: SwarmStatus = SwarmStatus.initializing
    agents: list[SwarmAgent] = Field(default_factory=list)
    queue: list[TaskTicket] = Field(default_factory=list)
    assigned: dict[str, str] = Field(default_factory=dict)  # task id → agent id, while in flight
    tickets: dict[str, TaskTicket] = Field(default_factory=dict)  # in-flight tasks, to requeue if handed back
    parents: dict[str, ParentProgress] = Field(default_factory=dict)
    tasks_total: int = 0
    tasks_completed: int = 0
    tasks_failed: int = 0
    tasks_cancelled: int = 0
    ring_pointer: int = 0
    directives: list[Directive] = Field(default_factory=list)
    started_at: datetime | None = None
    updated_at: datetime | None = None
    terminated_at: datetime | None = None
    spawned: int = 0  # agents ever spawned (names and ids of scaled agents)
    recent: list[str] = Field(default_factory=list, description="tasks that left lately: a repeated submit is ignored")
    seq: int = 0

    def agent(self, agent_id: str) -> SwarmAgent | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    @property
    def live_agents(self) -> list[SwarmAgent]:
        return [a for a in self.agents if a.status != AgentStatus.terminated]
