"""Dialect 1 (`GET /api/runs`): the list of pipeline runs, plain JSON with the shared list conventions
(core/listing.py): `page`, `limit`, `sort`, `order`, `cursor` → `nextCursor`, and filters as plain query
parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.common.deps import Principal, list_params_v1, require
from api.common.openapi import returns
from api.dialect1.presenters import runs as present
from api.dialect1.presenters.lists import paged
from api.dialect1.schemas.responses.lists import RunListV1
from core.listing import PageRequest
from core.pipelines import runs

router = APIRouter(prefix="/api", tags=["lists (dialect 1)"])


@router.get("/runs", **returns(RunListV1))
def list_runs(page: Annotated[PageRequest, Depends(list_params_v1(filters=runs.FILTERABLE))],
               principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Filters: `status`, `workflow_id`, `started_by` (a user id). Sort: `created_at` (default), `status`."""
    result = runs.list_runs(page, caller=principal.caller)
    return paged("runs", [present.run(info) for info in result.items], result)
