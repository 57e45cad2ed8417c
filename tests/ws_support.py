"""Serving the real app over a real socket for the WebSocket tests: uvicorn in this event loop on a free port
(httpx's ASGI transport speaks no WebSocket), and a `websockets` client helper."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

from core.events.contracts import EntityRecord
from core.events.models import Event


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` (lifespan included) on 127.0.0.1; yields its ws:// base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           ws="auto"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def receive(socket_: Any, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket_.recv(), timeout))


async def receive_until(socket_: Any, predicate, timeout: float = 20.0) -> tuple[dict[str, Any], list[dict]]:
    """Messages until one matches; returns it and everything received before it."""
    seen: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = await receive(socket_, max(left, 0.01))
        if predicate(message):
            return message, seen
        seen.append(message)


def connect(url: str, **options: Any):
    return websockets.connect(url, open_timeout=10, close_timeout=2, **options)


async def write_events(resource_id: str, events: list[tuple[str, dict[str, Any]]], start_seq: int = 1) -> None:
    """Events through the one write path the worker uses (`core.events.store.record`), without a projection."""
    from core.events.store import record

    now = datetime.now(UTC)
    request = EntityRecord(kind="none", id=resource_id, seq=start_seq + len(events), snapshot={},
                           events=[Event(seq=start_seq + i, type=t, at=now, data=d) for i, (t, d) in enumerate(events)])
    await asyncio.to_thread(record, request, None)


class RawClient:
    """A WebSocket client that stops reading when told: the `websockets` client buffers whatever arrives without
    bound, so only a plain socket shows the server what a really slow client looks like (a full TCP window)."""

    def __init__(self, url: str) -> None:
        import os
        from urllib.parse import urlparse

        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        self.sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        self._random = os.urandom

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = self._random(4)
        n = len(payload)
        length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        self.sock.sendall(bytes([0x81]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed without a close frame")
            data += chunk
        return data

    def close_frame(self) -> tuple[int | None, str]:
        """Read (and discard) frames until the server's close frame: its code and reason; (None, "") when the
        server dropped the connection without one (uvicorn's sans-I/O implementation cannot write a close frame
        behind a full window)."""
        try:
            return self._close_frame()
        except ConnectionError:
            return None, ""

    def _close_frame(self) -> tuple[int, str]:
        while True:
            first, second = self._exactly(2)
            n = second & 0x7F
            if n == 126:
                n = int.from_bytes(self._exactly(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exactly(8), "big")
            payload = self._exactly(n)
            if first & 0x0F == 0x8:
                return int.from_bytes(payload[:2], "big"), payload[2:].decode()

    def close(self) -> None:
        self.sock.close()
