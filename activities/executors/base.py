"""What every executor shares: the task's context, the outcome an executor reports, and running a measured
process in the workspace (command.py's `run_process`: inside the task's sandbox, own process group, bounded
output, killed on timeout or cancellation)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activities import sandbox as sandboxing
from activities.command import _DEATH_SIGNAL, CommandOutcome, _resolvable, reap_previous_attempt, run_process
from activities.environment import base_environment, check_env, invalid_parameters
from activities.executors.progress import Progress
from activities.executors.resources import ResourceMonitor, Usage
from activities.executors.workspace import GROUP_SUFFIX, sibling
from activities.sandbox import Sandbox
from core.agents.contracts import ExecuteTaskInput
from core.agents.models import TokenUsage
from core.settings import Settings

PROCESS_LABELS = ("task", "tests")  # STELLARFLOW_STEP_ID of the task's processes, for reaping orphans
SHIM = Path(__file__).with_name("rusage_shim.py")


@dataclass
class TaskContext:
    inp: ExecuteTaskInput
    workspace: Path
    reports: Path  # our scratch directory, outside the workspace
    progress: Progress
    settings: Settings
    timeout_s: float
    sandbox: Sandbox | None  # None only when the operator runs executors unsandboxed (sandbox.for_workspace)
    secrets: list[str] = field(default_factory=list)  # values to blank out of anything we return


@dataclass
class ExecOutcome:
    """What the executor itself measured; the workspace diff and test figures are added by `execute`."""

    success: bool
    exit_code: int | None = None
    output: str = ""
    error: str | None = None
    truncated: bool = False
    api_calls: int | None = None
    tokens: TokenUsage | None = None
    usage: Usage = field(default_factory=Usage)
    notes: list[str] = field(default_factory=list)


def cap(text: str, limit: int, *, keep: str = "tail") -> tuple[str, bool]:
    """At most `limit` bytes of UTF-8 text, keeping the tail (process output: the end says how it ended) or
    the head (an LLM's answer reads from the start). Returns (text, truncated)."""
    data = text.encode("utf-8")
    if limit <= 0 or len(data) <= limit:
        return text, False
    part = data[-limit:] if keep == "tail" else data[:limit]
    return part.decode("utf-8", errors="ignore"), True


def redact(text: str | None, secrets: Sequence[str]) -> str | None:
    if text is None:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def task_env(ctx: TaskContext, label: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """command.py's allowlisted environment, the task's `requirements.env`, then ours. STELLARFLOW_RUN_ID /
    STELLARFLOW_STEP_ID are what `reap_previous_attempt` recognises a task's orphans by."""
    env = base_environment()
    requested = ctx.inp.requirements.get("env") or {}
    if not isinstance(requested, Mapping):
        raise invalid_parameters("requirements.env must be a map of variable name to value")
    env.update(check_env(requested, "requirements.env"))
    env.update(extra or {})
    env.update(
        STELLARFLOW_TASK_ID=ctx.inp.task_id,
        STELLARFLOW_AGENT_ID=ctx.inp.agent_id,
        STELLARFLOW_WORKSPACE=str(ctx.workspace),
        STELLARFLOW_RUN_ID=ctx.inp.task_id,
        STELLARFLOW_STEP_ID=label,
    )
    return env


def reap_orphans(workspace: Path, task_id: str) -> bool:
    """A worker that died mid-task can leave the task's grandchildren running; the next attempt kills them."""
    marker = sibling(workspace, GROUP_SUFFIX)
    return any([reap_previous_attempt(marker, task_id, label) for label in PROCESS_LABELS])


async def run_measured(
    ctx: TaskContext,
    command: str | list[str],
    *,
    label: str = "task",
    extra_env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
) -> tuple[CommandOutcome, Usage]:
    """Run a command in the workspace, feeding its output to the progress parser, heartbeating progress and
    measuring CPU and memory: the command runs under `rusage_shim.py` (exact kernel figures for everything
    it waited for) while its process group is sampled (the sum of RSS, and processes left running)."""
    if ctx.sandbox is None and not (ctx.settings.sandbox_mode == "none" and ctx.settings.allow_unsandboxed):
        raise sandboxing.unavailable("refusing to run a task's command without a sandbox")  # a bug if ever seen
    env = task_env(ctx, label, extra_env)
    marker = sibling(ctx.workspace, GROUP_SUFFIX)
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    usage_file = ctx.reports / f"{label}.rusage.json"
    usage_file.unlink(missing_ok=True)
    shimmed = bool(argv) and _resolvable(argv[0], ctx.workspace, env)
    if shimmed:
        # Unsandboxed, the shim re-applies the death signal to the command itself, which is its child now; in a
        # sandbox the whole sandbox dies with the worker already.
        death = _DEATH_SIGNAL if ctx.sandbox is None else []
        argv = [sys.executable, "-I", "-S", str(SHIM), str(usage_file), "--", *death, *argv]
    monitor = ResourceMonitor(skip_leader=shimmed, shim_marker=str(SHIM))
    # else: run_process reports the missing program by its name
    if ctx.sandbox is not None:
        # The worker wrote the seed, the snapshot's copy or an LLM's files as root: the sandbox's uid must own them.
        ctx.sandbox.hand_over(ctx.workspace, recursive=True)

    def started(pgid: int) -> None:
        marker.write_text(str(pgid))
        monitor.start(pgid)

    try:
        outcome = await run_process(
            argv,
            cwd=ctx.workspace,
            env=env,
            timeout_s=timeout_s or ctx.timeout_s,
            tail_bytes=ctx.settings.output_tail_bytes,
            sandbox=ctx.sandbox,
            on_start=started,
            on_output=ctx.progress.feed,
            heartbeat_details=ctx.progress.details,
        )
    finally:
        usage = await monitor.stop()
        with contextlib.suppress(OSError):
            os.unlink(marker)
    try:
        exact = json.loads(sandboxing.read_back(usage_file, 1 << 16) or b"")
    except ValueError:
        exact = None  # killed (timeout) or never started: the samples are all there is
    if isinstance(exact, dict):
        peak_kb = int(exact.get("maxrss_kb") or 0)
        if peak_kb <= int(exact.get("shim_maxrss_kb") or 0):
            peak_kb = 0  # only the shim's forked copy: not a figure of the command
        usage = usage.merged(float(exact.get("cpu_s") or 0.0), peak_kb * 1024)
    return outcome, usage


def process_outcome(outcome: CommandOutcome, usage: Usage, *, what: str, limit: int) -> ExecOutcome:
    """A finished process as an executor outcome: stdout, then stderr under a marker, capped to `limit`
    bytes (the tail); success is exit code 0 without a timeout."""
    text = outcome.stdout
    if outcome.stderr:
        text = f"{text}{'' if not text or text.endswith(chr(10)) else chr(10)}--- stderr ---\n{outcome.stderr}"
    text, cut = cap(text, limit)
    return ExecOutcome(
        success=outcome.ok,
        exit_code=outcome.exit_code,
        output=text,
        error=None if outcome.ok else outcome.failure_message(what),
        truncated=cut or outcome.truncated,
        usage=usage,
        notes=list(outcome.warnings),
    )


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def setting(source: Mapping[str, Any], key: str) -> Any:
    """`source[key]`, spelled snake_case or camelCase (the API's second dialect is camelCase)."""
    value = source.get(key)
    return source.get(camel(key)) if value is None else value


def config_value(inp: ExecuteTaskInput, key: str, default: Any = None) -> Any:
    """A per-task value: the task's `requirements` first, then the agent's `config`."""
    for source in (inp.requirements, inp.config):
        value = setting(source, key)
        if value is not None:
            return value
    return default
