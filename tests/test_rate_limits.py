"""Rate limits (api/ratelimit.py, core/limits/ratelimit.py) on the real app, once per storage: in-process memory and the
local Redis at 127.0.0.1:6379 (skipped, with the reason, only when that Redis is unreachable).

Every test builds its own app with tiny budgets (windows of seconds) and its own Redis key prefix, removed
afterwards. Budgets are per identity, so the tests never touch the session app's counts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from ulid import ULID

from api.common.ratelimit import token_identity
from api.main import create_app
from core.limits.ratelimit import RateLimiter, RateTier, storage_uri
from core.settings import Settings

# The dev and CI machines run Redis here; STELLARFLOW_TEST_REDIS_URL points the Redis cases at another one.
REDIS_URL = os.environ.get("STELLARFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_reachable() -> str | None:
    """None when Redis answers PING at REDIS_URL, else why not."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as err:
        return f"Redis is not reachable at {REDIS_URL} ({err}); start redis-server to run the Redis cases"
    finally:
        client.close()
    return None


_REDIS_DOWN = _redis_reachable()
BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.skipif(_REDIS_DOWN is not None, reason=_REDIS_DOWN or "")),
]

# Small budgets: a burst of 3 refilled at 18/min is a moving window of 3 requests per 10 s (long enough that a
# slow machine still sends a test's requests inside one window; the reset test uses a 1 s window).
FAST_FREE = {"per_minute": 18, "burst": 3, "per_hour": 1000}
ONE_SECOND = {"per_minute": 180, "burst": 3, "per_hour": 1000}


async def _probe() -> dict[str, bool]:
    return {"ok": True}


