"""The `python` executor: a callable registered in the entry-point group `stellarflow.executors`, named by the
agent's `config.callable` (e.g. `word-count`, registered in this project's pyproject).

The callable runs in a child process (`python_runner.py`, with the worker's interpreter), not in the worker:
so it is measured (CPU, memory), killed on timeout or cancellation, and cannot block or crash the worker —
exactly like a shell task, in the workspace, with the same allowlisted environment. Its return value (a
string, or a dict with `output`, `success`, `error`; see `core/agents/executor_examples.py`) becomes the result's
output; without one, its stdout/stderr do. Success: the callable returned without raising and did not say
`success: false`.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

from activities.executors.base import ExecOutcome, TaskContext, cap, process_outcome, run_measured
from activities.executors.models import not_configured
from activities.sandbox import read_back
from core.agents.contracts import ExecuteTaskInput
from core.settings import Settings

GROUP = "stellarflow.executors"
RUNNER = Path(__file__).with_name("python_runner.py")


def registered() -> list[str]:
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=GROUP)})


def plan(inp: ExecuteTaskInput, settings: Settings) -> str:
    name = inp.config.get("callable")
    names = registered()
    listing = ", ".join(names) or "none"
    if not name or not isinstance(name, str):
        raise not_configured(
            f"the python executor runs the entry point named by the agent's config.callable, and it is not set "
            f"(registered in {GROUP!r}: {listing})"
        )
    if name not in names:
        raise not_configured(
            f"no callable {name!r} is registered in the entry-point group {GROUP!r} (registered: {listing})"
        )
    return name


async def run(ctx: TaskContext, name: str) -> ExecOutcome:
    inp = ctx.inp
    task = {
        "task_id": inp.task_id, "agent_id": inp.agent_id, "workspace": str(ctx.workspace),
        "description": inp.description, "type": inp.type, "requirements": inp.requirements, "config": inp.config,
        "context": inp.context, "directives": inp.directives, "agent_type": inp.agent_type,
        "cognitive_pattern": inp.cognitive_pattern,
    }  # fmt: skip
    task_file, result_file = ctx.reports / "task.json", ctx.reports / "result.json"
    task_file.write_text(json.dumps(task, default=str), encoding="utf-8")
    result_file.unlink(missing_ok=True)
    ctx.progress.set(0.0, f"running {name}")
    outcome, usage = await run_measured(
        ctx,
        [sys.executable, str(RUNNER), name],
        extra_env={"STELLARFLOW_TASK_INPUT": str(task_file), "STELLARFLOW_RESULT": str(result_file)},
    )
    result = process_outcome(outcome, usage, what=f"callable {name!r}", limit=ctx.settings.output_tail_bytes)
    try:
        returned = json.loads(read_back(result_file, 8 * ctx.settings.output_tail_bytes + 4096) or b"")
    except ValueError:
        returned = None
    if isinstance(returned, dict):
        if returned.get("output"):
            result.output, result.truncated = cap(str(returned["output"]), ctx.settings.output_tail_bytes)
        if returned.get("success") is False:
            result.success = False
            result.error = str(returned.get("error") or result.error or f"callable {name!r} reported failure")
    if result.success:
        ctx.progress.set(1.0, "done")
    return result
