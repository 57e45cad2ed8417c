"""The executor activities: provision an agent's directory, execute a task, roll a task's workspace back,
release an agent's directory. Each is idempotent, so Temporal may retry any of them.

`execute_task` is one pipeline for every executor:
1. check the executor is configured (ExecutorNotConfigured otherwise) and that this worker may run it
   (SandboxUnavailable otherwise, activities/sandbox.py) — before anything touches the disk;
2. prepare the workspace: seed `requirements.files`, take the "before" snapshot (a retry resets the
   workspace to that snapshot instead, and first kills processes a dead attempt left behind);
3. run the executor, heartbeating `{"progress", "message"}`;
4. diff the workspace against the snapshot → files created/changed/deleted, artifacts, lines of code, tests
   written (before the test command runs, so its caches and reports are not counted as the task's work);
5. if a test command is given and the work succeeded, run it and read its reports.

Success is decided by the work itself (exit code 0 within the timeout, the LLM answered, the callable
returned). Failing tests are reported (`tests_failed`) but do not fail the task, unless the agent config or
the requirements set `require_tests_pass: true`. A failed task is a `TaskResult(success=False)`, not an
exception, so it is not retried; only infrastructure trouble (an LLM endpoint down) raises a retryable error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from temporalio import activity

from activities import sandbox as sandboxing
from activities.environment import invalid_parameters
from activities.executors import agent_cli, llm, python_exec, shell
from activities.executors import workspace as ws
from activities.executors.base import (
    ExecOutcome,
    TaskContext,
    config_value,
    process_outcome,
    reap_orphans,
    redact,
    run_measured,
    setting,
)
from activities.executors.models import not_configured
from activities.executors.progress import Progress
from activities.executors.results import RunFigures, count_tests_written, read_test_run
from activities.sandbox import Sandbox
from core import names
from core.agents.contracts import ExecuteTaskInput, RollbackRequest
from core.agents.models import EXECUTORS, TaskResult
from core.settings import get_settings

MODULES: dict[str, ModuleType] = {"shell": shell, "llm": llm, "agent-cli": agent_cli, "python": python_exec}
MAX_LISTED_FILES = 1000  # per list; keeps a result far below Temporal's payload limit
MAX_NOTES = 10


def _prepare(workspace: Path, reports: Path, task_id: str, files: Any, sandbox: Sandbox | None) -> bool:
    reap_orphans(workspace, task_id)
    retried = ws.prepare(workspace, files or {})
    ws.force_rmtree(reports)
    reports.mkdir(parents=True)
    if sandbox is not None:
        workspace.chmod(0o700)
        sandbox.hand_over(reports)
    return retried


def _store_artifacts(task_id: str, owner: str | None, workspace: Path, artifacts: list[Any]) -> list[Any]:
    """The files the task produced, kept in the artifact store (core/artifacts): each listed artifact gets its id,
    sha256 and download link. A store that fails leaves the list as measured (a warning, never a failed task)."""
    from core.artifacts.service import store_task_files

    try:
        stored = store_task_files(task_id, owner, workspace, [a.path for a in artifacts[:MAX_LISTED_FILES]])
    except Exception:  # noqa: BLE001
        logging.getLogger("stellarflow.executors").exception("could not store the artifacts of %s", task_id)
        return artifacts
    return [a.model_copy(update={"id": stored[a.path].id, "sha256": stored[a.path].sha256,
                                 "url": f"/api/v2/artifacts/{stored[a.path].id}"}) if a.path in stored else a
            for a in artifacts]


def _sandbox(inp: ExecuteTaskInput, workspace: Path, reports: Path) -> Sandbox | None:
    """The task's sandbox: the agent's `config.sandbox`, narrowed by the task's `requirements.sandbox` (a task
    may take the network away or lower a limit, never give more than its agent has). The reports directory is
    writable too: the rusage shim, the python runner and test reports write there."""
    agent = sandboxing.parse_spec(setting(inp.config, "sandbox"), "config.sandbox")
    requested = setting(inp.requirements, "sandbox")
    spec = agent.tightened(sandboxing.parse_spec(requested, "requirements.sandbox") if requested else None)
    where = "requirements.sandbox" if requested else "config.sandbox"
    return sandboxing.for_workspace(workspace, spec=spec, writable=(reports,), where=where)


def _measure(workspace: Path, snapshot: Path) -> tuple[ws.Diff, list[Any], int, int]:
    changes = ws.diff(snapshot, workspace)
    artifacts, lines = ws.describe(workspace, snapshot, changes)
    return changes, artifacts, lines, count_tests_written(workspace, snapshot, changes)


def _test_command(inp: ExecuteTaskInput) -> str | list[str] | None:
    command = config_value(inp, "test_command")
    if command is None or command == "" or command == []:
        return None
    if isinstance(command, str) or (isinstance(command, list) and all(isinstance(c, str) for c in command)):
        return command
    raise invalid_parameters("test_command must be a shell string or an argv list")


async def _run_tests(ctx: TaskContext, command: str | list[str]) -> tuple[RunFigures, ExecOutcome]:
    junit, coverage = ctx.reports / "junit.xml", ctx.reports / "coverage.json"
    since = time.time()
    outcome, usage = await run_measured(
        ctx,
        command,
        label="tests",
        extra_env={"STELLARFLOW_JUNIT_XML": str(junit), "STELLARFLOW_COVERAGE_JSON": str(coverage)},
    )
    figures = await asyncio.to_thread(
        read_test_run,
        ctx.workspace,
        junit_env=junit,
        coverage_env=coverage,
        junit_xml=config_value(ctx.inp, "junit_xml"),
        coverage_json=config_value(ctx.inp, "coverage_json"),
        output=outcome.stdout,
        since=since,
    )
    return figures, process_outcome(outcome, usage, what="test command", limit=ctx.settings.output_tail_bytes)


def _tests_note(tests: ExecOutcome, figures: RunFigures) -> str:
    parts = ["test command succeeded" if tests.success else (tests.error or "test command failed")]
    if figures.passed is not None:
        parts.append(f"{figures.passed} passed, {figures.failed} failed")
    if figures.coverage is not None:
        parts.append(f"coverage {figures.coverage:.1%}")
    return "tests: " + "; ".join(parts)


def _listed(paths: list[str], what: str, notes: list[str]) -> list[str]:
    if len(paths) > MAX_LISTED_FILES:
        notes.append(f"{len(paths) - MAX_LISTED_FILES} more {what} files are not listed")
    return paths[:MAX_LISTED_FILES]


async def _with_memory(inp: ExecuteTaskInput) -> ExecuteTaskInput:
    """Pull the memory entries the task names (`requirements.memory_keys`, in `requirements.memory_namespace`,
    default "default") into its context, through the same memory service as the API: the agent's owner sees
    their private entries and everyone's shared and public ones; missing or expired keys are left out."""
    keys = inp.requirements.get("memory_keys")
    if not keys:
        return inp
    namespace = inp.requirements.get("memory_namespace", "default")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or not isinstance(namespace, str):
        raise invalid_parameters("requirements.memory_keys must be a list of strings, memory_namespace a string")
    from core.memory.service import read_context

    found = await asyncio.to_thread(read_context, keys, namespace, inp.owner)
    return inp.model_copy(update={"context": {**inp.context, **found}})


