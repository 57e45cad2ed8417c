"""`stellarflow`: start the stack, run and inspect workflows, validate definitions, manage users and keys.

One module per job, assembled here into one typer app:

- `cli.supervisor`: `up`, `worker`, `api` — start processes;
- `cli.definitions`: `validate`, `schema` — definition files, offline;
- `cli.client`: `run`, `runs`, `keys` (and `cli.run_actions`: `runs logs|approve|reject`) — talk to the API over
  HTTP, like any other client, with `STELLARFLOW_TOKEN`, else the API key `stellarflow up` wrote to
  `<data dir>/cli.key`, else the stack `up` last started (`cli.http_client`, `cli.profile`);
- `cli.resources`: `workflows`, `agents`, `tasks`, `swarms`, `memory` — the API's objects, over HTTP like `cli.client`;
- `cli.capabilities`: `orchestrations`, `github`, `neural` — dialect 2's long-running work, over HTTP likewise;
- `cli.admin`: `bootstrap`, `users`, `db`, `reconcile` — work on the database directly (an operator's commands);
- `cli.mcp`: `mcp` — the MCP server over stdio, as the user of `STELLARFLOW_API_KEY` (`mcp_server`).

Commands import what they need inside themselves, so the CLI starts fast and `up` never imports the API. The
CLI never imports `activities` or `workflows`; it may use `core`.
"""

from __future__ import annotations

import os
import sys

import httpx
import typer

from cli import admin, capabilities, client, definitions, help_style, mcp, resources, run_actions, supervisor
from cli.output import err_console

help_style.install()

app = typer.Typer(
    help="StellarFlow: durable workflows and agent swarms on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Registration order is the order of `stellarflow --help` (commands first, then the groups, each as added).
supervisor.register(app)
definitions.register(app)
client.register(app)
run_actions.register(client.runs_app)
resources.register(app)
capabilities.register(app)
admin.register(app)
mcp.register(app)


def main() -> None:
    """Console-script entry: flush and leave with the command's own exit code (see TEMPORAL-NOTES: a
    Temporal client can abort at interpreter exit)."""
    try:
        app()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except httpx.TransportError as error:
        from cli.profile import api_url
        from core.settings import get_settings

        err_console.print(f"[red]✗[/] the API is not reachable at {api_url(get_settings().api_url)} ({error}); "
                          "start the stack with `make up` or `stellarflow up`")
        code = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
