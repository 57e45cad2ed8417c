"""stdio: `stellarflow mcp`, for MCP clients that start the server as a subprocess (Claude Code, Cursor, …).

One user per process: the API key (or access token) in `STELLARFLOW_API_KEY` is checked by `core.auth` at start and
again on every request (so revoking the key, or changing the user's role, applies at once, as over REST), and
every request acts for that user. The process talks to the database and Temporal directly, with
the same settings as the API (`DATABASE_URL`, `TEMPORAL_ADDRESS`, `STELLARFLOW_DATA_DIR`, …). Nothing but protocol
messages may go to stdout; logs go to stderr.
"""

from __future__ import annotations

import asyncio

from mcp.server.stdio import stdio_server
from temporalio.client import Client

from core.errors import Unavailable
from core.settings import Settings
from core.system.startup import open_database
from mcp_server.identity import identify
from mcp_server.server import StellarFlowMCP


def build(settings: Settings, credential: str) -> StellarFlowMCP:
    """Check the credential (raises Unauthorized) and build the server acting for its user."""
    open_database()
    identify(settings, credential)  # refused at start, with a clear message, rather than at the first request
    lock = asyncio.Lock()
    connected: list[Client] = []

    async def client() -> Client:
        async with lock:
            if not connected:
                from core.temporal import connect

                try:
                    connected.append(await asyncio.wait_for(connect(settings), timeout=10))
                except Exception as err:
                    raise Unavailable(f"Temporal is not reachable at {settings.temporal_target}") from err
        return connected[0]

    return StellarFlowMCP(lambda: settings, client, identify=lambda: identify(settings, credential))


async def serve(mcp: StellarFlowMCP) -> None:
    async with stdio_server() as (read_stream, write_stream):
        await mcp.server.run(read_stream, write_stream, mcp.server.create_initialization_options())