async def execute(inp: ExecuteTaskInput) -> TaskResult:
    """The whole `execute_task`, callable without Temporal (heartbeats and signals are then skipped)."""
    started = time.monotonic()
    settings = get_settings()
    module = MODULES.get(inp.executor)
    if module is None:
        raise not_configured(f"unknown executor {inp.executor!r}; set the agent's config.executor to one of: "
                             f"{', '.join(EXECUTORS)}")  # fmt: skip
    inp = await _with_memory(inp)
    plan = module.plan(inp, settings)
    test_command = _test_command(inp)
    timeout_s = inp.timeout_s if inp.timeout_s is not None else settings.executor_timeout_s
    if timeout_s <= 0:
        raise invalid_parameters("timeout_s must be positive")
    workspace = ws.task_workspace(inp.workspace, inp.agent_id, inp.task_id)
    snapshot = ws.sibling(workspace, ws.SNAPSHOT_SUFFIX)
    reports = ws.sibling(workspace, ws.REPORTS_SUFFIX)
    runs_code = module is not llm or test_command is not None
    sandbox = _sandbox(inp, workspace, reports) if runs_code else None

    async with Progress(inp.task_id, "preparing the workspace", agent_id=inp.agent_id) as progress:
        ctx = TaskContext(inp=inp, workspace=workspace, reports=reports, progress=progress, settings=settings,
                          timeout_s=timeout_s, sandbox=sandbox)  # fmt: skip
        retried = await asyncio.to_thread(_prepare, workspace, reports, inp.task_id, inp.requirements.get("files"),
                                          sandbox)  # fmt: skip
        progress.set(0.0, f"running ({inp.executor})")
        if module is llm:
            try:
                async with asyncio.timeout(timeout_s):
                    outcome = await module.run(ctx, plan)
            except TimeoutError:
                outcome = ExecOutcome(success=False, error=f"the LLM call timed out after {timeout_s:g}s")
        else:
            outcome = await module.run(ctx, plan)
        if retried:
            outcome.notes.insert(0, "this attempt started from the workspace snapshot (an earlier one did not finish)")

        progress.set(message="measuring the workspace")
        changes, artifacts, lines, written = await asyncio.to_thread(_measure, workspace, snapshot)
        artifacts = await asyncio.to_thread(_store_artifacts, inp.task_id, inp.owner, workspace, artifacts)

        figures = RunFigures()
        success, error = outcome.success, outcome.error
        if test_command is not None and outcome.success:
            progress.set(message="running the tests")
            figures, tests = await _run_tests(ctx, test_command)
            outcome.notes.append(_tests_note(tests, figures))
            if config_value(inp, "require_tests_pass", False) and (not tests.success or (figures.failed or 0) > 0):
                success = False
                error = f"tests failed: {tests.error if not tests.success else f'{figures.failed} failing'}"
        elif test_command is not None:
            outcome.notes.append("tests were not run because the work failed")
        progress.set(1.0 if success else progress.progress, "done" if success else "failed", final=True)

    notes = list(outcome.notes)
    result = TaskResult(
        success=success,
        executor=inp.executor,
        exit_code=outcome.exit_code,
        output=outcome.output,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
        files_created=_listed(changes.created, "created", notes),
        files_changed=_listed(changes.changed, "changed", notes),
        files_deleted=_listed(changes.deleted, "deleted", notes),
        artifacts=artifacts[:MAX_LISTED_FILES],
        lines_of_code=lines,
        tests_written=written,
        tests_passed=figures.passed,
        tests_failed=figures.failed,
        coverage=figures.coverage,
        api_calls=outcome.api_calls,
        tokens=outcome.tokens,
        cpu_time_s=outcome.usage.cpu_time_s,
        memory_peak_mb=outcome.usage.memory_peak_mb,
        truncated=outcome.truncated,
    )
    if notes:
        shown = "\n".join(f"[stellarflow] {note[:300]}" for note in notes[:MAX_NOTES])
        separator = "" if not result.output or result.output.endswith("\n") else "\n"
        result.output = f"{result.output}{separator}{shown}"
    result.output = redact(result.output, ctx.secrets) or ""
    result.error = redact(result.error, ctx.secrets)
    return result


