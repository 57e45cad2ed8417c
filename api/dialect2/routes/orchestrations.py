"""Dialect 2: orchestrations — `POST /api/v2/tasks/orchestrate` (202), `GET /api/v2/orchestrations/{id}`,
`POST /api/v2/orchestrations/{id}/cancel` (docs/orchestrations.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.common.deps import ClientDep, Principal, SettingsDep, require
from api.common.fields import fields_named
from api.common.openapi import returns
from api.dialect2.jsonapi import ok
from api.dialect2.presenters import orchestrations as present
from api.dialect2.schemas.envelopes import UNAVAILABLE, errors, headed
from api.dialect2.schemas.orchestrations import (
    FIELDS,
    OrchestrateBody,
    OrchestrationAcceptedDocument,
    OrchestrationDocument,
)
from core.orchestrations import service

router = APIRouter(tags=["orchestrations"])


def _websocket_base(request: Request) -> str:
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}"


@router.post("/api/v2/tasks/orchestrate", **headed(returns(
    OrchestrationAcceptedDocument, 202, "Accepted: planned, follow `links.status`", responses=errors(
        e404="`swarmId` names no swarm (RESOURCE_NOT_FOUND)",
        e409="The swarm is terminated (CONFLICT)"), unavailable=UNAVAILABLE), "Location"))
async def orchestrate(body: OrchestrateBody, request: Request, client: ClientDep, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> JSONResponse:
    """Phases run in order; each phase's agent slots run as tasks on agents of `swarmId` (by type and
    capabilities) or on agents spawned for it. `requiredCapabilities` no agent type offers: 400 naming them.
    `estimateSource` says whether `estimatedCompletion` comes from measured similar tasks (`history`), the
    declared durations (`declared`), both (`mixed`), or neither (`none`, and no estimate)."""
    with fields_named(FIELDS):
        state = await service.orchestrate(client, settings, body.to_domain(), caller=principal.caller,
                                          tier=principal.tier)
    orchestration_id = state.spec.id
    location = f"/api/v2/orchestrations/{orchestration_id}"
    return JSONResponse(ok(present.accepted(state), links=present.links(orchestration_id, _websocket_base(request))),
                        status_code=202, headers={"Location": location})


@router.get("/api/v2/orchestrations/{orchestration_id}", **returns(OrchestrationDocument, unavailable=UNAVAILABLE))
async def get_orchestration(orchestration_id: str, request: Request, client: ClientDep,
                            principal: Annotated[Principal, Depends(require("tasks:read"))]) -> dict:
    """Phases, assigned agents, tasks, progress and timeline (live while it runs). Task outputs and errors are null
    (named in `meta.redacted`) unless it is yours, shared with you, or you are an admin."""
    state = await service.get_orchestration(client, orchestration_id, caller=principal.caller)
    return ok(present.orchestration(state), meta=present.meta(state),
              links=present.links(orchestration_id, _websocket_base(request)))


@router.post("/api/v2/orchestrations/{orchestration_id}/cancel", **returns(
    OrchestrationDocument, description="Cancelled", responses=errors(e409="It has already ended (CONFLICT)"),
    unavailable=UNAVAILABLE))
async def cancel_orchestration(orchestration_id: str, request: Request, client: ClientDep,
                               principal: Annotated[Principal, Depends(require("tasks:execute"))]) -> dict:
    """Owner or admin: every running task is stopped by its agent (workspace rolled back), the phases left are
    skipped, spawned agents released; answers once all that is done. 409 once it has ended."""
    state = await service.cancel_orchestration(client, orchestration_id, caller=principal.caller)
    return ok(present.orchestration(state), meta=present.meta(state),
              links=present.links(orchestration_id, _websocket_base(request)))
