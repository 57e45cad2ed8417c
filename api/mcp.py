"""Mounting the MCP server (`mcp_server`) in the API: Streamable HTTP at `/mcp`, and the server object the
`/mcp/v1/*` façade (api/dialect1/routes/mcp.py) calls. The endpoint authenticates each request itself
(`mcp_server.http`), with the same credentials as every REST route.

Lazily: the MCP SDK is a sizeable import — `python -X importtime -c "import api.main, mcp_server.server"` measured
`mcp_server.server` at 2.8–3.6 s on top of `api.main`'s 5.9–8.4 s on a loaded 2-core machine — so it is loaded by
the first MCP request, not by every API start. The first `/mcp` request also starts the Streamable HTTP session
manager; the API's lifespan stops it (`aclose`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.routing import Route

from api.common.deps import app_client

if TYPE_CHECKING:
    from mcp_server.http import McpHttpEndpoint
    from mcp_server.server import StellarFlowMCP

PATH = "/mcp"


class LazyMcp:
    """`app.state.mcp`: the MCP server and its HTTP endpoint, built on first use; also the ASGI app at `/mcp`."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self._server: StellarFlowMCP | None = None
        self._endpoint: McpHttpEndpoint | None = None
        self._lock = asyncio.Lock()

    def server(self) -> StellarFlowMCP:
        if self._server is None:
            from mcp_server.server import StellarFlowMCP

            state = self.state

            async def client():  # noqa: ANN202
                return await app_client(state)

            self._server = StellarFlowMCP(lambda: state.settings, client, started=state.started)
        return self._server

    async def endpoint(self) -> McpHttpEndpoint:
        if self._endpoint is None:
            async with self._lock:
                if self._endpoint is None:
                    from mcp_server.http import McpHttpEndpoint

                    self._endpoint = McpHttpEndpoint(self.server(), lambda: self.state.settings)
        return self._endpoint

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI
        await (await self.endpoint())(scope, receive, send)

    async def aclose(self) -> None:
        if self._endpoint is not None:
            await self._endpoint.stop()


def install(app: FastAPI) -> LazyMcp:
    mcp = LazyMcp(app.state)
    app.state.mcp = mcp
    # A plain route on the exact path (a Mount would answer `/mcp` with a redirect to `/mcp/`); an ASGI endpoint,
    # so every method reaches it: 401 without a credential whatever the method, 405 for all but POST.
    app.router.routes.append(Route(PATH, endpoint=mcp))
    return mcp