# ---- the activities -----------------------------------------------------------------------------------------


@activity.defn(name=names.PROVISION_WORKSPACE)
async def provision_workspace(agent_id: str) -> str:
    """Create the agent's directory (`<workspaces dir>/<agent_id>`) and return its absolute path."""
    return str(await asyncio.to_thread(ws.provision, agent_id))


@activity.defn(name=names.EXECUTE_TASK)
async def execute_task(inp: ExecuteTaskInput) -> TaskResult:
    """Run one task with the executor it names. Give it a heartbeat timeout: cancellation reaches it through
    heartbeats, and then kills the task's whole process group before re-raising."""
    return await execute(inp)


@activity.defn(name=names.ROLLBACK_WORKSPACE)
async def rollback_workspace(req: RollbackRequest) -> bool:
    """Put the task's workspace back as it was before the task ran; True only if something was restored
    (False when nothing had changed or no snapshot exists). Processes of the task still running are killed
    first. Call it after the `execute_task` activity has finished cancelling (WAIT_CANCELLATION_COMPLETED)."""
    workspace = ws.task_workspace(req.workspace, req.agent_id, req.task_id)

    def rollback() -> bool:
        reap_orphans(workspace, req.task_id)
        return ws.restore(workspace)

    return await asyncio.to_thread(rollback)


ALL = [provision_workspace, execute_task, rollback_workspace]
