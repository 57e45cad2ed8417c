"""Sub-workflows and re-runs: resolving a run-workflow step's child run (which definition version, which inputs, a
new run id and its pending projection row), and giving a re-run a copy of the original run's workspace."""

from __future__ import annotations

import asyncio
import shutil

from temporalio import activity

from activities import sandbox as sandboxing
from activities.environment import invalid_parameters, workspace_for
from core import names
from core.dsl.validate import DefinitionError
from core.errors import DomainError
from core.pipelines.children import plan_child_run
from core.pipelines.contracts import ChildRunPlan, ChildRunRequest
from core.settings import get_settings


@activity.defn(name=names.RESOLVE_CHILD_RUN)
async def resolve_child_run(request: ChildRunRequest) -> ChildRunPlan:
    try:
        return await asyncio.to_thread(plan_child_run, request, get_settings())
    except (DomainError, DefinitionError) as err:
        raise invalid_parameters(f"run-workflow: {err}") from None


@activity.defn(name=names.PREPARE_RERUN_WORKSPACE)
async def prepare_rerun_workspace(original_run_id: str, run_id: str) -> bool:
    """Copy the original run's workspace (when it still exists) into the re-run's, so files the reused steps made are
    there; the runner's bookkeeping (`.stellarflow/`) is left behind. Returns whether there was one to copy."""

    def copy() -> bool:
        settings = get_settings()
        source = settings.workspaces_dir / original_run_id
        if not source.is_dir():
            return False
        target = workspace_for(run_id)
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".stellarflow"))
        # The copies are the worker's; the re-run's commands run as its own workspace's uid and must own them.
        uid = sandboxing.uid_for(target.resolve(), settings)
        if uid is not None and settings.sandbox_mode != "none":
            sandboxing.give(target, uid, recursive=True)
        return True

    return await asyncio.to_thread(copy)
