"""`stellarflow up` supervises: a worker or the API that dies is restarted with backoff and a line that says so; only
the embedded Temporal server's death, or a crash loop, stops the stack; `--workers N` runs N workers; a run in
flight while its workers are killed completes, and its completed steps are not run again.

The policy is checked on its own, the supervisor against real short-lived processes, and `up` end to end as a user
starts it (real dev server, workers and API; SIGKILL as the kernel's OOM killer would send it)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.supervision import Child, RestartPolicy, StackStopped, Supervisor, describe_exit
from tests.processes import lines, running
from tests.test_cli_up import ROOT, STELLARFLOW, _clean_env, _descendants, _free_ports

pytestmark = pytest.mark.database("sqlite", reason="`up` runs its own stack on its own SQLite data dir")

FAST = RestartPolicy(initial_s=0.05, factor=2, max_s=0.2, max_crashes=4, window_s=30, stable_after_s=5)


def test_backoff_doubles_to_a_cap_and_a_crash_loop_is_counted_in_a_window() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    exits: deque[float] = deque([0.0, 10.0, 20.0, 30.0])
    assert not policy.crash_looping(exits, 40.0)  # four within 60 s: not yet
    exits.append(40.0)
    assert policy.crash_looping(exits, 40.0)  # the fifth
    assert not policy.crash_looping(deque([0.0, 10.0, 20.0, 30.0, 40.0]), 65.0)  # the first fell out of the window
    assert describe_exit(-signal.SIGKILL) == "signal SIGKILL" and describe_exit(3) == "exit code 3"


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def _watch(supervisor: Supervisor, seconds: float) -> StackStopped | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            supervisor.check()
        except StackStopped as stopped:
            return stopped
        time.sleep(0.01)
    return None


def test_a_dying_child_is_restarted_with_a_line_naming_how_it_exited() -> None:
    said: list[str] = []
    supervisor = Supervisor(FAST, say=said.append)
    steady = supervisor.add(Child("steady", start=lambda: _python("import time; time.sleep(60)")))
    try:
        first = steady.pid
        os.kill(first, signal.SIGKILL)
        assert _watch(supervisor, 2) is None
        assert steady.restarts >= 1 and steady.pid != first and steady.proc.poll() is None
        assert said[0] == "steady exited (signal SIGKILL); restarting in 0.05 s", said
        assert re.fullmatch(r"steady restarted \(pid \d+, restart 1\)", said[1]), said
    finally:
        supervisor.stop()
    assert steady.proc.poll() is not None


def test_a_crash_loop_stops_the_stack() -> None:
    said: list[str] = []
    supervisor = Supervisor(FAST, say=said.append)
    supervisor.add(Child("broken", start=lambda: _python("import sys; sys.exit(3)")))
    other = supervisor.add(Child("other", start=lambda: _python("import time; time.sleep(60)")))
    try:
        stopped = _watch(supervisor, 10)
        assert stopped is not None, said
        assert "broken exited (exit code 3) 4 times within 30 s: crash loop" in str(stopped)
        waits = [float(m) for line in said for m in re.findall(r"restarting in ([\d.]+) s", line)]
        assert waits == [0.05, 0.1, 0.2], said  # backoff, doubling to the cap
    finally:
        supervisor.stop()
    assert other.proc.poll() is not None


def test_the_essential_childs_exit_stops_the_stack_at_once() -> None:
    supervisor = Supervisor(FAST, say=lambda _line: None)
    server = supervisor.add(Child("Temporal dev server", essential=True,
                                  start=lambda: _python("import time; time.sleep(60)")))
    worker = supervisor.add(Child("worker", start=lambda: _python("import time; time.sleep(60)")))
    try:
        os.kill(server.pid, signal.SIGKILL)
        stopped = _watch(supervisor, 5)
        assert stopped is not None and str(stopped) == "Temporal dev server exited (signal SIGKILL); stopping the stack"
    finally:
        supervisor.stop()
    assert worker.proc.poll() is not None


# ---- end to end: `stellarflow up --workers 2` --------------------------------------------------------------------

STEP_SLEEP_S = 3
WORKERS_LINE = re.compile(r"2 workers on task queue \S+ \(pid (\d+), (\d+)\)")


def _definition() -> dict:
    """Steps that leave marks in the run's workspace (the one place a sandboxed command can write)."""

    def step(index: int, command: str) -> dict:
        body = {"id": f"s{index}", "action": "execute-command",
                "parameters": {"command": command, "env": {"MARK": "."}}}
        return body | ({"dependsOn": [f"s{index - 1}"]} if index > 1 else {})

    return {"name": "survives its workers", "steps": [
        step(1, 'echo ran >> "$MARK/s1"'),
        step(2, 'echo ran >> "$MARK/s2"'),
        step(3, f'echo started >> "$MARK/s3.started"; sleep {STEP_SLEEP_S}; echo ran >> "$MARK/s3"'),
        step(4, 'echo ran >> "$MARK/s4"'),
        step(5, 'echo ran >> "$MARK/s5"'),
    ]}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path, int]]:
    api_port, temporal_port, ui_port = _free_ports(3)
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*STELLARFLOW, "up", "--workers", "2", "--data-dir", str(tmp_path / "data"), "--api-port", str(api_port),
             "--temporal-port", str(temporal_port), "--ui-port", str(ui_port)],
            cwd=ROOT, env=_clean_env(STELLARFLOW_HEARTBEAT_TIMEOUT_S="2"), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.1)
        children = _descendants(proc.pid)
        yield proc, log, api_port
    finally:
        children |= _descendants(proc.pid) if proc.poll() is None else set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _wait(predicate, what: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def test_up_restarts_killed_workers_and_api_and_stops_when_temporal_dies(stack, tmp_path: Path) -> None:
    proc, log, api_port = stack
    base = f"http://127.0.0.1:{api_port}"
    key = (tmp_path / "data" / "cli.key").read_text().strip()
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    worker_pids = [int(pid) for pid in WORKERS_LINE.search(log.read_text()).groups()]
    assert all(running(pid) for pid in worker_pids)

    created = http.post("/api/v2/workflows", json=_definition())
    assert created.status_code == 201, created.text
    started = http.post(f"/api/v2/workflows/{created.json()['data']['id']}/runs", json={})
    assert started.status_code == 202, started.text
    run_id = started.json()["data"]["id"]
    mark = tmp_path / "data-workspaces" / run_id  # beside `--data-dir`

    # Both workers die while step 3 runs: whichever held the run, its step is interrupted.
    _wait(lambda: len(lines(mark / "s3.started")) == 1, "step 3 to start", 30, log)
    for pid in worker_pids:
        os.kill(pid, signal.SIGKILL)
    _wait(lambda: log.read_text().count("restarted (pid") >= 2, "both workers to be restarted", 15, log)
    output = log.read_text()
    assert "worker-1 exited (signal SIGKILL); restarting in 1 s" in output, output
    assert "worker-2 exited (signal SIGKILL); restarting in 1 s" in output, output

    final = http.get(f"/api/v2/runs/{run_id}", params={"wait": 60}).json()["data"]
    assert final["status"] == "succeeded", final
    # Completed steps were not run again; the interrupted one ran once more, to completion once.
    for name in ("s1", "s2", "s3", "s4", "s5"):
        assert lines(mark / name) == ["ran"], name
    assert len(lines(mark / "s3.started")) == 2

    # The API too: killed, back on its port after its backoff.
    os.kill(_listener_pid(api_port), signal.SIGKILL)
    _wait(lambda: "API exited (signal SIGKILL); restarting in 1 s" in log.read_text(), "the API's exit line", 10, log)
    _wait(lambda: _answers(base), "the API to answer again", 30, log)
    assert proc.poll() is None

    # The embedded Temporal server is the one child whose death stops everything.
    server = next(pid for pid in _descendants(proc.pid) if "temporal" in _cmdline(pid) and "server" in _cmdline(pid))
    children = _descendants(proc.pid)
    os.kill(server, signal.SIGKILL)
    assert proc.wait(timeout=30) == 1
    assert "Temporal dev server exited (signal SIGKILL); stopping the stack" in log.read_text()
    _wait(lambda: not any(running(pid) for pid in children), "every child to stop", 15, log)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _listener_pid(port: int) -> int:
    """The pid whose socket listens on 127.0.0.1:`port` (from /proc/net/tcp and each process's fds)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            inode = fields[9]
    assert inode is not None, f"nothing listens on {port}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return int(entry.name)
    raise AssertionError(f"no process holds the socket of port {port}")


def _answers(base: str) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(f"{base}/api/health", timeout=2).status_code in (200, 503)
    return False
