"""Dialect 2 (`/api/v2/swarms`): JSON:API swarm resources — create, list (`include=agents,tasks`), read,
reconfigure, start/stop as 202 operations, delete, and the swarm's agents and tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageDep, Principal, SettingsDep, list_params_v2, require
from api.presenters import agents as present
from api.presenters import v2
from api.routes.entity_common import CONFLICT, checked, drop_none
from api.routes.swarms_v1 import MAX_AGENTS, InitialAgent, SwarmTask
from core.agents import agents, lookup, swarms, tasks
from core.agents.contracts import SwarmPatch
from core.agents.models import Strategy, Topology
from core.agents.state import SwarmState
from core.errors import Conflict, ValidationFailed
from core.listing import MAX_PAGE_SIZE, Page, PageRequest

router = APIRouter(prefix="/api/v2/swarms", tags=["swarms"])

INCLUDES = ("agents", "tasks")
MAX_INCLUDED = 1000  # related resources included per swarm and relationship; the lists page through all

EXAMPLE_CREATE = {"data": {"type": "swarm", "attributes": {
    "name": "AI Research Swarm", "topology": "mesh", "maxAgents": 12, "strategy": "adaptive",
    "configuration": {"enableCoordination": True, "enableLearning": True, "persistenceMode": "auto",
                      "coordinationProtocol": "consensus"}}}}
EXAMPLE_PATCH = {"data": {"type": "swarm", "id": "sw-01J00000000000000000000000",
                          "attributes": {"maxAgents": 10, "strategy": "balanced"}}}


class SwarmAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology = Topology.mesh
    strategy: Strategy = Strategy.balanced
    maxAgents: int = Field(default=8, ge=1, le=MAX_AGENTS)
    autoScale: bool = False
    configuration: dict[str, Any] = Field(default_factory=dict)
    agentConfig: dict[str, Any] = Field(
        default_factory=dict, description="config of every agent the swarm spawns, e.g. {\"executor\": \"shell\"}")
    initialAgents: list[InitialAgent] = Field(default_factory=list, max_length=100)
    tasks: list[Annotated[str, Field(max_length=100_000)] | SwarmTask] = Field(default_factory=list,
                                                                              max_length=1000)


class SwarmResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50, description="must be `swarm` (anything else is a 409)")
    attributes: SwarmAttributes


class SwarmDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_CREATE]})
    data: SwarmResource


class SwarmPatchAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    objective: str | None = Field(default=None, max_length=10_000)
    topology: Topology | None = None
    strategy: Strategy | None = None
    maxAgents: int | None = Field(default=None, ge=1, le=MAX_AGENTS)
    autoScale: bool | None = None
    configuration: dict[str, Any] | None = Field(default=None, description="merged over the current one")


class SwarmPatchResource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=50)
    id: str | None = Field(default=None, max_length=100, description="when given, must be the path's id")
    attributes: SwarmPatchAttributes = Field(default_factory=SwarmPatchAttributes)


class SwarmPatchDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_PATCH]})
    data: SwarmPatchResource


class StopBody(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"graceful": True, "timeout": 30000}]})
    graceful: bool = Field(default=True, description="let running tasks finish (up to `timeout`), then cancel")
    timeout: int = Field(default=30000, ge=0, le=3_600_000, description="milliseconds")


def resource_type(expected: str, given: str) -> None:
    """JSON:API: a resource object of another type than the endpoint's is a 409."""
    if given != expected:
        raise Conflict(f"Resource type {given!r} does not match this endpoint's type {expected!r}",
                       details=[{"field": "data.type", "constraint": "const", "value": given,
                                 "message": f"must be {expected!r}"}])


def _includes(raw: str | None) -> list[str]:
    names = [part for part in (raw or "").split(",") if part]
    PageRequest(include=names).check_include(INCLUDES)  # an unknown one → 400 naming `include`
    return names


def _all(fetch: Callable[[PageRequest], Page[Any]], filters: dict[str, str]) -> tuple[list[Any], int]:
    """Up to MAX_INCLUDED items of a list, oldest first, and how many there are in all."""
    found: list[Any] = []
    total = 0
    number = 1
    while len(found) < MAX_INCLUDED:
        page = fetch(PageRequest(number=number, size=MAX_PAGE_SIZE, sort=["createdAt"], filters=filters))
        found.extend(page.items)
        total = page.total
        if number >= page.page_count:
            break
        number += 1
    return found[:MAX_INCLUDED], total


