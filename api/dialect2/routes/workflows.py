"""Dialect 2: workflow definitions, their runs and their schedules (`/api/v2/workflows`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from temporalio.client import Client

from api.common.deps import ClientDep, LazyClient, LazyClientDep, Principal, SettingsDep, list_params_v2, require
from api.common.openapi import returns
from api.dialect2.jsonapi import ok, paged
from api.dialect2.presenters import runs as present_run
from api.dialect2.presenters import workflows as present
from api.dialect2.schemas.documents import Document, ListDocument
from api.dialect2.schemas.failures import STATEFUL, UNAVAILABLE, UNSUPPORTED, located
from api.dialect2.schemas.runs import Run, StartedRun
from api.dialect2.schemas.workflows import DEFINITION_OPENAPI, RunCreate, Schedule, Workflow, definition_body
from core.listing import PageRequest
from core.pipelines import definitions as workflows
from core.pipelines import runs
from core.pipelines.definitions import WorkflowInfo
from core.schedules import service as schedules
from core.settings import Settings

router = APIRouter(prefix="/api/v2/workflows", tags=["workflows"])
DefinitionDep = Annotated[dict[str, Any] | str, Depends(definition_body)]


async def _with_times(client: Client | LazyClient, info: WorkflowInfo) -> WorkflowInfo:
    info.nextRun, info.lastRun = await schedules.run_times(client, info.id)
    return info


@router.post("", openapi_extra=DEFINITION_OPENAPI,
             **located(returns(Document[Workflow], 201, "Created", responses={**STATEFUL, **UNSUPPORTED})))
async def create_workflow(
    body: DefinitionDep, client: LazyClientDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:run"))],
) -> JSONResponse:
    """The workflow is yours. JSON, or YAML (`Content-Type: application/yaml` or `text/yaml`: errors carry the YAML
    lines). `sharedWith` (beside the definition's fields, not part of it) names users who may read its runs' inputs,
    outputs and logs as you do. Schedule triggers become Temporal Schedules."""
    info = workflows.create_workflow(body, caller=principal.caller)
    await schedules.reconcile(client, settings, info.id)
    info = await _with_times(client, info)
    return JSONResponse(ok(present.workflow(info)), status_code=201,
                        headers={"Location": f"/api/v2/workflows/{info.id}"})


@router.get("", **returns(ListDocument[Workflow], responses=UNAVAILABLE))
async def list_workflows(page: Annotated[PageRequest, Depends(list_params_v2(filters=workflows.FILTERABLE))],
                         client: LazyClientDep,
                         _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `filter[name]`, `filter[status]`. Sort: `createdAt`, `updatedAt`, `name`."""
    result = workflows.list_workflows(page)
    items = [await _with_times(client, info) for info in result.items]
    return paged([present.workflow(i) for i in items], result, "/api/v2/workflows")


@router.get("/{workflow_id}", **returns(Document[Workflow], responses=UNAVAILABLE))
async def get_workflow(workflow_id: str, client: LazyClientDep,
                       _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    info = await _with_times(client, workflows.get_workflow(workflow_id))
    return ok(present.workflow(info, with_definition=True))


@router.put("/{workflow_id}", openapi_extra=DEFINITION_OPENAPI,
            **returns(Document[Workflow], responses={**UNSUPPORTED, **UNAVAILABLE}))
async def put_workflow(
    workflow_id: str, body: DefinitionDep, client: LazyClientDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:run"))],
) -> dict:
    """A changed definition becomes a new version; runs keep the version they pinned, schedules move to it. An id
    that is taken (also by a deleted workflow) is changed by its owner or an admin only (403); a free one becomes
    yours. `sharedWith`, when sent, replaces the sharing list. JSON or YAML, as for POST."""
    info = workflows.put_workflow(workflow_id, body, caller=principal.caller)
    await schedules.reconcile(client, settings, info.id)
    return ok(present.workflow(await _with_times(client, info), with_definition=True))


@router.delete("/{workflow_id}", status_code=204, responses=UNAVAILABLE)
async def delete_workflow(
    workflow_id: str, client: LazyClientDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:run"))],
) -> Response:
    """Its owner or an admin (403 otherwise). Its schedules are deleted."""
    workflows.delete_workflow(workflow_id, caller=principal.caller)
    await schedules.reconcile(client, settings, workflow_id)
    return Response(status_code=204)


@router.post("/{workflow_id}/runs", **located(returns(StartedRun, 202, "Started", responses=STATEFUL)))
async def start_run(
    workflow_id: str,
    request: Request,
    client: ClientDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:run"))],
    body: Annotated[RunCreate | None, Body()] = None,
) -> JSONResponse:
    """Anyone who may run workflows may start any workflow; the run is theirs (`startedBy`). With an
    `Idempotency-Key` (api/common/idempotency.py), a retry gets the same run back instead of a second one."""
    body = body or RunCreate()
    info, _ = await runs.start_run(client, settings, workflow_id, body.inputs, caller=principal.caller,
                                   version=body.version, id_seed=getattr(request.state, "idempotency_slot", None))
    payload = ok(present_run.run(info, settings), links=present_run.run_links(info.id, info.workflowId, settings))
    return JSONResponse(payload, status_code=202, headers={"Location": f"/api/v2/runs/{info.id}"})


@router.get("/{workflow_id}/runs", **returns(ListDocument[Run]))
def list_runs(
    workflow_id: str, page: Annotated[PageRequest, Depends(list_params_v2(filters=runs.FILTERABLE))],
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:read"))],
) -> dict:
    result = runs.list_runs(page, caller=principal.caller, workflow_id=workflow_id)
    return paged([present_run.run(i, settings, with_steps=False) for i in result.items], result,
                 f"/api/v2/workflows/{workflow_id}/runs")


@router.get("/{workflow_id}/schedules", **returns(Document[list[Schedule]], responses=UNAVAILABLE))
async def list_schedules(workflow_id: str, client: ClientDep,
                         _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """The workflow's schedule triggers as Temporal Schedules: next and last run, paused, recent runs."""
    return ok([present.schedule(view) for view in await schedules.views(client, workflow_id)])


async def _control(client: Client, settings: Settings, workflow_id: str, n: int, action: schedules.Action,
                   principal: Principal, backfill: schedules.Backfill | None = None) -> dict:
    view = await schedules.control(client, workflow_id, n, action, caller=principal.caller, backfill=backfill)
    return ok(present.schedule(view))


@router.post("/{workflow_id}/schedules/{n}/backfill", **returns(Document[Schedule], responses=UNAVAILABLE))
async def backfill_schedule(
    workflow_id: str, n: int, body: schedules.Backfill, client: ClientDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:run"))],
) -> dict:
    """Run the schedule for every time it would have fired between `start` and `end` (`overlap` optional)."""
    return await _control(client, settings, workflow_id, n, "backfill", principal, body)


@router.post("/{workflow_id}/schedules/{n}/{action}", **returns(Document[Schedule], responses=UNAVAILABLE))
async def control_schedule(
    workflow_id: str, n: int, action: Literal["pause", "resume", "trigger"], client: ClientDep,
    settings: SettingsDep, principal: Annotated[Principal, Depends(require("workflows:run"))],
) -> dict:
    """Pause, resume or trigger now the workflow's n-th schedule (0 = its first schedule trigger): its owner or an
    admin."""
    return await _control(client, settings, workflow_id, n, action, principal)
