"""`POST /api/v2/agents`, and the agent resources and metrics the agent routes answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from api.dialect2.schemas.documents import ListDocument, ListMeta, Relationship, Resource, _Open
from api.dialect2.schemas.envelopes import WithheldMeta
from api.dialect2.schemas.relationships import ToOneSwarm, swarm_id
from core.agents.agents import AgentCreate
from core.agents.models import AgentStatus

EXAMPLE_CREATE = {"data": {
    "type": "agent",
    "attributes": {"name": "Security Analyzer", "agentType": "analyst",
                   "capabilities": ["security-audit", "vulnerability-scan", "compliance"],
                   "configuration": {"autoAssign": True, "priority": "high", "cognitivePattern": "critical"}},
    "relationships": {"swarm": {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000"}}},
}}
# The service's field names in validation errors → this body's.
CREATE_FIELDS = {"type": "data.attributes.agentType", "config": "data.attributes.configuration",
                 "metadata": "data.attributes.metadata", "shared_with": "data.attributes.sharedWith"}


class SwarmRelationships(BaseModel):
    model_config = ConfigDict(extra="forbid")
    swarm: ToOneSwarm | None = None


class AgentAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    agentType: str = Field(min_length=1, max_length=100)
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="the agent's config: executor, model, cognitivePattern, …")
    metadata: dict[str, Any] = Field(default_factory=dict)
    sharedWith: Usernames = Field(default_factory=list, description="users who may read its configuration and "
                                                                     "assign tasks to it")


class AgentResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="must be `agent` (anything else is a 409)")
    attributes: AgentAttributes
    relationships: SwarmRelationships | None = None


class AgentDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    data: AgentResource

    def to_domain(self) -> AgentCreate:
        a = self.data.attributes
        relationships = self.data.relationships
        swarm = swarm_id(relationships.swarm if relationships else None)
        return AgentCreate(type=a.agentType, name=a.name, capabilities=a.capabilities, config=a.configuration,
                           metadata=a.metadata, swarm_id=swarm, shared_with=a.sharedWith)


# ---- what the API answers (api/dialect2/presenters/agents.py) ---------------------------------------------


class AgentFigures(_Open):
    """Measured over the agent's life; the averages are null until a task has finished."""

    tasksCompleted: int = Field(examples=[45])
    tasksFailed: int = Field(examples=[2])
    avgResponseTime: int | None = Field(description="Average task time, ms", examples=[1250])
    successRate: float | None = Field(description="Completed over finished (0–1)", examples=[0.96])


class AgentObjectAttributes(_Open):
    name: str = Field(examples=["Coder Prime"])
    agentType: str = Field(examples=["coder"])
    status: AgentStatus
    role: str = Field(description="`worker`, or `coordinator` in a hierarchical swarm", examples=["worker"])
    capabilities: list[str] = Field(examples=[["javascript", "python", "api-design"]])
    executor: str = Field(description="What runs its tasks: shell, llm, agent-cli, python", examples=["shell"])
    configuration: dict[str, Any] | None = Field(
        description="Null when withheld from the caller (named in `meta.redacted`)")
    metadata: dict[str, Any]
    owner: str | None = Field(description="The user id of its creator")
    sharedWith: list[str]
    metrics: AgentFigures
    queueSize: int = Field(description="Tasks waiting for it")
    createdAt: str = Field(examples=["2025-07-23T10:15:00Z"])
    updatedAt: str
    terminatedAt: str | None


class AgentRelationships(_Open):
    swarm: Relationship = Field(description="`data` null when it belongs to no swarm")
    currentTask: Relationship = Field(description="`data` null while it runs nothing")


AGENT_LINKS = {"self": "/api/v2/agents/ag-01J00000000000000000000000",
               "metrics": "/api/v2/agents/ag-01J00000000000000000000000/metrics"}


class AgentObject(Resource[AgentObjectAttributes]):
    """An agent resource (`type: agent`)."""

    type: Literal["agent"]
    relationships: AgentRelationships  # type: ignore[assignment]
    links: dict[str, str] = Field(examples=[AGENT_LINKS])  # type: ignore[assignment]
    meta: WithheldMeta | None = None


class AgentListMeta(ListMeta):
    totalCount: int = Field(description="All agents that match (as `pagination.totalCount`)", examples=[42])


class AgentListDocument(ListDocument[AgentObject]):
    meta: AgentListMeta


class AgentPerformanceFigures(_Open):
    tasksCompleted: int
    tasksFailed: int
    avgCompletionTime: float | None = Field(description="ms")
    successRate: float | None


class AgentResourceFigures(_Open):
    cpuUsage: float | None = Field(description="CPU seconds per active second; null when never active")
    memoryUsage: float | None = Field(description="Always null: no memory limit is set to be a share of")
    memoryPeak: float | None = Field(description="The measured peak, MB")
    cpuTime: float = Field(description="CPU seconds")
    activeTime: int = Field(description="ms spent on tasks")


class AgentCoordinationFigures(_Open):
    messagesSent: int | None = Field(description="Always null: agents send no messages of their own")
    messagesReceived: int = Field(description="Directives and assignments received")
    coordinationScore: float | None = Field(description="Always null: nothing scores coordination")


class AgentMetricGroups(_Open):
    """The groups the `metrics` parameter picked (all three by default)."""

    performance: AgentPerformanceFigures | None = None
    resource: AgentResourceFigures | None = None
    coordination: AgentCoordinationFigures | None = None


class AgentTimelinePoint(_Open):
    timestamp: str | None = Field(description="The hour (the day for 7d/30d) the point covers")
    tasksCompleted: int
    avgResponseTime: float = Field(description="ms")


class AgentMetrics(_Open):
    """`GET /api/v2/agents/{id}/metrics`."""

    agentId: str
    timeframe: str = Field(examples=["24h"])
    metrics: AgentMetricGroups
    timeline: list[AgentTimelinePoint]
