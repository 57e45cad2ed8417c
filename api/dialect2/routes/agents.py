"""Dialect 2 (`/api/v2/agents`): JSON:API agent resources — list across swarms, spawn (optionally into a swarm),
read, and performance metrics over a timeframe."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v2, require
from api.common.fields import fields_named
from api.common.ids import checked
from api.common.openapi import returns
from api.dialect2.jsonapi import ok, paged, resource_type
from api.dialect2.presenters import agents as present
from api.dialect2.schemas.agents import CREATE_FIELDS, AgentDocument, AgentListDocument, AgentMetrics, AgentObject
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.envelopes import UNAVAILABLE, CreatedDocument, errors, headed
from core.agents import agents
from core.errors import ValidationFailed
from core.listing import PageRequest

router = APIRouter(prefix="/api/v2/agents", tags=["agents"])

METRIC_GROUPS = ("performance", "resource", "coordination")


@router.get("", **returns(AgentListDocument))
def list_agents(page: Annotated[PageRequest, Depends(list_params_v2(filters=agents.FILTERABLE))],
                 principal: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """Filters: `filter[swarmId]`, `filter[type]` (or `filter[agentType]`), `filter[status]`. Sort: `createdAt`,
    `name`, `type`, `status`, `updatedAt`. `configuration` is null (named in `meta.redacted`) for agents that are
    not yours or shared with you (admins see all)."""
    result = agents.list_agents(page, caller=principal.caller)
    body = paged([present.agent(a) for a in result.items], result, "/api/v2/agents")
    body["meta"]["totalCount"] = result.total  # where the spec's example puts it, besides meta.pagination
    return body


@router.post("", **headed(returns(CreatedDocument[AgentObject], 201, "The agent, initializing", responses=errors(
    e404="`relationships.swarm` names no swarm (RESOURCE_NOT_FOUND)",
    e409="The swarm is full or terminated, or `data.type` is not `agent` (CONFLICT)"),
    unavailable=UNAVAILABLE), "Location"))
async def create_agent(body: AgentDocument, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("agents:create"))]) -> JSONResponse:
    """With `relationships.swarm` the agent joins that swarm (409 when it is full or terminated; 403 unless the
    swarm is yours or you are an admin). The agent is yours; `sharedWith` names users who may read its
    configuration and assign tasks to it. A `command` in `configuration` is for admins only (403), an LLM
    `base_url` must be one the operator allows (400), secret-looking keys are refused (400)."""
    resource_type("agent", body.data.type)
    with fields_named(CREATE_FIELDS):  # an unknown agent type: 400 naming data.attributes.agentType
        state = await agents.create_agent(client, settings, body.to_domain(), caller=principal.caller,
                                          tier=principal.tier)
    location = f"/api/v2/agents/{state.spec.id}"
    return JSONResponse(ok(present.agent(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{agent_id}", **returns(Document[AgentObject], unavailable=UNAVAILABLE))
async def get_agent(agent_id: str, client: ClientDep,
                    principal: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    return ok(present.agent(await agents.get_agent(client, checked("agent", agent_id), caller=principal.caller)))


@router.get("/{agent_id}/metrics", **returns(Document[AgentMetrics]))
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
    return ok(present.agent_metrics(report, groups))
