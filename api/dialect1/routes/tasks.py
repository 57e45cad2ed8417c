"""Dialect 1 (`/api/tasks`): create, list, read, update, cancel tasks and assign them to agents, with the
claude-flow spec's plain snake_case bodies.

A task in a swarm is queued there and the swarm assigns it; a task without one waits for
`POST /api/tasks/{id}/assign`. Which agent runs it decides how: a `shell` agent runs `requirements.command`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v1, require
from api.common.ids import checked
from api.common.openapi import CONFLICT, returns
from api.dialect1.presenters import tasks as present
from api.dialect1.presenters.lists import paged
from api.dialect1.schemas.responses import tasks as out
from api.dialect1.schemas.responses.common import error
from api.dialect1.schemas.tasks import AssignV1, TaskCreateV1, TaskUpdateV1
from core.agents import tasks
from core.agents.models import TERMINAL_TASK
from core.errors import ValidationFailed
from core.listing import PageRequest

router = APIRouter(prefix="/api/tasks", tags=["tasks (dialect 1)"])


@router.get("", **returns(out.TaskListV1))
def list_tasks(page: Annotated[PageRequest, Depends(list_params_v1(filters=tasks.FILTERABLE))],
                principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """Filters: `status`, `agent_id`, `priority`, `swarm_id`, `type`, `parent_id`. Sort: `created_at` (default),
    `priority`, `status`, `updated_at`."""
    result = tasks.list_tasks(page, caller=principal.caller)
    return paged("tasks", [present.task(state) for state in result.items], result)


@router.post("", **returns(out.TaskCreatedV1, 201, responses={
    **CONFLICT, 404: error("A swarm, agent or parent task the body names does not exist or is not visible to "
                           "you")}))
async def create_task(body: TaskCreateV1, client: ClientDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    """The task belongs to the caller; a swarm it names must be the caller's or shared with them (403)."""
    if body.swarm_id is not None:
        checked("swarm", body.swarm_id)
    state = await tasks.create_task(client, settings, body.to_domain(), caller=principal.caller,
                                    tier=principal.tier)
    return JSONResponse(present.task_created(state), status_code=201,
                        headers={"Location": f"/api/tasks/{state.spec.id}"})


@router.get("/{task_id}", **returns(out.TaskV1))
async def get_task(task_id: str, client: ClientDep,
                   principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """`requirements`, `result`, `error` and `progress_message` are null (named in `redacted`) unless the task is
    yours, shared with you, or you are an admin; `requirements.env` values always read `***`."""
    return present.task(await tasks.get_task(client, checked("task", task_id), caller=principal.caller), detail=True)


@router.put("/{task_id}", **returns(out.TaskV1, responses=CONFLICT))
async def update_task(task_id: str, body: TaskUpdateV1, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    """The task's owner or an admin (403 otherwise)."""
    state = await tasks.update_task(client, checked("task", task_id), body.to_domain(), caller=principal.caller)
    return present.task(state, detail=True)


@router.delete("/{task_id}", **returns(out.TaskCancelledV1, description="Cancelled: the final state", responses={
    **CONFLICT, 202: {"model": out.TaskCancelledV1,
                      "description": "Cancellation under way: the task had not stopped within 5 s"}}))
async def cancel_task(task_id: str, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    """Stops the task wherever it is (its owner or an admin): 200 with the final state, usually within a second;
    202 with the task's current status when it has not stopped within 5 s (it will: poll the task).
    `rollback_performed` is true only when its workspace really had to be restored. Cancelling a cancelled task
    answers the same again; a finished one is a 409."""
    checked("task", task_id)
    outcome = await tasks.cancel_task(client, task_id, caller=principal.caller)
    return JSONResponse(present.cancelled(outcome), status_code=200 if outcome.status in TERMINAL_TASK else 202)


@router.post("/{task_id}/assign", **returns(out.TaskAssignedV1, responses=CONFLICT))
async def assign_task(task_id: str, body: AssignV1, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    """`queue_position` 0: the agent runs it next (now, when idle); n: n tasks are ahead of it. The task must be
    yours (or you an admin) and the agent yours or shared with you (403)."""
    checked("task", task_id)
    if not body.start_immediately:
        raise ValidationFailed("Request validation failed", details=[{
            "field": "start_immediately", "constraint": "enum", "value": False,
            "message": "an assigned task always joins the agent's queue; hold it by not assigning it yet"}])
    ack = await tasks.assign_task(client, task_id, checked("agent", body.agent_id), caller=principal.caller,
                                  priority=body.priority_override)
    return present.assigned(ack)
