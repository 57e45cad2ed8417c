"""`GET /api/v2/system/health`: no token needed. Each component is checked for real, with its measured response
time; 503 while any is unhealthy."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.common.deps import get_client
from api.dialect2 import jsonapi
from api.dialect2.presenters import health as present
from core.system.health import check_components

router = APIRouter(tags=["system"])


@router.get("/api/v2/system/health")
async def health_v2(request: Request) -> JSONResponse:
    report = await check_components(request.app.state.settings, lambda: get_client(request))
    uptime_ms = int((time.monotonic() - request.app.state.started) * 1000)
    return JSONResponse(jsonapi.ok(present.health(report, uptime_ms=uptime_ms)),
                        status_code=200 if report.healthy else 503)
