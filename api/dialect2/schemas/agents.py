"""`POST /api/v2/agents`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.common.values import Usernames
from api.dialect2.schemas.relationships import ToOneSwarm, swarm_id
from core.agents.agents import AgentCreate

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
