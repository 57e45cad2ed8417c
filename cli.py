"""`stellarflow`: start the stack, run and inspect workflows, validate definitions, manage users and keys.

The run/runs/keys commands talk to the API over HTTP, like any other client, with `STELLARFLOW_TOKEN` or else
the API key `stellarflow up` wrote to `<data dir>/cli.key`; `up`, `worker` and `api` start processes;
`users create` works on the database directly (an operator's command).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

app = typer.Typer(
    help="StellarFlow: durable workflows and agent swarms on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(pretty_exceptions_enable=False, help="Inspect and cancel runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
keys_app = typer.Typer(pretty_exceptions_enable=False, help="Your API keys (through the API).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(pretty_exceptions_enable=False, help="Users (on the database directly).",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")
console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {"succeeded": "green", "failed": "red", "running": "cyan", "pending": "dim",
                "skipped": "yellow", "cancelled": "magenta"}


# ---- processes ---------------------------------------------------------------------------------------


def _apply_overrides(**values: Any) -> None:
    """Flags win over the environment; exporting them makes child processes read the same settings."""
    for name, value in values.items():
        if value is not None:
            os.environ[f"STELLARFLOW_{name.upper()}"] = str(value)
    from core.settings import reset_settings

    reset_settings()


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(procs: list[tuple[str, subprocess.Popen]]) -> None:
    for _name, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT if _name != "temporal" else signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _name, proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@app.command()
def up(
    data_dir: Annotated[Path | None, typer.Option(help="where databases and workspaces live")] = None,
    api_port: Annotated[int | None, typer.Option(help="API port")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal frontend port")] = None,
    ui_port: Annotated[int | None, typer.Option(help="Temporal UI port")] = None,
) -> None:
    """Start the Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker and the API."""
    _apply_overrides(data_dir=data_dir, api_port=api_port, temporal_port=temporal_port, ui_port=ui_port)
    from core.auth.bootstrap import bootstrap
    from core.auth.secret import SecretError
    from core.settings import get_settings
    from core.temporal import dev_server_command

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    procs: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.temporal_address is None:
            log_file = open(settings.data_dir / "temporal.log", "ab")  # noqa: SIM115 - lives as long as the server
            server = subprocess.Popen(dev_server_command(settings), stdout=log_file, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            procs.append(("temporal", server))
            if not _wait_for_port("127.0.0.1", settings.temporal_port, 60, server):
                raise typer.Exit(_fail(f"Temporal dev server did not start; see {settings.data_dir}/temporal.log"))
            console.print(f"[green]✓[/] Temporal dev server on 127.0.0.1:{settings.temporal_port} "
                          f"(history in {settings.data_dir / 'temporal.db'})")
        else:
            console.print(f"[green]✓[/] using Temporal at {settings.temporal_address}")
        try:
            first_start = bootstrap(settings)  # creates/migrates the database, the server secret, the admin
        except SecretError as error:
            raise typer.Exit(_fail(str(error))) from None
        procs.append(("worker", subprocess.Popen([sys.executable, "-m", "worker"], start_new_session=True)))
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.api_host,
             "--port", str(settings.api_port), "--log-level", "warning"],
            start_new_session=True,
        )
        procs.append(("api", api))
        if not _wait_for_port(settings.api_host, settings.api_port, 60, api):
            raise typer.Exit(_fail("the API did not start"))
        console.print(f"[green]✓[/] worker on task queue [bold]{settings.task_queue}[/]")
        console.print(f"[green]✓[/] API docs     [link]{settings.api_url}/docs[/link]")
        if settings.temporal_address is None:
            console.print(f"[green]✓[/] Temporal UI  [link]{settings.ui_url}[/link]")
        _print_access(settings, first_start)
        console.print("Press Ctrl-C to stop all of it.")
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    raise typer.Exit(_fail(f"{name} exited with code {proc.returncode}"))
            time.sleep(0.2)
        console.print("stopping…")
    finally:
        _stop(procs)
    console.print("stopped.")


def _print_access(settings: Any, first_start: Any) -> None:
    """How to get a token. The admin's password exists only here, on the first start, and is never stored."""
    import json

    def login_line(username: str, password: str) -> str:
        body = json.dumps({"username": username, "password": password})
        return (f"  get a token: curl -s -X POST {settings.api_url}/api/v2/auth/login "
                f"-H 'content-type: application/json' -d '{body}'")

    plain = {"markup": False, "highlight": False, "soft_wrap": True}
    if first_start.admin is not None:
        username, password = first_start.admin.username, first_start.password
        console.print("[green]✓[/] created the admin user — its password is shown once, keep it now:")
        console.print(f"    username {username}   password {password}", **plain)
        console.print(login_line(username, password), **plain)
    else:
        console.print(login_line("<user>", "<password>"), **plain)
    console.print('  then send it: curl -H "Authorization: Bearer $TOKEN" ...   more users: stellarflow users create',
                  **plain)
    if settings.cli_key_file.exists():
        written = " (new)" if first_start.cli_key_file else ""
        console.print(f"  the stellarflow CLI signs in with the API key in {settings.cli_key_file}{written}", **plain)


