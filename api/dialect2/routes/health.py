"""`GET /api/v2/system/health`: no token needed. Each component is checked for real; 503 while the
database or Temporal is down, 200 when healthy or degraded (no worker polling, Redis down).
Anyone gets the status; an admin's token also gets version, uptime and components (core/system/health.py)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.common.deps import Principal, get_client, may, optional_principal
from api.common.openapi import returns
from api.dialect2 import jsonapi
from api.dialect2.presenters import health as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.system import Health
from core.system.health import DETAILS_PERMISSION, check_components

router = APIRouter(tags=["system"])


@router.get("/api/v2/system/health", **returns(Document[Health], description="Healthy or degraded", responses={
    503: {"model": Document[Health], "description": "Unhealthy: the database or Temporal is down (the same body)"}}))
async def health_v2(request: Request,
                    principal: Annotated[Principal | None, Depends(optional_principal)]) -> JSONResponse:
    report = await check_components(request.app.state.settings, lambda: get_client(request))
    uptime_ms = int((time.monotonic() - request.app.state.started) * 1000)
    body = present.health(report, uptime_ms=uptime_ms, detailed=may(principal, DETAILS_PERMISSION))
    return JSONResponse(jsonapi.ok(body), status_code=200 if report.healthy else 503)
