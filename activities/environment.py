"""What every action activity shares: the run's workspace, the child-process environment, parameter
validation and the shape of a failed outcome.

Kept apart from the activities so the rules (which variables a command may see, where it may run, what a
failure carries) are written once and read the same by execute-command, deploy and the rest.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from core.dsl.actions import ACTION_PARAMS, ActionParams
from core.pipelines.contracts import ActionRequest
from core.settings import get_settings

T = TypeVar("T")
P = TypeVar("P", bound=ActionParams)

# Variables a command inherits from the worker. Everything else (DATABASE_URL, cloud credentials, the
# notification webhooks...) stays in the worker: a step only sees what its definition gives it.
ALLOWED_ENV_VARS = frozenset(
    {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "TERM", "USER", "LOGNAME", "SHELL", "PYTHONPATH", "VIRTUAL_ENV"}
)
ALLOWED_ENV_PREFIXES = ("LC_",)

# How often a running activity heartbeats, and (worker.py) the longest the SDK may hold a heartbeat back before
# sending it. A cancellation reaches an activity only in the answer to a heartbeat, so together they bound how long
# a cancel waits before the process group is killed: about 0.5 s, plus one round trip. The SDK's own throttle is
# 80 % of the heartbeat timeout (24 s with the default 30 s), which made a cancel take 22 s. The heartbeat
# *timeout* (how long a silent worker may take before the attempt is retried) is unchanged.
HEARTBEAT_INTERVAL_S = 0.5
HEARTBEAT_THROTTLE = timedelta(seconds=HEARTBEAT_INTERVAL_S)


# ---- errors ---------------------------------------------------------------------------------------------


def invalid_parameters(message: str) -> ApplicationError:
    """A request that can never succeed: retrying would only repeat the same error."""
    return ApplicationError(message, type="InvalidParameters", non_retryable=True)


STEP_LOG = logging.getLogger("stellarflow.steps")


def step_failed(message: str, outputs: Mapping[str, Any], req: ActionRequest) -> ApplicationError:
    """A failed outcome. The outputs travel as the first detail so the run still shows stdout, status
    codes...; the second detail is the attempt, which the workflow reports as the step's attempt count.
    Whether the policy may retry it is the step's choice (`retry:` in the definition).

    A failing step is the user's news, not a bug of ours: it is BENIGN (the SDK logs it at debug level instead of a
    warning with a traceback) and the worker says so in one line, without the outputs (they may hold secrets)."""
    STEP_LOG.info("run %s step %s (%s) failed on attempt %d: %s", req.run_id, req.step_id, req.action,
                  current_attempt(), message)
    return ApplicationError(
        message,
        dict(outputs),
        {"attempt": current_attempt()},
        type="StepFailed",
        non_retryable=not req.retry_failures,
        category=ApplicationErrorCategory.BENIGN,
    )


def parse_params(req: ActionRequest, model: type[P] | None = None) -> P:
    """Validate the rendered parameters with the action's model. The message names fields and problems but
    never echoes input values: a rendered parameter may hold a secret."""
    model = model or ACTION_PARAMS.get(req.action)  # type: ignore[assignment]
    if model is None:
        raise invalid_parameters(f"unknown action {req.action!r}")
    try:
        return model.model_validate(req.parameters)  # type: ignore[return-value]
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(parameters)'}: {e['msg']}" for e in err.errors()
        )
        raise invalid_parameters(f"invalid parameters for {req.action}: {problems}") from None


# ---- Temporal context, optional ---------------------------------------------------------------------------


def current_attempt() -> int:
    """The Temporal attempt number, or 1 when called directly (unit tests, scripts)."""
    return activity.info().attempt if activity.in_activity() else 1


def heartbeat(details: Any) -> None:
    """Heartbeat only inside an activity: heartbeats are what let Temporal deliver cancellation and notice a
    dead worker, and the plain functions must stay callable without Temporal."""
    if activity.in_activity() and not activity.info().is_local:  # local activities cannot heartbeat
        activity.heartbeat(details)


async def with_heartbeats(awaitable: Awaitable[T], interval_s: float = HEARTBEAT_INTERVAL_S) -> T:
    """Await `awaitable` while heartbeating `{"elapsedMs": ...}` about every `interval_s`. Cancelling the
    caller cancels the awaitable too (it is awaited, not detached)."""
    if not activity.in_activity():
        return await awaitable
    started = time.monotonic()

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval_s)
            heartbeat({"elapsedMs": int((time.monotonic() - started) * 1000)})

    beater = asyncio.create_task(beat())
    try:
        return await awaitable
    finally:
        beater.cancel()


# ---- workspace and process environment -------------------------------------------------------------------


GROUPS_DIR = ".groups"  # under the workspaces dir: `<run id>/<step>.pgid`, out of reach of the run's commands


def _run_component(run_id: str) -> str:
    """The run id is one path component: an id that could name another directory (or, with a leading dot, one of
    ours next to the workspaces) is refused rather than sanitised."""
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id or "\0" in run_id:
        raise invalid_parameters(f"run id {run_id!r} cannot name a workspace directory")
    return run_id


def workspace_for(run_id: str) -> Path:
    """The run's workspace, shared by all its steps and created on first use (0700: it will belong to the
    sandbox's uid, and no other local user needs to list it)."""
    workspace = get_settings().workspaces_dir / _run_component(run_id)
    workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    return workspace.resolve()


def group_marker(run_id: str, name: str) -> Path:
    """Where a step's process group id is noted while it runs (`command.reap_previous_attempt`). Not in the
    workspace: the worker writes it as root, and a command could have planted a symlink there."""
    directory = get_settings().workspaces_dir / GROUPS_DIR / _run_component(run_id)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory / f"{name}.pgid"


def resolve_working_dir(workspace: Path, relative: str | None, *, create: bool = True) -> Path:
    """`workingDirectory` is relative to the workspace and must stay inside it, symlinks included (the path
    is resolved before the check). A missing directory is created, like the workspace itself — by the worker
    with `create`, else (sandboxed) inside the sandbox by the command's own uid, so it can write there."""
    if not relative:
        return workspace
    if "\0" in relative or Path(relative).is_absolute():
        raise invalid_parameters(f"workingDirectory {relative!r} must be a path relative to the run's workspace")
    target = (workspace / relative).resolve()
    if not target.is_relative_to(workspace):
        raise invalid_parameters(f"workingDirectory {relative!r} leaves the run's workspace")
    if create:
        target.mkdir(parents=True, exist_ok=True)
    return target


def base_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowlisted part of the worker's environment, with the worker's own interpreter `bin/` first on
    PATH so tools installed next to the worker (ruff, pytest in the project venv) are found."""
    source = os.environ if source is None else source
    env = {
        key: value for key, value in source.items() if key in ALLOWED_ENV_VARS or key.startswith(ALLOWED_ENV_PREFIXES)
    }
    venv_bin = str(Path(sys.prefix) / "bin")
    path = [part for part in env.get("PATH", os.defpath).split(os.pathsep) if part]
    if not path or path[0] != venv_bin:
        path = [venv_bin, *(part for part in path if part != venv_bin)]
    env["PATH"] = os.pathsep.join(path)
    return env


def check_env(env: Mapping[str, str], where: str) -> dict[str, str]:
    """Refuse names and values the OS would reject at spawn time, with a message naming the variable (never
    its value)."""
    checked: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise invalid_parameters(f"{where}: {key!r} is not a valid environment variable name")
        if not isinstance(value, str) or "\0" in value:
            raise invalid_parameters(f"{where}: the value of {key} must be a string without NUL bytes")
        checked[key] = value
    return checked
