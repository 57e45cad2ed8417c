"""OAuth 2.0 (`/api/auth/oauth`): client registration, the authorize endpoint with its consent page, the token
endpoint. The protocol lives in `core/auth/oauth.py` (authlib); this module speaks HTTP and renders the pages.

`authorize` and `token` are public (the consent form signs the user in; the token endpoint authenticates the
client); the client routes need a first-party credential (a login token or an API key, not an OAuth token).
Errors of `authorize` and `token` use OAuth's own shapes: a redirect with `error=` once the client and redirect
URI are known to be genuine, else an HTML page; `{"error", "error_description"}` JSON from the token endpoint.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import DictLoader, Environment
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.common.dates import iso
from api.common.deps import PrincipalDep, SettingsDep
from api.common.openapi import returns
from core.auth import oauth, oauth_clients
from core.auth.oauth import Consent, ErrorPage, HttpRequest, OAuthResponse
from core.auth.oauth_clients import ClientInfo
from core.auth.permissions import SCOPES

router = APIRouter(prefix="/api/auth/oauth", tags=["auth (dialect 1)"])
BROWSER_COOKIE = "sf_oauth_browser"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_FORM_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# -- Client registration -------------------------------------------------------------------------------------

class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Release dashboard", "redirect_uris": ["https://dashboard.example.com/oauth/callback"],
         "scopes": ["read"], "type": "confidential"}]})
    name: str = Field(min_length=1, max_length=100)
    redirect_uris: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, max_length=10, description="exact match; https://, or http:// on a loopback address")
    scopes: list[Literal["read", "write"]] = Field(default_factory=lambda: ["read"], min_length=1, max_length=2)
    type: Literal["confidential", "public"] = Field(
        default="confidential", description="public: no secret. Every client must use PKCE (S256)")


class ClientOut(BaseModel):
    """A registered client as the client routes answer it (`_client_body`); for the OpenAPI document."""

    model_config = ConfigDict(extra="allow")
    client_id: str
    name: str
    type: Literal["confidential", "public"]
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    scopes: list[str]
    created_at: str
    client_secret: str | None = Field(default=None, description="a confidential client's secret, at registration "
                                                                "only")


class ClientList(BaseModel):
    model_config = ConfigDict(extra="allow")
    clients: list[ClientOut]
    total: int


def _client_body(client: ClientInfo, *, secret: str | None = None) -> dict:
    body = {"client_id": client.client_id, "name": client.name, "type": client.type,
            "token_endpoint_auth_method": client.token_endpoint_auth_method, "redirect_uris": client.redirect_uris,
            "scopes": client.scopes, "created_at": iso(client.created_at)}
    if secret is not None:
        body["client_secret"] = secret  # shown once, at registration
    return body


@router.post("/clients", **returns(ClientOut, 201))
def create_client(body: ClientCreate, principal: PrincipalDep, settings: SettingsDep) -> JSONResponse:
    """Register a client owned by the caller. A confidential client's `client_secret` is in this response only."""
    new = oauth_clients.create_client(settings, principal.id, body.name, body.redirect_uris, list(body.scopes),
                                      body.type)
    return JSONResponse(_client_body(new.info, secret=new.client_secret), status_code=201,
                        headers={"Location": f"/api/auth/oauth/clients/{new.info.client_id}", **NO_STORE})


@router.get("/clients", **returns(ClientList))
def list_clients(principal: PrincipalDep) -> dict:
    items = oauth_clients.list_clients(principal.id)
    return {"clients": [_client_body(item) for item in items], "total": len(items)}


@router.get("/clients/{client_id}", **returns(ClientOut))
def get_client(client_id: str, principal: PrincipalDep) -> dict:
    return _client_body(oauth_clients.get_client(principal.id, client_id))


@router.delete("/clients/{client_id}", status_code=204)
def delete_client(client_id: str, principal: PrincipalDep) -> Response:
    """Deletes the client and revokes every token it holds. Admins may delete anyone's client."""
    oauth_clients.delete_client(principal.id, client_id, any_owner=principal.caller.is_admin)
    return Response(status_code=204)


# -- Authorize (consent) -------------------------------------------------------------------------------------

