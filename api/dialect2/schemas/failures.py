"""Documented error answers of the dialect-2 routes in this helper's areas that `api.common.openapi.rewrite` does not
add by itself (it adds 400/401/403/404/413/429 by the operation's shape): 401 on the public auth routes and on
signed webhooks, 403 on a closed registration, 409 on a state conflict, 415 on a body of another media type, 503
from an unhealthy system. Each uses the dialect's `ErrorV2` body."""

from __future__ import annotations

from typing import Any

ERROR_V2 = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorV2"}}}


def failure(status: int, description: str) -> dict[int, dict[str, Any]]:
    """`{status: ...}` for a route's `responses=`: `description` and the ErrorV2 body."""
    return {status: {"model": None, "description": description, "content": ERROR_V2}}


CONFLICT = failure(409, "The resource's state does not allow this (CONFLICT), or a request with the same "
                        "Idempotency-Key is still in flight")
UNSUPPORTED = failure(415, "The body's Content-Type is not accepted here (UNSUPPORTED_MEDIA_TYPE; "
                           "details.accepted lists those that are)")
UNAVAILABLE = failure(503, "Temporal did not answer or did not accept the request (SERVICE_UNAVAILABLE); retry")
# a request to a run or a schedule that Temporal carries out: refused by its state, or Temporal unreachable
STATEFUL = {**CONFLICT, **UNAVAILABLE}


def located(route: dict[str, Any]) -> dict[str, Any]:
    """`returns(...)` route kwargs whose success answer also carries `Location` (the created resource's path)."""
    success = route["responses"][route["status_code"]]
    success["headers"] = {"Location": {"required": True, "description": "the created resource's path",
                                       "schema": {"type": "string"}}}
    return route
