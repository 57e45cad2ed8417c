"""What an orchestration is (its spec, as submitted and planned) and what its workflow holds while it runs (its
state, also the projection's copy and the `status` query's answer). Plain data: the workflow owns the logic, the
pure decisions are in `core.orchestrations.planning`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from core.access import Redactable
from core.agents.models import TaskStatus


class OrchestrationStrategy(StrEnum):
    """How one phase runs its agent slots: `parallel` all at once; `sequential` one after another, each slot's
    result handed to the next; `adaptive` all at once, then the slots that failed once more one after another
    (with the phase's successful results as context), so a phase fails only if a slot fails twice."""

    parallel = "parallel"
    sequential = "sequential"
    adaptive = "adaptive"


class OrchestrationStatus(StrEnum):
    planning = "planning"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class PhaseStatus(StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"
    skipped = "skipped"  # an earlier phase failed or the orchestration was cancelled before it began


TERMINAL_ORCHESTRATION = {OrchestrationStatus.completed, OrchestrationStatus.failed, OrchestrationStatus.cancelled}


class SlotTask(BaseModel):
    """What one agent slot of a phase runs: its task's description, type and requirements (for a shell agent,
    `requirements.command`). Absent: the orchestration's task, described for the slot's phase and agent type."""

    description: str | None = Field(default=None, max_length=100_000)
    type: str | None = Field(default=None, max_length=200)
    requirements: dict[str, Any] = Field(default_factory=dict)


class PhaseSpec(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    agents: list[str] = Field(min_length=1, max_length=20, description="one agent slot per entry: its agent type")
    duration_s: float | None = Field(default=None, gt=0, description="the phase's timeout")
    requirements: dict[str, Any] = Field(default_factory=dict, description="given to every slot's task")
    tasks: list[SlotTask] | None = Field(default=None, description="per slot (same length as agents)")


class SlotPlan(BaseModel):
    """Who runs one slot: an agent of the swarm, or one spawned for the orchestration (`spawn`), and its task."""

    agent_type: str
    agent_id: str
    spawn: bool = False
    capabilities: list[str] = Field(default_factory=list)
    executor: str = "shell"
    task_id: str
    retry_task_id: str  # the slot's second task under `adaptive`
    description: str = ""
    type: str | None = None
    requirements: dict[str, Any] = Field(default_factory=dict)
    estimated_s: float | None = None  # measured: median of similar finished tasks (None: nothing similar yet)


class OrchestrationSpec(BaseModel):
    id: str
    task: str
    strategy: OrchestrationStrategy = OrchestrationStrategy.parallel
    phases: list[PhaseSpec]
    max_duration_s: float | None = None
    required_capabilities: list[str] = Field(default_factory=list)
    swarm_id: str | None = None
    agent_config: dict[str, Any] = Field(default_factory=dict, description="config of the agents it spawns")
    owner: str | None = None
    shared_with: list[str] = Field(default_factory=list)
    created_at: datetime
    estimated_completion: datetime | None = None
    estimate_source: str = "declared"  # history | declared | mixed | none (docs/orchestrations.md)


class SlotState(BaseModel):
    index: int
    agent_type: str
    agent_id: str
    spawned: bool = False
    task_id: str
    attempts: list[str] = Field(default_factory=list, description="task ids run for the slot, oldest first")
    status: TaskStatus = TaskStatus.pending
    progress: float = 0.0
    error: str | None = None
    output: str = ""
    files_created: list[str] = Field(default_factory=list)
    files_changed: list[str] = Field(default_factory=list)
    duration_ms: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class PhaseState(BaseModel):
    phase_id: str
    name: str
    status: PhaseStatus = PhaseStatus.pending
    duration_s: float | None = None
    estimated_s: float | None = None
    estimate_source: str = "declared"
    slots: list[SlotState] = Field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None

    @property
    def progress(self) -> float:
        if not self.slots:
            return 0.0
        done = sum(1 for s in self.slots if s.status in (TaskStatus.completed, TaskStatus.failed,
                                                          TaskStatus.cancelled))
        return done / len(self.slots)


class OrchestrationState(Redactable):
    spec: OrchestrationSpec
    plan: list[list[SlotPlan]] = Field(default_factory=list)
    status: OrchestrationStatus = OrchestrationStatus.planning
    phases: list[PhaseState] = Field(default_factory=list)
    current_phase: int | None = None
    spawned_agents: list[str] = Field(default_factory=list, description="agents started for it (released at the end)")
    released_agents: list[str] = Field(default_factory=list)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None
    error: str | None = None
    updated_at: datetime | None = None
    seq: int = 0

    @property
    def progress(self) -> float:
        """Finished slots (completed, failed or cancelled) over all slots of all phases."""
        total = sum(len(p.slots) for p in self.phases)
        if not total:
            return 0.0
        return round(sum(p.progress * len(p.slots) for p in self.phases) / total, 4)
