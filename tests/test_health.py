"""Health without internals: anyone (load balancers, `stellarflow up`) gets the status and its HTTP code; only an
admin's credential gets components, timings, versions, Temporal's address and the names of failures."""

from __future__ import annotations

from importlib import metadata
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
        assert set(data) == {"status", "timestamp"} and data["status"] == "healthy"
        for internal in (settings.temporal_target, "components", "checks", "version"):
            assert internal not in response.text


@pytest.mark.parametrize("path", PATHS)
async def test_an_admin_gets_the_details(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 200
    components = _components(path, response)
    assert set(components) == {"database", "temporal", "workers"}  # no REDIS_URL here: no cache component
    for name, component in components.items():
        assert component["status"] in ("healthy", "pass"), (name, component)
        timing = component["responseTime" if path.startswith("/api/v2") else "response_time"]
        assert isinstance(timing, float) and 0 <= timing < 5000, (name, component)
    assert components["temporal"]["target"] == get_settings().temporal_target
    if path.startswith("/api/v2"):
        assert _data(path, response)["version"] == metadata.version("stellarflow")
        assert _data(path, response)["uptime"] >= 0
        assert components["workers"]["workers"] >= 1


def _components(path: str, response: httpx.Response) -> dict[str, dict]:
    """Dialect 2's `components` map; dialect 1's `checks` list by name."""
    data = _data(path, response)
    if path.startswith("/api/v2"):
        return data["components"]
    return {check.pop("name"): check for check in data["checks"]}


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
    assert _data(path, hidden)["status"] == _data(path, shown)["status"] == "unhealthy"
    for leak in ("ConnectionRefusedError", "temporal", "10.0.0.5", "7233"):
        assert leak not in hidden.text.lower().replace("x-", ""), leak
    temporal = _components(path, shown)["temporal"]
    assert temporal["status"] in ("unhealthy", "fail") and temporal["error"] == "ConnectionRefusedError"
