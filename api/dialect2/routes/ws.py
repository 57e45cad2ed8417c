"""Dialect 2's WebSocket streams, one object each (stellarflow-api.md § WebSocket Events, docs/events.md):
`/v2/ws/swarms/{id}` (the swarm, its agents and its tasks), `/v2/ws/runs/{id}` (the run's state, its step events
and its steps' live stdout/stderr lines), `/v2/ws/orchestrations/{id}` and `/v2/ws/training/{id}` (their events),
each also under `/api/v2/ws/...`.

The client sends `{"type": "authenticate", "token": "Bearer …"}` first (optionally with `since: <event id>`, also
accepted as `?since=`), and may send `{"type": "resume", "since": …}` or `{"type": "ping"}` later. A new stream is
one `STREAMS` entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from api.common import ws
from api.common.deps import Principal, get_client
from api.common.ids import checked
from api.dialect2.presenters import events as present
from api.dialect2.presenters import runs as runs_present
from core.errors import DomainError, NotFound, ValidationFailed
from core.events.audience import Audience, base_id, kind_of, swarm_size
from core.events.models import StoredEvent
from core.pipelines import runs

router = APIRouter(tags=["events (dialect 2)"])


@dataclass(frozen=True)
class Stream:
    """One kind of object a client can follow: what it needs to read, whose events belong to it, and what the
    client gets first (the object's current state), after `authenticated`."""

    id_kind: str  # the id prefix's kind, checked like REST path ids (api/common/ids.py)
    permission: str
    belongs: Callable[[str, StoredEvent, Audience], bool]
    cheap: Callable[[str, StoredEvent], bool]
    opening: Callable[[WebSocket, Principal, str], Awaitable[dict[str, Any] | None]]
    scoped: bool = False  # its events are the object's own (and sub-resources'): catch up through the index


def _exists(kind: str) -> Callable[[WebSocket, Principal, str], Awaitable[dict[str, Any] | None]]:
    """An opening that only checks the object exists (its projection row)."""

    async def opening(websocket: WebSocket, principal: Principal, object_id: str) -> dict[str, Any] | None:
        who = await ws.audience(websocket.app, object_id)
        if not who.known:
            raise NotFound(kind, object_id)
        return None

    return opening


def _own(rid: str, event: StoredEvent) -> bool:
    return event.resource_id == rid or event.resource_id.startswith(f"{rid}/")


async def _run_opening(websocket: WebSocket, principal: Principal, run_id: str) -> dict[str, Any] | None:
    """The run's state now. A run started a moment ago (`stellarflow run --watch` connects at once) may not be
    readable yet: a few tries before it counts as not found."""
    client = await get_client(websocket)  # type: ignore[arg-type]
    for attempt in range(15):
        try:
            info = await runs.view_run(client, run_id, caller=principal.caller)
            break
        except NotFound:
            if attempt == 14:
                raise
            await asyncio.sleep(0.2)
    return {"type": "run.state", "timestamp": None,
            "data": runs_present.run(info, websocket.app.state.settings)}


STREAMS: dict[str, Stream] = {
    "swarms": Stream(
        id_kind="swarm", permission="swarms:read",
        belongs=lambda sid, e, who: base_id(e.resource_id) == sid or who.swarm_id == sid,
        cheap=lambda sid, e: kind_of(e.resource_id) in ("swarm", "agent", "task"),
        opening=_exists("swarm")),
    "runs": Stream(
        id_kind="run", permission="workflows:read",
        belongs=lambda rid, e, who: base_id(e.resource_id) == rid,
        cheap=_own, opening=_run_opening, scoped=True),
    "orchestrations": Stream(id_kind="orchestration", permission="tasks:read", belongs=lambda i, e, who: True,
                             cheap=_own, opening=_exists("orchestration"), scoped=True),
    "training": Stream(id_kind="training", permission="neural:read", belongs=lambda i, e, who: True,
                       cheap=_own, opening=_exists("training"), scoped=True),
}
ID_PREFIXES = {"run": "run-", "orchestration": "orch-", "training": "train-"}  # the kinds api/common/ids.py lacks


def _since(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        since = int(value)
    except (TypeError, ValueError):
        since = -1
    if since < 0 or isinstance(value, bool):
        raise ValidationFailed("`since` must be an event id (an integer ≥ 0)", field="since")
    return since


async def _present(websocket: WebSocket, event: StoredEvent, who: Audience) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if event.type == "swarm.status":
        extra["agents"] = await asyncio.to_thread(swarm_size, base_id(event.resource_id))
    elif event.type == "agent.task_assigned" and event.data.get("task_id"):
        extra["task_description"] = (await ws.audience(websocket.app, str(event.data["task_id"]))).description
    return present.event(event, who, **extra)


async def _serve(websocket: WebSocket, stream: Stream, resource_id: str) -> None:
    await websocket.accept()
    timeout = websocket.app.state.settings.event_auth_timeout_s
    try:
        message = await ws.receive_json(websocket, timeout)
    except TimeoutError:
        await ws.close(websocket, ws.UNAUTHENTICATED, f"not authenticated within {timeout:g} s")
        return
    except WebSocketDisconnect:
        return
    try:
        if message.get("type") != "authenticate":
            from core.errors import Unauthorized

            raise Unauthorized('The first message must be {"type": "authenticate", "token": "Bearer …"}')
        principal = await ws.sign_in(websocket, message.get("token"), stream.permission)
    except DomainError as err:
        await ws.send(websocket, {"type": "error", "id": None, "error": ws.error_message(err)})
        await ws.close(websocket, ws.FORBIDDEN if err.status == 403 else ws.UNAUTHENTICATED, err.message)
        return
    if not await ws.admit(websocket, principal):
        return

    async def present_event(event: StoredEvent, who: Audience) -> dict[str, Any]:
        return await _present(websocket, event, who)

    pump = ws.Pump(websocket, principal, present_event,
                   lambda event, who: stream.belongs(resource_id, event, who),
                   lambda event: stream.cheap(resource_id, event), present.gap,
                   resource=resource_id if stream.scoped else None, shape="d2")
    try:
        try:
            if stream.id_kind in ID_PREFIXES:
                if not resource_id.startswith(ID_PREFIXES[stream.id_kind]) or len(resource_id) > 100:
                    raise NotFound(stream.id_kind, resource_id[:100])
            else:
                checked(stream.id_kind, resource_id)
            since = _since(message.get("since", websocket.query_params.get("since")))
            await ws.hub(websocket.app)  # before the opening: some openings read the hub's audience cache
            opening = await stream.opening(websocket, principal, resource_id)
        except DomainError as err:
            await ws.send(websocket, {"type": "error", "id": None, "error": ws.error_message(err)})
            code = {404: ws.NOT_FOUND, 403: ws.FORBIDDEN}.get(err.status, ws.SERVER_ERROR if err.status >= 500
                                                               else 4400)
            pump.failure = err.message
            await ws.close(websocket, code, err.message)
            return
        await pump.write({"type": "authenticated", "timestamp": None,
                          "data": {"userId": principal.id, "username": principal.username, "resourceId": resource_id}})
        if opening is not None:
            await pump.write(opening)
        await pump.restart(since)
        while True:
            incoming = await ws.receive_json(websocket)
            try:
                if incoming.get("type") == "ping":
                    await pump.write({"type": "pong", "timestamp": incoming.get("timestamp")})
                elif incoming.get("type") == "resume":
                    await pump.restart(_since(incoming.get("since")))
                else:
                    raise ValidationFailed(f"Unknown message type {incoming.get('type')!r}; types: ping, resume")
            except DomainError as err:
                await pump.write({"type": "error", "error": ws.error_message(err)})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await pump.stop()
        ws.connections(websocket.app).release(principal)
        if pump.failure is None:
            await ws.close(websocket, 1000, "bye")


def _route(stream: Stream) -> Callable[[WebSocket, str], Awaitable[None]]:
    async def endpoint(websocket: WebSocket, resource_id: str) -> None:
        await _serve(websocket, stream, resource_id)

    return endpoint


for _name, _stream in STREAMS.items():
    for _prefix in ("/v2/ws", "/api/v2/ws"):
        router.add_api_websocket_route(f"{_prefix}/{_name}/{{resource_id}}", _route(_stream))
