"""`POST /api/v2/swarms`, `PATCH /api/v2/swarms/{id}`, `POST /api/v2/swarms/{id}/stop`, and the swarm resources
and 202 operations the swarm routes answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import InitialAgent, SwarmTasks, Usernames, initial_agents, initial_tasks
from api.dialect2.schemas.agents import AgentObject
from api.dialect2.schemas.documents import Document, ListDocument, Relationship, Resource, _Open
from api.dialect2.schemas.tasks import TaskObject
from core.agents.contracts import SwarmPatch
from core.agents.models import MAX_SWARM_AGENTS, Strategy, SwarmStatus, Topology
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


# ---- what the API answers (api/dialect2/presenters/swarms.py) ---------------------------------------------


class SwarmFigures(_Open):
    """Counted by the swarm; the averages are null until a task has finished."""

    tasksTotal: int
    tasksCompleted: int = Field(examples=[156])
    tasksFailed: int
    tasksCancelled: int
    tasksQueued: int
    tasksInProgress: int
    avgCompletionTime: float | None = Field(description="ms per finished task", examples=[2340])
    successRate: float | None = Field(description="completed over finished (0–1)", examples=[0.94])
    progress: float = Field(description="the share of its tasks that have ended (0–1)")


class SwarmObjectAttributes(_Open):
    """`activeAgents`, `metrics` and `terminatedAt` are in the detailed form (read, list, update), not in the
    201 of a create."""

    name: str = Field(examples=["Development Swarm"])
    objective: str | None
    topology: Topology
    status: SwarmStatus
    maxAgents: int = Field(examples=[8])
    strategy: Strategy
    autoScale: bool
    configuration: dict[str, Any]
    owner: str | None = Field(description="The user id of its creator")
    sharedWith: list[str]
    createdAt: str = Field(examples=["2025-07-23T10:00:00Z"])
    updatedAt: str = Field(examples=["2025-07-23T11:00:00Z"])
    activeAgents: int | None = Field(default=None, description="Its live agents", examples=[6])
    metrics: SwarmFigures | None = None
    terminatedAt: str | None = None


class SwarmRelationshipsOut(_Open):
    """Each with `links` and `meta.count`; linkage `data` for agents always, for tasks with `include=tasks`."""

    agents: Relationship
    tasks: Relationship


class SwarmObject(Resource[SwarmObjectAttributes]):
    """A swarm resource (`type: swarm`)."""

    type: Literal["swarm"]
    relationships: SwarmRelationshipsOut  # type: ignore[assignment]
    links: dict[str, str] = Field(  # type: ignore[assignment]
        examples=[{"self": "/api/v2/swarms/sw-01J00000000000000000000000"}])


# what `include=agents,tasks` adds, told apart by `type`
Included = Annotated[AgentObject | TaskObject, Field(discriminator="type")]


class SwarmDetailDocument(Document[SwarmObject]):
    """A swarm, with `include=agents,tasks` its agents and tasks in `included`."""

    included: list[Included] | None = None  # type: ignore[assignment]


class SwarmListDocument(ListDocument[SwarmObject]):
    included: list[Included] | None = None  # type: ignore[assignment]


class OperationStarted(_Open):
    """The 202 of a start or stop: follow `links.status` (`GET /api/v2/operations/{id}`)."""

    message: str = Field(examples=["Swarm starting"])
    operationId: str = Field(examples=["op-01J00000000000000000000000"])


class OperationLinks(_Open):
    status: str = Field(examples=["/api/v2/operations/op-01J00000000000000000000000"])


class OperationStartedDocument(Document[OperationStarted]):
    links: OperationLinks  # type: ignore[assignment]
