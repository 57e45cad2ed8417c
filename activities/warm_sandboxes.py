"""Sandboxes started before the step that will use them.

Starting bubblewrap — its namespaces, mounts and their teardown — is most of what a sandboxed step costs over a bare
spawn (docs/benchmarks.md). When a step of a run ends, the worker starts the sandbox the run's next step will
most likely need: the same command line a cold start builds (`Sandbox.argv`: mounts, uid, limits, working
directory), whose command is `stellarflow-sandbox-wait` (activities/sandbox_wait.c), blocked on a pipe only the
worker can write. The next step of that run on this worker takes it and writes its command and environment;
what is left on the step's path is one exec. Nothing is shared between steps that a cold start would not share:
each sandbox serves one command (its own PID namespace, /tmp and output file), and one that is not taken within
`IDLE_S` is killed.

A sandbox is only reused for exactly the `Sandbox` it was started as (same workspace, limits, network, uid,
masks), started on the same event loop, with the step's working directory at the workspace root; anything else
starts cold, as does every step when the wait program is not built (`make`) or `STELLARFLOW_SANDBOX_PREWARM` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities import sandbox as sandboxing
from activities.sandbox import Sandbox
from core.settings import get_settings

log = logging.getLogger("stellarflow.activities")
WAIT = "stellarflow-sandbox-wait"
IDLE_S = 2.0  # a warm sandbox nobody took by then is killed (a run's last step leaves one behind)
MAX_WARM = 8  # per worker process: each is an idle bwrap and its init
MAX_MESSAGE = 1 << 20  # what the wait program reads at most; a larger command starts cold


@functools.lru_cache(maxsize=1)
def wait_path() -> str | None:
    """`stellarflow-sandbox-wait` next to the worker's interpreter, if the Makefile built it."""
    candidate = Path(sys.prefix) / "bin" / WAIT
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


class Process:
    """A warm sandbox's process, driven by the event loop's readers alone — its exit (a pidfd) and its two output
    pipes — and shaped like the asyncio subprocess transport `command._follow` waits on (`get_pid`,
    `get_returncode`, `close`), feeding a `SubprocessProtocol`. No task: nothing is left pending when a loop
    shuts down with sandboxes nobody took (an asyncio subprocess cancelled before its pipes connect never
    finishes closing)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, argv: list[str], *, cwd: Path, env: Mapping[str, str],
                 pass_fd: int, protocol: asyncio.SubprocessProtocol) -> None:
        self.loop, self.protocol, self.returncode = loop, protocol, None
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      cwd=cwd, env=dict(env), start_new_session=True, pass_fds=(pass_fd,))
        self.pidfd = os.pidfd_open(self.popen.pid)
        loop.add_reader(self.pidfd, self._exited)
        for number, pipe in ((1, self.popen.stdout), (2, self.popen.stderr)):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
            loop.add_reader(pipe.fileno(), self._readable, number, pipe)

    def _readable(self, number: int, pipe: Any) -> None:
        try:
            chunk = os.read(pipe.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.protocol.pipe_data_received(number, chunk)
            return
        self.loop.remove_reader(pipe.fileno())
        pipe.close()
        self.protocol.pipe_connection_lost(number, None)

    def _exited(self) -> None:
        self.loop.remove_reader(self.pidfd)
        os.close(self.pidfd)
        try:
            _, status = os.waitpid(self.popen.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere
            self.returncode = 255
        self.popen.returncode = self.returncode
        self.protocol.process_exited()

    def get_pid(self) -> int:
        return self.popen.pid

    def get_returncode(self) -> int | None:
        return self.returncode

    def close(self) -> None:
        """Kill it if it still runs; its readers then see it exit and close."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGKILL)


