"""The process supervisor: `up` starts and watches the whole local stack, `worker` and `api` run one part of it.

These commands start processes rather than talk to them, so they share nothing with the HTTP client commands.
`up` runs the worker and the API as child processes and must never import the API itself (that stays lazy,
in the children), so the CLI starts fast.
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

import typer

from cli.output import console, err_console
from cli.overrides import apply_overrides
from cli.supervision import Child, StackStopped, Supervisor


def register(app: typer.Typer) -> None:
    """Add `up`, `worker` and `api` to the app, in the order `--help` lists them."""
    app.command()(up)
    app.command()(worker)
    app.command()(api)


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


def _port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on `port` (binding is the only reliable test: a connect can fail for a
    listener that is there, and succeed through a proxy that is not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def taken_ports(settings: Any) -> list[str]:
    """A line per port `up` needs that is already taken, naming what it was for and how to choose another."""
    wanted = [("API", settings.api_host, settings.api_port, "--api-port", "STELLARFLOW_API_PORT")]
    if settings.temporal_address is None:
        wanted += [("Temporal", "127.0.0.1", settings.temporal_port, "--temporal-port", "STELLARFLOW_TEMPORAL_PORT"),
                   ("Temporal UI", "127.0.0.1", settings.ui_port, "--ui-port", "STELLARFLOW_UI_PORT")]
    return [f"port {port} ({what}) on {host} is already in use — is another `stellarflow up` running? Stop it, or "
            f"choose another port with {flag} or {variable}"
            for what, host, port, flag, variable in wanted if _port_in_use(host, port)]


def up(
    data_dir: Annotated[Path | None, typer.Option(help="databases and secrets (workspaces: beside it)")] = None,
    api_port: Annotated[int | None, typer.Option(help="API port")] = None,
    temporal_port: Annotated[int | None, typer.Option(help="Temporal frontend port")] = None,
    ui_port: Annotated[int | None, typer.Option(help="Temporal UI port")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="how many worker processes to run")] = 1,
) -> None:
    """Start the Temporal dev server (unless TEMPORAL_ADDRESS is set), the worker(s) and the API, and keep them up:
    a worker or the API that exits is restarted with backoff; the dev server's exit, or a crash loop, stops all.
    Example: `stellarflow up --api-port 8001 --workers 2`"""
    apply_overrides(data_dir=data_dir, api_port=api_port, temporal_port=temporal_port, ui_port=ui_port)
    from core.auth.bootstrap import bootstrap
    from core.auth.secret import SecretError
    from core.datadir import secure
    from core.settings import get_settings
    from core.temporal import dev_server_command

    settings = get_settings()
    taken = taken_ports(settings)
    if taken:
        for line in taken:
            _fail(line)
        raise typer.Exit(1)
    secure(settings)  # 0700, before the first secret or database file lands in it
    if not _sandbox_line(settings):
        raise typer.Exit(1)
    supervisor = Supervisor(say=lambda line: console.print(f"[yellow]![/] {line}", markup=True, highlight=False))
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        if settings.temporal_address is None:
            log_file = open(settings.data_dir / "temporal.log", "ab")  # noqa: SIM115 - lives as long as the server
            server = supervisor.add(Child(
                "Temporal dev server", essential=True, stop_signal=signal.SIGTERM,
                start=lambda: subprocess.Popen(dev_server_command(settings), stdout=log_file,
                                               stderr=subprocess.STDOUT, start_new_session=True)))
            if not _wait_for_port("127.0.0.1", settings.temporal_port, 60, server.proc):
                raise typer.Exit(_fail(f"Temporal dev server did not start; see {settings.data_dir}/temporal.log"))
            console.print(f"[green]✓[/] Temporal dev server on 127.0.0.1:{settings.temporal_port} "
                          f"(history in {settings.data_dir / 'temporal.db'})")
        else:
            console.print(f"[green]✓[/] using Temporal at {settings.temporal_address}")
        try:
            first_start = bootstrap(settings)  # creates/migrates the database, the server secret, the admin
        except SecretError as error:
            raise typer.Exit(_fail(str(error))) from None
        worker_children = [
            supervisor.add(Child(f"worker-{n}" if workers > 1 else "worker",
                                 start=lambda env=_worker_env(settings, n): subprocess.Popen(
                                     [sys.executable, "-m", "worker"], start_new_session=True, env=env)))
            for n in range(1, workers + 1)
        ]
        api = supervisor.add(Child("API", start=lambda: subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--host", settings.api_host,
             "--port", str(settings.api_port), "--log-level", "warning"],
            start_new_session=True)))
        if not _wait_for_port(settings.api_host, settings.api_port, 60, api.proc):
            raise typer.Exit(_fail("the API did not start"))
        pids = ", ".join(str(child.pid) for child in worker_children)
        console.print(f"[green]✓[/] {len(worker_children)} worker{'s' if workers > 1 else ''} on task queue "
                      f"[bold]{settings.task_queue}[/] (pid {pids})")
        if settings.worker_metrics_address:
            first, last = (_worker_env(settings, n)["STELLARFLOW_WORKER_METRICS_ADDRESS"] for n in (1, workers))
            console.print(f"[green]✓[/] worker metrics (Prometheus) on {first}"
                          + (f" … {last}" if workers > 1 else ""))
        console.print(f"[green]✓[/] API docs     [link]{settings.api_url}/docs[/link]")
        if settings.temporal_address is None:
            console.print(f"[green]✓[/] Temporal UI  [link]{settings.ui_url}[/link]")
        _print_access(settings, first_start)
        console.print("Press Ctrl-C to stop all of it.")
        while not stopping:
            try:
                supervisor.check()
            except StackStopped as stopped:
                code = _fail(str(stopped))
                break
            time.sleep(0.2)
        if stopping:
            console.print("stopping…")
    finally:
        supervisor.stop()
    if code:
        raise typer.Exit(code)
    console.print("stopped.")


def _worker_env(settings: Any, n: int) -> dict[str, str] | None:
    """Worker n's environment: with STELLARFLOW_WORKER_METRICS_ADDRESS=host:port, worker n exports its metrics on
    port + n - 1, so `--workers N` on one machine never clash (docs/observability.md). None: inherit as is."""
    address = settings.worker_metrics_address
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return {**os.environ, "STELLARFLOW_WORKER_METRICS_ADDRESS": f"{host}:{int(port) + n - 1}"}


def _sandbox_line(settings: Any) -> bool:
    """Say how user code will run, before anything starts; False when it cannot run as configured."""
    import shutil

    if settings.sandbox_mode == "bwrap":
        if shutil.which("bwrap") is None:
            _fail("STELLARFLOW_SANDBOX=bwrap but `bwrap` is not on PATH: install bubblewrap "
                  "(Debian/Ubuntu: apt-get install bubblewrap) or set STELLARFLOW_SANDBOX=none")  # fmt: skip
            return False
        console.print("[green]✓[/] commands and executors run sandboxed (bubblewrap)")
    elif settings.allow_unsandboxed:
        err_console.print("[yellow]![/] warning: no sandbox (STELLARFLOW_SANDBOX=none) and "
                          "STELLARFLOW_ALLOW_UNSANDBOXED=true: commands and executors run directly on this machine "
                          "as the worker's user, with access to its secrets")  # fmt: skip
    else:
        err_console.print("[yellow]![/] warning: no sandbox (STELLARFLOW_SANDBOX=none, or bubblewrap is not "
                          "installed): the worker will refuse commands and executors; install bubblewrap "
                          "(apt-get install bubblewrap) or set STELLARFLOW_ALLOW_UNSANDBOXED=true")  # fmt: skip
    return True


def _print_access(settings: Any, first_start: Any) -> None:
    """How to get a token. The admin's password exists only here, on the first start, and is never stored."""
    import json
    import shlex

    def login_line(username: str, password: str) -> str:
        """A line that works when pasted into a POSIX shell: the body quoted for it, the token extracted."""
        body = shlex.quote(json.dumps({"username": username, "password": password}))
        return (f"  get a token (paste this line): TOKEN=$(curl -s -X POST {settings.api_url}/api/v2/auth/login "
                f"-H 'content-type: application/json' -d {body} | python3 -c "
                """'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])')""")

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
        from cli import profile

        written = " (new)" if first_start.cli_key_file else ""
        console.print(f"  the stellarflow CLI signs in with the API key in {settings.cli_key_file}{written}", **plain)
        remembered = profile.remember(settings.api_url, settings.cli_key_file)
        if remembered is not None:
            console.print(f"  from any folder: this stack is remembered in {remembered}", **plain)


def _fail(message: str) -> int:
    err_console.print(f"[red]✗[/] {message}")
    return 1


def worker() -> None:
    """Run one worker (any number may run against one cluster). Example:
    `TEMPORAL_ADDRESS=temporal:7233 stellarflow worker`"""
    # The worker is a process of its own, as under `up`: exec it rather than import it, so the CLI never loads
    # the workflow and activity code (an import-linter rule keeps front ends away from activities).
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "worker"])


def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the API server. Example: `stellarflow api --host 0.0.0.0 --port 8000`"""
    apply_overrides(api_host=host, api_port=port)
    import uvicorn

    from core.settings import get_settings

    settings = get_settings()
    uvicorn.run("api.main:app", host=settings.api_host, port=settings.api_port)
