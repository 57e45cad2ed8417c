"""To-one relationships a client may send with a resource (`relationships.swarm`, `relationships.assignedAgent`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.dialect2.jsonapi import linked_id


class SwarmLinkage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="`swarm`")
    id: str = Field(max_length=100)


class ToOneSwarm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: SwarmLinkage | None = None


class AgentLinkage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="`agent`")
    id: str = Field(max_length=100)


class ToOneAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: AgentLinkage | None = None


def swarm_id(relationship: ToOneSwarm | None) -> str | None:
    """The swarm a relationship names (a linkage of another type is a 400, an id that is no swarm's a 404)."""
    return linked_id(relationship.data if relationship else None, "swarm", "data.relationships.swarm.data")


def agent_id(relationship: ToOneAgent | None) -> str | None:
    """The agent a relationship names (a linkage of another type is a 400, an id that is no agent's a 404)."""
    return linked_id(relationship.data if relationship else None, "agent", "data.relationships.assignedAgent.data")
