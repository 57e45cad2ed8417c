"""Mounting the MCP server (`mcp_server`) in the API: Streamable HTTP at `/mcp`, and the server object the
`/mcp/v1/*` façade (api/dialect1/routes/mcp.py) calls. The endpoint authenticates each request itself
(`mcp_server.http`), with the same credentials as every REST route; its session manager runs inside the API's
lifespan (`api.main`)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route

from api.common.deps import app_client
from mcp_server.http import McpHttpEndpoint
from mcp_server.server import StellarFlowMCP

PATH = "/mcp"


def install(app: FastAPI) -> McpHttpEndpoint:
    state = app.state

    async def client():  # noqa: ANN202
        return await app_client(state)

    server = StellarFlowMCP(lambda: state.settings, client)
    endpoint = McpHttpEndpoint(server, lambda: state.settings)
    state.mcp = server
    state.mcp_http = endpoint
    # A plain route on the exact path (a Mount would answer `/mcp` with a redirect to `/mcp/`); an ASGI endpoint,
    # so every method (POST, GET, DELETE) reaches the transport, which answers what it does not serve.
    app.router.routes.append(Route(PATH, endpoint=endpoint))
    return endpoint