class Apps:
    """Builds apps on one storage with one key prefix, and cleans the prefix up afterwards."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.prefix = f"stellarflow-test:{ULID()}"
        self.apps: list[FastAPI] = []
        self.clients: list[httpx.AsyncClient] = []

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"rate_limit_tiers": {"free": FAST_FREE}, "rate_limit_key_prefix": self.prefix}
        values["REDIS_URL"] = REDIS_URL if self.backend == "redis" else None  # whatever the environment says
        values.update(overrides)
        return Settings(**values)

    def app(self, resolver: Callable[[str], str | None] | None = None, *, use_real_resolver: bool = False,
            **overrides: Any) -> FastAPI:
        app = create_app(self.settings(**overrides))
        # Routes that need neither Temporal nor a token, one per dialect.
        app.add_api_route("/api/_probe", _probe)
        app.add_api_route("/api/v2/_probe", _probe)
        if resolver is not None:
            app.state.tier_resolver = resolver
        elif not use_real_resolver:  # tokens "free-…" are valid free-tier tokens, anything else is invalid
            app.state.tier_resolver = lambda token: "free" if token.startswith("free-") else None
        self.apps.append(app)
        return app

    def client(self, app: FastAPI, *, ip: str = "127.0.0.1", token: str | None = None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 50000)),
                                   base_url="http://testserver",
                                   headers={"Authorization": f"Bearer {token}"} if token else None)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for app in self.apps:
            if self.backend == "redis":  # in memory the counts go with the app
                await app.state.rate_limiter.reset()
            await app.state.rate_limiter.aclose()


@pytest.fixture(params=BACKENDS)
async def apps(request: pytest.FixtureRequest) -> AsyncIterator[Apps]:
    made = Apps(request.param)
    try:
        yield made
    finally:
        await made.close()
    if made.backend == "redis":
        assert await _keys(made.prefix) == [], "the test's Redis keys were not cleaned up"


async def _keys(prefix: str) -> list[bytes]:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return await client.keys(f"{prefix}*")
    finally:
        await client.aclose()


def _rl(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in
            ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-resource")
            if name in response.headers}


# --- limit, headers, burst, reset ------------------------------------------------------------------------------


async def test_headers_count_down_to_the_limit_then_429(apps: Apps) -> None:
    client = apps.client(apps.app())
    now = time.time()
    for remaining in (2, 1, 0):
        response = await client.get("/api/v2/_probe")
        assert response.status_code == 200, response.text
        headers = _rl(response)
        assert headers["x-ratelimit-limit"] == "3"
        assert headers["x-ratelimit-remaining"] == str(remaining)
        assert headers["x-ratelimit-resource"] == "core"
        assert now + 9 <= int(headers["x-ratelimit-reset"]) <= now + 12
    refused = await client.get("/api/v2/_probe")
    assert refused.status_code == 429
    assert 8 <= int(refused.headers["retry-after"]) <= 10
    assert _rl(refused)["x-ratelimit-remaining"] == "0"


async def test_real_routes_carry_the_headers_too(apps: Apps) -> None:
    """GET /api/v2/workflows without a token is a 401 from the auth layer; the limiter counted it all the same."""
    client = apps.client(apps.app())
    response = await client.get("/api/v2/workflows")
    assert response.status_code == 401
    assert set(_rl(response)) == {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
                                  "x-ratelimit-resource"}
    assert response.headers["x-request-id"].startswith("req-")
    missing = await client.get("/api/v2/no-such-thing")
    assert missing.status_code == 404
    assert _rl(missing)["x-ratelimit-remaining"] == "1"


async def test_the_window_gives_requests_back_after_reset(apps: Apps) -> None:
    client = apps.client(apps.app(rate_limit_tiers={"free": ONE_SECOND}))
    for _ in range(3):
        assert (await client.get("/api/v2/_probe")).status_code == 200
    for _ in range(20):  # the 4th, unless the machine is so slow that a second went by since the 1st
        refused = await client.get("/api/v2/_probe")
        if refused.status_code == 429:
            break
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    reset = int(refused.headers["x-ratelimit-reset"])
    await asyncio.sleep(max(0.0, reset - time.time()) + 0.05)
    again = await client.get("/api/v2/_probe")
    assert again.status_code == 200, again.text
    assert int(again.headers["x-ratelimit-remaining"]) >= 0


async def test_burst_arrives_at_once_above_the_per_minute_rate(apps: Apps) -> None:
    """2 a minute sustained with a burst of 4: four requests at once pass, the fifth waits a whole window
    (4 × 60 / 2 = 120 s)."""
    client = apps.client(apps.app(rate_limit_tiers={"free": {"per_minute": 2, "burst": 4, "per_hour": 100}}))
    for _ in range(4):
        response = await client.get("/api/v2/_probe")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "4"
    refused = await client.get("/api/v2/_probe")
    assert refused.status_code == 429
    assert 115 <= int(refused.headers["retry-after"]) <= 120
    assert refused.json()["error"]["window"] == "2m"


async def test_the_hour_window_binds_when_it_has_fewer_left(apps: Apps) -> None:
    client = apps.client(apps.app(rate_limit_tiers={"free": {"per_minute": 600, "burst": 100, "per_hour": 2}}))
    first = await client.get("/api/v2/_probe")
    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("2", "1")
    assert (await client.get("/api/v2/_probe")).status_code == 200
    refused = await client.get("/api/v2/_probe")
    assert refused.status_code == 429
    assert refused.json()["error"]["window"] == "1h"
    assert refused.json()["error"]["limit"] == 2
    assert 3590 <= int(refused.headers["retry-after"]) <= 3600  # when the first of the two turns an hour old


# --- the 429 bodies --------------------------------------------------------------------------------------------


async def test_429_body_in_both_dialects(apps: Apps) -> None:
    client = apps.client(apps.app())
    for _ in range(3):
        assert (await client.get("/api/_probe")).status_code == 200

    v1 = await client.get("/api/_probe", headers={"X-Request-ID": "req-ratelimit-v1"})
    assert v1.status_code == 429
    body = v1.json()
    assert body["request_id"] == "req-ratelimit-v1" == v1.headers["x-request-id"]
    assert body["error"]["code"] == "RATE_LIMITED"
    assert "3 requests per 10s" in body["error"]["message"]
    retry = int(v1.headers["retry-after"])
    assert body["error"]["details"] == {"limit": 3, "window": "10s", "retry_after": retry}

    v2 = await client.get("/api/v2/_probe")
    assert v2.status_code == 429
    assert v2.json() == {"success": False, "error": {
        "code": "RATE_LIMIT_EXCEEDED", "message": "API rate limit exceeded",
        "retryAfter": int(v2.headers["retry-after"]), "limit": 3, "window": "10s"}}
    # Still inside RequestContextMiddleware: request id and the spec's security headers.
    for response in (v1, v2):
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-request-id"]
        assert response.headers["x-ratelimit-resource"] == "core"


# --- who is counted ---------------------------------------------------------------------------------------------


async def test_each_token_and_each_ip_has_its_own_budget(apps: Apps) -> None:
    app = apps.app()
    by_ip = apps.client(app)
    other_ip = apps.client(app, ip="10.1.2.3")
    token_a = apps.client(app, token="free-token-a")
    token_b = apps.client(app, token="free-token-b")
    for _ in range(3):
        assert (await by_ip.get("/api/v2/_probe")).status_code == 200
    assert (await by_ip.get("/api/v2/_probe")).status_code == 429
    for client in (other_ip, token_a, token_b):
        response = await client.get("/api/v2/_probe")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "2"
    for _ in range(2):
        await token_a.get("/api/v2/_probe")
    assert (await token_a.get("/api/v2/_probe")).status_code == 429
    assert (await token_b.get("/api/v2/_probe")).status_code == 200


async def test_made_up_tokens_share_the_ip_budget(apps: Apps) -> None:
    """An invalid token counts against the client IP, or every made-up token would bring a fresh budget."""
    app = apps.app()
    statuses = [(await apps.client(app, token=f"junk-{n}").get("/api/v2/_probe")).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert (await apps.client(app).get("/api/v2/_probe")).status_code == 429  # the same IP, without a token
    assert (await apps.client(app, token="free-valid").get("/api/v2/_probe")).status_code == 200
    assert (await apps.client(app, token="junk-x", ip="10.9.9.9").get("/api/v2/_probe")).status_code == 200


async def test_pro_tier_gets_its_own_numbers(apps: Apps) -> None:
    # a token back every 2 s: the 11 requests below take far less, even on a loaded machine (at 600/min one came
    # back every 100 ms, and a slow run saw its 11th request pass)
    tiers = {"free": FAST_FREE, "pro": {"per_minute": 30, "burst": 10, "per_hour": 1000}}
    app = apps.app(lambda token: "pro" if token == "pro-token" else None, rate_limit_tiers=tiers)
    pro = apps.client(app, token="pro-token")
    response = await pro.get("/api/v2/_probe")
    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == ("10", "9")
    for _ in range(9):
        assert (await pro.get("/api/v2/_probe")).status_code == 200
    assert (await pro.get("/api/v2/_probe")).status_code == 429


async def test_enterprise_is_never_limited(apps: Apps) -> None:
    app = apps.app(lambda token: "enterprise" if token == "ent-token" else None,
                   rate_limit_auth={"per_minute": 60, "burst": 1, "per_hour": 100})
    enterprise = apps.client(app, token="ent-token")
    for _ in range(40):
        response = await enterprise.get("/api/v2/_probe")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "unlimited"
        assert response.headers["x-ratelimit-remaining"] == "unlimited"
        assert response.headers["x-ratelimit-resource"] == "core"
    # Not on the auth endpoints either, whose per-IP budget is 1 here.
    for _ in range(5):
        response = await enterprise.post("/api/v2/auth/logout")
        assert response.status_code != 429
    if apps.backend == "redis":
        assert await _keys(apps.prefix) == [], "an unlimited caller must not cost a Redis round trip or key"


async def test_real_tokens_through_the_auth_layers_resolver(apps: Apps) -> None:
    """The contract with the auth layer: `app.state.tier_resolver` maps a real token to its user's tier."""
    from tests.support import token_for

    app = apps.app(use_real_resolver=True, rate_limit_tiers={"free": FAST_FREE,
                                                             "pro": {"per_minute": 60, "burst": 5, "per_hour": 100}})
    pro = apps.client(app, token=token_for("viewer", tier="pro"))
    response = await pro.get("/api/v2/workflows")
    assert response.status_code == 200, response.text
    assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == ("5", "4")
    enterprise = apps.client(app, token=token_for("admin"))
    for _ in range(10):
        response = await enterprise.get("/api/v2/workflows")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "unlimited"
    forged = apps.client(app, token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bm90LWEtc2lnbmF0dXJl")
    response = await forged.get("/api/v2/workflows")
    assert response.status_code == 401
    assert response.headers["x-ratelimit-limit"] == "3"  # an invalid token is counted as free


async def test_all_of_a_users_tokens_and_keys_share_one_budget(apps: Apps) -> None:
    """The caller is the user, not the credential: two API keys and an access token of one user draw on one budget
    (3 requests here), so holding more credentials never multiplies it; another user has a budget of their own."""
    from core.auth.api_keys import create_key
    from tests.support import new_user, token_for

    app = apps.app(use_real_resolver=True)
    settings = app.state.settings
    user = new_user("viewer", tier="free")
    first = apps.client(app, token=create_key(settings, user.id, "first").key)
    second = apps.client(app, token=create_key(settings, user.id, "second").key)
    session = apps.client(app, token=token_for(user=user))
    remaining = []
    for client in (first, second, session):
        response = await client.get("/api/v2/workflows")
        assert response.status_code == 200, response.text
        remaining.append(response.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    for client in (first, second, session):
        assert (await client.get("/api/v2/workflows")).status_code == 429
    other = apps.client(app, token=create_key(settings, new_user("viewer", tier="free").id, "other").key)
    response = await other.get("/api/v2/workflows")
    assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "2"


async def test_an_unknown_tier_or_a_failing_resolver_counts_as_free(apps: Apps, caplog) -> None:
    def broken(token: str) -> str:
        raise RuntimeError("database is down")

    for resolver in (lambda token: "platinum", broken):
        client = apps.client(apps.app(resolver), token="some-token")
        with caplog.at_level(logging.WARNING, logger="stellarflow.ratelimit"):
            response = await client.get("/api/v2/_probe")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        assert "some-token" not in caplog.text


async def test_async_resolvers_work_too(apps: Apps) -> None:
    async def resolver(token: str) -> str | None:
        await asyncio.sleep(0)
        return "enterprise"

    client = apps.client(apps.app(resolver), token="t")
    assert (await client.get("/api/v2/_probe")).headers["x-ratelimit-limit"] == "unlimited"


# --- auth endpoints ---------------------------------------------------------------------------------------------


async def test_auth_endpoints_have_a_stricter_budget_per_ip(apps: Apps) -> None:
    app = apps.app(rate_limit_auth={"per_minute": 6, "burst": 2, "per_hour": 100})
    client = apps.client(app)
    credentials = {"username": "nobody", "password": "wrong-password-1A!"}
    for path in ("/api/v2/auth/login", "/api/auth/token"):
        response = await client.post(path, json=credentials)
        assert response.status_code != 429
        assert response.headers["x-ratelimit-resource"] == "auth"
        assert response.headers["x-ratelimit-limit"] == "2"
    refused = await client.post("/api/v2/auth/login", json=credentials)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.json()["error"]["window"] == "20s"
    refused_v1 = await client.post("/api/auth/token", json=credentials)
    assert refused_v1.status_code == 429
    assert refused_v1.json()["error"]["code"] == "RATE_LIMITED"
    # A token of some sort does not move the caller off the per-IP auth budget ...
    with_token = apps.client(app, token="made-up-token")
    assert (await with_token.post("/api/v2/auth/login", json=credentials)).status_code == 429
    # ... the core budget of the same IP is separate ...
    core = await client.get("/api/v2/_probe")
    assert core.status_code == 200
    assert core.headers["x-ratelimit-resource"] == "core"
    # ... and another IP has its own auth budget.
    elsewhere = apps.client(app, ip="192.0.2.7")
    assert (await elsewhere.post("/api/v2/auth/login", json=credentials)).status_code != 429


# --- replicas ---------------------------------------------------------------------------------------------------


async def test_two_replicas_share_one_budget_through_redis(apps: Apps) -> None:
    """Two app instances are two API replicas: with Redis they count in the same budget; in memory each process
    has its own (which is why several replicas need REDIS_URL)."""
    first, second = apps.client(apps.app()), apps.client(apps.app())
    assert apps.apps[0].state.rate_limiter is not apps.apps[1].state.rate_limiter
    statuses = [(await client.get("/api/v2/_probe")).status_code for client in (first, second, first)]
    assert statuses == [200, 200, 200]
    fourth = await second.get("/api/v2/_probe")
    if apps.backend == "redis":
        assert fourth.status_code == 429
        assert (await first.get("/api/v2/_probe")).status_code == 429
    else:
        assert fourth.status_code == 200
        assert fourth.headers["x-ratelimit-remaining"] == "1"


async def test_concurrent_requests_never_exceed_the_burst(apps: Apps) -> None:
    app = apps.app(rate_limit_tiers={"free": {"per_minute": 10, "burst": 5, "per_hour": 1000}})
    client = apps.client(app)
    responses = await asyncio.gather(*(client.get("/api/v2/_probe") for _ in range(12)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 5
    assert statuses.count(429) == 7


# --- not limited ------------------------------------------------------------------------------------------------


async def test_health_and_docs_are_not_limited(apps: Apps) -> None:
    client = apps.client(apps.app())
    for _ in range(3):
        await client.get("/api/v2/_probe")
    assert (await client.get("/api/v2/_probe")).status_code == 429
    for path in ("/openapi.json", "/docs", "/redoc", "/api/health", "/api/v2/system/health"):
        response = await client.get(path)
        assert response.status_code != 429, path
        assert "x-ratelimit-limit" not in response.headers, path


async def test_disabled_means_no_limit_and_no_headers(apps: Apps) -> None:
    client = apps.client(apps.app(rate_limit_enabled=False))
    for _ in range(10):
        response = await client.get("/api/v2/_probe")
        assert response.status_code == 200
        assert "x-ratelimit-limit" not in response.headers


async def test_fail_open_when_redis_is_unreachable(caplog) -> None:
    """A Redis that does not answer must never turn requests into 500s: they pass, unlimited, with a warning."""
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(REDIS_URL=f"redis://127.0.0.1:{port}/0", rate_limit_tiers={"free": FAST_FREE})
    app = create_app(settings)
    app.add_api_route("/api/v2/_probe", _probe)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        with caplog.at_level(logging.WARNING, logger="stellarflow.ratelimit"):
            statuses = [(await client.get("/api/v2/_probe")).status_code for _ in range(6)]
            last = await client.get("/api/v2/_probe")
    assert statuses == [200] * 6
    assert "x-ratelimit-limit" not in last.headers
    warnings = [r for r in caplog.records if r.name == "stellarflow.ratelimit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per back-off period, not one per request"
    assert "unreachable" in warnings[0].getMessage()
    await app.state.rate_limiter.aclose()


# --- settings ---------------------------------------------------------------------------------------------------


def test_spec_tiers_are_the_defaults(monkeypatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("STELLARFLOW_REDIS_URL", raising=False)
    settings = Settings()
    free, pro, enterprise = (settings.rate_limit_tiers[name] for name in ("free", "pro", "enterprise"))
    assert (free.per_minute, free.per_hour, free.burst) == (60, 1000, 100)
    assert (pro.per_minute, pro.per_hour, pro.burst) == (300, 10_000, 500)
    assert enterprise.unlimited and enterprise.windows() == []
    # Burst B at P a minute: a moving window of B per B × 60 / P seconds, plus the hour.
    assert [(w.amount, w.seconds, w.label) for w in free.windows()] == [(100, 100, "100s"), (1000, 3600, "1h")]
    assert [(w.amount, w.seconds) for w in pro.windows()] == [(500, 100), (10_000, 3600)]
    assert settings.redis_url is None
    assert storage_uri(settings.redis_url) == "async+memory://"


def test_configured_tiers_merge_over_the_defaults(monkeypatch) -> None:
    monkeypatch.setenv("STELLARFLOW_RATE_LIMIT_TIERS", '{"free": {"per_minute": 30}, "team": {"per_minute": 120}}')
    monkeypatch.setenv("STELLARFLOW_RATE_LIMIT_AUTH", '{"burst": 5}')
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    settings = Settings()
    assert settings.rate_limit_tiers["free"] == RateTier(per_minute=30, per_hour=1000, burst=100)
    assert settings.rate_limit_tiers["free"].windows()[0].seconds == 200
    assert settings.rate_limit_tiers["pro"].per_minute == 300
    assert settings.rate_limit_tiers["team"].windows()[0].seconds == 60  # no burst: the per-minute figure
    assert settings.rate_limit_auth == RateTier(per_minute=10, per_hour=100, burst=5)
    assert settings.redis_url == "redis://cache.internal:6380/2"
    assert storage_uri(settings.redis_url) == "async+redis://cache.internal:6380/2"


def test_windows_round_up_to_whole_seconds() -> None:
    # 2 at 600 a minute would be 0.2 s; limits counts whole seconds, so it becomes 1 s (never a faster rate).
    assert RateTier(per_minute=600, burst=2).windows()[0].seconds == 1
    assert RateTier(per_minute=7, burst=3).windows()[0].seconds == math.ceil(3 * 60 / 7)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis://"])
def test_bad_redis_urls_are_refused(monkeypatch, url: str) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ValidationError, match="REDIS_URL"):
        Settings()


def test_burst_without_a_rate_is_refused() -> None:
    with pytest.raises(ValidationError, match="burst needs per_minute"):
        RateTier(burst=10)


def test_tokens_are_hashed_not_kept() -> None:
    identity = token_identity("sf_secret_api_key")
    assert "sf_secret_api_key" not in identity and identity.startswith("tok:")
    assert RateLimiter().backend == "memory"
