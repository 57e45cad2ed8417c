"""The two-command promise, end to end: `stellarflow up` starts a real stack (Temporal dev server, worker,
API) from nothing but a data dir, creating the first admin (printed once) and the CLI's API key (cli.key);
`stellarflow run --watch`, `runs`, `keys` and `users` work against it; Ctrl-C stops all of it.

Everything runs as real processes, the way a user starts them; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from core.temporal import temporal_binary

pytestmark = pytest.mark.database("sqlite", reason="`up` runs its own stack on its own SQLite data dir")

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = Path(sys.prefix) / "bin" / "stellarflow"
STELLARFLOW = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "import cli; cli.main()"]
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
CLI_TIMEOUT_S = 60
RUN_ID = re.compile(r"run (run-[0-9A-Za-z]+) started")

FAILING = """\
name: Fails on purpose
steps:
  - id: boom
    action: execute-command
    parameters:
      command: echo about to fail; exit 3
"""

CYCLIC = """\
name: Cyclic
steps:
  - id: a
    action: execute-command
    dependsOn: [c]
    parameters: {command: "true"}
  - id: b
    action: execute-command
    dependsOn: [a]
    parameters: {command: "true"}
  - id: c
    action: execute-command
    dependsOn: [b]
    parameters: {command: "true"}
"""


def _free_ports(count: int) -> list[int]:
    """Distinct free ports: all sockets are held open until every port is known."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _clean_env(**extra: str) -> dict[str, str]:
    """The user's environment: none of the session's STELLARFLOW_* pins, no external Temporal or database.
    A wide terminal, so rich does not fold run ids in tables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("STELLARFLOW_") and key not in {"TEMPORAL_ADDRESS", "DATABASE_URL"}
    }
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def _proc_stat(pid: int) -> list[str] | None:
    """Fields after the command name: [state, ppid, pgrp, ...], or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def _running(pid: int) -> bool:
    fields = _proc_stat(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@dataclass
class Stack:
    proc: subprocess.Popen
    log: Path
    data_dir: Path
    api_port: int
    temporal_port: int
    ui_port: int
    children: set[int] = field(default_factory=set)  # every process `up` started, seen while it ran
    run_ids: list[str] = field(default_factory=list)  # runs that completed through this stack

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT_S, **env: str) -> subprocess.CompletedProcess[str]:
        """One `stellarflow` command against this stack, as a user would type it (same data dir, so the CLI
        finds the API key `up` wrote to cli.key)."""
        return subprocess.run(
            [*STELLARFLOW, *args], cwd=ROOT,
            env=_clean_env(STELLARFLOW_API_PORT=str(self.api_port), STELLARFLOW_DATA_DIR=str(self.data_dir), **env),
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.api_port}{path}"

    def status_with(self, path: str, credential: str) -> int:
        return httpx.get(self.url(path), headers={"Authorization": f"Bearer {credential}"}, timeout=10).status_code


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("cli-up")
    api_port, temporal_port, ui_port = _free_ports(3)
    log = base / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*STELLARFLOW, "up", "--data-dir", str(base / "data"), "--api-port", str(api_port),
             "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)],
            cwd=ROOT, env=_clean_env(STELLARFLOW_CONFIG=str(base / "config.json")), stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    running = Stack(proc, log, base / "data", api_port, temporal_port, ui_port)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        docs = f"http://127.0.0.1:{api_port}/docs"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`stellarflow up` exited with {proc.returncode}:\n{running.output()}")
            if docs in running.output():
                with contextlib.suppress(httpx.TransportError):
                    health = httpx.get(f"http://127.0.0.1:{api_port}/api/v2/system/health", timeout=5)
                    if health.status_code == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"the stack was not healthy after {START_TIMEOUT_S}s:\n{running.output()}")
            time.sleep(0.1)
        running.children = _descendants(proc.pid)
        yield running
    finally:
        running.children |= _descendants(proc.pid) if proc.poll() is None else set()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        for pid in running.children:  # each in its own session: the group kill above does not reach them
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def test_up_prints_where_everything_is(stack: Stack) -> None:
    output = stack.output()
    assert f"http://127.0.0.1:{stack.api_port}/docs" in output
    assert f"http://127.0.0.1:{stack.ui_port}" in output
    assert f"127.0.0.1:{stack.temporal_port}" in output
    # Three processes: the dev server, the worker and the API.
    assert len(stack.children) >= 3, stack.children
    assert httpx.get(f"http://127.0.0.1:{stack.ui_port}", timeout=5).status_code == 200


