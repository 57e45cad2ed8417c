"""Dialect 1 (`/api/agents`): spawn, list, read, reconfigure, terminate agents and check their health, with the
claude-flow spec's plain snake_case bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v1, require
from api.common.ids import checked
from api.common.openapi import CONFLICT, returns
from api.dialect1.presenters import agents as present
from api.dialect1.presenters.lists import paged
from api.dialect1.schemas.agents import AgentCreateV1, AgentUpdateV1
from api.dialect1.schemas.responses import agents as out
from api.dialect1.schemas.responses.common import error
from core.agents import agents
from core.listing import PageRequest

router = APIRouter(prefix="/api/agents", tags=["agents (dialect 1)"])


@router.get("", **returns(out.AgentListV1))
def list_agents(page: Annotated[PageRequest, Depends(list_params_v1(filters=agents.FILTERABLE))],
                 principal: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """Filters: `status`, `type`, `swarm_id`. Sort: `created_at` (default), `name`, `type`, `status`,
    `updated_at`."""
    result = agents.list_agents(page, caller=principal.caller)
    return paged("agents", [present.agent(state) for state in result.items], result)


@router.post("", **returns(out.AgentCreatedV1, 201, responses={
    **CONFLICT, 404: error("The swarm named by `swarm_id` does not exist or is not visible to you")}))
async def create_agent(body: AgentCreateV1, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("agents:create"))]) -> JSONResponse:
    """The agent starts `initializing` and becomes `idle` once its workspace is ready. It belongs to the caller;
    `shared_with` names users who may read its config and assign tasks to it. Joining a swarm needs the swarm's
    owner (or an admin). A `command` in `config` is for admins only (403); an LLM `base_url` must be one the
    operator allows (400); secret-looking keys in `config` or `metadata` are refused (400)."""
    if body.swarm_id is not None:
        checked("swarm", body.swarm_id)
    state = await agents.create_agent(client, settings, body.to_domain(), caller=principal.caller,
                                      tier=principal.tier)
    return JSONResponse(present.agent_created(state), status_code=201,
                        headers={"Location": f"/api/agents/{state.spec.id}"})


@router.get("/{agent_id}", **returns(out.AgentV1))
async def get_agent(agent_id: str, client: ClientDep,
                    principal: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """`config` is null (and named in `redacted`) unless the agent is yours, shared with you, or you are an admin."""
    state = await agents.get_agent(client, checked("agent", agent_id), caller=principal.caller)
    return present.agent(state, detail=True)


@router.put("/{agent_id}", **returns(out.AgentV1, responses=CONFLICT))
async def update_agent(agent_id: str, body: Annotated[AgentUpdateV1, Body()], client: ClientDep,
                       settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("agents:create"))]) -> dict:
    """The agent's owner or an admin (403 otherwise); the config rules of creation apply to what is set."""
    patch = body.to_domain()
    state = await agents.update_agent(client, settings, checked("agent", agent_id), patch, caller=principal.caller)
    return present.agent(state, detail=True)


@router.delete("/{agent_id}", **returns(out.AgentTerminatedV1))
async def terminate_agent(agent_id: str, client: ClientDep,
                          principal: Annotated[Principal, Depends(require("agents:create"))]) -> dict:
    """Cancels the running task (its workspace is rolled back) and ends the agent; terminating a terminated
    agent answers the same again."""
    checked("agent", agent_id)
    state = await agents.terminate_agent(client, agent_id, caller=principal.caller)
    return present.agent_terminated(state)


@router.get("/{agent_id}/health", **returns(out.AgentHealthV1))
async def agent_health(agent_id: str, client: ClientDep, settings: SettingsDep,
                       _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    return present.health(await agents.agent_health(client, settings, checked("agent", agent_id)))
