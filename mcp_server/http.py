"""Streamable HTTP: the ASGI endpoint the API mounts at `/mcp`.

Each request must carry `Authorization: Bearer <JWT access token or API key>`, checked by `core.auth` as every REST
request is (none, bad, expired or revoked → 401 with `WWW-Authenticate: Bearer`); the caller is left in the ASGI
scope's state, where the MCP handlers find it (`StellarFlowMCP.identity_of`).

The session manager runs **stateless** with JSON responses: the API keeps no process-local state, so any replica
behind a load balancer can answer any request of a session. Its `run()` (a task group) must be open while requests
arrive: the first request starts it, and the API's lifespan stops it (`stop()`). DNS-rebinding
checks are off: they guard cookie- or origin-trusting local servers, while every request here needs a bearer
credential a rebinding page cannot send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from core.errors import DomainError, Unauthorized
from core.settings import Settings
from mcp_server.identity import identify
from mcp_server.server import IDENTITY_STATE, StellarFlowMCP


class McpHttpEndpoint:
    def __init__(self, mcp: StellarFlowMCP, settings: Callable[[], Settings]) -> None:
        self.mcp = mcp
        self.settings = settings
        self.manager: StreamableHTTPSessionManager | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Start the session manager (once; a manager runs once) in a task of its own: its task group must be left
        by the task that entered it, which neither a request nor a lifespan driven by a test harness guarantees."""
        async with self._lock:
            if self._task is not None:
                return
            manager = StreamableHTTPSessionManager(
                app=self.mcp.server, json_response=True, stateless=True,
                security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
            started = asyncio.Event()
            self._stop = asyncio.Event()

            async def hold(stop: asyncio.Event) -> None:
                async with manager.run():
                    self.manager = manager
                    started.set()
                    try:
                        await stop.wait()
                    finally:
                        self.manager = None

            self._task = asyncio.create_task(hold(self._stop), name="mcp-session-manager")
            waiting = asyncio.create_task(started.wait())
            await asyncio.wait({self._task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if self._task.done():
                task, self._task = self._task, None
                task.result()  # it failed to start: raise why

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            await task

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not credential.strip():
                raise Unauthorized("Authentication required: send Authorization: Bearer <token or API key>")
            identity = await asyncio.to_thread(identify, self.settings(), credential.strip())
        except DomainError as err:
            await _answer(send, err.status, err.code, err.message, getattr(err, "headers", {}))
            return
        if scope["method"] != "POST":
            # Stateless: nothing is ever sent unasked, so no stream to GET and no session to DELETE. The spec's
            # answer is 405; an open GET stream would only hold a connection per client for nothing.
            await _answer(send, 405, "METHOD_NOT_ALLOWED", "This MCP endpoint takes POST only (stateless: no "
                          "server-initiated stream, no sessions)", {"Allow": "POST"})
            return
        if self.manager is None:
            await self.start()
        scope.setdefault("state", {})[IDENTITY_STATE] = identity
        await self.manager.handle_request(scope, receive, send)


async def _answer(send, status: int, code: str, message: str, headers: dict[str, str]) -> None:  # noqa: ANN001
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
