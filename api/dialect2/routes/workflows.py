"""Dialect 2: workflow definitions and their runs (`/api/v2/workflows`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, PageDep, Principal, SettingsDep, require
from api.dialect2.jsonapi import ok, paged
from api.dialect2.presenters import runs as present_run
from api.dialect2.presenters import workflows as present
from api.dialect2.schemas.workflows import DefinitionBody, RunCreate
from core.pipelines import definitions as workflows
from core.pipelines import runs

router = APIRouter(prefix="/api/v2/workflows", tags=["workflows"])


@router.post("", status_code=201)
def create_workflow(
    body: DefinitionBody, principal: Annotated[Principal, Depends(require("workflows:run"))]
) -> JSONResponse:
    """The workflow is yours. `sharedWith` (beside the definition's fields, not part of it) names users who may read
    its runs' inputs, outputs and logs as you do."""
    info = workflows.create_workflow(body, caller=principal.caller)
    return JSONResponse(ok(present.workflow(info)), status_code=201,
                        headers={"Location": f"/api/v2/workflows/{info.id}"})


@router.get("")
def list_workflows(page: PageDep, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `filter[name]`, `filter[status]`. Sort: `createdAt`, `updatedAt`, `name`."""
    result = workflows.list_workflows(page)
    return paged([present.workflow(i) for i in result.items], result, "/api/v2/workflows")


@router.get("/{workflow_id}")
def get_workflow(workflow_id: str, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    return ok(present.workflow(workflows.get_workflow(workflow_id), with_definition=True))


@router.put("/{workflow_id}")
def put_workflow(
    workflow_id: str, body: DefinitionBody, principal: Annotated[Principal, Depends(require("workflows:run"))]
) -> dict:
    """A changed definition becomes a new version; runs keep the version they pinned. An id that is taken (also
    by a deleted workflow) is changed by its owner or an admin only (403); a free one becomes yours. `sharedWith`,
    when sent, replaces the sharing list."""
    return ok(present.workflow(workflows.put_workflow(workflow_id, body, caller=principal.caller),
                               with_definition=True))


@router.delete("/{workflow_id}", status_code=204)
def delete_workflow(
    workflow_id: str, principal: Annotated[Principal, Depends(require("workflows:run"))]
) -> Response:
    """Its owner or an admin (403 otherwise)."""
    workflows.delete_workflow(workflow_id, caller=principal.caller)
    return Response(status_code=204)


@router.post("/{workflow_id}/runs", status_code=202)
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


@router.get("/{workflow_id}/runs")
def list_runs(
    workflow_id: str, page: PageDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:read"))],
) -> dict:
    result = runs.list_runs(page, caller=principal.caller, workflow_id=workflow_id)
    return paged([present_run.run(i, settings, with_steps=False) for i in result.items], result,
                 f"/api/v2/workflows/{workflow_id}/runs")
