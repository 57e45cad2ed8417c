"""Dialect 2: workflow definitions and their runs (`/api/v2/workflows`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClientDep, PageDep, Principal, SettingsDep, require
from api.presenters import v2
from core.pipelines import definitions as workflows
from core.pipelines import runs

router = APIRouter(prefix="/api/v2/workflows", tags=["workflows"])

SEED_EXAMPLE: dict[str, Any] = {
    "name": "CI/CD Pipeline",
    "description": "Automated testing and deployment workflow",
    "triggers": [{"type": "github", "event": "push", "branches": ["main", "develop"]}],
    "steps": [
        {"id": "step-1", "name": "Run Tests", "action": "execute-command",
         "parameters": {"command": "npm test", "timeout": 300000}},
        {"id": "step-2", "name": "Build Application", "action": "execute-command",
         "parameters": {"command": "npm run build"}, "dependsOn": ["step-1"]},
        {"id": "step-3", "name": "Deploy to Staging", "action": "deploy",
         "parameters": {"environment": "staging", "strategy": "blue-green"}, "dependsOn": ["step-2"]},
    ],
    "notifications": {"channels": ["email", "slack"], "events": ["started", "failed", "completed"]},
}
DefinitionBody = Annotated[
    dict[str, Any],
    Body(description="A workflow definition (see docs/workflow.schema.json)", examples=[SEED_EXAMPLE]),
]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: dict[str, Any] = Field(default_factory=dict)
    # bounded: a version beyond a 64-bit integer reached the database and came back as a 500
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="defaults to the current version")


@router.post("", status_code=201)
def create_workflow(
    body: DefinitionBody, _: Annotated[Principal, Depends(require("workflows:run"))]
) -> JSONResponse:
    info = workflows.create_workflow(body)
    return JSONResponse(v2.ok(v2.workflow(info)), status_code=201,
                        headers={"Location": f"/api/v2/workflows/{info.id}"})


@router.get("")
def list_workflows(page: PageDep, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `filter[name]`, `filter[status]`. Sort: `createdAt`, `updatedAt`, `name`."""
    result = workflows.list_workflows(page)
    return v2.paged([v2.workflow(i) for i in result.items], result, "/api/v2/workflows")


@router.get("/{workflow_id}")
def get_workflow(workflow_id: str, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    return v2.ok(v2.workflow(workflows.get_workflow(workflow_id), with_definition=True))


@router.put("/{workflow_id}")
def put_workflow(
    workflow_id: str, body: DefinitionBody, _: Annotated[Principal, Depends(require("workflows:run"))]
) -> dict:
    """A changed definition becomes a new version; runs keep the version they pinned."""
    return v2.ok(v2.workflow(workflows.put_workflow(workflow_id, body), with_definition=True))


@router.delete("/{workflow_id}", status_code=204)
def delete_workflow(
    workflow_id: str, _: Annotated[Principal, Depends(require("workflows:run"))]
) -> Response:
    workflows.delete_workflow(workflow_id)
    return Response(status_code=204)


@router.post("/{workflow_id}/runs", status_code=202)
async def start_run(
    workflow_id: str,
    client: ClientDep,
    settings: SettingsDep,
    _: Annotated[Principal, Depends(require("workflows:run"))],
    body: Annotated[RunCreate | None, Body()] = None,
) -> JSONResponse:
    """With an `Idempotency-Key` (api/idempotency.py), a retry gets the same run back instead of a second one."""
    body = body or RunCreate()
    info, _ = await runs.start_run(client, settings, workflow_id, body.inputs, version=body.version)
    payload = v2.ok(v2.run(info, settings), links=v2.run_links(info.id, info.workflowId, settings))
    return JSONResponse(payload, status_code=202, headers={"Location": f"/api/v2/runs/{info.id}"})


@router.get("/{workflow_id}/runs")
def list_runs(
    workflow_id: str, page: PageDep, settings: SettingsDep,
    _: Annotated[Principal, Depends(require("workflows:read"))],
) -> dict:
    result = runs.list_runs(page, workflow_id=workflow_id)
    return v2.paged([v2.run(i, settings, with_steps=False) for i in result.items], result,
                    f"/api/v2/workflows/{workflow_id}/runs")
