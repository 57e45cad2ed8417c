"""`POST /api/v2/tasks/orchestrate`: the spec's body (plain, not a JSON:API resource object, as the spec shows it).
Durations are seconds, as in the spec's example (`duration: 3600`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from core.orchestrations.models import OrchestrationStrategy, PhaseSpec, SlotTask
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
