"""The `execute-command` action: run a shell string or an argv list in the run's workspace.

The process runs inside the sandbox (activities/sandbox.py: bubblewrap, its own uid, limits) and in its own
session (process group), so a timeout or a cancellation can stop everything it started, not only the shell. It
sees an allowlisted environment, never the worker's secrets. Output is kept as a bounded tail per stream, so a
chatty command cannot exhaust the worker's memory or Temporal's payload limits. A step's lines also go to the event
log as they are printed (`log_lines.StepLog`: batched, capped, nothing written for a silent command), for live
streams. `deploy` reuses `run_in_workspace` for its deploy and rollback commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity

from activities import child_watcher, warm_sandboxes
from activities import sandbox as sandboxing
from activities.environment import (
    HEARTBEAT_INTERVAL_S,
    base_environment,
    check_env,
    current_attempt,
    group_marker,
    heartbeat,
    invalid_parameters,
    parse_params,
    resolve_working_dir,
    step_failed,
    workspace_for,
)
from activities.log_lines import StepLog
from activities.sandbox import Sandbox
from core import names
from core.dsl.actions import ExecuteCommandParams
from core.pipelines.contracts import ActionRequest, ActionResult
from core.settings import get_settings

KILL_GRACE_S = 2.0  # SIGTERM first, SIGKILL after this long
PIPE_GRACE_S = 1.0  # after the command exits, how long background processes may keep its pipes open
MAX_OUTPUT_FILE_BYTES = 1 << 20
BUILTIN_OUTPUTS = frozenset({"stdout", "stderr", "exitCode", "durationMs", "stdoutBytes", "stderrBytes", "truncated"})
_OUTPUT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _death_signal_prefix() -> list[str]:
    """Unsandboxed only (a sandbox dies with the worker through bwrap's --die-with-parent, all of it): make the
    command die with the worker (Linux): `setpriv --pdeathsig KILL` sets the signal and execs the command in the
    same process. Not `preexec_fn`: forking a threaded interpreter to run Python in the child can deadlock it (seen
    here) and costs a full fork. Grandchildren are not covered; a retried attempt reaps them
    (`reap_previous_attempt`)."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


_DEATH_SIGNAL = _death_signal_prefix()


@dataclass
class CommandOutcome:
    """What one process run produced; `outputs()` is the step's outputs shape."""

    exit_code: int | None
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    truncated: bool
    duration_ms: int
    timed_out: bool = False
    spawn_error: str | None = None
    timeout_s: float | None = None
    vars: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.spawn_error is None

    def failure_message(self, what: str = "command") -> str:
        if self.spawn_error is not None:
            return f"could not start {what}: {self.spawn_error}"
        if self.timed_out:
            return f"{what} timed out after {format_seconds(self.timeout_s or 0)}"
        if self.exit_code is not None and self.exit_code < 0:
            try:
                name = signal.Signals(-self.exit_code).name
            except ValueError:
                name = f"signal {-self.exit_code}"
            return f"{what} was killed by {name}"
        if self.exit_code is not None and 128 < self.exit_code < 128 + signal.NSIG:
            # How a shell, and bwrap, report a command killed by a signal (a CPU or file-size limit, say).
            with contextlib.suppress(ValueError):
                name = signal.Signals(self.exit_code - 128).name
                return f"{what} exited with code {self.exit_code} (128 + {name}: killed by that signal)"
        return f"{what} exited with code {self.exit_code}"

    def outputs(self) -> dict[str, Any]:
        """Vars written to STELLARFLOW_OUTPUT first, so the built-in keys always win."""
        builtin: dict[str, Any] = {
            "stdout": self.stdout,
            "stderr": self.stderr,
            "exitCode": self.exit_code,
            "durationMs": self.duration_ms,
            "stdoutBytes": self.stdout_bytes,
            "stderrBytes": self.stderr_bytes,
            "truncated": self.truncated,
        }
        outputs: dict[str, Any] = {k: v for k, v in self.vars.items() if k not in BUILTIN_OUTPUTS}
        outputs.update(builtin)
        if self.timed_out:
            outputs["timedOut"] = True
        return outputs


def format_seconds(seconds: float) -> str:
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:g}s"


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the last `limit` bytes of stdout and stderr and counts all of them. Data arrives through
    callbacks, so both streams drain concurrently and nothing is buffered beyond the tails."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, limit: int, on_output: Callable[[int, bytes], None] | None = None
    ) -> None:
        self.limit = max(limit, 0)
        self.on_output = on_output
        self.tails: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self.sizes: dict[int, int] = {1: 0, 2: 0}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: dict[int, asyncio.Future[None]] = {1: loop.create_future(), 2: loop.create_future()}

    def attach(self, limit: int, on_output: Callable[[int, bytes], None] | None) -> None:
        """A warm sandbox's capture, started before its step: the step's tail size and output callback."""
        self.limit, self.on_output = max(limit, 0), on_output

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else data
        if self.on_output is not None:
            self.on_output(fd, chunk)
        self.sizes[fd] = self.sizes.get(fd, 0) + len(chunk)
        tail = self.tails.setdefault(fd, bytearray())
        tail += chunk
        if len(tail) > self.limit:
            del tail[: len(tail) - self.limit]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        waiter = self.closed.get(fd)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def text(self, fd: int) -> str:
        return bytes(self.tails[fd]).decode("utf-8", errors="replace")


