"""`GET /api/health`: no token needed. Each component is checked for real, with its measured response time; 503
while any is unhealthy."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.common.deps import get_client
from api.dialect1.presenters import health as present
from core.system.health import check_components

router = APIRouter(tags=["system"])


@router.get("/api/health")
async def health_v1(request: Request) -> JSONResponse:
    report = await check_components(request.app.state.settings, lambda: get_client(request))
    return JSONResponse(present.health(report), status_code=200 if report.healthy else 503)
