"""What crosses the boundaries of the agent, task and swarm workflows: their inputs, the messages they exchange
(signals and Updates), what some queries answer, the names of those handlers, and the executor contract
(`ExecuteTaskInput` in, `TaskResult` out). Services and workflows use the names below, never string literals, and
tests/test_workflow_contracts.py checks every name is a handler of its workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from core.agents.models import (
    MAX_SWARM_AGENTS,
    AgentSpec,
    AgentStatus,
    Priority,
    Strategy,
    SwarmSpec,
    SwarmStatus,
    TaskResult,
    TaskSpec,
    TaskStatus,
    Topology,
    UtcDatetime,
)
from core.agents.state import AgentState, HistoryEntry, SwarmState

STATUS_QUERY: Final = "status"  # every entity answers it with its state


class AgentHandlers:
    """AgentWorkflow's queries, Updates and signals."""

    HEALTH: Final = "health"
    ASSIGN: Final = "assign"  # Update: a task handed to the agent by the API
    ENQUEUE: Final = "enqueue"  # signal: a task handed to it by its swarm
    ENQUEUE_BATCH: Final = "enqueue_batch"
    CANCEL_TASK: Final = "cancel_task"
    RELEASE_QUEUED: Final = "release_queued"
    DIRECTIVE: Final = "directive"
    DELEGATED: Final = "delegated"
    CONFIGURE: Final = "configure"
    TERMINATE: Final = "terminate"  # Update (API)
    TERMINATE_SIGNAL: Final = "terminate_signal"  # signal (its swarm)


class TaskHandlers:
    """TaskWorkflow's Updates and signals."""

    ASSIGNED: Final = "assigned"
    STARTED: Final = "started"
    PROGRESS: Final = "progress"  # sent by the executor from inside `execute_task`
    FINISHED: Final = "finished"
    DECOMPOSED: Final = "decomposed"
    UPDATE: Final = "update"
    CANCEL: Final = "cancel"


class SwarmHandlers:
    """SwarmWorkflow's Updates and signals."""

    SUBMIT: Final = "submit"
    REPORT: Final = "report"
    WITHDRAW: Final = "withdraw"
    REPRIORITIZE: Final = "reprioritize"
    AGENT_LEFT: Final = "agent_left"
    JOIN: Final = "join"
    CONFIGURE: Final = "configure"
    CONTROL: Final = "control"
    STOP: Final = "stop"
    BROADCAST: Final = "broadcast"


# ---- workflow inputs -----------------------------------------------------------------------------------------


class AgentInput(BaseModel):
    spec: AgentSpec
    state: AgentState | None = None  # set when continuing as new
    heartbeat_timeout_s: float = 30.0
    task_timeout_s: float = 3600.0
    max_attempts: int = 3
    history_limit: int | None = None  # continue as new past this many history events (else when Temporal suggests)


class TaskInput(BaseModel):
    spec: TaskSpec


class AgentTemplate(BaseModel):
    capabilities: list[str] = Field(default_factory=list)
    executor: str = "shell"


class SwarmInput(BaseModel):
    spec: SwarmSpec
    state: SwarmState | None = None
    agent_types: dict[str, AgentTemplate] = Field(default_factory=dict)
    agent_config: dict[str, Any] = Field(default_factory=dict, description="config given to agents it spawns")
    heartbeat_timeout_s: float = 30.0
    task_timeout_s: float = 3600.0
    history_limit: int | None = None  # continue as new past this many history events (else when Temporal suggests)


# ---- messages ------------------------------------------------------------------------------------------------


class TerminateRequest(BaseModel):
    reason: str | None = None
    by: str | None = None


class AssignedBy(BaseModel):
    agent_id: str
    assigned_by: str | None = None
    at: datetime | None = None  # when the agent accepted it (the agent's clock, like its `started`)


class JoinRequest(BaseModel):
    agent_id: str
    type: str
    name: str
    role: str = "worker"
    capabilities: list[str] = Field(default_factory=list)


class StopRequest(BaseModel):
    graceful: bool = True
    timeout_s: float = 30.0
    operation_id: str | None = None
    terminate: bool = False  # DELETE: end the swarm (after stopping)
    force: bool = False