ADMIN_LINE = re.compile(r"username (\S+)   password (\S+)")


def test_first_up_creates_an_admin_and_prints_how_to_get_a_token_once(stack: Stack) -> None:
    output = stack.output()
    assert len(ADMIN_LINE.findall(output)) == 1, output
    username, password = ADMIN_LINE.search(output).groups()
    assert username == "admin"
    assert output.count(password) == 2, output  # the credentials line and the ready-to-paste curl line
    assert f"curl -s -X POST http://127.0.0.1:{stack.api_port}/api/v2/auth/login" in output
    assert "Authorization: Bearer $TOKEN" in output

    # The printed credentials work, and the token they give is accepted.
    login = httpx.post(stack.url("/api/v2/auth/login"), json={"username": username, "password": password}, timeout=10)
    assert login.status_code == 200, login.text
    assert login.json()["data"]["user"]["role"] == "admin"
    token = login.json()["data"]["accessToken"]
    assert stack.status_with("/api/v2/workflows", token) == 200
    assert httpx.get(stack.url("/api/v2/workflows"), timeout=10).status_code == 401

    # The CLI's key and the server secret are private files; the password itself is stored nowhere.
    for name in ("cli.key", "jwt.secret"):
        assert (stack.data_dir / name).stat().st_mode & 0o777 == 0o600, name
    for path in stack.data_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert password.encode() not in path.read_bytes(), path


def test_the_printed_token_line_works_when_pasted(stack: Stack) -> None:
    line = next(line for line in stack.output().splitlines() if "paste this line" in line)
    command = line.split("paste this line): ", 1)[1]
    pasted = subprocess.run(["bash", "-c", f'{command}\nprintf %s "$TOKEN"'], capture_output=True, text=True,
                            timeout=30)
    assert pasted.returncode == 0 and pasted.stdout, pasted.stderr
    assert stack.status_with("/api/v2/workflows", pasted.stdout) == 200


def test_the_cli_finds_the_stack_from_any_folder_and_says_where_it_looked(stack: Stack, tmp_path: Path) -> None:
    config = stack.data_dir.parent / "config.json"
    assert f"remembered in {config}" in stack.output()
    assert config.stat().st_mode & 0o777 == 0o600
    assert json.loads(config.read_text()) == {"url": f"http://127.0.0.1:{stack.api_port}",
                                              "keyFile": str((stack.data_dir / "cli.key").resolve())}
    elsewhere = subprocess.run([*STELLARFLOW, "runs", "list", "--limit", "1"], cwd=tmp_path,
                               env=_clean_env(STELLARFLOW_CONFIG=str(config)), capture_output=True, text=True,
                               timeout=CLI_TIMEOUT_S)  # fmt: skip
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    # With nothing to go on, the 401 says where it looked.
    lost = subprocess.run([*STELLARFLOW, "runs", "list"], cwd=tmp_path,
                          env=_clean_env(STELLARFLOW_CONFIG=str(tmp_path / "none.json"),
                                         STELLARFLOW_API_PORT=str(stack.api_port)),
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S)  # fmt: skip
    assert lost.returncode == 2, lost.stdout + lost.stderr
    assert "looked for a credential in: STELLARFLOW_TOKEN (unset)" in lost.stderr, lost.stderr
    assert str((tmp_path / ".stellarflow" / "cli.key").resolve()) in lost.stderr, lost.stderr
    assert f"{tmp_path / 'none.json'} (no stack remembered" in lost.stderr, lost.stderr


