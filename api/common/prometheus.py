"""`GET /metrics`: this API process's Prometheus metrics (core/system/prometheus.py), in the text exposition format.

Who may scrape (docs/observability.md): an admin's credential (permission `system:metrics`), or the operator's
`STELLARFLOW_METRICS_TOKEN` sent as `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials: …}`
in the scrape config); `STELLARFLOW_METRICS_PUBLIC=true` opens it to anyone who can reach the API (a scrape network
of its own). Closed by default: the figures describe the deployment, and every endpoint but health takes a token.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials

from api.common.deps import bearer, current_principal
from core.auth.permissions import allows, scope_allows
from core.errors import Forbidden
from core.system.prometheus import CONTENT_TYPE, exposition

PERMISSION = "system:metrics"
router = APIRouter(tags=["system"])


async def metrics_access(request: Request,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    settings = request.app.state.settings
    if settings.metrics_public:
        return
    offered = credentials.credentials if credentials is not None else ""
    if settings.metrics_token is not None and offered and hmac.compare_digest(
            offered.encode(), settings.metrics_token.get_secret_value().encode()):
        return
    principal = await current_principal(request, credentials)
    if not (allows(principal.role, PERMISSION) and scope_allows(principal.scopes, PERMISSION)):
        raise Forbidden(f"Permission {PERMISSION!r} is required (or the metrics token)", permission=PERMISSION)


metrics_access.required_permission = PERMISSION  # type: ignore[attr-defined]


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_access)])
async def metrics() -> Response:
    return Response(await asyncio.to_thread(exposition), media_type=CONTENT_TYPE)
