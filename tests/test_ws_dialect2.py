"""Dialect 2's streams end to end over a real socket (docs/events.md): `/v2/ws/runs/{id}` (state, step events,
live log lines, resume with `since`, read rules) and `/api/v2/ws/swarms/{id}` (the spec's camelCase shapes)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import websockets
from ulid import ULID

from core.settings import get_settings
from tests.support import client_for, cmd, start, token_for, wait_for_run
from tests.ws_support import connect, receive, receive_until, served, write_events


@pytest.fixture(scope="module")
async def ws_base(temporal_client, worker, database) -> AsyncIterator[str]:
    from api.main import create_app

    async with served(create_app(get_settings(), client=temporal_client)) as url:
        yield url


async def authenticated(url: str, token: str, **message):
    socket_ = await connect(url)
    await socket_.send(json.dumps({"type": "authenticate", "token": f"Bearer {token}", **message}))
    first = await receive(socket_)
    assert first["type"] == "authenticated", first
    return socket_


def log_line(run_id: str, step: str, n: int, line: str) -> tuple[str, list[tuple[str, dict]], int]:
    """A log line as the command activity records it (the contract in docs/events.md)."""
    return f"{run_id}/{step}/log", [("step.log", {"step": step, "stream": "stdout", "line": line, "attempt": 1})], n


async def test_a_run_stream_sends_state_steps_and_log_lines_and_resumes(app, ws_base: str) -> None:
    owner = token_for("developer")
    async with client_for(app, owner) as api:
        run_id = await start(api, {"name": f"ws-run-{ULID()}", "steps": [cmd("hello", "echo hi")]})
        client = await authenticated(f"{ws_base}/v2/ws/runs/{run_id}", owner, since=0)
        state = await receive(client)
        assert state["type"] == "run.state" and state["data"]["id"] == run_id and "steps" in state["data"]
        await wait_for_run(api, run_id)
    ended, before = await receive_until(client, lambda m: m["type"] in ("run.succeeded", "run.failed"))
    assert ended["type"] == "run.succeeded" and ended["data"]["runId"] == run_id
    assert any(m["type"] == "step.started" and m["data"]["stepId"] == "hello" for m in before)
    resource, events, seq = log_line(run_id, "hello", 1, "live line")
    await write_events(resource, events, start_seq=seq)
    line, _ = await receive_until(client, lambda m: m["type"] == "step.log")
    assert line["data"] == {"step": "hello", "stream": "stdout", "line": "live line", "attempt": 1, "runId": run_id}
    await client.close()

    # resume from the last id seen: only what came after, once
    resource, events, seq = log_line(run_id, "hello", 2, "while away")
    await write_events(resource, events, start_seq=seq)
    again = await authenticated(f"{ws_base}/api/v2/ws/runs/{run_id}?since={line['id']}", owner)
    assert (await receive(again))["type"] == "run.state"
    resumed = await receive(again)
    assert resumed["type"] == "step.log" and resumed["data"]["line"] == "while away" and resumed["id"] > line["id"]
    with pytest.raises(TimeoutError):
        await receive(again, timeout=0.5)
    await again.close()

    # another user sees the run's steps (metadata) but not its log lines (restricted, like /logs)
    stranger = await authenticated(f"{ws_base}/v2/ws/runs/{run_id}", token_for("developer", tier="pro"), since=0)
    await receive(stranger)  # run.state
    seen, _ = await receive_until(stranger, lambda m: m["type"] == "run.succeeded")
    with pytest.raises(TimeoutError):
        while True:
            message = await receive(stranger, timeout=0.5)
            assert message["type"] != "step.log"
    assert seen["data"]["runId"] == run_id
    await stranger.close()


async def test_a_swarm_stream_uses_the_specs_camel_case_shapes(api, ws_base: str, admin_token: str) -> None:
    body = {"name": f"ws-swarm-{ULID()}", "topology": "star", "agent_config": {"executor": "shell"},
            "initial_agents": [{"type": "tester", "count": 1}]}
    created = await api.post("/api/swarms", json=body)
    assert created.status_code == 201, created.text
    swarm_id = created.json()["id"]
    client = await authenticated(f"{ws_base}/api/v2/ws/swarms/{swarm_id}", admin_token, since=0)
    status, _ = await receive_until(client, lambda m: m["type"] == "swarm.status.changed")
    assert set(status["data"]) == {"swarmId", "previousStatus", "currentStatus", "agents"}
    assert status["data"]["swarmId"] == swarm_id and isinstance(status["id"], int) and status["timestamp"]
    await api.post(f"/api/swarms/{swarm_id}/control", json={"action": "pause"})
    paused, _ = await receive_until(client, lambda m: m["type"] == "swarm.status.changed"
                                    and m["data"]["currentStatus"] == "paused")
    assert paused["id"] > status["id"]
    await client.close()
    await api.delete(f"/api/swarms/{swarm_id}")


async def test_streams_refuse_bad_credentials_and_unknown_objects(ws_base: str, admin_token: str) -> None:
    async with connect(f"{ws_base}/v2/ws/runs/run-{ULID()}") as client:
        await client.send(json.dumps({"type": "authenticate", "token": "Bearer nope"}))
        assert (await receive(client))["error"]["code"] == "UNAUTHORIZED"
        with pytest.raises(websockets.ConnectionClosed) as info:
            await receive(client)
        assert info.value.rcvd.code == 4401
    for path in (f"/v2/ws/runs/run-{ULID()}", f"/v2/ws/swarms/sw-{ULID()}", "/v2/ws/swarms/not-an-id",
                 f"/v2/ws/orchestrations/orch-{ULID()}", f"/api/v2/ws/training/train-{ULID()}"):
        async with connect(f"{ws_base}{path}") as client:
            await client.send(json.dumps({"type": "authenticate", "token": admin_token}))
            assert (await receive(client))["error"]["code"] == "RESOURCE_NOT_FOUND"
            with pytest.raises(websockets.ConnectionClosed) as info:
                await receive(client)
            assert info.value.rcvd.code == 4404
