"""Dialect 2: one run — state, cancel, approvals, logs (`/api/v2/runs`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from temporalio.client import Client

from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v2, require
from api.common.openapi import returns
from api.dialect2.jsonapi import ok, paged
from api.dialect2.presenters import runs as present
from api.dialect2.presenters import workflows as present_workflow
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.failures import STATEFUL, UNAVAILABLE, located
from api.dialect2.schemas.runs import (
    Artifact,
    Decision,
    RerunBody,
    RunDocument,
    RunListDocument,
    RunLogsDocument,
    StartedRun,
    Step,
)
from core.artifacts import service as artifacts
from core.errors import Forbidden, NotFound
from core.listing import PageRequest
from core.pipelines import definitions as workflows
from core.pipelines import reruns, runs

router = APIRouter(prefix="/api/v2/runs", tags=["runs"])


@router.get("", **returns(RunListDocument))
def list_runs(page: Annotated[PageRequest, Depends(list_params_v2(include=("workflow",), filters=runs.FILTERABLE))],
              settings: SettingsDep,
              principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `filter[status]`, `filter[workflowId]`, `filter[startedBy]` (a user id). `include=workflow` adds
    the runs' workflows as `included`. `inputs` is null for runs you may not read in full."""
    result = runs.list_runs(page, caller=principal.caller)
    included = None
    if "workflow" in page.include:
        included = []
        for workflow_id in dict.fromkeys(info.workflowId for info in result.items):
            try:
                included.append(present_workflow.workflow(workflows.get_workflow(workflow_id)))
            except NotFound:  # deleted since: its runs stay listed
                continue
    return paged([present.run(i, settings, with_steps=False) for i in result.items], result, "/api/v2/runs",
                 included=included)


@router.get("/{run_id}", **returns(RunDocument, responses=UNAVAILABLE))
async def get_run(
    run_id: str, client: ClientDep, settings: SettingsDep,
    principal: Annotated[Principal, Depends(require("workflows:read"))],
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the run to finish")] = 0,
) -> dict:
    """Everyone signed in sees the run's status and steps; its inputs and the steps' outputs and errors are null
    (named in `meta.redacted`) unless you started it, own its workflow, it is shared with you, or you are an
    admin."""
    info = await runs.view_run(client, run_id, caller=principal.caller, wait_s=wait)
    return ok(present.run(info, settings), meta=present.redacted_meta(info))


@router.post("/{run_id}/cancel", **returns(RunDocument, 202, "Cancellation requested", responses=STATEFUL))
async def cancel_run(run_id: str, client: ClientDep, settings: SettingsDep,
                     principal: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    """The run's starter, its workflow's owner or an admin (403 otherwise)."""
    info = await runs.cancel_run(client, run_id, caller=principal.caller)
    return JSONResponse(ok(present.run(info, settings), meta=present.redacted_meta(info)), status_code=202)


async def _decide(run_id: str, step_id: str, approved: bool, body: Decision | None, client: Client,
                  principal: Principal) -> dict:
    step = await runs.decide_approval(client, run_id, step_id, approved=approved, caller=principal.caller,
                                      comment=body.comment if body else None)
    return ok(step.model_dump(mode="json", exclude_none=True))


@router.post("/{run_id}/steps/{step_id}/approve", **returns(Document[Step], description="The step as decided",
                                                             responses=STATEFUL))
async def approve_step(run_id: str, step_id: str, client: ClientDep,
                       principal: Annotated[Principal, Depends(require("workflows:run"))],
                       body: Annotated[Decision | None, Body()] = None) -> dict:
    """Only the step's `approvers` (everyone who may run workflows when it names none), and never the run's
    starter unless the step sets `allowSelfApproval` (403 otherwise)."""
    return await _decide(run_id, step_id, True, body, client, principal)


@router.post("/{run_id}/steps/{step_id}/reject", **returns(Document[Step], description="The step as decided",
                                                            responses=STATEFUL))
async def reject_step(run_id: str, step_id: str, client: ClientDep,
                      principal: Annotated[Principal, Depends(require("workflows:run"))],
                      body: Annotated[Decision | None, Body()] = None) -> dict:
    """Only the step's `approvers` (everyone who may run workflows when it names none; 403 otherwise)."""
    return await _decide(run_id, step_id, False, body, client, principal)


@router.get("/{run_id}/logs", **returns(RunLogsDocument))
def run_logs(run_id: str, principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Steps' output and the run's events for its starter, its workflow's owner, users the workflow is shared with
    and admins; for anyone else they are null (named in `meta.redacted`)."""
    info, events = runs.run_logs(run_id, caller=principal.caller)
    return ok(present.logs(info, events), meta=present.logs_meta(events))


@router.post("/{run_id}/rerun", **located(returns(StartedRun, 202, "The new run started", responses=STATEFUL)))
async def rerun(run_id: str, body: RerunBody, client: ClientDep, settings: SettingsDep,
                principal: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    """A new run of the same pinned version and inputs: `{"failedOnly": true}` or `{"fromStep": "build"}`. Steps
    that succeeded before that point are not executed again (their outputs are reused, `reusedFrom`). Whoever may
    read this run's inputs and outputs (403 otherwise); the new run is yours."""
    info = await reruns.rerun(client, settings, run_id, caller=principal.caller, failed_only=body.failedOnly,
                              from_step=body.fromStep)
    payload = ok(present.run(info, settings), links=present.run_links(info.id, info.workflowId, settings))
    return JSONResponse(payload, status_code=202, headers={"Location": f"/api/v2/runs/{info.id}"})


@router.get("/{run_id}/artifacts", **returns(Document[list[Artifact]]))
def run_artifacts(run_id: str, principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """The run's artifacts (metadata; `links.self` downloads one). For those who may read the run's outputs: 403
    for others."""
    info, events = runs.run_logs(run_id, caller=principal.caller)
    if events is None:
        raise Forbidden("Only those who may read the run's outputs may list its artifacts", resource="run", id=run_id)
    return ok([present.artifact(item) for item in artifacts.run_artifacts(info.id)])
