"""Dialect 1 system endpoints (`/api/system/...`): status, effective configuration, metric series, diagnostic
bundles. Admins only (permissions `system:*`, in no other role's list): they describe the deployment's internals,
as health details do (core/system/health.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from api.common.deps import ClientDep, Principal, SettingsDep, get_client, require
from api.common.openapi import returns
from api.dialect1.presenters import system as present
from api.dialect1.schemas.responses import system as out
from api.dialect1.schemas.responses.common import error
from api.dialect1.schemas.system import DiagnosticsV1
from core.errors import Conflict
from core.system import diagnostics
from core.system import metrics as m
from core.system.config import effective_config
from core.system.health import DETAILS_PERMISSION
from core.system.status import system_status

router = APIRouter(prefix="/api/system", tags=["system"])


@router.get("/status", **returns(out.SystemStatusV1))
async def status(request: Request, _: Annotated[Principal, Depends(require(DETAILS_PERMISSION))]) -> dict:
    """Components really checked (with timings), projections' and this host's figures, Temporal's cluster."""
    report = await system_status(request.app.state.settings, lambda: get_client(request),
                                 uptime_s=time.monotonic() - request.app.state.started)
    return present.status(report)


@router.get("/config", **returns(out.SystemConfigV1))
def config(settings: SettingsDep, _: Annotated[Principal, Depends(require("system:config"))]) -> dict:
    """The effective configuration of this API process; secrets are `[REDACTED]`, URLs lose their passwords."""
    return effective_config(settings)


@router.get("/metrics", **returns(out.SystemMetricsV1))
async def metrics(request: Request, _: Annotated[Principal, Depends(require("system:metrics"))],
                  period: Annotated[str, Query(description="1h, 24h, 7d or 30d")] = "1h",
                  resolution: Annotated[str | None, Query(description="1m, 5m or 1h (default by period)")] = None,
                  ) -> dict:
    """Series from the per-minute request rollups and the host samples; only buckets where something was
    measured."""
    period, resolution, since, until = m.window(period, resolution)
    await asyncio.to_thread(request.app.state.request_metrics.flush)  # this process's requests up to now
    requests, resources = await asyncio.gather(
        asyncio.to_thread(m.request_series, since, until, resolution),
        asyncio.to_thread(m.resource_series, since, until, resolution))
    return present.series(period, resolution, since, until, requests, resources)


@router.post("/diagnostics", **returns(out.DiagnosticsV1Body, 202))
async def create_diagnostics(body: DiagnosticsV1, client: ClientDep, settings: SettingsDep,
                             principal: Annotated[Principal, Depends(require("system:diagnostics"))]) -> JSONResponse:
    """Starts a DiagnosticsWorkflow; download the bundle from `download_url` once `status` is `ready`."""
    span = body.time_range
    request = diagnostics.start_request(principal.caller, body.include, span.start if span else None,
                                        span.end if span else None, body.compress)
    row = await diagnostics.start_report(client, settings, request)
    return JSONResponse(present.diagnostics(row), status_code=202,
                        headers={"Location": f"/api/system/diagnostics/{row.id}/download"})


@router.get("/diagnostics/{report_id}", **returns(out.DiagnosticsV1Body))
def diagnostics_status(report_id: str, _: Annotated[Principal, Depends(require("system:diagnostics"))]) -> dict:
    return present.diagnostics(diagnostics.report(report_id[:64]))


@router.get("/diagnostics/{report_id}/download", response_model=None, responses={
    200: {"description": "The bundle (a JSON document, gzip-compressed when asked so)",
          "model": out.DiagnosticBundleV1,
          "content": {"application/json": {},
                      "application/gzip": {"schema": {"type": "string", "format": "binary"}}}},
    409: error("The report is still being generated, or failed (CONFLICT)")})
def download(report_id: str, _: Annotated[Principal, Depends(require("system:diagnostics"))]) -> Response:
    """The bundle: `application/json`, or `application/gzip` when it was asked compressed. 409 while it is being
    generated (or when it failed: the report says why)."""
    row = diagnostics.report(report_id[:64])
    if row.status != "ready" or row.bundle is None:
        raise Conflict(f"Diagnostic report {row.id} is {row.status}", status=row.status, error=row.error)
    name = f"{row.id}.json" + (".gz" if row.compressed else "")
    return Response(row.bundle, media_type="application/gzip" if row.compressed else "application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
