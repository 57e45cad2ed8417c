"""`GET /api/v2/metrics`: system-wide totals over a period, from the request rollups, host samples and the read
model (core/system/metrics.py). Admins only (`system:metrics`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.common.deps import Principal, require
from api.common.openapi import returns
from api.dialect2 import jsonapi
from api.dialect2.presenters import metrics as present
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.system import Metrics
from core.errors import ValidationFailed
from core.system import metrics as m

router = APIRouter(tags=["system"])


@router.get("/api/v2/metrics", **returns(Document[Metrics]))
async def system_metrics(
    request: Request, _: Annotated[Principal, Depends(require("system:metrics"))],
    period: Annotated[str, Query(description="1h, 24h, 7d or 30d")] = "24h",
    metrics: Annotated[str | None, Query(description="comma-separated: requests, performance, resources, "
                                                     "business (default: all)")] = None,
    resolution: Annotated[str | None, Query(description="1m, 5m or 1h (checked; totals do not depend on it)")] = None,
) -> dict:
    wanted = [part.strip() for part in metrics.split(",") if part.strip()] if metrics else list(present.SECTIONS)
    unknown = sorted(set(wanted) - set(present.SECTIONS))
    if unknown:
        raise ValidationFailed("Unknown metrics", details=[{
            "field": "metrics", "constraint": "enum", "value": ",".join(unknown), "allowed": list(present.SECTIONS),
            "message": f"must be among: {', '.join(present.SECTIONS)}"}])
    period, resolution, since, until = m.window(period, resolution)
    requests = resources = business = None
    if {"requests", "performance"} & set(wanted):
        await asyncio.to_thread(request.app.state.request_metrics.flush)
        requests = await asyncio.to_thread(m.request_totals, since, until)
    if "resources" in wanted:
        resources = await asyncio.to_thread(m.resource_totals, since, until)
    if "business" in wanted:
        business = await asyncio.to_thread(m.business, since, until)
    return jsonapi.ok(present.metrics(period, resolution, since, until, wanted, requests, resources, business))
