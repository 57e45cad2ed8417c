"""CORS is configurable (`cors_origins`): off by default; when on, preflights work without a token, are not
rate-limited, and every CORS response still carries the request id and the security headers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.main import create_app
from core.settings import get_settings
from tests.support import client_for

ORIGIN = "https://app.example.com"


def _app_with_cors() -> FastAPI:
    return create_app(get_settings().model_copy(update={"cors_origins": [ORIGIN]}))


async def test_cors_is_off_by_default(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v2/auth/me", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.startswith("access-control-")]


async def test_a_preflight_is_answered_with_our_headers_and_not_counted(admin_token: str) -> None:
    async with client_for(_app_with_cors()) as client:
        preflight = await client.options("/api/v2/workflows", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    assert preflight.headers["x-request-id"].startswith("req-")
    assert preflight.headers["x-frame-options"] == "DENY"
    assert "x-ratelimit-limit" not in preflight.headers


async def test_an_unknown_origin_gets_no_grant() -> None:
    async with client_for(_app_with_cors()) as client:
        preflight = await client.options("/api/v2/workflows", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["x-request-id"]


async def test_a_cross_origin_request_can_read_our_headers(admin_token: str) -> None:
    async with client_for(_app_with_cors(), admin_token) as client:
        response = await client.get("/api/v2/auth/me", headers={"Origin": ORIGIN})
        unauthenticated = await client.get("/api/v2/workflows", headers={"Origin": ORIGIN, "Authorization": ""})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed and "x-ratelimit-remaining" in exposed and "retry-after" in exposed
    assert response.headers["x-content-type-options"] == "nosniff"
    # Errors carry the grant too, so a browser app can read the 401 body.
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["access-control-allow-origin"] == ORIGIN


def test_origins_can_be_set_from_the_environment(monkeypatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("STELLARFLOW_CORS_ORIGINS", "https://a.example, https://b.example/")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("STELLARFLOW_CORS_ORIGINS", '["https://c.example"]')
    assert Settings().cors_origins == ["https://c.example"]
