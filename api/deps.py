"""Dependencies shared by routes: settings, the Temporal client, the caller, list parameters."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from temporalio.client import Client

from core.auth.authenticate import authenticate
from core.auth.permissions import allows
from core.errors import Forbidden, Unauthorized, Unavailable
from core.listing import PageRequest
from core.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_client(request: Request) -> Client:
    """Connect once, on first use, so the API starts even while Temporal is still coming up."""
    state = request.app.state
    if state.temporal_client is None:
        async with state.temporal_lock:
            if state.temporal_client is None:
                from core.temporal import connect

                try:
                    state.temporal_client = await asyncio.wait_for(connect(state.settings), timeout=10)
                except Exception as err:
                    raise Unavailable(f"Temporal is not reachable at {state.settings.temporal_target}") from err
    return state.temporal_client


class Principal(BaseModel):
    """The authenticated caller, as routes see it."""

    id: str
    username: str
    role: str
    permissions: list[str] = Field(default_factory=list)
    tier: str = "free"
    method: str = "token"  # "token" (JWT) or "api_key"
    session_id: str | None = None
    key_id: str | None = None


bearer = HTTPBearer(
    auto_error=False, scheme_name="bearerAuth",
    description="A JWT access token (`POST /api/v2/auth/login`, `POST /api/auth/token`) or an API key (`sf_…`).",
)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Any valid credential. No, bad, expired or revoked credential → 401 with `WWW-Authenticate: Bearer`."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token or API key>")
    identity = authenticate(request.app.state.settings, credentials.credentials)
    user = identity.user
    principal = Principal(id=user.id, username=user.username, role=user.role, permissions=user.permissions,
                          tier=user.tier, method=identity.method, session_id=identity.session_id,
                          key_id=identity.key_id)
    request.state.principal = principal  # for whatever runs later in this request (logging, audit)
    return principal


current_principal.required_permission = None  # type: ignore[attr-defined]


def require(permission: str):
    """The authorisation seam: every route names the permission it needs. A valid credential without it → 403.
    (`required_permission` on the dependency lets tests walk the routes and know what each one needs.)"""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not allows(principal.role, permission):
            raise Forbidden(f"Permission {permission!r} is required", permission=permission)
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    dependency.required_permission = permission  # type: ignore[attr-defined]
    return dependency


def page_v2(
    request: Request,
    number: Annotated[int, Query(alias="page[number]", ge=1)] = 1,
    size: Annotated[int, Query(alias="page[size]", ge=1)] = 20,
    sort: Annotated[str | None, Query(pattern=r"^[-+]?[A-Za-z]+(,[-+]?[A-Za-z]+)*$")] = None,
) -> PageRequest:
    filters = {
        key[len("filter["):-1]: value
        for key, value in request.query_params.items()
        if key.startswith("filter[") and key.endswith("]")
    }
    return PageRequest(number=number, size=size, sort=sort.split(",") if sort else [], filters=filters)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ClientDep = Annotated[Client, Depends(get_client)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
PageDep = Annotated[PageRequest, Depends(page_v2)]