def test_a_second_up_on_taken_ports_fails_and_names_them(stack: Stack, tmp_path: Path) -> None:
    second = subprocess.run(
        [*STELLARFLOW, "up", "--data-dir", str(tmp_path / "data"), "--api-port", str(stack.api_port),
         "--temporal-port", str(stack.temporal_port), "--ui-port", str(stack.ui_port)],
        cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = second.stdout + second.stderr
    assert second.returncode == 1, said
    assert f"port {stack.temporal_port} (Temporal) on 127.0.0.1 is already in use" in said, said
    assert f"port {stack.api_port} (API)" in said and "--api-port" in said and "--temporal-port" in said, said
    assert "✓" not in said  # nothing claimed, nothing started
    assert not (tmp_path / "data" / "temporal.db").exists()


def test_run_watch_succeeds_and_is_durable_in_temporal(stack: Stack) -> None:
    result = stack.cli("run", "definitions/fan-out.yaml", "--watch")
    assert result.returncode == 0, result.stdout + result.stderr
    match = RUN_ID.search(result.stdout)
    assert match, result.stdout
    run_id = match.group(1)
    assert "succeeded" in result.stdout
    assert f"http://127.0.0.1:{stack.ui_port}/namespaces/default/workflows/{run_id}" in result.stdout

    # The history lives in the data dir, and Temporal itself knows the run.
    assert (stack.data_dir / "temporal.db").is_file()
    assert (stack.data_dir / "stellarflow.db").is_file()
    command = [temporal_binary(), "workflow", "list", "--address", f"127.0.0.1:{stack.temporal_port}",
               "--query", "WorkflowType='PipelineWorkflow'"]  # fmt: skip
    # Visibility is eventually consistent (about 1.5 s here), and the projection says "succeeded" just
    # before the workflow itself closes: wait for the row to show the run completed.
    deadline = time.monotonic() + 15
    while True:
        listed = subprocess.run(command, capture_output=True, text=True, timeout=15)
        rows = [line for line in listed.stdout.splitlines() if run_id in line]
        if rows and "Completed" in rows[0]:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"{run_id} not completed in `temporal workflow list` (exit {listed.returncode}):\n"
                f"{listed.stdout}{listed.stderr}"
            )
        time.sleep(0.5)
    assert "PipelineWorkflow" in rows[0], rows[0]
    stack.run_ids.append(run_id)


def test_run_watch_of_a_failing_definition_exits_non_zero(stack: Stack, tmp_path: Path) -> None:
    failing = tmp_path / "fails-on-purpose.yaml"
    failing.write_text(FAILING)
    result = stack.cli("run", str(failing), "--watch")
    assert result.returncode == 1, result.stdout + result.stderr
    match = RUN_ID.search(result.stdout)
    assert match, result.stdout
    stack.run_ids.append(match.group(1))
    assert "failed" in result.stdout
    assert "step(s) failed: boom" in result.stderr
    assert "exited with code 3" in result.stdout  # the step's detail column
    assert "boom failed; last 1 line(s) of its stdout:" in result.stderr and "about to fail" in result.stderr
    # The worker says it in one line; a step failing is expected, so no traceback fills the terminal of `up`.
    worker_lines = [line for line in stack.output().splitlines() if match.group(1) in line and "boom" in line]
    assert any("failed on attempt 1: command exited with code 3" in line for line in worker_lines), stack.output()
    assert "Traceback" not in stack.output() and "Completing activity as failed" not in stack.output()


GATED = """\
name: Gated
steps:
  - id: build
    action: execute-command
    parameters:
      command: echo built it; echo to stderr >&2
  - id: approve
    action: approval
    dependsOn: [build]
    parameters:
      message: "Ship it?"
      allowSelfApproval: true
  - id: ship
    action: execute-command
    dependsOn: [approve]
    parameters:
      command: echo shipped
"""


def test_runs_logs_approve_and_reject_through_the_cli(stack: Stack, tmp_path: Path) -> None:
    gated = tmp_path / "gated.yaml"
    gated.write_text(GATED)
    run_ids = []
    for _ in range(2):
        started = stack.cli("run", str(gated))
        assert started.returncode == 0, started.stdout + started.stderr
        run_ids.append(RUN_ID.search(started.stdout).group(1))
    approved, rejected = run_ids
    for run_id in run_ids:  # wait for the gate
        deadline = time.monotonic() + 30
        while "waiting" not in json.dumps(httpx.get(stack.url(f"/api/v2/runs/{run_id}"), timeout=10, headers={
                "Authorization": f"Bearer {(stack.data_dir / 'cli.key').read_text().strip()}"}).json()):
            assert time.monotonic() < deadline, run_id
            time.sleep(0.2)
    said = stack.cli("runs", "approve", approved, "approve", "-m", "fine by me")
    assert said.returncode == 0 and "approved" in said.stdout, said.stdout + said.stderr
    assert stack.cli("runs", "reject", rejected, "approve").returncode == 0
    followed = stack.cli("runs", "logs", approved, "-f")  # returns once the run has ended
    assert followed.returncode == 0, followed.stderr
    assert "built it" in followed.stdout and "[stderr] to stderr" in followed.stdout and "shipped" in followed.stdout
    only = json.loads(stack.cli("runs", "logs", rejected, "--step", "ship", "-o", "json").stdout)
    assert [s["status"] for s in only] == ["skipped"]
    twice = stack.cli("runs", "approve", rejected, "approve")
    assert twice.returncode == 2, twice.stdout + twice.stderr  # decided already: the API's error, one line


