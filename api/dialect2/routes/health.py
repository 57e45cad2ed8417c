"""Health: no token needed. Each component is checked for real, with its measured response time."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.presenters import v2
from core.db import get_engine

router = APIRouter(tags=["system"])


async def _components(request: Request) -> dict:
    state = request.app.state
    components: dict[str, dict] = {}
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        components["database"] = {"status": "healthy",
                                  "responseTime": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as err:
        components["database"] = {"status": "unhealthy", "error": type(err).__name__}
    started = time.perf_counter()
    try:
        from api.deps import get_client

        client = await get_client(request)
        await client.service_client.check_health(timeout=timedelta(seconds=3))
        components["temporal"] = {"status": "healthy", "target": state.settings.temporal_target,
                                  "responseTime": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as err:
        components["temporal"] = {"status": "unhealthy", "error": type(err).__name__}
    return components


@router.get("/api/v2/system/health")
async def health_v2(request: Request) -> JSONResponse:
    components = await _components(request)
    healthy = all(c["status"] == "healthy" for c in components.values())
    data = {"status": "healthy" if healthy else "degraded", "timestamp": v2.now_iso(), "version": "0.1.0",
            "uptime": int((time.monotonic() - request.app.state.started) * 1000), "components": components}
    return JSONResponse(v2.ok(data), status_code=200 if healthy else 503)


@router.get("/api/health")
async def health_v1(request: Request) -> JSONResponse:
    components = await _components(request)
    healthy = all(c["status"] == "healthy" for c in components.values())
    return JSONResponse({"status": "healthy" if healthy else "unhealthy", "components": components},
                        status_code=200 if healthy else 503)
