"""Dialect 1 (`/api/...`) lists of workflows and runs: plain JSON, the shared list conventions (core/listing.py):
`page`, `limit`, `sort`, `order`, `cursor` → `nextCursor`, and filters as plain query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import PageV1Dep, Principal, require
from api.presenters import v1
from core.pipelines import definitions as workflows
from core.pipelines import runs

router = APIRouter(prefix="/api", tags=["lists (dialect 1)"])


@router.get("/workflows")
def list_workflows(page: PageV1Dep, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `name`, `status`. Sort: `created_at` (default), `updated_at`, `name`."""
    result = workflows.list_workflows(page)
    return v1.paged("workflows", [v1.workflow(info) for info in result.items], result)


@router.get("/runs")
def list_runs(page: PageV1Dep, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `status`, `workflow_id`. Sort: `created_at` (default), `status`."""
    result = runs.list_runs(page)
    return v1.paged("runs", [v1.run(info) for info in result.items], result)
