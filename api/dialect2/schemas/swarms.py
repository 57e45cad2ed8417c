"""`POST /api/v2/swarms`, `PATCH /api/v2/swarms/{id}`, `POST /api/v2/swarms/{id}/stop`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import InitialAgent, SwarmTasks, Usernames, initial_agents, initial_tasks
from core.agents.contracts import SwarmPatch
from core.agents.models import MAX_SWARM_AGENTS, Strategy, Topology
from core.agents.swarms import SwarmCreate

EXAMPLE_CREATE = {"data": {"type": "swarm", "attributes": {
    "name": "AI Research Swarm", "topology": "mesh", "maxAgents": 12, "strategy": "adaptive",
    "configuration": {"enableCoordination": True, "enableLearning": True, "persistenceMode": "auto",
                      "coordinationProtocol": "consensus"}}}}
EXAMPLE_PATCH = {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000",
                          "attributes": {"maxAgents": 10, "strategy": "balanced"}}}
# The service's field names in validation errors → the PATCH body's.
PATCH_FIELDS = {"max_agents": "data.attributes.maxAgents", "config": "data.attributes.configuration",
                "shared_with": "data.attributes.sharedWith"}
# … and the create body's.
CREATE_FIELDS = {"agent_config": "data.attributes.agentConfig", "initial_agents": "data.attributes.initialAgents",
                 "config": "data.attributes.configuration", "shared_with": "data.attributes.sharedWith"}


class SwarmAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    maxAgents: int = Field(default=8, ge=1, le=MAX_SWARM_AGENTS)
    autoScale: bool = False
    configuration: dict[str, Any] = Field(default_factory=dict)
    agentConfig: dict[str, Any] = Field(
        default_factory=dict, description="config of every agent the swarm spawns, e.g. {\"executor\": \"shell\"}")
    initialAgents: list[InitialAgent] = Field(default_factory=list, max_length=100)
    tasks: SwarmTasks = Field(default_factory=list, max_length=1000)
    sharedWith: Usernames = Field(default_factory=list, description="users who may submit tasks into it")


class SwarmResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="must be `swarm` (anything else is a 409)")
    attributes: SwarmAttributes


class SwarmDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    data: SwarmResource

    def to_domain(self) -> SwarmCreate:
        a = self.data.attributes
        return SwarmCreate(
            name=a.name, objective=a.objective, topology=a.topology, strategy=a.strategy, max_agents=a.maxAgents,
            auto_scale=a.autoScale, config=a.configuration, agent_config=a.agentConfig,
            initial_agents=initial_agents(a.initialAgents), tasks=initial_tasks(a.tasks), shared_with=a.sharedWith,
        )


class SwarmPatchAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology | None = None
    strategy: Strategy | None = None
    maxAgents: int | None = Field(default=None, ge=1, le=MAX_SWARM_AGENTS)
    autoScale: bool | None = None
    configuration: dict[str, Any] | None = Field(default=None, description="merged over the current one")
    sharedWith: Usernames | None = Field(default=None, description="replaces the current list")


class SwarmPatchResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50)
    id: str | None = Field(default=None, max_length=100, description="when given, must be the path's id")
    attributes: SwarmPatchAttributes = Field(default_factory=SwarmPatchAttributes)


class SwarmPatchDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_PATCH]})
    data: SwarmPatchResource

    def to_domain(self) -> SwarmPatch:
        a = self.data.attributes
        return SwarmPatch(name=a.name, objective=a.objective, topology=a.topology, strategy=a.strategy,
                          max_agents=a.maxAgents, auto_scale=a.autoScale, config=a.configuration,
                          shared_with=a.sharedWith)


class StopBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"graceful": True, "timeout": 30000}]})
    graceful: bool = Field(default=True, description="let running tasks finish (up to `timeout`), then cancel")
    timeout: int = Field(default=30000, ge=0, le=3_600_000, description="milliseconds")
