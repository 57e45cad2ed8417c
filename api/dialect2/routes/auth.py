"""Dialect 2 auth (`/api/v2/auth`): register, login, refresh (rotating), logout, who-am-I, API keys.

register/login/refresh are public; the rest need a token. Password hashing is CPU work, so those routes are
plain `def` (FastAPI runs them in its thread pool, off the event loop).
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.common.deps import PrincipalDep, SettingsDep
from api.common.openapi import returns
from api.dialect2.jsonapi import ok
from api.dialect2.presenters import auth as present
from api.dialect2.schemas.auth import (
    ApiKey,
    ApiKeyList,
    KeyCreate,
    LoginBody,
    Me,
    RefreshBody,
    RegisterBody,
    TokenPair,
    User,
)
from api.dialect2.schemas.documents import Document
from api.dialect2.schemas.failures import failure, located
from core.auth import api_keys, sessions, users
from core.errors import ValidationFailed

router = APIRouter(prefix="/api/v2/auth", tags=["auth"])


@router.post("/register", **returns(Document[User], 201, "Registered", responses={
    **failure(403, "Self-registration is closed on this server (REGISTRATION_CLOSED)"),
    **failure(409, "The username or e-mail address is taken (AUTH_USER_EXISTS, `field` names which), or a request "
                   "with the same Idempotency-Key is still in flight (CONFLICT)")}))
def register(body: RegisterBody, settings: SettingsDep) -> JSONResponse:
    """Self-registration (role `developer`, tier `free`), only when the operator opened it
    (`STELLARFLOW_ALLOW_REGISTRATION=true`); closed (the default) → 403 `REGISTRATION_CLOSED`. 409
    `AUTH_USER_EXISTS` names the taken `field`."""
    info = users.register(settings, body.username, body.password, email=body.email, full_name=body.fullName)
    return JSONResponse(ok(present.user(info)), status_code=201)


@router.post("/login", **returns(Document[TokenPair], responses=failure(
    401, "Unknown user, wrong password or disabled account (UNAUTHORIZED)")))
def login(body: LoginBody, settings: SettingsDep) -> dict:
    return ok(present.token_pair(sessions.login(settings, body.username, body.password)))


@router.post("/refresh", **returns(Document[TokenPair], description="A new pair, without `user`", responses=failure(
    401, "The refresh token is invalid, expired, revoked or already spent (UNAUTHORIZED)")))
def refresh(body: RefreshBody, settings: SettingsDep) -> dict:
    """A new access token and a new refresh token; the presented refresh token is spent. Presenting a spent
    one again revokes the whole session."""
    return ok(present.token_pair(sessions.refresh(settings, body.refreshToken), with_user=False))


@router.post("/logout", status_code=204, responses=failure(
    400, "The credentials are an API key, which has no session (VALIDATION_ERROR)"))
async def logout(principal: PrincipalDep) -> Response:
    """Ends the session of the access token: it and the session's refresh token stop working at once."""
    if principal.session_id is None:
        raise ValidationFailed("An API key has no session; revoke it with DELETE /api/v2/auth/keys/{keyId}")
    sessions.logout(principal.session_id)
    return Response(status_code=204)


@router.get("/me", **returns(Document[Me]))
async def me(principal: PrincipalDep) -> dict:
    return ok(present.me(principal))


@router.post("/keys", **located(returns(Document[ApiKey], 201, "Created; `key` is shown this once", responses=failure(
    409, "A request with the same Idempotency-Key is still in flight (CONFLICT)"))))
async def create_key(body: KeyCreate, principal: PrincipalDep, settings: SettingsDep) -> JSONResponse:
    """The key is in this response only; it acts with its owner's role."""
    new = api_keys.create_key(settings, principal.id, body.name, expires_in_s=body.expiresIn)
    return JSONResponse(ok(present.api_key(new.info, key=new.key)), status_code=201,
                        headers={"Location": f"/api/v2/auth/keys/{new.info.id}"})


@router.get("/keys", **returns(ApiKeyList))
async def list_keys(principal: PrincipalDep) -> dict:
    items = api_keys.list_keys(principal.id)
    return ok([present.api_key(item) for item in items], meta={"total": len(items)})


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: str, principal: PrincipalDep) -> Response:
    api_keys.revoke_key(principal.id, key_id, any_owner=principal.caller.is_admin)
    return Response(status_code=204)
