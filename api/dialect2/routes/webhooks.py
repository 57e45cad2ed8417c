"""Dialect 2: webhooks (`/api/v2/webhooks`). The two receiving routes take no bearer token: a delivery is
authenticated by its HMAC signature (`X-Hub-Signature-256`) alone, and a bad or missing one gets 401 and nothing
else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.common.dates import iso
from api.common.deps import ClientDep, Principal, SettingsDep, list_params_v2, require
from api.common.openapi import returns
from api.dialect2.jsonapi import BASE, ok, paged
from api.dialect2.schemas import webhooks as shown
from api.dialect2.schemas.documents import Document, ListDocument
from api.dialect2.schemas.failures import UNAVAILABLE, failure
from core.listing import PageRequest
from core.webhooks import service
from core.webhooks.service import Delivery, SecretInfo

router = APIRouter(prefix="/api/v2/webhooks", tags=["webhooks"])
SIGNED = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
          "parameters": [{"name": "X-Hub-Signature-256", "in": "header", "required": True,
                          "schema": {"type": "string"}, "description": "sha256=<hex HMAC-SHA256 of the body>"}]}
# A delivery answers 202 when it started runs or syncs, 200 when it started nothing (no match, a redelivery).
RECEIVED = {**returns(Document[shown.Delivery], 200, "Received; nothing started (no trigger matched, or a redelivery: "
                      "the first one's runs)", responses={
    202: {"model": Document[shown.Delivery], "description": "Received; matching workflows started (`runs`)"},
    **failure(401, "The signature is missing or matches no secret (INVALID_SIGNATURE)"), **UNAVAILABLE})}


def _delivery(item: Delivery) -> dict:
    body = item.model_dump(mode="json")
    body["receivedAt"] = iso(item.receivedAt)
    body["links"] = {"runs": [f"{BASE}/runs/{run}" for run in item.runs]}
    return body


def _headers(request: Request) -> dict[str, str]:
    return {key.lower(): value for key, value in request.headers.items()}


@router.post("/github", openapi_extra=SIGNED, **RECEIVED)
async def github(request: Request, client: ClientDep, settings: SettingsDep) -> JSONResponse:
    """GitHub deliveries: push, pull_request (opened/synchronize/reopened/closed), release, workflow_dispatch, ping.
    Verified with the global secret or a trigger's own; matching workflows start (202). A redelivery
    (`X-GitHub-Delivery` seen before) starts nothing and answers with the first one's runs (200)."""
    found = await service.receive_github(client, settings, _headers(request), await request.body())
    started = found.runs or found.syncs
    return JSONResponse(ok(_delivery(found)), status_code=202 if started and not found.duplicate else 200)


@router.get("/deliveries", **returns(ListDocument[shown.Delivery]))
def deliveries(page: Annotated[PageRequest, Depends(list_params_v2(filters=service.FILTERABLE))],
                principal: Annotated[Principal, Depends(require("workflows:read"))]) -> dict:
    """Every delivery for admins; for others those that concerned their workflows or sources. Filters:
    `filter[status]`, `filter[kind]`, `filter[event]`."""
    result = service.list_deliveries(page, caller=principal.caller)
    return paged([_delivery(item) for item in result.items], result, f"{BASE}/webhooks/deliveries")


class SecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=16, max_length=1000)
    owner: str | None = Field(default=None, description="admins: whose secret (`system` for file definitions)")


def _secret(info: SecretInfo) -> dict:
    return {"name": info.name, "owner": info.owner, "createdAt": iso(info.createdAt),
            "updatedAt": iso(info.updatedAt)}


@router.get("/secrets", **returns(Document[list[shown.Secret]]))
def list_secrets(principal: Annotated[Principal, Depends(require("workflows:run"))]) -> dict:
    """Names only: values are never shown again."""
    return ok([_secret(item) for item in service.list_secrets(caller=principal.caller)])


@router.put("/secrets/{name}", **returns(Document[shown.Secret]))
def put_secret(name: str, body: SecretBody, settings: SettingsDep,
               principal: Annotated[Principal, Depends(require("workflows:run"))]) -> dict:
    """Store a webhook secret (at least 16 characters) that your triggers name with `secret: <name>`."""
    return ok(_secret(service.set_secret(settings, name, body.value, caller=principal.caller, owner=body.owner)))


@router.delete("/secrets/{name}", status_code=204)
def delete_secret(name: str, principal: Annotated[Principal, Depends(require("workflows:run"))],
                  owner: str | None = None) -> Response:
    service.delete_secret(name, caller=principal.caller, owner=owner)
    return Response(status_code=204)


@router.post("/{workflow_id}", openapi_extra=SIGNED, **RECEIVED)
async def generic(workflow_id: str, request: Request, client: ClientDep, settings: SettingsDep) -> JSONResponse:
    """A generic webhook of a workflow with a `{type: webhook, secret: <name>}` trigger, signed like GitHub's. The
    JSON body is `{{ webhook.payload }}`; its `inputs` object gives the run's inputs. A repeated delivery id
    (`X-Stellarflow-Delivery`, else the signature) starts nothing new."""
    found = await service.receive_generic(client, settings, workflow_id[:200], _headers(request),
                                          await request.body())
    return JSONResponse(ok(_delivery(found)), status_code=200 if found.duplicate else 202)