class AssignAck(BaseModel):
    agent_id: str
    task_id: str
    queue_position: int  # 0 = runs now
    assigned_at: datetime | None = None


class TaskStarted(BaseModel):
    agent_id: str
    at: datetime
    assigned_at: datetime | None = None  # when the agent accepted it: the task's queued_at if it had none


class TaskProgress(BaseModel):
    """Sent by the executor from inside `execute_task` (heartbeat figures); the first one, at 0.0 as the work
    starts, is how the task learns that it runs and on which agent."""

    progress: float = Field(ge=0, le=1)
    message: str | None = None
    agent_id: str | None = None


class TaskFinished(BaseModel):
    agent_id: str | None = None
    status: TaskStatus  # completed | failed | cancelled
    started_at: datetime | None = None  # when the agent began it (a short task may end before any progress signal)
    result: TaskResult | None = None
    error: str | None = None
    rollback_performed: bool = False
    retry_count: int = 0
    at: datetime


class AgentReport(BaseModel):
    """An agent tells its swarm that a task left it (done, failed, cancelled or handed back)."""

    agent_id: str
    task_id: str
    status: TaskStatus
    duration_ms: int = 0
    result: TaskResult | None = None
    at: datetime


class AgentPatch(BaseModel):
    name: str | None = None
    config: dict[str, Any] | None = None  # merged over the current config
    metadata: dict[str, Any] | None = None  # merged over the current metadata
    capabilities: list[str] | None = None
    shared_with: list[str] | None = None  # replaces the current list


class TaskPatch(BaseModel):
    priority: Priority | None = None
    deadline: UtcDatetime | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    shared_with: list[str] | None = None  # replaces the current list


class CancelOutcome(BaseModel):
    task_id: str
    status: TaskStatus
    cancelled_at: datetime | None = None
    rollback_performed: bool = False


class SwarmPatch(BaseModel):
    name: str | None = None
    objective: str | None = None
    max_agents: int | None = Field(default=None, ge=1, le=MAX_SWARM_AGENTS)
    strategy: Strategy | None = None
    topology: Topology | None = None
    auto_scale: bool | None = None
    config: dict[str, Any] | None = None
    shared_with: list[str] | None = None  # replaces the current list


class ControlRequest(BaseModel):
    action: str  # pause | resume | scale | optimize | rebalance | stop
    parameters: dict[str, Any] = Field(default_factory=dict)
    operation_id: str | None = None


class ControlOutcome(BaseModel):
    action: str
    status: SwarmStatus
    detail: dict[str, Any] = Field(default_factory=dict)


class AgentPulse(BaseModel):
    """What the agent's `health` query answers: enough to judge liveness without shipping its whole state."""

    status: AgentStatus
    last_heartbeat: datetime | None
    started_at: datetime | None
    terminated_at: datetime | None
    queue_size: int
    current_task: str | None
    last_task: HistoryEntry | None


# ---- the executor contract (workflow ⇄ activity) ------------------------------------------------------------


class ExecuteTaskInput(BaseModel):
    """What an executor needs to run one task. `workspace` is the per-task directory (created by the activity);
    `files` seeds it before the "before" snapshot is taken, so changes and deletions are measurable."""

    task_id: str
    agent_id: str
    executor: str  # one of EXECUTORS
    workspace: str
    description: str = ""
    type: str | None = None
    requirements: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict, description="the agent's config (model, command, …)")
    agent_type: str | None = None
    cognitive_pattern: str | None = None
    directives: list[str] = Field(default_factory=list, description="broadcast directives, newest last")
    context: dict[str, Any] = Field(default_factory=dict, description="memory entries named by the task")
    owner: str | None = Field(default=None, description="whose memory entries the task may read: the task's owner "
                                                     "(None: shared and public entries only)")
    timeout_s: float | None = None


class RollbackRequest(BaseModel):
    """Which task workspace to roll back. `workspace` is the one `execute_task` used; when empty, the default
    `<workspaces>/<agent_id>/<task_id>` is meant, which needs `agent_id`."""

    task_id: str
    workspace: str = ""
    agent_id: str | None = None