def test_watching_an_approval_run_says_how_to_approve_it(stack: Stack, tmp_path: Path) -> None:
    gated = tmp_path / "gated.yaml"
    gated.write_text(GATED)
    watching = subprocess.Popen(
        [*STELLARFLOW, "run", str(gated), "--watch"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env=_clean_env(STELLARFLOW_API_PORT=str(stack.api_port), STELLARFLOW_DATA_DIR=str(stack.data_dir)),
    )  # fmt: skip
    try:
        said: list[str] = []
        deadline = time.monotonic() + 60
        while not any("approve: stellarflow runs approve" in line for line in said):
            assert time.monotonic() < deadline and watching.poll() is None, "".join(said)
            said.append(watching.stdout.readline())
        said.append(watching.stdout.readline())  # the curl line
        text = "".join(said)
        assert "approve waits for approval: Ship it?" in text, text
        command = next(line for line in said if "approve: stellarflow" in line).split("approve: ", 1)[1]
        run_id, step = command.split()[3:5]
        assert stack.cli("runs", "approve", run_id, step).returncode == 0
        assert f"/api/v2/runs/{run_id}/steps/approve/approve" in text
        assert watching.wait(timeout=60) == 0  # the run went on and succeeded
    finally:
        if watching.poll() is None:
            watching.kill()


def test_runs_rerun_failed_through_the_cli(stack: Stack) -> None:
    failed = next(run_id for run_id in stack.run_ids
                  if stack.cli("runs", "show", run_id).stdout.count("failed") > 0)
    result = stack.cli("runs", "rerun", failed, "--failed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"re-run of {failed}" in result.stdout
    match = RUN_ID.search(result.stdout)
    assert match, result.stdout
    stack.run_ids.append(match.group(1))
    assert stack.cli("runs", "rerun", failed).returncode != 0  # --failed or --from is required
    assert stack.cli("schedules", "list", "ci").returncode == 0
    assert stack.cli("sources", "list").returncode == 0


def test_runs_list_shows_the_runs(stack: Stack) -> None:
    result = stack.cli("runs", "list")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fan-out" in result.stdout and "fails-on-purpose" in result.stdout, result.stdout
    assert "succeeded" in result.stdout and "failed" in result.stdout
    assert len(re.findall(r"run-[0-9A-Za-z]{26}", result.stdout)) >= 2, result.stdout


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_reads_fit_80_columns_on_a_terminal_are_plain_when_piped_and_speak_json_and_yaml(stack: Stack) -> None:
    assert stack.cli("run", "definitions/fan-out.yaml").returncode == 0  # at least one run to list
    run_ids = set(re.findall(r"run-[0-9A-Za-z]{26}", stack.cli("runs", "list", "--limit", "5").stdout))
    assert run_ids
    # On a terminal 80 columns wide: every line fits, and every run id is whole on one line.
    terminal = stack.cli("runs", "list", "--limit", "5", COLUMNS="80", FORCE_COLOR="1")
    lines = ANSI.sub("", terminal.stdout).splitlines()
    assert max(len(line) for line in lines) <= 80 and "━" in terminal.stdout, terminal.stdout  # a table
    assert run_ids <= set(re.findall(r"run-[0-9A-Za-z]{26}", ANSI.sub("", terminal.stdout)))
    # Piped: tab-separated, a header, whole values, no colour.
    piped = stack.cli("runs", "list", "--limit", "5").stdout.splitlines()
    assert piped[0].split("\t") == ["run", "workflow", "v", "status", "created", "duration"]
    assert all(len(line.split("\t")) == 6 for line in piped[1:]) and "\x1b" not in "".join(piped)
    as_json = json.loads(stack.cli("runs", "list", "--limit", "5", "-o", "json").stdout)
    assert {run["id"] for run in as_json} == run_ids and all("status" in run for run in as_json)
    import yaml

    as_yaml = yaml.safe_load(stack.cli("keys", "list", "-o", "yaml").stdout)
    assert isinstance(as_yaml, list) and all("prefix" in key for key in as_yaml)
    wrong = stack.cli("runs", "list", "-o", "xml")
    assert wrong.returncode == 2 and "table, json, yaml" in wrong.stderr, wrong.stderr


def test_keys_create_list_revoke_through_the_cli(stack: Stack) -> None:
    created = stack.cli("keys", "create", "--name", "ci robot")
    assert created.returncode == 0, created.stdout + created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = re.search(r"(key-[0-9A-Z]{26})", created.stdout).group(1)
    assert key.startswith("sf_")
    assert stack.status_with("/api/v2/runs", key) == 200

    listed = stack.cli("keys", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert key_id in listed.stdout and "ci robot" in listed.stdout and key[:11] in listed.stdout
    assert key not in listed.stdout

    # The new key works as the CLI's credential too, through STELLARFLOW_TOKEN.
    assert stack.cli("runs", "list", STELLARFLOW_TOKEN=key).returncode == 0

    revoked = stack.cli("keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert key_id not in stack.cli("keys", "list").stdout
    assert stack.status_with("/api/v2/runs", key) == 401
    refused = stack.cli("runs", "list", STELLARFLOW_TOKEN=key)
    assert refused.returncode == 2 and "401 UNAUTHORIZED" in refused.stderr, refused.stdout + refused.stderr


def test_users_create_gives_a_viewer_who_can_read_but_not_run(stack: Stack) -> None:
    created = stack.cli("users", "create", "auditor", "--role", "viewer", "--email", "auditor@example.com")
    assert created.returncode == 0, created.stdout + created.stderr
    password = created.stdout.strip().splitlines()[-1]
    login = httpx.post(stack.url("/api/auth/token"), json={"username": "auditor", "password": password}, timeout=10)
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    assert stack.cli("runs", "list", STELLARFLOW_TOKEN=token).returncode == 0
    refused = stack.cli("run", "fan-out", STELLARFLOW_TOKEN=token)
    assert refused.returncode == 2 and "403 FORBIDDEN" in refused.stderr, refused.stdout + refused.stderr

    again = stack.cli("users", "create", "Auditor", "--role", "viewer")
    assert again.returncode == 2 and "AUTH_USER_EXISTS" in again.stderr, again.stdout + again.stderr


def test_users_list_set_role_disable_and_reset_password(stack: Stack) -> None:
    created = stack.cli("users", "create", "rotating", "--role", "viewer")
    assert created.returncode == 0, created.stdout + created.stderr
    password = created.stdout.strip().splitlines()[-1]

    def login(secret: str) -> httpx.Response:
        return httpx.post(stack.url("/api/auth/token"), json={"username": "rotating", "password": secret}, timeout=10)

    token = login(password).json()["token"]
    listed = json.loads(stack.cli("users", "list", "-o", "json").stdout)
    assert {"username": "rotating", "role": "viewer", "disabled": False}.items() <= \
        next(u for u in listed if u["username"] == "rotating").items()
    assert "rotating" in stack.cli("users", "list").stdout  # the table

    assert stack.cli("users", "set-role", "rotating", "developer").returncode == 0
    assert stack.status_with("/api/v2/auth/me", token) == 200
    assert httpx.get(stack.url("/api/v2/auth/me"), headers={"Authorization": f"Bearer {token}"},
                     timeout=10).json()["data"]["role"] == "developer"  # the next request sees it
    bad = stack.cli("users", "set-role", "rotating", "emperor")
    assert bad.returncode == 2 and "VALIDATION_ERROR" in bad.stderr and "role" in bad.stderr, bad.stderr
    assert stack.cli("users", "set-role", "nobody-here", "viewer").returncode == 2

    assert stack.cli("users", "disable", "rotating").returncode == 0
    assert stack.status_with("/api/v2/workflows", token) == 401 and login(password).status_code == 401
    assert stack.cli("users", "enable", "rotating").returncode == 0
    assert stack.status_with("/api/v2/workflows", token) == 200

    reset = stack.cli("users", "reset-password", "rotating")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    new_password = reset.stdout.strip().splitlines()[-1]
    assert stack.status_with("/api/v2/workflows", token) == 401  # signed out everywhere
    assert login(password).status_code == 401 and login(new_password).status_code == 200


def test_validate_the_shipped_definitions() -> None:
    files = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "definitions").glob("*.yaml"))
    assert files
    result = subprocess.run([*STELLARFLOW, "validate", *files], cwd=ROOT, env=_clean_env(),
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for name in files:
        assert name in result.stdout


def test_validate_reports_a_cycle(tmp_path: Path) -> None:
    cyclic = tmp_path / "cyclic.yaml"
    cyclic.write_text(CYCLIC)
    result = subprocess.run([*STELLARFLOW, "validate", str(cyclic)], cwd=ROOT, env=_clean_env(),
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cycle" in result.stderr, result.stderr
    assert "a -> c -> b -> a" in result.stderr, result.stderr


def test_agents_tasks_swarms_memory_and_workflows_through_the_cli(stack: Stack, tmp_path: Path) -> None:
    def ok(*args: str) -> str:
        result = stack.cli(*args)
        assert result.returncode == 0, (args, result.stdout + result.stderr)
        return result.stdout

    agent_id = re.search(r"agent (ag-\S+)", ok("agents", "spawn", "coder", "--config", '{"executor": "shell"}'))[1]
    task_id = re.search(r"task (tk-\S+)", ok("tasks", "create", "say hi", "--requirements",
                                               '{"command": "echo hi from the cli"}'))[1]
    ok("tasks", "assign", task_id, agent_id)
    deadline = time.monotonic() + 60
    while (task := json.loads(ok("tasks", "show", task_id, "-o", "json")))["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, task
        time.sleep(0.3)
    assert task["status"] == "completed" and "hi from the cli" in json.dumps(task), task
    assert task_id in ok("tasks", "list") and agent_id in ok("agents", "list", "--type", "coder")

    swarm_id = re.search(r"swarm (sw-\S+)", ok("swarms", "create", "cli swarm", "-a", "tester:1", "--agent-config",
                                                  '{"executor": "shell"}'))[1]
    assert swarm_id in ok("swarms", "list")
    assert json.loads(ok("swarms", "show", swarm_id, "-o", "json"))["id"] == swarm_id
    ok("swarms", "control", swarm_id, "pause")
    bad = stack.cli("swarms", "create", "x", "-a", "coder:two")
    assert bad.returncode == 2 and "TYPE:COUNT" in bad.stderr, bad.stderr

    ok("memory", "set", "stack", '{"db": "postgres"}', "-n", "cli-ns", "-t", "infra")
    assert json.loads(ok("memory", "get", "stack", "-n", "cli-ns"))["value"] == {"db": "postgres"}
    assert "stack" in ok("memory", "search", "postgres", "-n", "cli-ns")
    ok("memory", "delete", "stack", "-n", "cli-ns")
    assert stack.cli("memory", "get", "stack", "-n", "cli-ns").returncode == 2  # 404, said in one line

    definition = tmp_path / "cli-wf.yaml"
    definition.write_text("name: From the CLI\nsteps:\n  - id: a\n    action: execute-command\n"
                          "    parameters: {command: 'true'}\n")
    assert "cli-wf version 1" in ok("workflows", "apply", str(definition))
    assert "cli-wf" in ok("workflows", "list") and "From the CLI" in ok("workflows", "show", "cli-wf")
    ok("workflows", "delete", "cli-wf")
    ok("agents", "terminate", agent_id)


def test_ctrl_c_stops_everything(stack: Stack) -> None:  # last: it stops the module's stack
    """Last on purpose: it takes the module's stack down."""
    stack.children |= _descendants(stack.proc.pid)
    os.killpg(stack.proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    try:
        code = stack.proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`stellarflow up` still running {STOP_TIMEOUT_S}s after SIGINT:\n{stack.output()}")
    assert code == 0, stack.output()
    assert "stopped." in stack.output()
    left = [pid for pid in stack.children if _running(pid)]
    assert not left, f"processes left running after Ctrl-C: {left}"
    for port in (stack.api_port, stack.temporal_port, stack.ui_port):
        assert not _listening(port), f"something still listens on {port}"

    # With the server gone, the runs' histories are still on disk (Temporal's own SQL schema).
    db = stack.data_dir / "temporal.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        stored = {row[0] for row in conn.execute("SELECT workflow_id FROM current_executions")}
    assert set(stack.run_ids) <= stored, (stack.run_ids, stored)
