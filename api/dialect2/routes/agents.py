"""Dialect 2 (`/api/v2/agents`): JSON:API agent resources — list across swarms, spawn (optionally into a swarm),
read, and performance metrics over a timeframe."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageDep, Principal, SettingsDep, require
from api.presenters import agents as present
from api.presenters import v2
from api.routes.entity_common import CONFLICT, checked
from api.routes.swarms_v2 import resource_type
from core.agents import agents
from core.agents.types import resolve
from core.errors import ValidationFailed

router = APIRouter(prefix="/api/v2/agents", tags=["agents"])

METRIC_GROUPS = ("performance", "resource", "coordination")
EXAMPLE_CREATE = {"data": {
    "type": "agent",
    "attributes": {"name": "Security Analyzer", "agentType": "analyst",
                   "capabilities": ["security-audit", "vulnerability-scan", "compliance"],
                   "configuration": {"autoAssign": True, "priority": "high", "cognitivePattern": "critical"}},
    "relationships": {"swarm": {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000"}}},
}}


class SwarmLinkage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="`swarm`")
    id: str = Field(max_length=100)


class ToOneSwarm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: SwarmLinkage | None = None


class SwarmRelationships(BaseModel):
    model_config = ConfigDict(extra="forbid")
    swarm: ToOneSwarm | None = None


def swarm_of(relationships: SwarmRelationships | None) -> str | None:
    """The swarm a relationship names (a linkage of another type is a 400, an unknown swarm a 404)."""
    if relationships is None or relationships.swarm is None or relationships.swarm.data is None:
        return None
    linkage = relationships.swarm.data
    if linkage.type != "swarm":
        raise ValidationFailed("Request validation failed", details=[{
            "field": "data.relationships.swarm.data.type", "constraint": "const", "value": linkage.type,
            "message": "must be 'swarm'"}])
    return checked("swarm", linkage.id)


class AgentAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    agentType: str = Field(min_length=1, max_length=100)
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="the agent's config: executor, model, cognitivePattern, …")
    metadata: dict[str, Any] = Field(default_factory=dict)


class AgentResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="must be `agent` (anything else is a 409)")
    attributes: AgentAttributes
    relationships: SwarmRelationships | None = None


class AgentDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    data: AgentResource


@router.get("")
def list_agents(page: PageDep, _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """Filters: `filter[swarmId]`, `filter[type]` (or `filter[agentType]`), `filter[status]`. Sort: `createdAt`,
    `name`, `type`, `status`, `updatedAt`."""
    result = agents.list_agents(page)
    body = v2.paged([present.agent_v2(a) for a in result.items], result, "/api/v2/agents")
    body["meta"]["totalCount"] = result.total  # where the spec's example puts it, besides meta.pagination
    return body


@router.post("", status_code=201, responses=CONFLICT)
async def create_agent(body: AgentDocument, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("agents:create"))]) -> JSONResponse:
    """With `relationships.swarm` the agent joins that swarm (409 when it is full or terminated)."""
    resource_type("agent", body.data.type)
    a = body.data.attributes
    resolve(a.agentType, settings.agent_types, field="data.attributes.agentType")  # 400 listing the valid types
    request = agents.AgentCreate(type=a.agentType, name=a.name, capabilities=a.capabilities, config=a.configuration,
                                 metadata=a.metadata, swarm_id=swarm_of(body.data.relationships))
    state = await agents.create_agent(client, settings, request, owner=principal.id, tier=principal.tier)
    location = f"/api/v2/agents/{state.spec.id}"
    return JSONResponse(v2.ok(present.agent_v2(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{agent_id}")
async def get_agent(agent_id: str, client: ClientDep, _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    return v2.ok(present.agent_v2(await agents.get_agent(client, checked("agent", agent_id))))


@router.get("/{agent_id}/metrics")
def agent_metrics(
    agent_id: str, _: Annotated[Principal, Depends(require("agents:read"))],
    timeframe: Annotated[str, Query(max_length=10, description="1h, 24h, 7d or 30d")] = "24h",
    metrics: Annotated[str | None, Query(max_length=200, description="performance, resource, coordination "
                                                                     "(comma-separated; default all)")] = None,
) -> dict:
    """From the agent's recorded task events inside the timeframe; `timeline` is hourly (daily for 7d/30d)."""
    groups = [part for part in (metrics or "").split(",") if part]
    for group in groups:
        if group not in METRIC_GROUPS:
            raise ValidationFailed("Request validation failed", details=[{
                "field": "metrics", "constraint": "enum", "value": group,
                "message": f"must be one of: {', '.join(METRIC_GROUPS)}"}])
    report = agents.agent_metrics(checked("agent", agent_id), timeframe)
    return v2.ok(present.agent_metrics_v2(report, groups))
