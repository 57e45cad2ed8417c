"""Dialect 2 (`/api/v2/swarms`): JSON:API swarm resources — create, list (`include=agents,tasks`), read,
reconfigure, start/stop as 202 operations, delete, and the swarm's agents and tasks."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v2, require
from api.common.fields import fields_named
from api.common.ids import checked
from api.common.openapi import returns
from api.dialect2.jsonapi import ok, paged, resource_id, resource_type
from api.dialect2.presenters import agents as present_agent
from api.dialect2.presenters import swarms as present
from api.dialect2.presenters import tasks as present_task
from api.dialect2.schemas.agents import AgentObject
from api.dialect2.schemas.documents import Document, ListDocument, RelationshipDocument
from api.dialect2.schemas.envelopes import UNAVAILABLE, CreatedDocument, errors, headed
from api.dialect2.schemas.swarms import (
    CREATE_FIELDS,
    PATCH_FIELDS,
    OperationStartedDocument,
    StopBody,
    SwarmDetailDocument,
    SwarmDocument,
    SwarmListDocument,
    SwarmObject,
    SwarmPatchDocument,
)
from api.dialect2.schemas.tasks import TaskObject
from core.access import Caller
from core.agents import agents, lookup, swarms, tasks
from core.agents.state import SwarmState
from core.listing import PageRequest

router = APIRouter(prefix="/api/v2/swarms", tags=["swarms"])

INCLUDES = ("agents", "tasks")
# PATCH, start, stop: a terminated swarm, or a type/id that is not this swarm's
STATE_CONFLICT = errors(e409="The swarm's state does not allow this, or `data.type`/`data.id` do not match (CONFLICT)")


def _includes(raw: str | None) -> list[str]:
    names = [part for part in (raw or "").split(",") if part]
    PageRequest(include=names).check_include(INCLUDES)  # an unknown one → 400 naming `include`
    return names


def _compound(states: list[SwarmState], include: list[str],
              caller: Caller) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(swarm resources, included resources) for `include=agents,tasks`: up to `swarms.MAX_MEMBERS` of each per
    swarm, oldest first, from the list projections, as the caller may see them. Included agents are the live ones
    (those the swarm links)."""
    data, included = [], []
    for state in states:
        task_ids = task_count = None
        if "agents" in include:
            live = {a.id for a in state.live_agents}
            members, _ = swarms.swarm_agents(state.spec.id, caller=caller)
            included += [present_agent.agent(a) for a in members if a.spec.id in live]
        if "tasks" in include:
            members, task_count = swarms.swarm_tasks(state.spec.id, caller=caller)
            task_ids = [t.spec.id for t in members]
            included += [present_task.task(t) for t in members]
        data.append(present.swarm(state, detail=True, task_count=task_count, task_ids=task_ids))
    return data, included


