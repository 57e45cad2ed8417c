"""A worker as a separate process (`python -m worker`), for tests that kill it mid-run, and polling helpers
that fail with the workers' output when they time out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an orphan whose reaper never waits stays a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in {"Z", "X"}


class WorkerProcess:
    """`python -m worker` in its own process group, output kept in a log file for failure messages."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its process group: no cleanup code of the worker can run."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)

    def stop(self) -> None:
        if self.alive():
            self.kill()
        self._out.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


async def wait_for(predicate, what: str, timeout: float, workers: list[WorkerProcess]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for worker in workers:
            if not worker.alive() and worker.proc.returncode != -signal.SIGKILL:
                pytest.fail(f"worker exited with {worker.proc.returncode} while waiting for {what}:\n{worker.output()}")
        if time.monotonic() > deadline:
            logs = "\n---\n".join(w.output() for w in workers)
            pytest.fail(f"timed out after {timeout}s waiting for {what}; worker output:\n{logs}")
        await asyncio.sleep(0.05)


def pids_running(cmdline: str) -> list[int]:
    """Host pids of the live processes running exactly `cmdline` (arguments joined by spaces). A sandboxed command
    sees only its own PID namespace — its `$$` and `$!` are not host pids — so tests find processes by unique
    arguments (`sleep 60.123`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            if args == cmdline and running(int(entry.name)):
                found.append(int(entry.name))
    return found


async def wait_running(cmdline: str, timeout: float = 5.0) -> list[int]:
    """`pids_running(cmdline)` once there are some; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := pids_running(cmdline):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no process {cmdline!r} appeared within {timeout}s")