def _fail(message: str) -> int:
    err_console.print(f"[red]✗[/] {message}")
    return 1


@app.command()
def worker() -> None:
    """Run one worker (any number may run against one cluster)."""
    import worker as worker_module

    worker_module.main()


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the API server."""
    _apply_overrides(api_host=host, api_port=port)
    import uvicorn

    from core.settings import get_settings

    settings = get_settings()
    uvicorn.run("api.main:app", host=settings.api_host, port=settings.api_port)


# ---- definitions -------------------------------------------------------------------------------------


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="definition files")]) -> None:
    """Validate definitions; exits non-zero if any has an error."""
    from core.dsl.validate import validate_files

    failed = 0
    for path, error in validate_files(files):
        if error is None:
            console.print(f"[green]✓[/] {path}")
        else:
            failed += 1
            err_console.print(f"[red]✗[/] {path}")
            err_console.print(str(error), markup=False, highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of workflow definitions (also at docs/workflow.schema.json)."""
    from core.dsl.schema import render_schema

    sys.stdout.write(render_schema())


# ---- runs --------------------------------------------------------------------------------------------


def _credential() -> str | None:
    """`STELLARFLOW_TOKEN` (a JWT or an API key), else the key `stellarflow up` wrote to `<data dir>/cli.key`."""
    token = os.environ.get("STELLARFLOW_TOKEN", "").strip()
    if token:
        return token
    from core.settings import get_settings

    try:
        return get_settings().cli_key_file.read_text().strip() or None
    except OSError:
        return None


def _client() -> httpx.Client:
    from core.settings import get_settings

    credential = _credential()
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    return httpx.Client(base_url=get_settings().api_url, timeout=30, headers=headers)


