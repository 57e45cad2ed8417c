"""Dialect 1's `/ws` end to end over a real socket (docs/events.md): auth, subscribe with filters, the spec's event
shapes, `command` → `command_response` through the REST services and rules, ping/pong, auth failures, the quota."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import websockets

from core.settings import get_settings
from tests.support import token_for
from tests.ws_support import connect, receive, receive_until, served


@pytest.fixture(scope="module")
async def ws_url(temporal_client, worker, database) -> AsyncIterator[str]:
    from api.main import create_app

    settings = get_settings().model_copy(update={"event_auth_timeout_s": 0.5})
    async with served(create_app(settings, client=temporal_client)) as url:
        yield f"{url}/ws"


async def signed_in(url: str, token: str):
    socket_ = await connect(url)
    await socket_.send(json.dumps({"type": "auth", "token": token}))
    message = await receive(socket_)
    assert message["type"] == "authenticated" and isinstance(message["id"], int)
    socket_.authenticated = message
    return socket_


async def command(socket_, name: str, parameters: dict, request_id: str, before: list | None = None) -> dict:
    """The command's response; events that arrived first (a fast stream can beat it) go to `before`."""
    await socket_.send(json.dumps({"type": "command", "command": name, "parameters": parameters,
                                   "request_id": request_id}))
    message, earlier = await receive_until(socket_, lambda m: m.get("type") == "command_response")
    assert message["request_id"] == request_id
    if before is not None:
        before.extend(earlier)
    return message


async def test_commands_answer_and_their_events_arrive_in_the_specs_shape(ws_url: str) -> None:
    token = token_for("developer")
    client = await signed_in(ws_url, token)
    await client.send(json.dumps({"type": "ping"}))
    assert (await receive(client))["type"] == "pong"
    created = await command(client, "task.create", {"type": "code_generation", "description": "ws task",
                                                    "priority": "high"}, "req-1")
    assert created["status"] == "success", created
    task_id = created["data"]["id"]
    # from before the task existed: its creation is caught up, then the rest comes live
    await client.send(json.dumps({"type": "subscribe", "channels": ["tasks"], "filters": {"tasks": [task_id]},
                                  "since": client.authenticated["last_event_id"]}))
    assert (await receive(client))["type"] == "subscribed"
    earlier: list[dict] = []
    cancelled = await command(client, "task.cancel", {"task_id": task_id}, "req-2", before=earlier)
    assert cancelled["status"] == "success" and cancelled["data"]["task_id"] == task_id
    if not any(m["type"] == "task.cancelled" for m in earlier):
        event, more = await receive_until(client, lambda m: m.get("type") == "task.cancelled")
        earlier += [*more, event]
    event = next(m for m in earlier if m["type"] == "task.cancelled")
    assert event["data"]["task_id"] == task_id and event["data"]["timestamp"]
    assert any(m["type"] == "task.created" for m in earlier)  # caught up from `since`, then live
    assert all(m["data"]["task_id"] == task_id for m in earlier if m["type"].startswith("task."))
    ids = [m["id"] for m in earlier if m["type"].startswith("task.")]
    assert ids == sorted(set(ids))  # in order, each once
    await client.close()


async def test_commands_follow_the_rest_rules(ws_url: str) -> None:
    owner = await signed_in(ws_url, token_for("developer"))
    created = await command(owner, "task.create", {"description": "mine"}, "a")
    task_id = created["data"]["id"]
    viewer = await signed_in(ws_url, token_for("viewer"))
    refused = await command(viewer, "task.create", {"description": "x"}, "b")
    assert refused["status"] == "error" and refused["error"]["code"] == "FORBIDDEN"
    other = await signed_in(ws_url, token_for("developer", tier="pro"))  # another user: not the task's owner
    forbidden = await command(other, "task.cancel", {"task_id": task_id}, "c")
    assert forbidden["status"] == "error" and forbidden["error"]["code"] == "FORBIDDEN"
    invalid = await command(owner, "agent.spawn", {"name": "no type"}, "d")
    assert invalid["status"] == "error" and invalid["error"]["code"] == "VALIDATION_ERROR"
    unknown = await command(owner, "agent.explode", {}, "e")
    assert unknown["status"] == "error"
    await command(owner, "task.cancel", {"task_id": task_id}, "f")
    for socket_ in (owner, viewer, other):
        await socket_.close()


async def test_bad_unknown_and_missing_credentials_close_with_4401(ws_url: str) -> None:
    for first in ({"type": "auth", "token": "not-a-token"}, {"type": "subscribe", "channels": ["tasks"]}):
        async with connect(ws_url) as client:
            await client.send(json.dumps(first))
            assert (await receive(client))["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed) as info:
                await receive(client)
            assert info.value.rcvd.code == 4401
    async with connect(ws_url) as silent:  # says nothing: closed after the auth timeout (0.5 s here)
        with pytest.raises(websockets.ConnectionClosed) as info:
            await receive(silent)
        assert info.value.rcvd.code == 4401 and "not authenticated" in info.value.rcvd.reason


async def test_the_free_tiers_one_connection_quota_closes_the_second(ws_url: str) -> None:
    token = token_for("developer", tier="free")
    first = await signed_in(ws_url, token)
    async with connect(ws_url) as second:
        await second.send(json.dumps({"type": "auth", "token": token}))
        error = await receive(second)
        assert error["error"]["code"] == "QUOTA_EXCEEDED"
        with pytest.raises(websockets.ConnectionClosed) as info:
            await receive(second)
        assert info.value.rcvd.code == 1008 and "WebSocket connections" in info.value.rcvd.reason
    await first.close()
    again = await signed_in(ws_url, token)  # closing one frees its slot
    await again.close()


async def test_unknown_channels_are_refused(ws_url: str) -> None:
    client = await signed_in(ws_url, token_for("developer"))
    await client.send(json.dumps({"type": "subscribe", "channels": ["secrets"]}))
    error = await receive(client)
    assert error["type"] == "error" and error["error"]["code"] == "VALIDATION_ERROR"
    await client.close()
