"""The auth matrix, generated from the app's own routes: a route added later is in it without anyone writing a
line here. For every route that is not public: no token, an expired, a revoked or a malformed token and a revoked
API key → 401; a viewer → 403 where the route needs more than a read permission; a developer → never 401/403 on
what developers may do.

Path parameters get ids that do not exist and bodies are `{}`, so 404/400 are fine wherever access is granted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from core.auth import api_keys, sessions, tokens
from core.auth.permissions import allows
from core.settings import get_settings
from tests.support import client_for, shared_user, token_for

# Everything else needs a token. Adding to this set is a security decision: review it as one.
PUBLIC = {
    # Webhooks authenticate by their HMAC signature (X-Hub-Signature-256), not a bearer token.
    ("POST", "/api/v2/webhooks/github"),
    ("POST", "/api/v2/webhooks/{workflow_id}"),
    ("GET", "/api/health"),
    ("GET", "/api/v2/system/health"),
    ("POST", "/api/v2/auth/register"),
    ("POST", "/api/v2/auth/login"),
    ("POST", "/api/v2/auth/refresh"),
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/refresh"),
    # OAuth: the consent form signs the user in itself; the token endpoint authenticates the client.
    ("GET", "/api/auth/oauth/authorize"),
    ("POST", "/api/auth/oauth/authorize"),
    ("POST", "/api/auth/oauth/token"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
WORKFLOW_PREFIXES = ("/api/v2/workflows", "/api/v2/runs")
_PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")
_CONVERTER = re.compile(r"{([^}:]+):[^}]+}")
_NO_PERMISSION = object()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    permissions: tuple[str, ...]  # what the route's dependencies require; () = any valid token
    authenticated: bool  # whether any dependency checks a credential at all

    @property
    def url(self) -> str:
        return _PARAM.sub(lambda m: f"nonexistent-{m.group(1).lower()}", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _guards(dependant) -> list[str | None]:
    found = []
    for dep in dependant.dependencies:
        permission = getattr(dep.call, "required_permission", _NO_PERMISSION)
        if permission is not _NO_PERMISSION:
            found.append(permission)
        found.extend(_guards(dep))
    return found


def _flat_routes(app: FastAPI) -> list:
    """Every route with its full path, whether FastAPI keeps included routers flat (older releases) or nested."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI < 0.16x: app.routes is already flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in _flat_routes(app):
        methods = getattr(route, "methods", None)
        if not methods:  # WebSocket routes and mounts have their own test modules
            continue
        dependant = getattr(route, "dependant", None)
        for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
            guards = _guards(dependant) if dependant is not None else []
            permissions = tuple(sorted({g for g in guards if g is not None}))
            path = _CONVERTER.sub(r"{\1}", route.path)  # `{key:path}` is `{key}` in the OpenAPI schema
            found.append(Endpoint(method, path, permissions, authenticated=bool(guards)))
    return found


# Collected from an app built the same way as the one under test (and checked against it below).
ALL = endpoints(create_app(get_settings()))
GUARDED = [e for e in ALL if (e.method, e.path) not in PUBLIC]


def test_the_matrix_covers_every_route_and_operation(app: FastAPI) -> None:
    assert [str(e) for e in endpoints(app)] == [str(e) for e in ALL]
    schema = app.openapi()
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    routes = {(e.method, e.path) for e in ALL}
    assert operations <= routes, operations - routes
    assert PUBLIC <= routes, PUBLIC - routes  # a public route that no longer exists: tidy the list
    # The OpenAPI schema declares the bearer scheme, on every guarded operation and on no public one.
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": schema["components"]["securitySchemes"]["bearerAuth"][
            "description"]}
    for method, path in operations:
        declared = schema["paths"][path][method.lower()].get("security")
        if (method, path) in PUBLIC:
            assert not declared, f"{method} {path} is public but declares security"
        else:
            assert declared == [{"bearerAuth": []}], f"{method} {path} does not declare the bearer scheme"


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_every_guarded_route_checks_a_credential(endpoint: Endpoint) -> None:
    assert endpoint.authenticated, f"{endpoint} has no auth dependency: use api.common.deps.require(...)"


async def _call(app: FastAPI, endpoint: Endpoint, token: str | None) -> httpx.Response:
    async with client_for(app, token) as client:
        body = {"json": {}} if endpoint.method in ("POST", "PUT", "PATCH") else {}
        return await client.request(endpoint.method, endpoint.url, **body)


def _expired_token() -> str:
    user = shared_user("developer")
    pair = sessions.start_session(get_settings(), user)
    expired, _ = tokens.issue(get_settings(), typ=tokens.ACCESS, sub=user.id, sid=pair.session_id, ttl_s=-5)
    return expired


def _revoked_token() -> str:
    pair = sessions.start_session(get_settings(), shared_user("developer"))
    sessions.logout(pair.session_id)
    return pair.access_token


def _revoked_key() -> str:
    user = shared_user("developer")
    new = api_keys.create_key(get_settings(), user.id, "matrix")
    api_keys.revoke_key(user.id, new.info.id)
    return new.key


def _assert_unauthorized(response: httpx.Response, endpoint: Endpoint, case: str) -> None:
    assert response.status_code == 401, f"{endpoint} with {case}: {response.status_code} {response.text}"
    assert response.headers["www-authenticate"].startswith("Bearer"), endpoint
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED", (endpoint, case, error)


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
async def test_without_a_valid_token_401(app: FastAPI, endpoint: Endpoint) -> None:
    for case, token in (("no token", None), ("expired token", _expired_token()),
                        ("revoked token", _revoked_token()), ("revoked API key", _revoked_key()),
                        ("malformed token", "not-a-token")):
        _assert_unauthorized(await _call(app, endpoint, token), endpoint, case)


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
async def test_viewer_may_read_but_not_change(app: FastAPI, endpoint: Endpoint) -> None:
    response = await _call(app, endpoint, token_for("viewer"))
    if all(allows("viewer", p) for p in endpoint.permissions):
        assert response.status_code not in (401, 403), f"{endpoint}: {response.status_code} {response.text}"
        assert response.status_code < 500, f"{endpoint}: {response.text}"
    else:
        assert not all(p.endswith(":read") for p in endpoint.permissions), endpoint
        assert response.status_code == 403, f"{endpoint}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
async def test_developer_may_do_what_developers_do(app: FastAPI, endpoint: Endpoint) -> None:
    response = await _call(app, endpoint, token_for("developer"))
    if endpoint.path.startswith(WORKFLOW_PREFIXES) or all(allows("developer", p) for p in endpoint.permissions):
        assert response.status_code not in (401, 403), f"{endpoint}: {response.status_code} {response.text}"
        assert response.status_code < 500, f"{endpoint}: {response.text}"
    else:
        assert response.status_code == 403, f"{endpoint}: {response.status_code} {response.text}"


@pytest.mark.parametrize("endpoint", sorted(PUBLIC), ids=" ".join)
async def test_public_routes_need_no_token(app: FastAPI, endpoint: tuple[str, str]) -> None:
    method, path = endpoint
    async with client_for(app) as client:
        response = await client.request(method, path, **({"json": {}} if method == "POST" else {}))
    if path.startswith("/api/v2/webhooks/"):  # no bearer token needed, but a signature: unsigned is refused
        assert response.status_code == 401, f"{method} {path}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "INVALID_SIGNATURE" and "www-authenticate" not in response.headers
        return
    assert response.status_code not in (401, 403), f"{method} {path}: {response.status_code} {response.text}"
    assert response.status_code < 500 or path.endswith("/health"), f"{method} {path}: {response.text}"
