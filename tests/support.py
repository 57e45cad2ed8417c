"""Helpers the API tests share: users and tokens, and polling the public API until a run or step reaches a
state."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from ulid import ULID

from core.access import Caller
from core.auth import sessions, users
from core.auth.users import UserInfo
from core.settings import get_settings

PASSWORD = "SecureP@ssw0rd!"  # the spec's example; passes the strength rule


def new_user(role: str = "developer", *, tier: str = "enterprise", password: str = PASSWORD) -> UserInfo:
    """A fresh user straight through core.auth (enterprise tier by default, so rate limits never bite tests)."""
    name = f"{role}-{str(ULID()).lower()}"
    return users.create_user(name, password, email=f"{name}@example.com", role=role, tier=tier)


_shared_users: dict[tuple[str, str], UserInfo] = {}


def forget_users() -> None:
    """The session switched databases (tests/conftest.py): the shared users live in the other one."""
    _shared_users.clear()


def shared_user(role: str = "developer", *, tier: str = "enterprise") -> UserInfo:
    """One user per (role, tier) for the whole session: hashing a password for every token would be slow."""
    if (role, tier) not in _shared_users:
        _shared_users[role, tier] = new_user(role, tier=tier)
    return _shared_users[role, tier]


def token_for(role: str = "developer", *, tier: str = "enterprise", user: UserInfo | None = None) -> str:
    """The access token of a new session of `user`, or of the shared user with this role and tier."""
    return sessions.start_session(get_settings(), user or shared_user(role, tier=tier)).access_token


# The caller of tests that drive services directly rather than through the API: an admin, so ownership rules
# (tests/test_ownership.py covers them) never get in the way of what those tests check.
SERVICE = Caller(id="usr-service-tests", username="service-tests", role="admin")


def caller_of(user: UserInfo) -> Caller:
    return Caller(id=user.id, username=user.username, role=user.role)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def settings_changed(app, **updates: Any) -> Iterator[None]:
    """The app's settings with `updates` (e.g. an operator's allowlist) for the duration of the block."""
    before = app.state.settings
    app.state.settings = before.model_copy(update=updates)
    try:
        yield
    finally:
        app.state.settings = before


_clients = itertools.count(1)


def client_for(app, token: str | None = None) -> httpx.AsyncClient:
    """An httpx client on the app in-process, sending `token` (if any) on every request. Each client comes from
    its own address, so per-IP rate limits (the auth endpoints' budget) count one test's requests only."""
    n = next(_clients)
    transport = httpx.ASGITransport(app=app, client=(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30,
                             headers=bearer(token) if token else None)


async def wait_for_run(api: httpx.AsyncClient, run_id: str, *, timeout: float = 30.0,
                       until: tuple[str, ...] = ("succeeded", "failed", "cancelled")) -> dict:
    """Poll the public API until the run reaches one of `until`; returns the run body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await api.get(f"/api/v2/runs/{run_id}")
        assert response.status_code == 200, response.text
        body = response.json()["data"]
        if body["status"] in until:
            return body
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} still {body['status']} after {timeout}s: {body}")
        await asyncio.sleep(0.05)


async def wait_for_step(
    api: httpx.AsyncClient, run_id: str, step_id: str, predicate: Callable[[dict], bool], *, timeout: float = 30.0
) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body = (await api.get(f"/api/v2/runs/{run_id}")).json()["data"]
        step = next(s for s in body["steps"] if s["id"] == step_id)
        if predicate(step):
            return step
        if loop.time() > deadline:
            raise AssertionError(f"step {step_id} of {run_id} never matched: {step}")
        await asyncio.sleep(0.05)


async def start(api: httpx.AsyncClient, definition: dict, inputs: dict | None = None) -> str:
    """Store a definition through the API and start a run of it; returns the run id."""
    created = await api.post("/api/v2/workflows", json=definition)
    assert created.status_code == 201, created.text
    started = await api.post(f"/api/v2/workflows/{created.json()['data']['id']}/runs", json={"inputs": inputs or {}})
    assert started.status_code == 202, started.text
    return started.json()["data"]["id"]


async def run_to_end(api: httpx.AsyncClient, definition: dict, inputs: dict | None = None,
                     *, timeout: float = 30.0) -> dict:
    return await wait_for_run(api, await start(api, definition, inputs), timeout=timeout)


def step_of(run: dict, step_id: str) -> dict:
    return next(s for s in run["steps"] if s["id"] == step_id)


def cmd(step_id: str, command: str | list[str], **extra: object) -> dict:
    """An execute-command step, for brevity in tests."""
    return {"id": step_id, "action": "execute-command", "parameters": {"command": command}, **extra}


# ---- agents, tasks, swarms ---------------------------------------------------------------------------------


async def poll(api: httpx.AsyncClient, url: str, predicate: Callable[[dict], bool], *, timeout: float = 30.0,
               interval: float = 0.05) -> dict:
    """GET `url` until its JSON body satisfies `predicate`; returns that body. Fails with the last body seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = await api.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        if predicate(body):
            return body
        if loop.time() > deadline:
            raise AssertionError(f"{url} never matched within {timeout}s; last: {body}")
        await asyncio.sleep(interval)
