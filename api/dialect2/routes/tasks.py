"""Dialect 2 (`/api/v2/tasks`): JSON:API task resources — create (into a swarm, or assigned to an agent), read,
and results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, require
from api.common.fields import fields_named
from api.common.ids import checked
from api.common.openapi import returns
from api.dialect2.jsonapi import ok, resource_type
from api.dialect2.presenters import tasks as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.envelopes import UNAVAILABLE, CreatedDocument, errors, headed
from api.dialect2.schemas.tasks import CREATE_FIELDS, TaskDocument, TaskObject, TaskResultsDocument
from core.agents import agents, tasks
from core.agents.state import AgentState
from core.errors import NotFound

router = APIRouter(prefix="/api/v2/tasks", tags=["tasks"])


@router.post("", **headed(returns(CreatedDocument[TaskObject], 201, "The task", responses=errors(
    e404="`relationships.swarm` or `relationships.assignedAgent` names none (RESOURCE_NOT_FOUND)",
    e409="The swarm or agent is terminated, or `data.type` is not `task` (CONFLICT)"),
    unavailable=UNAVAILABLE), "Location"))
async def create_task(body: TaskDocument, client: ClientDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    """In a swarm (`relationships.swarm`) the swarm assigns it; with `relationships.assignedAgent` it goes to that
    agent; with neither it waits for `POST /api/tasks/{id}/assign`. The task is yours; the swarm or agent must be
    yours or shared with you (403)."""
    resource_type("task", body.data.type)
    request, agent_id = body.to_domain()
    with fields_named(CREATE_FIELDS):  # both swarm and agent: 400 naming data.relationships.assignedAgent
        state = await tasks.create_task(client, settings, request, caller=principal.caller, tier=principal.tier,
                                        agent_id=agent_id)
    location = f"/api/v2/tasks/{state.spec.id}"
    return JSONResponse(ok(present.task(state), meta={"location": location}), status_code=201,
                        headers={"Location": location})


@router.get("/{task_id}", **returns(Document[TaskObject], unavailable=UNAVAILABLE))
async def get_task(task_id: str, client: ClientDep,
                   principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """`requirements`, `error` and `progressMessage` are null (named in `meta.redacted`) unless the task is yours,
    shared with you, or you are an admin; `requirements.env` values always read `***`."""
    return ok(present.task(await tasks.get_task(client, checked("task", task_id), caller=principal.caller)))


@router.get("/{task_id}/results", **returns(TaskResultsDocument, unavailable=UNAVAILABLE))
async def task_results(task_id: str, client: ClientDep,
                       principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """What the task produced, measured in its workspace; `result` is null until it has finished — or when the
    task is not yours or shared with you (then `error` is null too and `meta.redacted` names them)."""
    state = await tasks.get_task(client, checked("task", task_id), caller=principal.caller)
    agent: AgentState | None = None
    if state.agent_id:
        try:
            agent = await agents.get_agent(client, state.agent_id, caller=principal.caller)
        except NotFound:
            agent = None
    return ok(present.task_results(state, agent), meta=present.results_meta(state))
