"""Dialect 1 (`/api/agents`): spawn, list, read, reconfigure, terminate agents and check their health, with the
claude-flow spec's plain snake_case bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageV1Dep, Principal, SettingsDep, require
from api.presenters import agents as present
from api.presenters import v1
from api.routes.entity_common import CONFLICT, checked
from core.agents import agents
from core.agents.contracts import AgentPatch

router = APIRouter(prefix="/api/agents", tags=["agents (dialect 1)"])

EXAMPLE_CREATE = {"type": "coder", "name": "Coder-Beta", "capabilities": ["code_generation", "testing"],
                  "config": {"model": "claude-3-sonnet", "temperature": 0.7, "max_tokens": 4000},
                  "metadata": {"project": "api-v2", "team": "backend"}}
EXAMPLE_UPDATE = {"name": "Coder-Alpha-Updated", "config": {"temperature": 0.8, "max_tokens": 5000},
                  "metadata": {"priority": "high"}}


class AgentCreateV1(BaseModel):
    """`config` is the agent's own (model, temperature, … and `executor`: shell | llm | agent-cli | python);
    it is echoed back, so secrets go in by environment-variable name (`api_key_env`), never by value."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    type: str = Field(min_length=1, max_length=100, description="an agent type; an unknown one is a 400 listing them")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    swarm_id: str | None = Field(default=None, max_length=100, description="join this swarm")


class AgentUpdateV1(BaseModel):
    """`config` and `metadata` are merged over the current ones."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_UPDATE]})
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    capabilities: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=100)


@router.get("")
def list_agents(page: PageV1Dep, _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """Filters: `status`, `type`, `swarm_id`. Sort: `created_at` (default), `name`, `type`, `status`,
    `updated_at`."""
    result = agents.list_agents(page)
    return v1.paged("agents", [present.agent_v1(state) for state in result.items], result)


@router.post("", status_code=201, responses=CONFLICT)
async def create_agent(body: AgentCreateV1, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("agents:create"))]) -> JSONResponse:
    """The agent starts `initializing` and becomes `idle` once its workspace is ready."""
    if body.swarm_id is not None:
        checked("swarm", body.swarm_id)
    request = agents.AgentCreate(**body.model_dump())
    state = await agents.create_agent(client, settings, request, owner=principal.id, tier=principal.tier)
    return JSONResponse(present.agent_created_v1(state), status_code=201,
                        headers={"Location": f"/api/agents/{state.spec.id}"})


@router.get("/{agent_id}")
async def get_agent(agent_id: str, client: ClientDep,
                    _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    state = await agents.get_agent(client, checked("agent", agent_id))
    return present.agent_v1(state, detail=True)


@router.put("/{agent_id}", responses=CONFLICT)
async def update_agent(agent_id: str, body: Annotated[AgentUpdateV1, Body()], client: ClientDep,
                       settings: SettingsDep, _: Annotated[Principal, Depends(require("agents:create"))]) -> dict:
    patch = AgentPatch(**body.model_dump())
    state = await agents.update_agent(client, settings, checked("agent", agent_id), patch)
    return present.agent_v1(state, detail=True)


@router.delete("/{agent_id}")
async def terminate_agent(agent_id: str, client: ClientDep,
                          principal: Annotated[Principal, Depends(require("agents:create"))]) -> dict:
    """Cancels the running task (its workspace is rolled back) and ends the agent; terminating a terminated
    agent answers the same again."""
    checked("agent", agent_id)
    state = await agents.terminate_agent(client, agent_id, by=principal.username)
    return present.agent_terminated_v1(state)


@router.get("/{agent_id}/health")
async def agent_health(agent_id: str, client: ClientDep, settings: SettingsDep,
                       _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    return present.health_v1(await agents.agent_health(client, settings, checked("agent", agent_id)))