@router.get("", **returns(SwarmListDocument))
def list_swarms(page: Annotated[PageRequest, Depends(list_params_v2(include=INCLUDES, filters=swarms.FILTERABLE))],
                principal: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """Filters: `filter[status]`, `filter[topology]`, `filter[strategy]`. Sort: `createdAt`, `name`, `status`,
    `updatedAt`. `include=agents,tasks` adds them as `included` (and their linkage)."""
    result = swarms.list_swarms(page)
    data, included = _compound(result.items, page.include, principal.caller)
    return paged(data, result, "/api/v2/swarms", included=included if page.include else None)


@router.post("", **headed(returns(CreatedDocument[SwarmObject], 201, "The swarm, initializing",
                                      unavailable=UNAVAILABLE), "Location"))
async def create_swarm(body: SwarmDocument, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    """The swarm and the agents it spawns are yours; `sharedWith` names users who may submit tasks into it (and
    read its agents' configuration). Agent configs follow the agents' rules (see `POST /api/v2/agents`)."""
    resource_type("swarm", body.data.type)
    with fields_named(CREATE_FIELDS):
        state = await swarms.create_swarm(client, settings, body.to_domain(), caller=principal.caller,
                                          tier=principal.tier)
    location = f"/api/v2/swarms/{state.spec.id}"
    return JSONResponse(ok(present.swarm(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{swarm_id}", **returns(SwarmDetailDocument, unavailable=UNAVAILABLE))
async def get_swarm(
    swarm_id: str, client: ClientDep, principal: Annotated[Principal, Depends(require("swarms:read"))],
    include: Annotated[str | None, Query(max_length=200, description="agents, tasks (comma-separated)")] = None,
) -> dict:
    names = _includes(include)
    state = await swarms.get_swarm(client, checked("swarm", swarm_id))
    if not names:
        return ok(present.swarm(state, detail=True))
    data, included = await asyncio.to_thread(_compound, [state], names, principal.caller)
    return {**ok(data[0]), "included": included}


@router.patch("/{swarm_id}", **returns(Document[SwarmObject], responses=STATE_CONFLICT, unavailable=UNAVAILABLE))
async def update_swarm(swarm_id: str, body: SwarmPatchDocument, client: ClientDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    """The swarm's owner or an admin (403 otherwise); `sharedWith` replaces the current list."""
    resource_type("swarm", body.data.type)
    resource_id("swarm", swarm_id, body.data.id)
    with fields_named(PATCH_FIELDS):
        state = await swarms.update_swarm(client, checked("swarm", swarm_id), body.to_domain(),
                                          caller=principal.caller)
    return ok(present.swarm(state, detail=True))


@router.post("/{swarm_id}/start", **headed(returns(OperationStartedDocument, 202, "Accepted: follow `links.status`",
                                                   responses=STATE_CONFLICT, unavailable=UNAVAILABLE),
                                           "Location"))
async def start_swarm(swarm_id: str, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    """Start or resume: accepted at once; the operation (`links.status`) succeeds when the swarm is active."""
    operation_id = await swarms.start_swarm_operation(client, checked("swarm", swarm_id), "start",
                                                      caller=principal.caller)
    data, links = present.operation_started(operation_id, "Swarm starting")
    return JSONResponse(ok(data, links=links), status_code=202, headers={"Location": links["status"]})


@router.post("/{swarm_id}/stop", **headed(returns(OperationStartedDocument, 202, "Accepted: follow `links.status`",
                                                  responses=STATE_CONFLICT, unavailable=UNAVAILABLE),
                                          "Location"))
async def stop_swarm(swarm_id: str, client: ClientDep,
                     principal: Annotated[Principal, Depends(require("swarms:manage"))],
                     body: Annotated[StopBody | None, Body()] = None) -> JSONResponse:
    """Pause: graceful lets running tasks finish for up to `timeout` ms, then cancels the rest (their workspaces
    are rolled back); the operation succeeds when that is done. Queued tasks wait for `start`."""
    body = body or StopBody()
    operation_id = await swarms.start_swarm_operation(client, checked("swarm", swarm_id), "stop",
                                                      caller=principal.caller, graceful=body.graceful,
                                                      timeout_s=body.timeout / 1000)
    message = "Swarm stopping gracefully" if body.graceful else "Swarm stopping"
    data, links = present.operation_started(operation_id, message)
    return JSONResponse(ok(data, links=links), status_code=202, headers={"Location": links["status"]})


@router.delete("/{swarm_id}", status_code=204,
               responses={**errors(e409="Tasks are queued or running and no `force` (CONFLICT)"), **UNAVAILABLE})
async def delete_swarm(swarm_id: str, client: ClientDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))],
                       force: Annotated[bool, Query(description="delete even with queued or running tasks")] = False,
                       ) -> Response:
    """Terminates the swarm's agents and cancels its queued tasks. With tasks queued or running and no `force`
    → 409. The swarm stays readable (status `terminated`)."""
    checked("swarm", swarm_id)
    await swarms.delete_swarm(client, swarm_id, caller=principal.caller, force=force)
    return Response(status_code=204)


def _known(swarm_id: str) -> str:
    lookup.require_swarm(checked("swarm", swarm_id))
    return swarm_id


@router.get("/{swarm_id}/agents", **returns(ListDocument[AgentObject]))
def swarm_agents(swarm_id: str, page: Annotated[PageRequest, Depends(list_params_v2(filters=agents.FILTERABLE))],

                 principal: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """The swarm's agents, terminated ones included (`filter[status]` to narrow). Sort as `/api/v2/agents`."""
    result = agents.list_agents(page, caller=principal.caller, swarm_id=_known(swarm_id))
    return paged([present_agent.agent(a) for a in result.items], result, f"/api/v2/swarms/{swarm_id}/agents")


@router.get("/{swarm_id}/tasks", **returns(ListDocument[TaskObject]))
def swarm_tasks(swarm_id: str, page: Annotated[PageRequest, Depends(list_params_v2(filters=tasks.FILTERABLE))],

                principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """The swarm's tasks (subtasks of decomposed ones included). Filters: `filter[status]`, `filter[priority]`,
    `filter[agentId]`, `filter[type]`, `filter[parentId]`. Sort: `createdAt`, `priority`, `status`, `updatedAt`."""
    result = tasks.list_tasks(page, caller=principal.caller, swarm_id=_known(swarm_id))
    return paged([present_task.task(t) for t in result.items], result, f"/api/v2/swarms/{swarm_id}/tasks")


@router.get("/{swarm_id}/relationships/agents", **returns(RelationshipDocument, unavailable=UNAVAILABLE))
async def agents_relationship(swarm_id: str, client: ClientDep,
                              _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """The linkage of the swarm's live agents (JSON:API relationship object)."""
    state = await swarms.get_swarm(client, checked("swarm", swarm_id))
    live = [("agent", a.id) for a in state.live_agents]
    return {"success": True, **present.relationship(swarm_id, "agents", live, len(live))}


@router.get("/{swarm_id}/relationships/tasks", **returns(RelationshipDocument))
def tasks_relationship(swarm_id: str, principal: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """The linkage of the swarm's tasks, oldest first (at most `swarms.MAX_MEMBERS`; `meta.count` is the total)."""
    members, total = swarms.swarm_tasks(_known(swarm_id), caller=principal.caller)
    return {"success": True, **present.relationship(swarm_id, "tasks", [("task", t.spec.id) for t in members], total)}
