"""What both dialects' WebSocket endpoints share (docs/events.md): the replica's event hub, signing a socket in with
a token or API key, the per-user `websocket_connections` quota, and the pump that moves a subscription's events to
the socket through the read rules.

Close codes (documented in docs/events.md):

====  =======================================================================================
4401  not authenticated: no valid `auth`/`authenticate` message within the auth timeout, or a bad credential
4403  authenticated, but the role (or OAuth scope) lacks the read permission, or the stream's object is not visible
4404  the stream's object (swarm, run) does not exist
4408  the client reads too slowly: its send queue overflowed (counted in `EventHub.dropped`)
1008  the `websocket_connections` quota of the user's tier is used up (policy violation, as core/limits/quotas.py)
1011  the server failed
====  =======================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.security import HTTPAuthorizationCredentials
from starlette.websockets import WebSocketDisconnect, WebSocketState

from api.common.deps import Principal, current_principal
from core.auth.permissions import allows, scope_allows
from core.errors import DomainError, QuotaExceeded
from core.events.audience import Audience, AudienceCache, base_id, lookup
from core.events.models import StoredEvent
from core.events.stream import EventHub, SlowConsumer, Subscription
from core.limits.quotas import check_quota
from core.system.prometheus import WS_CONNECTIONS, WS_DROPS

log = logging.getLogger("stellarflow.ws")

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404
SLOW_CONSUMER = 4408
QUOTA = 1008
SERVER_ERROR = 1011

Present = Callable[[StoredEvent, Audience], Awaitable[dict[str, Any] | None]]
Wants = Callable[[StoredEvent, Audience], bool]


async def hub(app: FastAPI) -> EventHub:
    """The replica's hub, started on first use (an API that nobody streams from polls nothing)."""
    state = app.state
    if getattr(state, "event_hub", None) is None:
        state.event_hub = EventHub(state.settings)
        state.event_audiences = AudienceCache()
        state.event_lookups = {}
        state.event_texts = Encoded()
    await state.event_hub.start()
    return state.event_hub


async def stop_hub(app: FastAPI) -> None:
    found = getattr(app.state, "event_hub", None)
    if found is not None:
        await found.stop()


async def audience(app: FastAPI, resource_id: str) -> Audience:
    """Who may see the resource's events, looked up once however many clients ask at the same moment."""
    cache: AudienceCache = app.state.event_audiences
    hit = cache.cached(resource_id)
    if hit is not None:
        return hit
    key = base_id(resource_id)
    pending: dict[str, asyncio.Future[Audience]] = app.state.event_lookups
    if key in pending:
        return await asyncio.shield(pending[key])
    future: asyncio.Future[Audience] = asyncio.get_running_loop().create_future()
    pending[key] = future
    try:
        found = cache.remember(resource_id, await asyncio.to_thread(lookup, resource_id))
        future.set_result(found)
        return found
    except BaseException as err:
        future.set_exception(err)
        future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
        raise
    finally:
        pending.pop(key, None)


class Encoded:
    """The wire text of each event per dialect, made once for all its subscribers (the shapes do not depend on
    the reader; who may see an event is decided before). A small map of the latest events."""

    def __init__(self, max_entries: int = 5000) -> None:
        self.max_entries = max_entries
        self.texts: dict[tuple[str, int], str] = {}

    def get(self, shape: str, event_id: int) -> str | None:
        return self.texts.get((shape, event_id))

    def put(self, shape: str, event_id: int, text: str) -> str:
        if len(self.texts) >= self.max_entries:
            self.texts.clear()
        self.texts[shape, event_id] = text
        return text


async def close(websocket: WebSocket, code: int, reason: str, timeout: float | None = 2.0) -> None:
    """Close with `code`; the reason is cut to what a close frame holds (123 bytes). `timeout` None: wait as long
    as it takes (a slow client's close frame goes out once it reads what is ahead of it; uvicorn's keepalive ends
    a client that never does)."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code=code, reason=reason.encode()[:123].decode(errors="ignore")),
                               timeout)


async def sign_in(websocket: WebSocket, token: Any, permission: str) -> Principal:
    """The principal behind `token` (`Bearer ` prefix optional) holding `permission`; raises DomainError (401/403)."""
    from core.errors import Forbidden, Unauthorized

    raw = str(token or "").strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if not raw:
        raise Unauthorized("Authentication required: send a token or API key")
    principal = await current_principal(websocket, HTTPAuthorizationCredentials(scheme="Bearer", credentials=raw))  # type: ignore[arg-type]
    if not allows(principal.role, permission) or not scope_allows(principal.scopes, permission):
        raise Forbidden(f"Permission {permission!r} is required", permission=permission)
    return principal


async def receive_json(websocket: WebSocket, timeout: float | None = None) -> dict[str, Any]:
    """The next message as a JSON object ({} for anything else, so a bad frame gets an error, not a crash)."""
    text = await asyncio.wait_for(websocket.receive_text(), timeout)
    try:
        message = json.loads(text)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


class Connections:
    """Open sockets per user on this replica: the `websocket_connections` quota counts them (per replica; docs)."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def acquire(self, principal: Principal, settings: Any) -> None:
        used = self.open.get(principal.id, 0)
        check_quota(principal.tier, "websocket_connections", used, 1, settings=settings)
        self.open[principal.id] = used + 1
        WS_CONNECTIONS.inc()

    def release(self, principal: Principal) -> None:
        if principal.id not in self.open:
            return
        left = self.open[principal.id] - 1
        if left > 0:
            self.open[principal.id] = left
        else:
            self.open.pop(principal.id, None)
        WS_CONNECTIONS.dec()

    @property
    def total(self) -> int:
        return sum(self.open.values())


