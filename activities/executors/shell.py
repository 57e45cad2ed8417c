"""The `shell` executor: the task's `requirements.command` in the workspace.

A string runs under `/bin/sh -c` (it is the task author's own shell line); a list is exec'd as argv, so its
items are never shell syntax. Success is exit code 0 within the timeout.
"""

from __future__ import annotations

from activities.executors.base import ExecOutcome, TaskContext, process_outcome, run_measured
from activities.executors.models import not_configured
from core.agents.contracts import ExecuteTaskInput
from core.settings import Settings


def plan(inp: ExecuteTaskInput, settings: Settings) -> str | list[str]:
    command = inp.requirements.get("command")
    if isinstance(command, str) and command.strip():
        return command
    if isinstance(command, list) and command and all(isinstance(item, str) for item in command):
        return list(command)
    raise not_configured(
        "the shell executor runs the task's requirements.command (a shell string or an argv list), and this "
        "task has none; give the task a command or give the agent another executor (config.executor)"
    )


async def run(ctx: TaskContext, command: str | list[str]) -> ExecOutcome:
    outcome, usage = await run_measured(ctx, command)
    return process_outcome(outcome, usage, what="command", limit=ctx.settings.output_tail_bytes)