def _group_alive(pgid: int) -> bool:
    """True while a process of the group is still running. Zombies do not count: an orphan reparented to
    an init that never reaps stays a zombie forever, and waiting for it would always cost the full grace."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc").is_dir():
        return True
    return bool(_group_members(pgid))


def _resolvable(program: str, cwd: Path, env: Mapping[str, str]) -> bool:
    if "/" in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        return path.is_file() and os.access(path, os.X_OK)
    return shutil.which(program, path=env.get("PATH", os.defpath)) is not None


def _group_processes(pgid: int) -> list[tuple[int, str]]:
    """Live (non-zombie) processes of a process group with their command names, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
            members.append((int(entry.name), stat[stat.find("(") + 1 : stat.rfind(")")]))
    return members


def _group_members(pgid: int) -> list[int]:
    return [pid for pid, _name in _group_processes(pgid)]


def _started_by(pid: int, run_id: str, step_id: str) -> bool:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"STELLARFLOW_RUN_ID={run_id}".encode() in environ and f"STELLARFLOW_STEP_ID={step_id}".encode() in environ


def reap_previous_attempt(marker: Path, run_id: str, step_id: str) -> bool:
    """PR_SET_PDEATHSIG reaches only the direct child, so a worker that died mid-step can leave the step's
    grandchildren running. The next attempt kills that group first — only if its processes really belong to
    this run and step, since a process group id can be reused. Returns True when it killed something."""
    try:
        pgid = int(marker.read_text().strip())
    except (OSError, ValueError):
        return False
    if any(_started_by(pid, run_id, step_id) for pid in _group_members(pgid)):
        _signal_group(pgid, signal.SIGKILL)
        return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _ask_to_stop(pgid: int, sandboxed: bool) -> None:
    """SIGTERM the group. In a sandbox, not bwrap itself: it would die at once and take the whole sandbox with it
    (SIGKILL), leaving the command no grace period; the command's processes get the signal, and bwrap ends when
    they do. SIGKILL after the grace period goes to the whole group, bwrap included, and so to all of the sandbox."""
    if not sandboxed:
        _signal_group(pgid, signal.SIGTERM)
        return
    for pid, name in _group_processes(pgid):
        if name not in sandboxing.HELPER_NAMES:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)


async def terminate_group(
    pgid: int, exited: asyncio.Future[None], grace_s: float | None = None, *, sandboxed: bool = False
) -> None:
    """SIGTERM the whole process group, SIGKILL whatever is left after `grace_s` (KILL_GRACE_S)."""
    _ask_to_stop(pgid, sandboxed)
    deadline = time.monotonic() + (KILL_GRACE_S if grace_s is None else grace_s)
    while time.monotonic() < deadline:
        if exited.done() and not _group_alive(pgid):
            return
        await asyncio.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)
    await asyncio.wait([exited], timeout=1.0)


