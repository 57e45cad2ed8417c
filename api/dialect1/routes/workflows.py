"""Dialect 1 (`GET /api/workflows`): the list of workflow definitions, plain JSON with the shared list
conventions (core/listing.py): `page`, `limit`, `sort`, `order`, `cursor` → `nextCursor`, and filters as plain
query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.common.deps import Principal, list_params_v1, require
from api.common.openapi import returns
from api.dialect1.presenters import workflows as present
from api.dialect1.presenters.lists import paged
from api.dialect1.schemas.responses.lists import WorkflowListV1
from core.listing import PageRequest
from core.pipelines import definitions as workflows

router = APIRouter(prefix="/api", tags=["lists (dialect 1)"])


@router.get("/workflows", **returns(WorkflowListV1))
def list_workflows(page: Annotated[PageRequest, Depends(list_params_v1(filters=workflows.FILTERABLE))],
                    _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `name`, `status`. Sort: `created_at` (default), `updated_at`, `name`."""
    result = workflows.list_workflows(page)
    return paged("workflows", [present.workflow(info) for info in result.items], result)