def _check(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {"message": response.text}
        err_console.print(f"[red]✗[/] {response.status_code} {error.get('code', '')}: {error.get('message', '')}")
        for detail in error.get("details") or []:
            where = f" (line {detail['line']})" if detail.get("line") else ""
            err_console.print(f"  - {detail.get('field')}{where}: {detail.get('message')}", markup=False)
        if response.status_code == 401:
            from core.settings import get_settings

            err_console.print(f"  set STELLARFLOW_TOKEN to a token or API key, or run `stellarflow up` once to write "
                              f"{get_settings().cli_key_file}", markup=False)
        raise typer.Exit(2)
    return response.json() if response.content else {}


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise typer.BadParameter(f"--input expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        inputs[key.strip()] = value
    return inputs


def _steps_table(run: dict) -> Table:
    table = Table(title=f"{run['id']}  [{STATUS_STYLE.get(run['status'], '')}]{run['status']}[/]", expand=False)
    for column in ("step", "action", "status", "attempts", "duration", "detail"):
        table.add_column(column)
    for step in run.get("steps", []):
        duration = ""
        if step.get("startedAt") and step.get("endedAt"):
            from datetime import datetime

            start = datetime.fromisoformat(step["startedAt"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(step["endedAt"].replace("Z", "+00:00"))
            duration = f"{(end - start).total_seconds():.2f}s"
        detail = step.get("error") or step.get("reason") or ""
        if step.get("approval", {}).get("status") == "waiting":
            detail = "waiting for approval"
        style = STATUS_STYLE.get(step["status"], "")
        table.add_row(step["id"], step["action"], f"[{style}]{step['status']}[/]", str(step.get("attempts", 0)),
                      duration, detail[:80])
    return table


@app.command()
def run(
    target: Annotated[str, typer.Argument(help="a definition file, or the id of a stored workflow")],
    input: Annotated[list[str] | None, typer.Option("--input", "-i", help="key=value, repeatable")] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="show live progress until the run ends")] = False,
) -> None:
    """Start a run; with --watch, exit non-zero unless it succeeds."""
    inputs = _parse_inputs(input or [])
    with _client() as client:
        path = Path(target)
        workflow_id = target
        if path.exists():
            from core.dsl.validate import DefinitionError, load_file

            try:
                definition = load_file(path)
            except DefinitionError as error:
                err_console.print(str(error), markup=False)
                raise typer.Exit(2) from None
            workflow_id = path.stem
            _check(client.put(f"/api/v2/workflows/{workflow_id}", json=definition.dump()))
        started = _check(client.post(f"/api/v2/workflows/{workflow_id}/runs", json={"inputs": inputs}))["data"]
        console.print(f"run [bold]{started['id']}[/] started — Temporal UI: {started['links']['temporalUi']}")
        if not watch:
            return
        current = started
        with Live(_steps_table(current), console=console, refresh_per_second=8) as live:
            while current["status"] not in ("succeeded", "failed", "cancelled"):
                time.sleep(0.25)
                current = _check(client.get(f"/api/v2/runs/{started['id']}"))["data"]
                live.update(_steps_table(current))
        if current.get("error"):
            err_console.print(f"[red]{current['error']}[/]")
        raise typer.Exit(0 if current["status"] == "succeeded" else 1)


@runs_app.command("list")
def runs_list(
    workflow: Annotated[str | None, typer.Option(help="only runs of this workflow")] = None,
    status: Annotated[str | None, typer.Option(help="only runs in this status")] = None,
    limit: Annotated[int, typer.Option(max=100)] = 20,
) -> None:
    params: dict[str, Any] = {"page[size]": limit}
    if status:
        params["filter[status]"] = status
    url = f"/api/v2/workflows/{workflow}/runs" if workflow else "/api/v2/runs"
    with _client() as client:
        body = _check(client.get(url, params=params))
    table = Table()
    table.add_column("run", no_wrap=True, min_width=30)  # ids must stay whole: they are pasted into commands
    for column in ("workflow", "version", "status", "created", "duration"):
        table.add_column(column)
    for item in body["data"]:
        duration = f"{item['durationMs'] / 1000:.2f}s" if item.get("durationMs") is not None else ""
        table.add_row(item["id"], item["workflowId"], str(item["version"]),
                      f"[{STATUS_STYLE.get(item['status'], '')}]{item['status']}[/]", item["createdAt"][:19], duration)
    console.print(table)


@runs_app.command("show")
def runs_show(run_id: str) -> None:
    with _client() as client:
        body = _check(client.get(f"/api/v2/runs/{run_id}"))["data"]
    console.print(_steps_table(body))
    console.print(f"Temporal UI: {body['links']['temporalUi']}")


@runs_app.command("cancel")
def runs_cancel(run_id: str) -> None:
    with _client() as client:
        body = _check(client.post(f"/api/v2/runs/{run_id}/cancel"))["data"]
    console.print(f"cancellation requested for [bold]{body['id']}[/] (status {body['status']})")


# ---- keys and users ----------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    expires_in: Annotated[int | None, typer.Option(help="seconds until it expires; default never")] = None,
) -> None:
    """Create an API key; it is printed once, here."""
    body: dict[str, Any] = {"name": name}
    if expires_in is not None:
        body["expiresIn"] = expires_in
    with _client() as client:
        created = _check(client.post("/api/v2/auth/keys", json=body))["data"]
    console.print(f"[green]✓[/] API key [bold]{created['id']}[/] ({created['name']}) — shown once, store it now:")
    print(created["key"], flush=True)


@keys_app.command("list")
def keys_list() -> None:
    """Your API keys (never the keys themselves)."""
    with _client() as client:
        items = _check(client.get("/api/v2/auth/keys"))["data"]
    table = Table()
    table.add_column("id", no_wrap=True, min_width=30)
    for column in ("name", "prefix", "created", "last used", "expires"):
        table.add_column(column)
    for item in items:
        table.add_row(item["id"], item["name"], item["prefix"] + "…", (item["createdAt"] or "")[:19],
                      (item["lastUsedAt"] or "never")[:19], (item["expiresAt"] or "never")[:19])
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    with _client() as client:
        _check(client.delete(f"/api/v2/auth/keys/{key_id}"))
    console.print(f"[green]✓[/] revoked {key_id}")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="admin, developer or viewer")] = "developer",
    email: Annotated[str | None, typer.Option()] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    tier: Annotated[str, typer.Option(help="free, pro or enterprise (rate limits and quotas)")] = "free",
    prompt_password: Annotated[bool, typer.Option(help="type the password instead of generating one")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="where the database lives")] = None,
) -> None:
    """Create a user in the database. The password comes from STELLARFLOW_NEW_PASSWORD, a prompt
    (--prompt-password), or is generated and printed once."""
    _apply_overrides(data_dir=data_dir)
    from core.auth import passwords, users
    from core.errors import DomainError

    password = os.environ.get("STELLARFLOW_NEW_PASSWORD") or None
    if password is None and prompt_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    password = password or passwords.generate()
    try:
        user = users.create_user(username, password, email=email, full_name=full_name, role=role, tier=tier)
    except DomainError as error:
        err_console.print(f"[red]✗[/] {error.code}: {error.message}", markup=True)
        for detail in error.details or []:
            err_console.print(f"  - {detail.get('field')}: {detail.get('message')}", markup=False)
        raise typer.Exit(2) from None
    console.print(f"[green]✓[/] user [bold]{user.username}[/] ({user.id}), role {user.role}, tier {user.tier}")
    if generated:
        console.print("  password (shown once, keep it now):", highlight=False)
        print(password, flush=True)


def main() -> None:
    """Console-script entry: flush and leave with the command's own exit code (see TEMPORAL-NOTES: a
    Temporal client can abort at interpreter exit)."""
    try:
        app()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except httpx.TransportError as error:
        from core.settings import get_settings

        err_console.print(f"[red]✗[/] the API is not reachable at {get_settings().api_url} ({error}); "
                          "start the stack with `make up` or `stellarflow up`")
        code = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
