"""Per-tier quotas (core/limits/quotas.py): the spec's defaults, `check_quota`, and how a refusal reads in each
dialect."""

from __future__ import annotations

import logging

import httpx
import pytest

from api.main import create_app
from core.errors import QuotaExceeded
from core.limits.quotas import GiB, MiB, check_quota, quota_limit
from core.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


def test_spec_defaults(settings: Settings) -> None:
    table = {tier: settings.quotas[tier].model_dump() for tier in ("free", "pro", "enterprise")}
    assert table == {
        "free": {"agents": 5, "tasks_per_hour": 100, "memory_bytes": 100 * MiB, "websocket_connections": 1},
        "pro": {"agents": 50, "tasks_per_hour": 1000, "memory_bytes": 10 * GiB, "websocket_connections": 10},
        "enterprise": {"agents": None, "tasks_per_hour": None, "memory_bytes": None, "websocket_connections": None},
    }


@pytest.mark.parametrize(("quota", "limit"), [("agents", 5), ("tasks_per_hour", 100), ("memory_bytes", 100 * MiB),
                                              ("websocket_connections", 1)])
def test_up_to_the_limit_passes_and_returns_what_is_left(settings: Settings, quota: str, limit: int) -> None:
    assert check_quota("free", quota, 0, settings=settings) == limit - 1
    assert check_quota("free", quota, limit - 1, settings=settings) == 0
    assert check_quota("free", quota, limit, requested=0, settings=settings) == 0  # only checks nothing is over


@pytest.mark.parametrize(("quota", "label"), [("agents", "agents"), ("memory_bytes", "memory storage"),
                                              ("websocket_connections", "WebSocket connections")])
def test_capacity_quotas_refuse_with_403(settings: Settings, quota: str, label: str) -> None:
    limit = quota_limit("free", quota, settings)
    with pytest.raises(QuotaExceeded) as caught:
        check_quota("free", quota, limit, settings=settings)
    err = caught.value
    assert (err.status, err.code, err.quota) == (403, "QUOTA_EXCEEDED", quota)
    assert err.message.startswith(f"Quota exceeded: {label} (")
    assert "free tier" in err.message
    assert err.details == {"quota": quota, "limit": limit, "used": limit, "requested": 1, "tier": "free"}
    assert err.headers == {}


def test_tasks_per_hour_is_a_rate_quota_refused_with_429(settings: Settings) -> None:
    with pytest.raises(QuotaExceeded) as caught:
        check_quota("pro", "tasks_per_hour", 1000, settings=settings, retry_after=12.2)
    err = caught.value
    assert err.status == 429
    assert err.headers == {"Retry-After": "13"}
    assert "tasks per hour (1000 used in the last hour + 1 requested, limit 1000 on the pro tier)" in err.message
    with pytest.raises(QuotaExceeded) as without_hint:
        check_quota("free", "tasks_per_hour", 100, settings=settings)
    assert without_hint.value.status == 429 and without_hint.value.headers == {}


def test_a_request_larger_than_what_is_left_is_refused(settings: Settings) -> None:
    assert check_quota("free", "memory_bytes", 60 * MiB, requested=40 * MiB, settings=settings) == 0
    with pytest.raises(QuotaExceeded) as caught:
        check_quota("free", "memory_bytes", 60 * MiB, requested=40 * MiB + 1, settings=settings)
    assert caught.value.details["requested"] == 40 * MiB + 1
    assert "bytes" in caught.value.message
    with pytest.raises(QuotaExceeded):
        check_quota("free", "agents", 0, requested=6, settings=settings)
    assert check_quota("pro", "agents", 0, requested=6, settings=settings) == 44


def test_enterprise_is_unlimited(settings: Settings) -> None:
    for quota in ("agents", "tasks_per_hour", "memory_bytes", "websocket_connections"):
        assert check_quota("enterprise", quota, 10**12, requested=10**6, settings=settings) is None
        assert quota_limit("enterprise", quota, settings) is None


def test_an_unknown_tier_is_held_to_free(settings: Settings, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="stellarflow.quotas"):
        assert quota_limit("platinum", "agents", settings) == 5
        with pytest.raises(QuotaExceeded):
            check_quota("platinum", "agents", 5, settings=settings)
    assert "platinum" in caplog.text


def test_programming_errors_are_not_quota_errors(settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown quota"):
        check_quota("free", "cpus", 0, settings=settings)
    with pytest.raises(ValueError, match="negative"):
        check_quota("free", "agents", -1, settings=settings)
    with pytest.raises(ValueError, match="negative"):
        check_quota("free", "agents", 0, requested=-1, settings=settings)


def test_configured_quotas_merge_over_the_defaults(monkeypatch) -> None:
    monkeypatch.setenv("STELLARFLOW_QUOTAS", '{"free": {"agents": 2}, "pro": {"websocket_connections": null}, '
                                             '"team": {"agents": 20}}')
    settings = Settings()
    assert quota_limit("free", "agents", settings) == 2
    assert quota_limit("free", "tasks_per_hour", settings) == 100  # untouched
    assert quota_limit("pro", "websocket_connections", settings) is None  # null = unlimited
    assert quota_limit("team", "agents", settings) == 20
    assert quota_limit("team", "tasks_per_hour", settings) is None  # a new tier lists what it limits
    assert check_quota("free", "agents", 1, settings=settings) == 0
    with pytest.raises(QuotaExceeded):
        check_quota("free", "agents", 2, settings=settings)


def test_a_zero_quota_refuses_everything(monkeypatch) -> None:
    monkeypatch.setenv("STELLARFLOW_QUOTAS", '{"free": {"websocket_connections": 0}}')
    with pytest.raises(QuotaExceeded):
        check_quota("free", "websocket_connections", 0, settings=Settings())


def test_defaults_come_from_the_process_settings() -> None:
    assert check_quota("free", "agents", 0) == 4


async def test_how_a_refusal_reads_in_each_dialect() -> None:
    app = create_app(Settings(rate_limit_enabled=False))

    async def agents() -> None:
        check_quota("free", "agents", 5)

    async def tasks() -> None:
        check_quota("free", "tasks_per_hour", 100, retry_after=30)

    for prefix in ("/api", "/api/v2"):
        app.add_api_route(f"{prefix}/_quota/agents", agents, methods=["POST"])
        app.add_api_route(f"{prefix}/_quota/tasks", tasks, methods=["POST"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        v1 = await client.post("/api/_quota/agents")
        v2 = await client.post("/api/v2/_quota/agents")
        v1_rate = await client.post("/api/_quota/tasks")
        v2_rate = await client.post("/api/v2/_quota/tasks")
    details = {"quota": "agents", "limit": 5, "used": 5, "requested": 1, "tier": "free"}
    assert v1.status_code == 403
    assert v1.json() == {"error": {"code": "QUOTA_EXCEEDED", "message": v1.json()["error"]["message"],
                                   "details": details}, "request_id": v1.headers["x-request-id"]}
    assert v1.json()["error"]["message"].startswith("Quota exceeded: agents")
    assert v2.status_code == 403
    assert v2.json() == {"success": False, "error": {"code": "QUOTA_EXCEEDED", "message": v1.json()["error"]["message"],
                                                     "details": details}}
    for response in (v1_rate, v2_rate):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "30"
        assert "tasks per hour" in response.text