_pages = Environment(autoescape=True, loader=DictLoader({
    "layout.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{% block title %}{% endblock %} · StellarFlow</title></head>
<body><main>{% block content %}{% endblock %}</main></body></html>""",
    "consent.html": """{% extends "layout.html" %}{% block title %}Authorize {{ client.name }}{% endblock %}
{% block content %}<h1>Authorize {{ client.name }}</h1>
<p><strong>{{ client.name }}</strong> (a {{ client.type }} client registered by <strong>{{ owner }}</strong>)
wants to use StellarFlow on your behalf. It asks for:</p>
<ul>{% for scope in scopes %}<li><strong>{{ scope }}</strong>: {{ descriptions[scope] }}</li>{% endfor %}</ul>
<p>It never gets more than your own account may do. After you answer you go back to <code>{{ origin }}</code>.</p>
{% if error %}<p role="alert"><strong>{{ error }}</strong></p>{% endif %}
<form method="post" action="authorize">
<input type="hidden" name="transaction" value="{{ transaction }}">
<p><label>Username or e-mail <input name="username" value="{{ username }}" autocomplete="username"
 required maxlength="320"></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required
 maxlength="1024"></label></p>
<p><button type="submit" name="decision" value="approve">Sign in and approve</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button></p>
</form>{% endblock %}""",
    "error.html": """{% extends "layout.html" %}{% block title %}Authorization failed{% endblock %}
{% block content %}<h1>This authorization request cannot be completed</h1>
<p>{{ description }}</p><p><small>Error: <code>{{ error }}</code></small></p>{% endblock %}""",
}))


def _page(template: str, status: int, **context: object) -> HTMLResponse:
    return HTMLResponse(_pages.get_template(template).render(**context), status_code=status, headers=NO_STORE)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _present(result: Consent | OAuthResponse | ErrorPage, request: Request) -> Response:
    if isinstance(result, OAuthResponse):  # a redirect back to the client (with a code, or an error)
        location = result.location
        if location is None:  # not expected from the authorize endpoint; never a 500 either
            return _page("error.html", 400, error="server_error", description="No redirect.")
        return RedirectResponse(location, status_code=result.status, headers=NO_STORE)
    if isinstance(result, ErrorPage):
        return _page("error.html", result.status, error=result.error, description=result.description)
    response = _page("consent.html", result.status, client=result.client, owner=result.owner, scopes=result.scopes,
                     descriptions=SCOPES, origin=_origin(result.redirect_uri), error=result.error,
                     username=result.username, transaction=result.transaction)
    _bind_browser(request, response)
    return response


def _browser(request: Request) -> str:
    value = request.cookies.get(BROWSER_COOKIE, "")
    return value if _COOKIE_VALUE.match(value) else ""


def _bind_browser(request: Request, response: Response) -> None:
    value = request.state.oauth_browser
    secure = request.url.scheme == "https" or request.app.state.settings.api_url.startswith("https://")
    response.set_cookie(BROWSER_COOKIE, value, max_age=oauth.CONSENT_TTL_S, path=oauth.AUTHORIZE_PATH,
                        secure=secure, httponly=True, samesite="strict")


_AUTHORIZE_RESPONSES = {
    200: {"description": "The consent page (sign in, approve or deny)", "content": {"text/html": {}}},
    302: {"description": "Back to the client's redirect_uri with an `error` (the request was invalid)"},
    303: {"description": "Back to the client's redirect_uri with `code` and `state`, or `error=access_denied`"},
    400: {"description": "An error page: unknown client, unregistered redirect_uri, or a stale form; never a "
                         "redirect", "content": {"text/html": {}}},
    401: {"description": "The consent page again: wrong username or password", "content": {"text/html": {}}},
    413: {"description": "An error page: the form is larger than 16 KiB", "content": {"text/html": {}}},
}


@router.get("/authorize", response_class=HTMLResponse, responses=_AUTHORIZE_RESPONSES)
async def authorize(
    request: Request,
    response_type: Annotated[str | None, Query(description="`code`")] = None,
    client_id: Annotated[str | None, Query()] = None,
    redirect_uri: Annotated[str | None, Query(description="one of the client's, exactly")] = None,
    scope: Annotated[str | None, Query(description="`read`, `write` or `read write` (default `read`)")] = None,
    state: Annotated[str | None, Query(description="returned unchanged to the client")] = None,
    code_challenge: Annotated[str | None, Query(description="PKCE (S256); required for every client")] = None,
    code_challenge_method: Annotated[str | None, Query(description="`S256`")] = None,
) -> Response:
    """The authorization-code flow's first step (RFC 6749 §4.1.1, PKCE per RFC 7636): a consent page where the
    user signs in and approves or denies the scopes. Parameters are read as sent (repeated ones are refused)."""
    request.state.oauth_browser = _browser(request) or oauth.new_browser_binding()
    http = HttpRequest("GET", request.url.path, request.query_params.multi_items(), request.headers)
    result = await run_in_threadpool(oauth.authorize, request.app.state.settings, http, request.state.oauth_browser)
    return _present(result, request)


class _FormTooLarge:
    """`_form`'s answer for a body over MAX_FORM_BYTES."""


FORM_TOO_LARGE = _FormTooLarge()
_TOO_LARGE_TEXT = f"The form is larger than {MAX_FORM_BYTES} bytes."


async def _form(request: Request) -> list[tuple[str, str]] | _FormTooLarge | None:
    """The urlencoded body; None when it is not one (wrong type, not UTF-8, too many fields); FORM_TOO_LARGE past
    MAX_FORM_BYTES. The body is read as a stream and reading stops at the cap, so a large body is never held."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        return None
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    if declared > MAX_FORM_BYTES:
        return FORM_TOO_LARGE
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return FORM_TOO_LARGE
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return None


@router.post("/authorize", response_class=HTMLResponse, responses=_AUTHORIZE_RESPONSES, openapi_extra={
    "requestBody": {"required": True, "content": {FORM: {"schema": {
        "type": "object", "required": ["transaction", "decision"],
        "properties": {"transaction": {"type": "string"}, "decision": {"type": "string", "enum": ["approve", "deny"]},
                       "username": {"type": "string"}, "password": {"type": "string", "format": "password"}}}}}}})
async def decide(request: Request) -> Response:
    """The consent form's answer. Approve (with the user's username and password) → 303 to the redirect_uri with
    `code` and `state`; deny → 303 with `error=access_denied`."""
    request.state.oauth_browser = _browser(request)
    pairs = await _form(request)
    if isinstance(pairs, _FormTooLarge):
        return _present(ErrorPage(413, "invalid_request", _TOO_LARGE_TEXT), request)
    if pairs is None:
        return _present(ErrorPage(400, "invalid_request", "Expected the consent form (" + FORM + ")."), request)
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    result = await run_in_threadpool(oauth.decide, request.app.state.settings, form, request.state.oauth_browser)
    return _present(result, request)


# -- Token ---------------------------------------------------------------------------------------------------

_OAUTH_ERROR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                                         "unsupported_grant_type", "invalid_scope", "insecure_transport"]},
    "error_description": {"type": "string"}}}
_TOKEN = {"type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
          "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]},
                         "expires_in": {"type": "integer"}, "refresh_token": {"type": "string"},
                         "scope": {"type": "string"}}}


@router.post("/token", responses={
    200: {"description": "Tokens", "content": {"application/json": {"schema": _TOKEN}}},
    400: {"description": "OAuth error (RFC 6749 §5.2)", "content": {"application/json": {"schema": _OAUTH_ERROR}}},
    401: {"description": "Client authentication failed", "content": {"application/json": {"schema": _OAUTH_ERROR}}},
    413: {"description": "The form is larger than 16 KiB", "content": {"application/json": {"schema": _OAUTH_ERROR}}},
}, openapi_extra={"requestBody": {"required": True, "content": {FORM: {"schema": {
    "type": "object", "required": ["grant_type"], "properties": {
        "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
        "code": {"type": "string"}, "redirect_uri": {"type": "string"}, "code_verifier": {"type": "string"},
        "refresh_token": {"type": "string"}, "scope": {"type": "string"}, "client_id": {"type": "string"},
        "client_secret": {"type": "string", "description": "client_secret_post; or send HTTP Basic"}}}}}}})
async def token(request: Request) -> JSONResponse:
    """The token endpoint (RFC 6749 §4.1.3, §6): `authorization_code` with `code_verifier`, or `refresh_token`
    (rotating: each refresh token works once; a replay revokes the session). Confidential clients authenticate
    with HTTP Basic or `client_secret` in the form; public clients send `client_id` only."""
    pairs = await _form(request)
    if isinstance(pairs, _FormTooLarge):
        return JSONResponse({"error": "invalid_request", "error_description": _TOO_LARGE_TEXT}, status_code=413,
                            headers=NO_STORE)
    if pairs is None:
        return JSONResponse({"error": "invalid_request",
                             "error_description": f"Send the parameters form-encoded ({FORM})"},
                            status_code=400, headers=NO_STORE)
    http = HttpRequest("POST", request.url.path, pairs, request.headers)
    result = await run_in_threadpool(oauth.token, request.app.state.settings, http)
    body = result.body if isinstance(result.body, dict) else {}
    return JSONResponse(dict(body), status_code=result.status, headers=dict(result.headers))
