"""Health without internals: anyone (load balancers, `stellarflow up`) gets the status and its HTTP code; only an
admin's credential gets components, timings, versions, Temporal's address and the names of failures."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from api.main import create_app
from core.settings import get_settings
from tests.support import client_for, token_for

PATHS = ["/api/health", "/api/v2/system/health"]


def _data(path: str, response: httpx.Response) -> dict:
    body = response.json()
    return body["data"] if path.startswith("/api/v2") else body


@pytest.mark.parametrize("path", PATHS)
async def test_anyone_but_an_admin_gets_the_status_only(app: FastAPI, path: str) -> None:
    settings = get_settings()
    for token in (None, "not-a-token", "sf_" + "x" * 43, token_for("viewer"), token_for("developer")):
        async with client_for(app, token) as client:
            response = await client.get(path)
        assert response.status_code == 200, (token, response.text)
        data = _data(path, response)
        expected = {"status", "timestamp"} if path.startswith("/api/v2") else {"status"}
        assert set(data) == expected and data["status"] == "healthy"
        assert settings.temporal_target not in response.text and "components" not in response.text


@pytest.mark.parametrize("path", PATHS)
async def test_an_admin_gets_the_details(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 200
    components = _data(path, response)["components"]
    assert components["database"]["status"] == "healthy" and "responseTime" in components["database"]
    assert components["temporal"]["target"] == get_settings().temporal_target
    if path.startswith("/api/v2"):
        assert {"version", "uptime"} <= set(_data(path, response))


class _BrokenTemporal:
    """A Temporal client whose health check fails with a message full of internals."""

    def __init__(self) -> None:
        async def fail(**_: object) -> None:
            raise ConnectionRefusedError("no route to temporal-frontend.internal:7233 (10.0.0.5)")

        self.service_client = SimpleNamespace(check_health=fail)


@pytest.mark.parametrize("path", PATHS)
async def test_a_failure_is_named_to_admins_only(app: FastAPI, path: str) -> None:
    broken = create_app(get_settings(), client=_BrokenTemporal())  # type: ignore[arg-type]
    async with client_for(broken) as anonymous, client_for(broken, token_for("admin")) as admin:
        hidden = await anonymous.get(path)
        shown = await admin.get(path)
    assert hidden.status_code == shown.status_code == 503
    assert _data(path, hidden)["status"] in {"unhealthy", "degraded"}
    for leak in ("ConnectionRefusedError", "temporal", "10.0.0.5", "7233"):
        assert leak not in hidden.text.lower().replace("x-", ""), leak
    assert _data(path, shown)["components"]["temporal"] == {"status": "unhealthy", "error": "ConnectionRefusedError"}
