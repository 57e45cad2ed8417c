"""Dialect 1 (`/api/swarms`): create and list swarms, read their status, control them (pause, resume, scale,
optimize, rebalance) and broadcast directives to their agents, with the claude-flow spec's plain bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v1, require
from api.common.ids import checked
from api.common.openapi import CONFLICT, returns
from api.dialect1.presenters import swarms as present
from api.dialect1.presenters.lists import paged
from api.dialect1.schemas.responses import swarms as out
from api.dialect1.schemas.swarms import BroadcastV1, ControlV1, SwarmCreateV1
from core.agents import swarms
from core.listing import PageRequest

router = APIRouter(prefix="/api/swarms", tags=["swarms (dialect 1)"])


@router.get("", **returns(out.SwarmListV1))
def list_swarms(page: Annotated[PageRequest, Depends(list_params_v1(filters=swarms.FILTERABLE))],
                 _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """Filters: `status`, `topology`, `strategy`. Sort: `created_at` (default), `name`, `status`, `updated_at`."""
    result = swarms.list_swarms(page)
    return paged("swarms", [present.swarm(state) for state in result.items], result)


@router.post("", **returns(out.SwarmV1, 201))
async def create_swarm(body: SwarmCreateV1, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    """The swarm spawns its initial agents and tasks once it runs; `agents` fills in as they join."""
    state = await swarms.create_swarm(client, settings, body.to_domain(), caller=principal.caller,
                                      tier=principal.tier)
    return JSONResponse(present.swarm(state), status_code=201,
                        headers={"Location": f"/api/swarms/{state.spec.id}/status"})


@router.get("/{swarm_id}/status", **returns(out.SwarmStatusV1Body))
async def swarm_status(swarm_id: str, client: ClientDep,
                       _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    return present.swarm_status(await swarms.swarm_status(client, checked("swarm", swarm_id)))


@router.post("/{swarm_id}/control", **returns(out.SwarmControlV1, responses=CONFLICT))
async def control_swarm(swarm_id: str, body: ControlV1, client: ClientDep, settings: SettingsDep,
                        principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    """Answers when the swarm has applied the action; `result` says what it did (agents added or removed, the
    topology optimize chose and what it measured, the agents rebalance asked to hand work back)."""
    outcome = await swarms.control_swarm(client, settings, checked("swarm", swarm_id), body.to_domain(),
                                         caller=principal.caller, tier=principal.tier)
    return present.control(swarm_id, outcome)


@router.post("/{swarm_id}/broadcast", **returns(out.BroadcastV1Body, responses=CONFLICT))
async def broadcast(swarm_id: str, body: BroadcastV1, client: ClientDep,
                    principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    """Every live agent the `target` matches gets the directive; an LLM or agent-CLI agent passes the latest
    ones to its next tasks. `recipients` is how many it reached."""
    directive = body.to_domain(by=principal.username)
    recipients = await swarms.broadcast(client, checked("swarm", swarm_id), directive, caller=principal.caller)
    return present.broadcast(swarm_id, directive, recipients)
