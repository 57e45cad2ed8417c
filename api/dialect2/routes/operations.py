"""Dialect 2 (`/api/v2/operations/{id}`): how a request answered 202 (swarm start/stop) ended."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import Principal, require
from api.presenters import agents as present
from api.presenters import v2
from api.routes.entity_common import checked
from core.operations.service import get_operation

router = APIRouter(prefix="/api/v2/operations", tags=["operations"])


@router.get("/{operation_id}")
def operation(operation_id: str, _: Annotated[Principal, Depends(require("swarms:read"))]) -> dict:
    """`attributes.status`: running → succeeded | failed (`error` says why); `result` is what the swarm did."""
    return v2.ok(present.operation_v2(get_operation(checked("operation", operation_id))))
