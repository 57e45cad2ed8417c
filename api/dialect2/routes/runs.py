"""Dialect 2: one run — state, cancel, approvals, logs (`/api/v2/runs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, Principal, SettingsDep, list_params_v2, require
from api.presenters import v2
from core.errors import NotFound
from core.listing import PageRequest
from core.pipelines import definitions as workflows
from core.pipelines import runs

router = APIRouter(prefix="/api/v2/runs", tags=["runs"])


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=2000)


@router.get("")
def list_runs(page: Annotated[PageRequest, Depends(list_params_v2(include=("workflow",)))], settings: SettingsDep,
              _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `filter[status]`, `filter[workflowId]`. `include=workflow` adds the runs' workflows as
    `included`."""
    result = runs.list_runs(page)
    included = None
    if "workflow" in page.include:
        included = []
        for workflow_id in dict.fromkeys(info.workflowId for info in result.items):
            try:
                included.append(v2.workflow(workflows.get_workflow(workflow_id)))
            except NotFound:  # deleted since: its runs stay listed
                continue
    return v2.paged([v2.run(i, settings, with_steps=False) for i in result.items], result, "/api/v2/runs",
                    included=included)


@router.get("/{run_id}")
async def get_run(
    run_id: str, client: ClientDep, settings: SettingsDep,
    _: Annotated[Principal, Depends(require("workflows:read"))],
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the run to finish")] = 0,
) -> dict:
    info = await runs.get_run(client, run_id, wait_s=wait)
    return v2.ok(v2.run(info, settings))


@router.post("/{run_id}/cancel", status_code=202)
async def cancel_run(run_id: str, client: ClientDep, settings: SettingsDep,
                     _: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    info = await runs.cancel_run(client, run_id)
    return JSONResponse(v2.ok(v2.run(info, settings)), status_code=202)


async def _decide(run_id: str, step_id: str, approved: bool, body: Decision | None, client, principal) -> dict:
    step = await runs.decide_approval(client, run_id, step_id, approved=approved, by=principal.username,
                                      comment=body.comment if body else None)
    return v2.ok(step.model_dump(mode="json", exclude_none=True))


@router.post("/{run_id}/steps/{step_id}/approve")
async def approve_step(run_id: str, step_id: str, client: ClientDep,
                       principal: Annotated[Principal, Depends(require("workflows:run"))],
                       body: Annotated[Decision | None, Body()] = None) -> dict:
    return await _decide(run_id, step_id, True, body, client, principal)


@router.post("/{run_id}/steps/{step_id}/reject")
async def reject_step(run_id: str, step_id: str, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("workflows:run"))],
                      body: Annotated[Decision | None, Body()] = None) -> dict:
    return await _decide(run_id, step_id, False, body, client, principal)


@router.get("/{run_id}/logs")
def run_logs(run_id: str, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    info, events = runs.run_logs(run_id)
    return v2.ok(v2.logs(info, events))
