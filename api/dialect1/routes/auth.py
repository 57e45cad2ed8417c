"""Dialect 1 auth (`/api/auth`): JWT tokens for a username/password, refresh, logout, API keys."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.common.deps import PrincipalDep, SettingsDep
from api.common.openapi import returns
from api.dialect1.presenters import auth as present
from api.dialect1.schemas.auth import KeyCreateV1, RefreshRequest, TokenRequest
from api.dialect1.schemas.responses import auth as out
from api.dialect1.schemas.responses.common import error
from core.auth import api_keys, sessions
from core.errors import ValidationFailed

router = APIRouter(prefix="/api/auth", tags=["auth (dialect 1)"])


@router.post("/token", **returns(out.TokenV1, responses={
    401: error("Wrong username or password, or the account is disabled (UNAUTHORIZED)")}))
def token(body: TokenRequest, settings: SettingsDep) -> dict:
    return present.token(sessions.login(settings, body.username, body.password))


@router.post("/refresh", **returns(out.TokenV1, responses={
    401: error("The refresh token is invalid, expired or already spent (UNAUTHORIZED)")}))
def refresh(body: RefreshRequest, settings: SettingsDep) -> dict:
    """Rotating, as in dialect 2: the presented refresh token is spent; reusing it revokes the session."""
    return present.token(sessions.refresh(settings, body.refresh_token))


@router.post("/logout", status_code=204)
async def logout(principal: PrincipalDep) -> Response:
    if principal.session_id is None:
        raise ValidationFailed("An API key has no session; revoke it with DELETE /api/auth/keys/{key_id}")
    sessions.logout(principal.session_id)
    return Response(status_code=204)


@router.post("/keys", **returns(out.ApiKeyV1, 201))
async def create_key(body: KeyCreateV1, principal: PrincipalDep, settings: SettingsDep) -> JSONResponse:
    new = api_keys.create_key(settings, principal.id, body.name, expires_in_s=body.expires_in)
    return JSONResponse(present.api_key(new.info, key=new.key), status_code=201,
                        headers={"Location": f"/api/auth/keys/{new.info.id}"})


@router.get("/keys", **returns(out.ApiKeyListV1))
async def list_keys(principal: PrincipalDep) -> dict:
    items = api_keys.list_keys(principal.id)
    return {"keys": [present.api_key(item) for item in items], "total": len(items)}


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: str, principal: PrincipalDep) -> Response:
    api_keys.revoke_key(principal.id, key_id, any_owner=principal.caller.is_admin)
    return Response(status_code=204)
