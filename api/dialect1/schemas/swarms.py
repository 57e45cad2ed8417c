"""`POST /api/swarms`, `POST /api/swarms/{id}/control`, `POST /api/swarms/{id}/broadcast`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from api.common.values import InitialAgent, SwarmTasks, Usernames, initial_agents, initial_tasks
from core.agents.contracts import ControlRequest
from core.agents.models import MAX_SWARM_AGENTS, Priority, Strategy, Topology
from core.agents.state import Directive
from core.agents.swarms import SwarmCreate

EXAMPLE_CREATE = {
    "name": "Microservices Development", "objective": "Build microservices architecture", "topology": "mesh",
    "config": {"max_agents": 10, "auto_scale": True, "fault_tolerance": "high", "communication_protocol": "async"},
    "initial_agents": [{"type": "architect", "count": 1}, {"type": "backend-dev", "count": 3},
                       {"type": "tester", "count": 2}],
    "tasks": ["Design system architecture", "Implement user service", "Implement order service",
              "Create API gateway", "Setup monitoring"],
}


class SwarmConfigV1(BaseModel):
    """`max_agents`, `auto_scale` and `strategy` steer the swarm; anything else (`fault_tolerance`,
    `communication_protocol`, …) is kept as the swarm's configuration and shown back."""

    model_config = ConfigDict(extra="allow")
    max_agents: int = Field(default=8, ge=1, le=MAX_SWARM_AGENTS)
    auto_scale: bool = False
    strategy: Strategy | None = None


class SwarmCreateV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    name: str = Field(min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    config: SwarmConfigV1 = Field(default_factory=SwarmConfigV1)
    agent_config: dict[str, Any] = Field(
        default_factory=dict, description="config of every agent the swarm spawns, e.g. {\"executor\": \"shell\"}")
    initial_agents: list[InitialAgent] = Field(default_factory=list, max_length=100)
    agents: list[InitialAgent] | None = Field(
        default=None, max_length=100,
        description="the claude-flow SDK's name for `initial_agents` ([{type, count}, ...]); send one or the other")
    tasks: SwarmTasks = Field(default_factory=list, max_length=1000)
    shared_with: Usernames = Field(default_factory=list, description="users who may submit tasks into it")

    @field_validator("agents")
    @classmethod
    def _one_agents_list(cls, value: list[InitialAgent] | None, info: ValidationInfo) -> list[InitialAgent] | None:
        if value is not None and info.data.get("initial_agents"):
            raise ValueError("send `agents` or `initial_agents`, not both (they are the same list)")
        return value

    def to_domain(self) -> SwarmCreate:
        """`config.strategy`, when given, wins over the top-level `strategy`; the rest of `config` beyond
        `max_agents` and `auto_scale` is the swarm's free-form configuration."""
        config = self.config.model_dump()
        max_agents, auto_scale, strategy = config.pop("max_agents"), config.pop("auto_scale"), config.pop("strategy")
        return SwarmCreate(
            name=self.name, objective=self.objective, topology=self.topology, strategy=strategy or self.strategy,
            max_agents=max_agents, auto_scale=auto_scale, config=config, agent_config=self.agent_config,
            initial_agents=initial_agents(self.agents or self.initial_agents), tasks=initial_tasks(self.tasks),
            shared_with=self.shared_with,
        )


class ControlV1(BaseModel):
    """`scale` takes `parameters` {agent_type, count, operation: add | remove}; the others none."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "scale", "parameters": {"agent_type": "backend-dev", "count": 2, "operation": "add"}}]})
    action: Literal["pause", "resume", "scale", "optimize", "rebalance"]
    parameters: dict[str, Any] = Field(default_factory=dict)

    def to_domain(self) -> ControlRequest:
        return ControlRequest(action=self.action, parameters=self.parameters)


class MessageV1(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(default="directive", max_length=100)
    content: str = Field(min_length=1, max_length=100_000)
    target: str = Field(default="all", max_length=200, description="all, an agent id, an agent type or a role")
    priority: Priority = Priority.medium


class BroadcastV1(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": {"type": "directive", "content": "Switch to high-priority mode", "target": "all",
                     "priority": "high"}}]})
    message: MessageV1

    def to_domain(self, *, by: str) -> Directive:
        message = self.message
        return Directive(type=message.type, content=message.content, target=message.target,
                         priority=message.priority, by=by)
