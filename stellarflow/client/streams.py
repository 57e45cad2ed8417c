"""Streams over the WebSocket, with resume: `runs.stream(id)`, `swarms.stream_progress(id)`, `tasks.stream(id)`,
`agents.stream(id)`.

PROVISIONAL: written against the protocol in issue 11 (items 2-4) before the server side landed. Everything that
depends on the wire protocol is in this module, so it can be adjusted in one place:

* dialect 1 `/ws` (tasks, swarms, agents): `{"type": "auth", "token": ...}`, then
  `{"type": "subscribe", "channel": <channel>, "channels": [<channel>], "id": <id>, "since": <last event id>}`;
  events arrive in the claude-flow spec's shape `{"id", "type": "swarm.progress", "data": {...}}`. Events of other
  objects are dropped here too (by `data.<channel>_id`), in case the server's id filter is looser.
* dialect 2 `/v2/ws/runs/{id}`: `{"type": "authenticate", "token": ..., "since": <last event id>}` (and `since` in
  the query string); messages are camelCase, `{"id", "type", "data"}`.
* Resume: every message carries `id`. After a dropped connection the client reconnects (backoff 0.5 s doubling to
  10 s, at most `max_reconnects` in a row) and asks for the events after the last id it yielded, so the caller
  sees each event once, in order. A server that cannot resume that far must say so (an `error` message): that is
  raised, never skipped silently.
* Control messages (`auth_ok`, `authenticated`, `subscribed`, `pong`, …) are not yielded; `ping` is answered with
  `pong`. An `error` message raises the matching StellarFlowError. Close codes 4401/4403/4404/1008 (docs/events.md
  on the events branch) raise Unauthorized/Forbidden/NotFound/RateLimited and are not retried.
* dialect 2 also serves `/v2/ws/orchestrations/{id}` and `/v2/ws/training/{id}` the same way.
* A run's, an orchestration's and a training's stream end after its terminal event (an orchestration's: after
  `orchestration.completed|failed|cancelled`, or SETTLE_S after its terminal `orchestration.status` for a reader
  who does not get those); other streams run until the caller stops iterating.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from stellarflow.client import errors
from stellarflow.client.models import StreamEvent

CONTROL = frozenset({"auth_ok", "authenticated", "auth_success", "subscribed", "unsubscribed", "pong", "welcome",
                     "connected", "caught_up"})
RUN_END = frozenset({"run.succeeded", "run.failed", "run.cancelled", "run.completed"})
TRAINING_END = frozenset({"training.completed", "training.failed", "training.cancelled"})
ORCHESTRATION_END = frozenset({"orchestration.completed", "orchestration.failed", "orchestration.cancelled"})
ORCHESTRATION_ENDED = frozenset({"completed", "failed", "cancelled"})  # `orchestration.status` data.status
# After an orchestration's terminal `orchestration.status`, how long to wait for its `orchestration.<status>` (the
# same commit, so at once — but only readers entitled to its error get it): then the stream ends regardless.
SETTLE_S = 2.0
DIALECT2 = frozenset({"runs", "orchestrations", "training"})  # `/v2/ws/<kind>/<id>`
_CLOSE_ERRORS: dict[int, type[errors.StellarFlowError]] = {
    4401: errors.Unauthorized, 4403: errors.Forbidden, 4404: errors.NotFound, 1008: errors.RateLimited}


@dataclass(frozen=True)
class Topic:
    kind: str  # "runs", "orchestrations", "training" (dialect 2); "swarms", "tasks", "agents" (dialect 1)
    id: str


@dataclass
class StreamSettings:
    max_reconnects: int = 5
    open_timeout: float = 10.0


def _ws_base(http_base: str) -> str:
    parts = urlsplit(http_base)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class _Protocol:
    """What to send and how to read what comes back, for one topic; shared by the sync and async loops."""

    def __init__(self, base_url: str, token: str | None, topic: Topic, since: str | None,
                 progress_only: bool = False) -> None:
        self.topic = topic
        self.progress_only = progress_only
        self.token = token
        self.last_id: str | None = since
        self.dialect2 = topic.kind in DIALECT2
        self.base = _ws_base(base_url)
        self.settling = False  # the object has ended; only its closing event may still come

    def url(self) -> str:
        if self.dialect2:
            query = f"?{urlencode({'since': self.last_id})}" if self.last_id is not None else ""
            return f"{self.base}/v2/ws/{self.topic.kind}/{self.topic.id}{query}"
        return f"{self.base}/ws"

    def opening(self) -> list[dict[str, Any]]:
        if self.dialect2:
            hello: dict[str, Any] = {"type": "authenticate", "token": self.token}
            if self.last_id is not None:
                hello["since"] = self.last_id
            return [hello]
        subscribe: dict[str, Any] = {"type": "subscribe", "channel": self.topic.kind, "channels": [self.topic.kind],
                                     "id": self.topic.id}
        if self.last_id is not None:
            subscribe["since"] = self.last_id
        return [{"type": "auth", "token": self.token}, subscribe]

    def read(self, raw: str | bytes) -> tuple[StreamEvent | None, dict[str, Any] | None]:
        """(an event to yield, a reply to send) for one frame; raises for an `error` message."""
        try:
            message = json.loads(raw)
        except ValueError:
            return None, None
        if not isinstance(message, dict):
            return None, None
        kind = message.get("type") or message.get("event")
        if kind == "ping":
            return None, {"type": "pong", "id": message.get("id")}
        if kind == "error":
            found = message.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else message
            code = str(error.get("code") or "STREAM_ERROR")
            raise errors._BY_CODE.get(code, errors.StellarFlowError)(
                str(error.get("message") or code), code=code, details=error.get("details"))
        if kind in CONTROL or kind is None or message.get("id") is None:
            return None, None
        event = StreamEvent.model_validate(message)
        self.last_id = str(event.id)
        if not self.mine(event):
            return None, None
        return event, None

    def mine(self, event: StreamEvent) -> bool:
        if self.progress_only and event.progress is None:
            return False
        if self.dialect2:
            return True
        key = f"{self.topic.kind[:-1]}_id"  # swarms → swarm_id
        owner = event.data.get(key) if isinstance(event.data, dict) else None
        return owner is None or owner == self.topic.id

    def ends(self, event: StreamEvent) -> bool:
        """A run's, an orchestration's or a training's terminal event: nothing follows it. An orchestration's
        terminal `orchestration.status` (which every reader gets) starts `settling` instead, since the
        `orchestration.completed|failed|cancelled` after it reaches only readers entitled to its error."""
        if self.topic.kind == "runs":
            return event.type in RUN_END
        if self.topic.kind == "training":
            return event.type in TRAINING_END
        if self.topic.kind == "orchestrations":
            if event.type == "orchestration.status" and event.data.get("status") in ORCHESTRATION_ENDED:
                self.settling = True
            return event.type in ORCHESTRATION_END
        return False

    def wait_s(self) -> float | None:
        """How long to wait for the next message: for ever, or while settling SETTLE_S."""
        return SETTLE_S if self.settling else None


def _close_error(code: int | None, reason: str) -> errors.StellarFlowError | None:
    kind = _CLOSE_ERRORS.get(code or 0)
    if kind is None:
        return None
    return kind(reason or f"stream closed ({code})", code=kind.__name__.upper(), status=code or 0)


class _Reconnects:
    """The reconnect policy both stream loops share: a close with an error code ends the stream with that error;
    a lost connection is retried with backoff, at most `max_reconnects` times in a row (an event resets it)."""

    def __init__(self, topic: Topic, settings: StreamSettings) -> None:
        self.topic, self.settings, self.failures = topic, settings, 0

    def closed(self, closed: Any) -> None:
        received = closed.rcvd
        error = _close_error(received.code if received else None, received.reason if received else "")
        if error is not None:
            raise error from closed

    def lost(self, exc: BaseException) -> None:
        if self.failures >= self.settings.max_reconnects:
            raise errors.TransportError(f"stream {self.topic.kind}/{self.topic.id}: {exc}",
                                        code="TRANSPORT_ERROR") from exc

    def delay(self) -> float:
        """Seconds to wait before the next attempt (raises once there have been too many)."""
        self.failures += 1
        if self.failures > self.settings.max_reconnects:
            raise errors.TransportError(f"stream {self.topic.kind}/{self.topic.id} kept closing",
                                        code="TRANSPORT_ERROR")
        return min(10.0, 0.5 * 2 ** (self.failures - 1))


async def _astream(base_url: str, token: str | None, topic: Topic, since: str | None,
                   settings: StreamSettings, progress_only: bool) -> AsyncIterator[StreamEvent]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    protocol = _Protocol(base_url, token, topic, since, progress_only)
    reconnects = _Reconnects(topic, settings)
    while True:
        try:
            async with connect(protocol.url(), open_timeout=settings.open_timeout) as socket:
                for message in protocol.opening():
                    await socket.send(json.dumps(message))
                while True:
                    try:
                        raw = await asyncio.wait_for(socket.recv(), protocol.wait_s())
                    except TimeoutError:
                        return  # settled: the closing event is not coming to this reader
                    event, reply = protocol.read(raw)
                    if reply is not None:
                        await socket.send(json.dumps(reply))
                    if event is None:
                        continue
                    reconnects.failures = 0
                    yield event
                    if protocol.ends(event):
                        return
        except ConnectionClosed as closed:
            reconnects.closed(closed)
        except (OSError, InvalidStatus, TimeoutError) as exc:
            reconnects.lost(exc)
        await asyncio.sleep(reconnects.delay())


def _stream(base_url: str, token: str | None, topic: Topic, since: str | None,
            settings: StreamSettings, progress_only: bool) -> Iterator[StreamEvent]:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    protocol = _Protocol(base_url, token, topic, since, progress_only)
    reconnects = _Reconnects(topic, settings)
    while True:
        try:
            with connect(protocol.url(), open_timeout=settings.open_timeout) as socket:
                for message in protocol.opening():
                    socket.send(json.dumps(message))
                while True:
                    try:
                        raw = socket.recv(timeout=protocol.wait_s())
                    except TimeoutError:
                        return  # settled: the closing event is not coming to this reader
                    event, reply = protocol.read(raw)
                    if reply is not None:
                        socket.send(json.dumps(reply))
                    if event is None:
                        continue
                    reconnects.failures = 0
                    yield event
                    if protocol.ends(event):
                        return
        except ConnectionClosed as closed:
            reconnects.closed(closed)
        except (OSError, InvalidStatus, TimeoutError) as exc:
            reconnects.lost(exc)
        time.sleep(reconnects.delay())


def open_stream(transport: Any, settings: StreamSettings, topic: Topic, *, since: str | None = None,
                progress_only: bool = False) -> Any:
    """An async iterator on the async client, a plain iterator on the sync one. `progress_only`: only events that
    carry a `progress` figure (what `swarms.stream_progress` yields, so `update.progress` is always a number)."""
    if transport.is_async:
        return _astream(transport.base_url, transport.token, topic, since, settings, progress_only)
    return _stream(transport.base_url, transport.token, topic, since, settings, progress_only)