async def _uncancellable(coro: Coroutine[Any, Any, None]) -> None:
    """Run cleanup to the end even if the caller is cancelled again meanwhile, then let that through."""
    task = asyncio.ensure_future(coro)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _stop_spawned(
    spawn: asyncio.Future[tuple[asyncio.SubprocessTransport, _Capture]], sandboxed: bool
) -> None:
    """Cancelled while spawning: let the spawn finish, then stop the whole group it started."""
    await asyncio.wait([spawn])
    if spawn.cancelled() or spawn.exception() is not None:
        return
    transport, proto = spawn.result()
    try:
        await terminate_group(transport.get_pid(), proto.exited, sandboxed=sandboxed)
    finally:
        transport.close()


async def run_process(
    command: str | list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    tail_bytes: int,
    sandbox: Sandbox | None,
    on_start: Callable[[int], None] | None = None,
    on_output: Callable[[int, bytes], None] | None = None,
    heartbeat_details: Callable[[], Any] | None = None,
    warm: warm_sandboxes.Warm | None = None,
) -> CommandOutcome:
    """Run one command to completion, timeout or cancellation. A string runs under `/bin/sh -c`; a list is
    exec'd as is, so its items are never shell syntax. On timeout or cancellation the process group is
    stopped (SIGTERM, then SIGKILL); cancellation is re-raised once the group is gone.

    `sandbox` is required on purpose: every caller decides, and None (the operator's explicit opt-out, see
    `sandbox.for_workspace`) is the only way to run without one. Inside it, `cwd` is created if missing.

    `on_output(fd, chunk)` sees every chunk as it arrives (the executors parse progress lines from it) and
    `heartbeat_details()` replaces the default `{"elapsedMs": ...}` heartbeat payload, so a caller that
    reports its own progress is not overwritten by this loop's heartbeats.

    `warm`: a sandbox started ahead as `sandbox` (activities/warm_sandboxes.py) that runs the command instead of a
    new one; if it cannot take it, the command starts cold."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    program = argv[0]
    if (sandbox is not None or _DEATH_SIGNAL) and not _resolvable(program, cwd, env):
        # Checked here so the message names the program, not the wrapper (bwrap, setpriv) that would exec it.
        reason = f"{program!r}: No such file or directory"
        return CommandOutcome(
            exit_code=127, stdout="", stderr=reason, stdout_bytes=0, stderr_bytes=0, truncated=False,
            duration_ms=0, spawn_error=reason, timeout_s=timeout_s,
        )  # fmt: skip
    command_argv = argv
    if sandbox is not None:
        argv, env, spawn_cwd = sandbox.argv(argv, cwd), sandbox.environment(env), sandbox.workspace
    else:
        argv, spawn_cwd = [*_DEATH_SIGNAL, *argv], cwd
    sandboxed = sandbox is not None
    child_watcher.install()
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    if warm is not None:
        if warm_sandboxes.launch(warm, command_argv, env):
            warm.protocol.attach(tail_bytes, on_output)
            return await _follow(warm.transport, warm.protocol, started, timeout_s, sandboxed, on_start,
                                 heartbeat_details)
        warm_sandboxes.discard(warm)
    # The spawn is shielded: cancelled half-way, asyncio would kill only the direct child and then wait for
    # its pipes, which a grandchild may hold open for as long as it runs.
    spawn = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: _Capture(loop, tail_bytes, on_output),
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(spawn_cwd),
            env=dict(env),
            start_new_session=True,
        )
    )
    try:
        transport, proto = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        await _uncancellable(_stop_spawned(spawn, sandboxed))
        raise
    except (OSError, subprocess.SubprocessError) as err:
        code = 127 if isinstance(err, FileNotFoundError) else 126
        reason = f"{argv[0]!r}: {getattr(err, 'strerror', None) or type(err).__name__}"
        return CommandOutcome(
            exit_code=code, stdout="", stderr=reason, stdout_bytes=0, stderr_bytes=0, truncated=False,
            duration_ms=int((time.monotonic() - started) * 1000), spawn_error=reason, timeout_s=timeout_s,
        )  # fmt: skip

    return await _follow(transport, proto, started, timeout_s, sandboxed, on_start, heartbeat_details)


async def _follow(
    transport: asyncio.SubprocessTransport | warm_sandboxes.Process,
    proto: _Capture,
    started: float,
    timeout_s: float,
    sandboxed: bool,
    on_start: Callable[[int], None] | None,
    heartbeat_details: Callable[[], Any] | None,
) -> CommandOutcome:
    """Wait for a started command to end, heartbeating; stop its group on timeout or cancellation."""
    pgid = transport.get_pid()
    if on_start is not None:
        on_start(pgid)
    timed_out = False
    warnings: list[str] = []
    try:
        deadline = started + timeout_s
        while not proto.exited.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            await asyncio.wait([proto.exited], timeout=min(HEARTBEAT_INTERVAL_S, remaining))
            if proto.exited.done():
                break  # nothing left to cancel: a heartbeat now would only cost a round trip
            heartbeat(
                heartbeat_details() if heartbeat_details is not None
                else {"elapsedMs": int((time.monotonic() - started) * 1000)}
            )
        if timed_out:
            await _uncancellable(terminate_group(pgid, proto.exited, sandboxed=sandboxed))
        # The command is done; give its pipes a moment to drain. Background processes it left running may
        # hold them open: their later output is not captured (and they are not killed).
        _, pending = await asyncio.wait(list(proto.closed.values()), timeout=PIPE_GRACE_S)
        if pending and not timed_out:
            warnings.append("processes left running in the background kept the output open; it was cut off")
    except asyncio.CancelledError:
        await _uncancellable(terminate_group(pgid, proto.exited, sandboxed=sandboxed))
        raise
    finally:
        transport.close()

    return CommandOutcome(
        exit_code=transport.get_returncode(),
        stdout=proto.text(1),
        stderr=proto.text(2),
        stdout_bytes=proto.sizes[1],
        stderr_bytes=proto.sizes[2],
        truncated=proto.sizes[1] > len(proto.tails[1]) or proto.sizes[2] > len(proto.tails[2]),
        duration_ms=int((time.monotonic() - started) * 1000),
        timed_out=timed_out,
        timeout_s=timeout_s,
        warnings=warnings,
    )


def parse_output_file(text: str) -> tuple[dict[str, str], list[str]]:
    """`key=value` lines, plus `key<<DELIM` ... `DELIM` for multi-line values (the GitHub Actions form).
    Blank lines and `#` comments are skipped; anything else is reported as a warning, not an error."""
    values: dict[str, str] = {}
    warnings: list[str] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip("\r")
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            key, delimiter = line[:heredoc].strip(), line[heredoc + 2 :].strip()
            body: list[str] = []
            while index < len(lines) and lines[index].rstrip("\r") != delimiter:
                body.append(lines[index].rstrip("\r"))
                index += 1
            if index >= len(lines):
                warnings.append(f"output {key!r}: missing closing delimiter {delimiter!r}")
            index += 1
            value = "\n".join(body)
        elif eq > 0:
            key, value = line[:eq].strip(), line[eq + 1 :]
        else:
            warnings.append(f"STELLARFLOW_OUTPUT line {index}: expected key=value")
            continue
        if not _OUTPUT_KEY.match(key):
            warnings.append(f"output name {key!r} is not valid (letters, digits, _ . -)")
        elif key in BUILTIN_OUTPUTS:
            warnings.append(f"output {key!r} is reserved and was ignored")
        else:
            values[key] = value
    return values, warnings


async def run_in_workspace(
    req: ActionRequest,
    command: str | list[str],
    *,
    timeout_s: float,
    working_directory: str | None = None,
    params_env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> CommandOutcome:
    """Run `command` for a step: in the run's workspace, sandboxed as the step's `sandbox:` says, with the
    allowlisted environment, then the definition/step env, then the parameters' env, then the templated values of a
    shell command (`SF_<n>`, see core/dsl/templating.render_shell), then `extra_env`, then the STELLARFLOW_*
    variables. Lines the command writes to `$STELLARFLOW_OUTPUT` come back as `vars`."""
    if isinstance(command, list) and not command:
        raise invalid_parameters(f"invalid parameters for {req.action}: command: the argv list is empty")
    workspace = workspace_for(req.run_id)
    sandbox = sandboxing.for_workspace(workspace, spec=req.sandbox)
    cwd = resolve_working_dir(workspace, working_directory, create=sandbox is None)
    env = base_environment()
    env.update(check_env(req.env, "env"))
    env.update(check_env(params_env or {}, "parameters.env"))
    env.update(check_env(req.template_env, "a templated value of the command"))
    env.update(extra_env or {})
    base, warm = sandbox, None
    if sandbox is not None:
        sandbox.hand_over(workspace)
        if cwd == workspace:  # a warm sandbox starts in the workspace root (activities/warm_sandboxes.py)
            warm = warm_sandboxes.take(sandbox)
    if warm is not None:
        output_path, sandbox = warm.output, warm.sandbox
    else:
        output_path = sandboxing.output_file(sandbox)
        if sandbox is not None:
            sandbox = sandbox.with_writable(output_path)
    env.update(
        STELLARFLOW_RUN_ID=req.run_id,
        STELLARFLOW_STEP_ID=req.step_id,
        STELLARFLOW_WORKSPACE=str(workspace),
        STELLARFLOW_OUTPUT=str(output_path),
    )
    marker = group_marker(req.run_id, f"{req.step_id}{req.instance or ''}")
    reap_previous_attempt(marker, req.run_id, req.step_id)
    lines = StepLog(req.run_id, req.step_id, current_attempt())  # live log lines (activities/log_lines.py)
    try:
        try:
            outcome = await run_process(
                command, cwd=cwd, env=env, timeout_s=timeout_s, tail_bytes=get_settings().output_tail_bytes,
                sandbox=sandbox, on_start=lambda pgid: marker.write_text(str(pgid)), on_output=lines.feed,
                warm=warm,
            )
        finally:
            await lines.close()
            if base is not None and cwd == workspace:  # the run's next step will likely want the same sandbox
                loop = asyncio.get_running_loop()
                # once this step's result is on its way: the spawn takes the event loop for a moment
                loop.call_soon(warm_sandboxes.prepare, base, lambda: _Capture(loop, get_settings().output_tail_bytes))
        raw = sandboxing.read_back(output_path, MAX_OUTPUT_FILE_BYTES + 1) or b""
    finally:
        for leftover in (output_path, marker):  # the marker matters only if this worker dies mid-step
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    if len(raw) > MAX_OUTPUT_FILE_BYTES:
        outcome.warnings.append(f"STELLARFLOW_OUTPUT is larger than {MAX_OUTPUT_FILE_BYTES} bytes; cut off")
        raw = raw[:MAX_OUTPUT_FILE_BYTES]
    outcome.vars, warnings = parse_output_file(raw.decode("utf-8", errors="replace"))
    outcome.warnings.extend(warnings)
    return outcome


def step_timeout(params_timeout: float | None, req: ActionRequest) -> float:
    """The parameter's timeout, else the step's, else the server default."""
    for candidate in (params_timeout, req.timeout_s):
        if candidate is not None:
            if candidate <= 0:
                raise invalid_parameters(f"invalid parameters for {req.action}: timeout must be positive")
            return candidate
    return get_settings().default_step_timeout_s


async def run_command(req: ActionRequest) -> ActionResult:
    """The whole `execute-command` action without Temporal: validate, run, shape the result."""
    params = parse_params(req, ExecuteCommandParams)
    outcome = await run_in_workspace(
        req,
        params.command,
        timeout_s=step_timeout(params.timeout, req),
        working_directory=params.workingDirectory,
        params_env=params.env,
    )
    if not outcome.ok:
        raise step_failed(outcome.failure_message(), outcome.outputs(), req)
    return ActionResult(outputs=outcome.outputs(), attempt=current_attempt(), warnings=outcome.warnings)


@activity.defn(name=names.EXECUTE_COMMAND)
async def execute_command(req: ActionRequest) -> ActionResult:
    """Temporal entry point; heartbeats come from the runner, cancellation arrives as CancelledError."""
    return await run_command(req)
