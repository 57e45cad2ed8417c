"""`GET /api/health`: no token needed. Each component is checked for real; 503 while the
database or Temporal is down, 200 when healthy or degraded (no worker polling, Redis down). Anyone
gets the status; an admin's token also gets the components (core/system/health.py says why)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.common.deps import Principal, get_client, may, optional_principal
from api.common.openapi import returns
from api.dialect1.presenters import health as present
from api.dialect1.schemas.responses.system import HealthV1
from core.system.health import DETAILS_PERMISSION, check_components

router = APIRouter(tags=["system"])


@router.get("/api/health", **returns(HealthV1, description="Healthy or degraded", responses={
    503: {"model": HealthV1, "description": "Unhealthy: the database or Temporal is down"}}))
async def health_v1(request: Request,
                    principal: Annotated[Principal | None, Depends(optional_principal)]) -> JSONResponse:
    report = await check_components(request.app.state.settings, lambda: get_client(request))
    body = present.health(report, detailed=may(principal, DETAILS_PERMISSION))
    return JSONResponse(body, status_code=200 if report.healthy else 503)
