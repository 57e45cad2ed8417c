"""`POST /api/v2/tasks/orchestrate`: the spec's body (plain, not a JSON:API resource object, as the spec shows it).
Durations are seconds, as in the spec's example (`duration: 3600`). Then the orchestration bodies the routes answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from api.dialect2.schemas.documents import Document, _Open
from api.dialect2.schemas.envelopes import MaybeRedactedMeta
from core.agents.models import TaskStatus
from core.orchestrations.models import (
    OrchestrationStatus,
    OrchestrationStrategy,
    PhaseSpec,
    PhaseStatus,
    SlotTask,
)
from core.orchestrations.service import OrchestrationCreate

EXAMPLE = {
    "task": "Build complete e-commerce REST API with authentication, product catalog, and order management",
    "strategy": "parallel",
    "requirements": {
        "phases": [{"name": "architecture", "agents": ["architect", "analyst"], "duration": 3600},
                   {"name": "implementation", "agents": ["coder", "coder", "tester"], "duration": 14400},
                   {"name": "deployment", "agents": ["devops", "tester"], "duration": 7200}],
        "constraints": {"maxDuration": 28800, "requiredCapabilities": ["api-design", "testing"]},
    },
    "swarmId": "sw-01J00000000000000000000000",
}
# The service's field names in validation errors → this body's.
FIELDS = {"agent_config": "agentConfig", "shared_with": "sharedWith", "swarm_id": "swarmId"}


class SlotTaskBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(default=None, max_length=100_000)
    taskType: str | None = Field(default=None, max_length=200)
    requirements: dict[str, Any] = Field(default_factory=dict)


class PhaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    agents: list[str] = Field(min_length=1, max_length=20, description="agent types, one slot each")
    duration: float | None = Field(default=None, gt=0, le=7 * 86400, description="the phase's timeout, seconds")
    requirements: dict[str, Any] = Field(default_factory=dict,
                                         description="every slot's task requirements (a shell agent: `command`)")
    tasks: list[SlotTaskBody] | None = Field(default=None, description="one per slot: its own task (optional)")


class ConstraintsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    maxDuration: float | None = Field(default=None, gt=0, le=30 * 86400, description="seconds, the whole")
    requiredCapabilities: list[str] = Field(default_factory=list, max_length=100)


class RequirementsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phases: list[PhaseBody] = Field(min_length=1, max_length=50)
    constraints: ConstraintsBody = Field(default_factory=ConstraintsBody)


class OrchestrateBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    task: str = Field(min_length=1, max_length=100_000)
    strategy: OrchestrationStrategy = OrchestrationStrategy.parallel
    requirements: RequirementsBody
    swarmId: str | None = Field(default=None, max_length=100)
    agentConfig: dict[str, Any] = Field(default_factory=dict, description="config of the agents spawned for it "
                                                                          "(e.g. `{\"executor\": \"shell\"}`)")
    sharedWith: Usernames = Field(default_factory=list, description="users who may read its task outputs")

    def to_domain(self) -> OrchestrationCreate:
        r = self.requirements
        phases = [PhaseSpec(name=p.name, agents=p.agents, duration_s=p.duration, requirements=p.requirements,
                            tasks=None if p.tasks is None else [
                                SlotTask(description=t.description, type=t.taskType, requirements=t.requirements)
                                for t in p.tasks])
                  for p in r.phases]
        return OrchestrationCreate(task=self.task, strategy=self.strategy, phases=phases,
                                   max_duration_s=r.constraints.maxDuration,
                                   required_capabilities=r.constraints.requiredCapabilities, swarm_id=self.swarmId,
                                   agent_config=self.agentConfig, shared_with=self.sharedWith)


# ---- what the API answers (api/dialect2/presenters/orchestrations.py) -------------------------------------

ESTIMATE_SOURCE = ("Where the estimate comes from: `history` (measured similar tasks), `declared` (the phases' "
                   "durations), `mixed`, or `none` (no estimate)")


class SlotAgent(_Open):
    agentId: str
    agentType: str = Field(examples=["coder"])
    spawned: bool = Field(description="Spawned for this orchestration (released when it ends)")


class PlannedPhase(_Open):
    phaseId: str = Field(examples=["ph-1"])
    name: str = Field(examples=["architecture"])
    status: PhaseStatus
    assignedAgents: list[SlotAgent]


class OrchestrationAccepted(_Open):
    """The 202 of `POST /api/v2/tasks/orchestrate`: the plan, and the estimate."""

    orchestrationId: str
    status: OrchestrationStatus
    phases: list[PlannedPhase]
    estimatedCompletion: str | None = Field(examples=["2025-07-23T20:00:00Z"])
    estimateSource: str = Field(description=ESTIMATE_SOURCE, examples=["declared"])


class OrchestrationLinks(_Open):
    self: str
    status: str = Field(examples=["/api/v2/orchestrations/orch-01J00000000000000000000000"])
    cancel: str
    websocket: str = Field(examples=["wss://api.example.com/v2/ws/orchestrations/orch-01J00000000000000000000000"])


class OrchestrationAcceptedDocument(Document[OrchestrationAccepted]):
    links: OrchestrationLinks  # type: ignore[assignment]


class SlotTaskOut(_Open):
    """One agent slot's task; `output` and `error` are null when withheld (named in `meta.redacted`)."""

    taskId: str
    attempts: list[str] = Field(description="Task ids run for the slot, oldest first")
    agentId: str
    agentType: str
    description: str | None
    status: TaskStatus
    progress: float
    error: str | None
    output: str | None
    filesCreated: list[str]
    filesChanged: list[str]
    executionTime: int | None = Field(description="ms")
    startedAt: str | None
    completedAt: str | None
    links: dict[str, str]


class PhaseOut(_Open):
    phaseId: str
    name: str
    status: PhaseStatus
    progress: float = Field(description="Its slots that have ended (0–1)")
    duration: float | None = Field(description="The phase's timeout as submitted, seconds")
    estimatedDuration: float | None = Field(description="seconds")
    estimateSource: str = Field(description=ESTIMATE_SOURCE)
    startedAt: str | None
    completedAt: str | None
    error: str | None
    assignedAgents: list[SlotAgent]
    tasks: list[SlotTaskOut]


class SpawnedAgents(_Open):
    spawned: list[str] = Field(description="Agents started for it")
    released: list[str] = Field(description="… and released again")


class ConstraintsOut(_Open):
    maxDuration: float | None = Field(description="seconds")
    requiredCapabilities: list[str]


class OrchestrationTimeline(_Open):
    createdAt: str
    startedAt: str | None
    completedAt: str | None
    cancelledAt: str | None
    cancelledBy: str | None
    updatedAt: str | None


class Orchestration(_Open):
    """`GET /api/v2/orchestrations/{id}` (live while it runs) and the answer of its cancel."""

    orchestrationId: str
    task: str
    status: OrchestrationStatus
    strategy: OrchestrationStrategy
    swarmId: str | None
    owner: str | None
    sharedWith: list[str]
    progress: float = Field(description="Ended slots over all slots (0–1)")
    currentPhase: str | None = Field(description="The running phase's id")
    phases: list[PhaseOut]
    agents: SpawnedAgents
    constraints: ConstraintsOut
    estimatedCompletion: str | None
    estimateSource: str = Field(description=ESTIMATE_SOURCE)
    error: str | None
    timeline: OrchestrationTimeline


class OrchestrationDocument(Document[Orchestration]):
    meta: MaybeRedactedMeta
    links: OrchestrationLinks  # type: ignore[assignment]
