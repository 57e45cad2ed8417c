"""Dialect 2 (`/api/v2/operations/{id}`): how a request answered 202 (swarm start/stop) ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.common.deps import Principal, require
from api.common.ids import checked
from api.common.openapi import returns
from api.dialect2.jsonapi import ok
from api.dialect2.presenters import operations as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.operations import Operation
from core.operations.service import get_operation

router = APIRouter(prefix="/api/v2/operations", tags=["operations"])


@router.get("/{operation_id}", **returns(Document[Operation]))
def operation(operation_id: str, _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """`attributes.status`: running → succeeded | failed (`error` says why); `result` is what the swarm did."""
    return ok(present.operation(get_operation(checked("operation", operation_id))))
