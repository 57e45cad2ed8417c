"""Live views over the API's WebSocket streams (docs/events.md): `stellarflow events --since ID` tails the event
stream (dialect 1's `/ws`), and `run --watch` / `runs show --watch` follow a run's stream (`/api/v2/ws/runs/{id}`):
its steps as a live table, its steps' stdout/stderr lines as they are written.

Synchronous (`websockets.sync`), like the rest of the CLI. A stream that cannot be opened (an older server, a proxy
without WebSocket) falls back to polling the run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import typer
from rich.live import Live
from rich.table import Table

from cli.http_client import check, credential
from cli.output import console, err_console

ENDED = ("succeeded", "failed", "cancelled")


def ws_url(http: httpx.Client, path: str) -> str:
    base = str(http.base_url).rstrip("/")
    return ("wss://" + base[len("https://"):] if base.startswith("https://")
            else "ws://" + base.removeprefix("http://")) + path


def _messages(url: str, first: dict[str, Any]) -> Iterator[dict[str, Any]]:
    from websockets.sync.client import connect

    with connect(url, open_timeout=10, close_timeout=2, max_size=None) as socket_:
        socket_.send(json.dumps(first))
        for raw in socket_:
            yield json.loads(raw)


def _closed_reason(err: Exception) -> str:
    rcvd = getattr(err, "rcvd", None)
    return f"{rcvd.code} {rcvd.reason}" if rcvd is not None else str(err)


def follow_run(http: httpx.Client, run_id: str, table: Callable[[dict], Table],
               on_update: Callable[[dict], None] | None = None) -> dict:
    """Show the run live until it ends (its table, and its log lines above it); returns its final state.
    `on_update` sees each new state of the run (approval prompts)."""
    update = on_update or (lambda _run: None)
    from websockets.exceptions import WebSocketException

    current = check(http.get(f"/api/v2/runs/{run_id}"))["data"]
    if current["status"] in ENDED:
        console.print(table(current))
        return current
    url = ws_url(http, f"/api/v2/ws/runs/{run_id}")
    try:
        with Live(table(current), console=console, refresh_per_second=8) as live:
            for message in _messages(url, {"type": "authenticate", "token": f"Bearer {credential() or ''}",
                                           "since": 0}):
                kind = message.get("type")
                if kind == "error":
                    raise RuntimeError(message["error"].get("message"))
                if kind == "step.log":
                    data = message["data"]
                    style = "red" if data.get("stream") == "stderr" else "dim"
                    live.console.print(f"[{style}]{data.get('step')} |[/] {data.get('line', '')}",
                                       markup=True, highlight=False)
                elif kind == "run.state":
                    current = message["data"]
                    live.update(table(current))
                    update(current)
                elif kind and (kind.startswith("step.") or kind.startswith("run.")):
                    current = check(http.get(f"/api/v2/runs/{run_id}"))["data"]
                    live.update(table(current))
                    update(current)
                    if kind.removeprefix("run.") in ENDED:
                        return current
    except (OSError, WebSocketException, RuntimeError) as err:
        err_console.print(f"[yellow]live stream unavailable ({_closed_reason(err)}); polling[/]")
    with Live(table(current), console=console, refresh_per_second=8) as live:
        while current["status"] not in ENDED:
            time.sleep(0.5)
            current = check(http.get(f"/api/v2/runs/{run_id}"))["data"]
            live.update(table(current))
            update(current)
    return current


def events(
    since: int | None = typer.Option(None, "--since", help="resume after this event id (every later event once)"),
    channel: list[str] | None = typer.Option(None, "--channel", "-c",
                                             help="agents, tasks, swarms, runs, workflows (default: all)"),
    limit: int | None = typer.Option(None, "--limit", help="exit after this many events"),
) -> None:
    """Tail the event stream as JSON lines (`{"id", "type", "data"}`); resume with --since <last id>. Example:
    `stellarflow events --since 1200`"""
    from websockets.exceptions import WebSocketException

    from cli.http_client import client

    with client() as http:
        url = ws_url(http, "/ws")
    channels = channel or ["agents", "tasks", "swarms", "runs"]
    subscribe: dict[str, Any] = {"type": "subscribe", "channels": channels}
    if since is not None:
        subscribe["since"] = since
    shown = 0
    try:
        from websockets.sync.client import connect

        with connect(url, open_timeout=10, close_timeout=2, max_size=None) as socket_:
            socket_.send(json.dumps({"type": "auth", "token": credential() or ""}))
            for raw in socket_:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "authenticated":
                    socket_.send(json.dumps(subscribe))
                elif kind == "error":
                    err_console.print(f"[red]✗[/] {message['error'].get('message')}")
                    raise typer.Exit(2)
                elif kind not in ("subscribed", "pong"):
                    print(json.dumps(message), flush=True)
                    shown += 1
                    if limit is not None and shown >= limit:
                        return
    except WebSocketException as err:
        err_console.print(f"[red]✗[/] stream closed: {_closed_reason(err)}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        return