@dataclass(eq=False)
class Warm:
    """One started sandbox: its process (whose output `protocol` captures from the start), the writable output
    file it was given, and the pipe its command will come through."""

    base: Sandbox  # what it was started as, before the output file was added: the key it is taken by
    sandbox: Sandbox  # `base` with the output file writable
    output: Path
    transport: Process
    protocol: Any
    control: int
    loop: asyncio.AbstractEventLoop
    expiry: asyncio.TimerHandle | None = field(default=None)


_ready: dict[Sandbox, Warm] = {}
# What happened to warm sandboxes in this process: started, taken (a step ran in one), discarded (expired or not
# usable). For tests and the benchmark's breakdown.
counts: Counter[str] = Counter()


def _enabled() -> bool:
    return get_settings().sandbox_prewarm and wait_path() is not None


def take(base: Sandbox) -> Warm | None:
    """The warm sandbox started as `base` on this loop, still waiting, or None."""
    warm = _ready.pop(base, None)
    if warm is None:
        return None
    if warm.expiry is not None:
        warm.expiry.cancel()
    if warm.loop is not asyncio.get_running_loop() or warm.transport.get_returncode() is not None:
        discard(warm)
        return None
    counts["taken"] += 1
    return warm


def prepare(base: Sandbox, protocol: Callable[[], Any]) -> None:
    """Start a sandbox as `base` now (the spawn itself is quick: bubblewrap sets up in the child), unless one
    is ready. With `MAX_WARM` ready, the oldest goes: the newest is the likeliest to be wanted next."""
    if base.helper is None or not _enabled() or base in _ready:
        return
    while len(_ready) >= MAX_WARM:
        discard(next(iter(_ready.values())))  # dicts keep insertion order: the oldest first
    wait = wait_path()
    assert wait is not None
    loop = asyncio.get_running_loop()
    try:
        output = sandboxing.output_file(base)
    except OSError:
        log.debug("could not start a sandbox ahead of its step", exc_info=True)
        return
    reader, writer = os.pipe()
    sandbox = base.with_writable(output)
    capture = protocol()
    try:
        process = Process(loop, sandbox.argv([wait, str(reader)], base.workspace), cwd=base.workspace,
                          env=sandbox.environment({}), pass_fd=reader, protocol=capture)
    except Exception:  # noqa: BLE001 - a sandbox that cannot start ahead starts cold when its step comes
        log.debug("could not start a sandbox ahead of its step", exc_info=True)
        os.close(writer)
        with contextlib.suppress(OSError):
            os.unlink(output)
        return
    finally:
        os.close(reader)
    warm = Warm(base=base, sandbox=sandbox, output=output, transport=process, protocol=capture, control=writer,
                loop=loop)
    warm.expiry = loop.call_later(IDLE_S, discard, warm)
    _ready[base] = warm
    counts["started"] += 1


def launch(warm: Warm, command: list[str], env: Mapping[str, str]) -> bool:
    """Hand `command` (argv) and its environment to `warm`'s wait program. False when the message is too large
    or the sandbox is gone: the caller discards it and starts cold."""
    parts = [str(len(command)), *command, str(len(env)), *(f"{key}={value}" for key, value in env.items())]
    message = b"".join(part.encode("utf-8", "surrogateescape") + b"\0" for part in parts)
    if len(message) > MAX_MESSAGE:
        return False
    try:
        view = memoryview(message)
        while view:  # a blocking pipe: the wait program reads while we write
            view = view[os.write(warm.control, view):]
    except OSError:
        return False
    finally:
        os.close(warm.control)
        warm.control = -1
    return True


def discard(warm: Warm) -> None:
    """Kill a warm sandbox nobody will use, and drop its output file."""
    if _ready.get(warm.base) is warm:
        del _ready[warm.base]
    counts["discarded"] += 1
    if warm.expiry is not None:
        warm.expiry.cancel()
    if warm.control >= 0:
        os.close(warm.control)  # the wait program reads end of file and exits
        warm.control = -1
    warm.transport.close()  # kills the process if it still runs; its readers close its pipes
    with contextlib.suppress(OSError):
        os.unlink(warm.output)
