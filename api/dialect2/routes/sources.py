"""Dialect 2: git sources of definitions (`/api/v2/sources`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from api.common.dates import iso
from api.common.deps import ClientDep, Principal, SettingsDep, require
from api.common.openapi import returns
from api.dialect2.jsonapi import BASE, ok
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.failures import CONFLICT, UNAVAILABLE, located
from api.dialect2.schemas.sources import Source, SyncStarted
from core.sources import service
from core.sources.service import SourceCreate, SourceInfo

router = APIRouter(prefix="/api/v2/sources", tags=["sources"])


def _source(info: SourceInfo) -> dict:
    body = info.model_dump(mode="json")
    body["lastSyncAt"], body["createdAt"] = iso(info.lastSyncAt), iso(info.createdAt)
    body["links"] = {"self": f"{BASE}/sources/{info.id}", "sync": f"{BASE}/sources/{info.id}/sync"}
    return body


@router.post("", **located(returns(Document[Source], 201, "Created, its first sync started",
                                     responses={**CONFLICT, **UNAVAILABLE})))
async def create_source(body: SourceCreate, client: ClientDep, settings: SettingsDep,
                        principal: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    """A repository, branch and folder of definitions; yours, like the workflows it creates (id = file name). The
    `token` is kept server-side (sealed) and sent to the host as an `Authorization` header, never in a URL or log.
    https/http hosts must pass the egress address check; file:// URLs are for admins. The first sync starts now."""
    info = service.create_source(settings, body, caller=principal.caller)
    await service.reconcile_schedule(client, settings, info.id)
    await service.start_sync(client, settings, info.id, reason="created")
    return JSONResponse(ok(_source(info)), status_code=201, headers={"Location": f"{BASE}/sources/{info.id}"})


@router.get("", **returns(Document[list[Source]]))
def list_sources(principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    return ok([_source(info) for info in service.list_sources(caller=principal.caller)])


@router.get("/{source_id}", **returns(Document[Source]))
def get_source(source_id: str, _: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Its last sync: commit, the workflows created, versioned, unchanged and deleted, and each invalid file with
    its line."""
    return ok(_source(service.get_source(source_id)))


@router.post("/{source_id}/sync", **returns(Document[SyncStarted], 202, "Sync started",
                                                  responses={**CONFLICT, **UNAVAILABLE}))
async def sync(source_id: str, client: ClientDep, settings: SettingsDep,
               principal: Annotated[Principal, Depends(require("workflows:run"))]) -> JSONResponse:
    """Sync now (its owner or an admin): a SyncSourceWorkflow, whose id is answered."""
    workflow_id = await service.start_sync(client, settings, source_id, reason=f"requested by {principal.username}",
                                           caller=principal.caller)
    return JSONResponse(ok({"sourceId": source_id, "workflowId": workflow_id}), status_code=202)


@router.delete("/{source_id}", status_code=204, responses=UNAVAILABLE)
async def delete_source(source_id: str, client: ClientDep, settings: SettingsDep,
                        principal: Annotated[Principal, Depends(require("workflows:run"))]) -> Response:
    """Its owner or an admin; the workflows it created stay."""
    service.delete_source(source_id, caller=principal.caller)
    await service.reconcile_schedule(client, settings, source_id)
    return Response(status_code=204)