def _compound(states: list[SwarmState], include: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(swarm resources, included resources) for `include=agents,tasks`, from the list projections."""
    data, included = [], []
    for state in states:
        task_ids = task_count = None
        if "agents" in include:
            live = {a.id for a in state.live_agents}
            rows, _ = _all(agents.list_agents, {"swarmId": state.spec.id})
            included += [present.agent_v2(a) for a in rows if a.spec.id in live]
        if "tasks" in include:
            rows, task_count = _all(tasks.list_tasks, {"swarmId": state.spec.id})
            task_ids = [t.spec.id for t in rows]
            included += [present.task_v2(t) for t in rows]
        data.append(present.swarm_v2(state, detail=True, task_count=task_count, task_ids=task_ids))
    return data, included


@router.get("")
def list_swarms(page: Annotated[PageRequest, Depends(list_params_v2(include=INCLUDES))],
                _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """Filters: `filter[status]`, `filter[topology]`, `filter[strategy]`. Sort: `createdAt`, `name`, `status`,
    `updatedAt`. `include=agents,tasks` adds them as `included` (and their linkage)."""
    result = swarms.list_swarms(page)
    data, included = _compound(result.items, page.include)
    return v2.paged(data, result, "/api/v2/swarms", included=included if page.include else None)


@router.post("", status_code=201)
async def create_swarm(body: SwarmDocument, client: ClientDep, settings: SettingsDep,
                       principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    resource_type("swarm", body.data.type)
    a = body.data.attributes
    request = swarms.SwarmCreate(
        name=a.name, objective=a.objective, topology=a.topology, strategy=a.strategy, max_agents=a.maxAgents,
        auto_scale=a.autoScale, config=a.configuration, agent_config=a.agentConfig,
        initial_agents=[drop_none(group.model_dump()) for group in a.initialAgents],
        tasks=[item if isinstance(item, str) else item.model_dump(mode="json") for item in a.tasks],
    )
    state = await swarms.create_swarm(client, settings, request, owner=principal.id, tier=principal.tier)
    location = f"/api/v2/swarms/{state.spec.id}"
    return JSONResponse(v2.ok(present.swarm_v2(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{swarm_id}")
async def get_swarm(
    swarm_id: str, client: ClientDep, _: Annotated[Principal, Depends(require("swarms:read"))],
    include: Annotated[str | None, Query(max_length=200, description="agents, tasks (comma-separated)")] = None,
) -> dict:
    names = _includes(include)
    state = await swarms.get_swarm(client, checked("swarm", swarm_id))
    if not names:
        return v2.ok(present.swarm_v2(state, detail=True))
    data, included = await asyncio.to_thread(_compound, [state], names)
    return {**v2.ok(data[0]), "included": included}


@router.patch("/{swarm_id}", responses=CONFLICT)
async def update_swarm(swarm_id: str, body: SwarmPatchDocument, client: ClientDep,
                       _: Annotated[Principal, Depends(require("swarms:manage"))]) -> dict:
    resource_type("swarm", body.data.type)
    if body.data.id is not None and body.data.id != swarm_id:
        raise Conflict("data.id does not match the swarm in the path", details=[{
            "field": "data.id", "constraint": "const", "value": body.data.id, "message": f"must be {swarm_id!r}"}])
    a = body.data.attributes
    patch = SwarmPatch(name=a.name, objective=a.objective, topology=a.topology, strategy=a.strategy,
                       max_agents=a.maxAgents, auto_scale=a.autoScale, config=a.configuration)
    try:
        state = await swarms.update_swarm(client, checked("swarm", swarm_id), patch)
    except ValidationFailed as err:  # the service names domain fields; name them as this body spells them
        for detail in err.details if isinstance(err.details, list) else []:
            if detail.get("field") == "maxAgents":
                detail["field"] = "data.attributes.maxAgents"
        raise
    return v2.ok(present.swarm_v2(state, detail=True))


@router.post("/{swarm_id}/start", status_code=202, responses=CONFLICT)
async def start_swarm(swarm_id: str, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("swarms:manage"))]) -> JSONResponse:
    """Start or resume: accepted at once; the operation (`links.status`) succeeds when the swarm is active."""
    operation_id = await swarms.start_swarm_operation(client, checked("swarm", swarm_id), "start",
                                                      owner=principal.id)
    data, links = present.operation_started_v2(operation_id, "Swarm starting")
    return JSONResponse(v2.ok(data, links=links), status_code=202, headers={"Location": links["status"]})


@router.post("/{swarm_id}/stop", status_code=202, responses=CONFLICT)
async def stop_swarm(swarm_id: str, client: ClientDep,
                     principal: Annotated[Principal, Depends(require("swarms:manage"))],
                     body: Annotated[StopBody | None, Body()] = None) -> JSONResponse:
    """Pause: graceful lets running tasks finish for up to `timeout` ms, then cancels the rest (their workspaces
    are rolled back); the operation succeeds when that is done. Queued tasks wait for `start`."""
    body = body or StopBody()
    operation_id = await swarms.start_swarm_operation(client, checked("swarm", swarm_id), "stop",
                                                      owner=principal.id, graceful=body.graceful,
                                                      timeout_s=body.timeout / 1000)
    message = "Swarm stopping gracefully" if body.graceful else "Swarm stopping"
    data, links = present.operation_started_v2(operation_id, message)
    return JSONResponse(v2.ok(data, links=links), status_code=202, headers={"Location": links["status"]})


@router.delete("/{swarm_id}", status_code=204, responses=CONFLICT)
async def delete_swarm(swarm_id: str, client: ClientDep,
                       _: Annotated[Principal, Depends(require("swarms:manage"))],
                       force: Annotated[bool, Query(description="delete even with queued or running tasks")] = False,
                       ) -> Response:
    """Terminates the swarm's agents and cancels its queued tasks. With tasks queued or running and no `force`
    → 409. The swarm stays readable (status `terminated`)."""
    checked("swarm", swarm_id)
    await swarms.delete_swarm(client, swarm_id, force=force)
    return Response(status_code=204)


def _known(swarm_id: str) -> str:
    lookup.require_swarm(checked("swarm", swarm_id))
    return swarm_id


@router.get("/{swarm_id}/agents")
def swarm_agents(swarm_id: str, page: PageDep, _: Annotated[Principal, Depends(require("agents:read"))]) -> dict:
    """The swarm's agents, terminated ones included (`filter[status]` to narrow). Sort as `/api/v2/agents`."""
    result = agents.list_agents(page, swarm_id=_known(swarm_id))
    return v2.paged([present.agent_v2(a) for a in result.items], result, f"/api/v2/swarms/{swarm_id}/agents")


@router.get("/{swarm_id}/tasks")
def swarm_tasks(swarm_id: str, page: PageDep, _: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """The swarm's tasks (subtasks of decomposed ones included). Filters: `filter[status]`, `filter[priority]`,
    `filter[agentId]`, `filter[type]`, `filter[parentId]`. Sort: `createdAt`, `priority`, `status`, `updatedAt`."""
    result = tasks.list_tasks(page, swarm_id=_known(swarm_id))
    return v2.paged([present.task_v2(t) for t in result.items], result, f"/api/v2/swarms/{swarm_id}/tasks")


@router.get("/{swarm_id}/relationships/agents")
async def agents_relationship(swarm_id: str, client: ClientDep,
                              _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """The linkage of the swarm's live agents (JSON:API relationship object)."""
    state = await swarms.get_swarm(client, checked("swarm", swarm_id))
    live = [("agent", a.id) for a in state.live_agents]
    return {"success": True, **present.relationship_v2(swarm_id, "agents", live, len(live))}


@router.get("/{swarm_id}/relationships/tasks")
def tasks_relationship(swarm_id: str, _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """The linkage of the swarm's tasks, oldest first (at most MAX_INCLUDED; `meta.count` is the total)."""
    known = _known(swarm_id)
    rows, total = _all(lambda page: tasks.list_tasks(page, swarm_id=known), {})
    return {"success": True, **present.relationship_v2(swarm_id, "tasks", [("task", t.spec.id) for t in rows], total)}