def connections(app: FastAPI) -> Connections:
    if getattr(app.state, "ws_connections", None) is None:
        app.state.ws_connections = Connections()
    return app.state.ws_connections


async def admit(websocket: WebSocket, principal: Principal) -> bool:
    """Count the socket against its user's quota, or close it (1008) saying which quota. True when admitted."""
    try:
        connections(websocket.app).acquire(principal, websocket.app.state.settings)
    except QuotaExceeded as err:
        await send(websocket, {"type": "error", "error": {"code": "QUOTA_EXCEEDED", "message": err.message}})
        await close(websocket, QUOTA, err.message)
        return False
    return True


async def send(websocket: WebSocket, message: dict[str, Any]) -> None:
    """A send blocks while the client's TCP window is full (memory stays bounded); if events keep coming meanwhile
    the send queue overflows and the client is disconnected (`Pump._overflowed`)."""
    await websocket.send_text(json.dumps(message, default=str))


def error_message(err: DomainError) -> dict[str, Any]:
    details = err.details if err.details is not None else (err.extra or None)
    return {"code": err.code, "message": err.message, **({"details": details} if details else {})}


class Pump:
    """Moves one subscription's events to the socket: resume from `since`, the read rules, the dialect's shape.
    `restart` replaces the subscription (a new `subscribe`), continuing after the last event sent."""

    def __init__(self, websocket: WebSocket, principal: Principal, present: Present, wants: Wants,
                 cheap: Callable[[StoredEvent], bool], gap: Callable[[int, int], dict[str, Any]],
                 resource: str | None = None, shape: str = "") -> None:
        self.websocket = websocket
        self.principal = principal
        self.present = present
        self.wants = wants
        self.cheap = cheap
        self.gap = gap
        self.resource = resource
        self.shape = shape  # the dialect's event shape: encoded once per event for all its subscribers
        self.task: asyncio.Task[None] | None = None
        self.subscription: Subscription | None = None
        self.last: int | None = None
        self.failure: str | None = None
        self.lock = asyncio.Lock()  # one writer on the socket at a time

    async def restart(self, since: int | None) -> None:
        await self.stop()
        events = await hub(self.websocket.app)
        start = since if since is not None else self.last
        if since is not None:
            oldest = await events.expired(since)
            if oldest is not None:
                await self.write(self.gap(since, oldest))
                start = oldest - 1
        self.subscription = events.subscribe(self.cheap, resource=self.resource)
        self.subscription.on_overflow = self._overflowed
        self.task = asyncio.create_task(self._run(self.subscription, start))

    def _overflowed(self) -> None:
        """The queue overflowed while the pump may be blocked sending to a client that does not read: stop it and
        close now, rather than when that send finally times out."""
        reason = self.subscription.reason if self.subscription is not None else None
        self.failure = reason or "send queue overflow"
        self._count_drop()
        log.info("disconnecting a slow WebSocket client of %s: %s", self.principal.username, self.failure)
        self._closing = asyncio.create_task(self._close_slow(self.task))

    def _count_drop(self) -> None:
        """One slow client is one drop, however its overflow is noticed (the callback, the stream, or both)."""
        if not getattr(self, "_dropped", False):
            self._dropped = True
            WS_DROPS.inc()

    async def _close_slow(self, pump: asyncio.Task[None] | None) -> None:
        # Close while the pump may still be blocked in a send: cancelling that send first can leave uvicorn's
        # protocol unable to write the close frame. The pump ends after.
        await close(self.websocket, SLOW_CONSUMER, f"slow consumer: {self.failure}", timeout=None)
        if pump is not None:
            pump.cancel()

    async def write(self, message: dict[str, Any]) -> None:
        """Send one message; one that is not an event carries the hub's cursor as its `id` (where the stream is)."""
        if "id" not in message:
            found = getattr(self.websocket.app.state, "event_hub", None)
            message = {**message, "id": found.cursor if found is not None else None}
        async with self.lock:
            await send(self.websocket, message)

    async def _run(self, subscription: Subscription, since: int | None) -> None:
        caller = self.principal.caller
        try:
            async for event in subscription.events(since):
                who = await audience(self.websocket.app, event.resource_id)
                self.last = event.id
                if not who.may_see(caller, event.type) or not self.wants(event, who):
                    continue
                texts: Encoded = self.websocket.app.state.event_texts
                text = texts.get(self.shape, event.id)
                if text is None:
                    message = await self.present(event, who)
                    if message is None:
                        continue
                    text = texts.put(self.shape, event.id, json.dumps(message, default=str))
                async with self.lock:
                    await self.websocket.send_text(text)
        except SlowConsumer as err:
            self.failure = str(err)
            self._count_drop()
            await close(self.websocket, SLOW_CONSUMER, f"slow consumer: {err}")
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            subscription.close()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None
