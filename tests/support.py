"""Helpers the API tests share: poll the public API until a run or step reaches a state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx


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
