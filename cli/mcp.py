"""`stellarflow mcp`: the MCP server over stdio, for MCP clients that start it as a subprocess (docs/mcp.md).

It signs in with `STELLARFLOW_API_KEY` (or `STELLARFLOW_TOKEN`): a key of the user the agent should act as. It does
not fall back to `<data dir>/cli.key`, which is the first admin's: an agent gets a key of its own user, with that
user's role. Everything but protocol messages goes to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import typer

from cli.output import err_console

ENV_KEYS = ("STELLARFLOW_API_KEY", "STELLARFLOW_TOKEN")


def register(app: typer.Typer) -> None:
    app.command(name="mcp")(mcp)


def mcp() -> None:
    """The MCP server over stdio, for Claude Code, Cursor and other MCP clients, acting as the user of
    STELLARFLOW_API_KEY (docs/mcp.md). Example: `claude mcp add --transport stdio --env STELLARFLOW_API_KEY=sf_…
    stellarflow -- stellarflow mcp`"""
    credential = next((os.environ[name].strip() for name in ENV_KEYS if os.environ.get(name, "").strip()), None)
    if credential is None:
        err_console.print("[red]✗[/] set STELLARFLOW_API_KEY to an API key of the user the MCP client acts as "
                          "(`stellarflow keys create`, or POST /api/auth/keys)")
        raise typer.Exit(2)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from core.errors import Unauthorized
    from core.settings import get_settings
    from mcp_server.stdio import build, serve

    try:
        server = build(get_settings(), credential)
    except Unauthorized as err:
        err_console.print(f"[red]✗[/] STELLARFLOW_API_KEY was refused: {err.message}")
        raise typer.Exit(2) from None
    asyncio.run(serve(server))
