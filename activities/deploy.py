"""The `deploy` action: run an environment's deploy command, check its health, record the live slot.

Blue-green deploys go to the idle slot and only become live once healthy, so a failed deploy leaves the
live slot untouched; rolling and recreate deploy in place. The deployments table is the single record of
what is live, written in one transaction after the health check, and it makes the step idempotent: a retry
of a step that already recorded its deploy returns that record instead of deploying twice.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.command import CommandOutcome, format_seconds, run_in_workspace, step_timeout
from activities.egress import EgressRefused, guarded_client
from activities.environment import current_attempt, invalid_parameters, parse_params, step_failed, with_heartbeats
from activities.http_request import safe_url
from core import names
from core.db import session_scope, utcnow
from core.dsl.actions import DeployParams
from core.dsl.models import EnvironmentSpec
from core.dsl.templating import TemplateError, render
from core.pipelines.contracts import ActionRequest, ActionResult
from core.pipelines.tables import DeploymentRow
from core.settings import get_settings

HEALTH_POLL_INTERVAL_S = 0.5
HEALTH_REQUEST_TIMEOUT_S = 5.0
# The step's timeout bounds the whole deploy (command, then health check); the workflow allows some slack
# beyond it, of which a rollback after a deploy that used up the budget still gets this much.
ROLLBACK_MIN_S = 20.0

# Deploys to one environment from this worker run one at a time; across workers the recorded live slot is
# compared before it is changed (see `_record`).
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


class DeployConflict(Exception):
    """Another deploy changed the environment's record while this one ran."""


def _env_lock(environment: str) -> asyncio.Lock:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(environment, asyncio.Lock())


def environment_spec(name: str, req: ActionRequest) -> EnvironmentSpec:
    """The definition's `environments:` entry, else the server's STELLARFLOW_ENVIRONMENTS entry."""
    raw = req.environments.get(name)
    if raw is None:
        raw = get_settings().environments.get(name)
    if raw is None:
        raise ApplicationError(
            f"deploy environment {name!r} is not configured: add it under `environments:` in the definition "
            "or to STELLARFLOW_ENVIRONMENTS",
            type="EnvironmentNotConfigured",
            non_retryable=True,
        )
    try:
        return EnvironmentSpec.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
        raise invalid_parameters(f"deploy environment {name!r} is misconfigured: {problems}") from None


def deployment_key(req: ActionRequest) -> str:
    """What the deployments row remembers as "who deployed": the run and step (and fan-out instance)."""
    key = f"{req.run_id}/{req.step_id}"
    return f"{key}[{req.instance}]" if req.instance else key


def _load(environment: str) -> DeploymentRow | None:
    with session_scope() as session:
        return session.get(DeploymentRow, environment)


def _record(
    environment: str,
    *,
    live_slot: str | None,
    version: str | None,
    key: str,
    expected: tuple[str | None, str | None] | None,
) -> None:
    """Write the deploy in one transaction. With `expected` (blue-green), the row must still hold the live
    slot and deployer read before deploying: otherwise another deploy flipped it meanwhile."""
    try:
        with session_scope() as session:
            row = session.get(DeploymentRow, environment)
            if row is None:
                if expected is not None and expected != (None, None):
                    raise DeployConflict
                row = DeploymentRow(environment=environment)
            elif row.run_id == key:
                return
            elif expected is not None and (row.live_slot, row.run_id) != expected:
                raise DeployConflict
            row.live_slot = live_slot
            row.version = version
            row.run_id = key
            row.updated_at = utcnow()
            session.add(row)
    except IntegrityError:  # a concurrent first deploy inserted the row
        raise DeployConflict from None


async def _health_check(url: str, timeout_s: float) -> dict[str, Any]:
    """GET `url` every ~0.5 s until a 2xx or `timeout_s`; the first attempt is immediate and the last one is
    made at the deadline, so a service that comes up just in time still passes. The check goes through the egress
    guard: an internal address the operator did not allowlist is refused at once (polling would not change it)."""
    deadline = time.monotonic() + timeout_s
    checks, status, error = 0, None, None
    async with guarded_client(follow_redirects=False) as client:
        while True:
            checks += 1
            remaining = deadline - time.monotonic()
            try:
                timeout = max(0.2, min(HEALTH_REQUEST_TIMEOUT_S, remaining))
                async with client.stream("GET", url, timeout=timeout) as response:  # the status is all we need
                    status, error = response.status_code, None
                if 200 <= status < 300:
                    return {"healthy": True, "healthStatus": status, "healthChecks": checks}
            except EgressRefused as err:
                return {"healthy": False, "healthStatus": None, "healthError": str(err), "healthChecks": checks}
            except httpx.HTTPError as err:
                error = type(err).__name__
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"healthy": False, "healthStatus": status, "healthError": error, "healthChecks": checks}
            await asyncio.sleep(min(HEALTH_POLL_INTERVAL_S, remaining))


def _command_outputs(outcome: CommandOutcome) -> dict[str, Any]:
    return {"exitCode": outcome.exit_code, "stdout": outcome.stdout, "stderr": outcome.stderr}


async def run_deploy(req: ActionRequest) -> ActionResult:
    """The whole `deploy` action without Temporal."""
    params = parse_params(req, DeployParams)
    name = params.environment
    spec = environment_spec(name, req)
    key = deployment_key(req)
    blue_green = params.strategy == "blue-green"

    async with _env_lock(name):
        row = await asyncio.to_thread(_load, name)
        if row is not None and row.run_id == key:
            return _recorded_result(row, params, spec)

        live = row.live_slot if row is not None else None
        if blue_green:
            slot = spec.slots[1] if live == spec.slots[0] else spec.slots[0]
            previous = live or ""
        else:
            slot = previous = ""
        context = {"slot": slot, "environment": name, "strategy": params.strategy, "version": params.version}
        try:
            health_url = render(spec.healthCheckUrl, context) if spec.healthCheckUrl else None
        except TemplateError as err:
            raise invalid_parameters(
                f"deploy environment {name!r}: healthCheckUrl does not render: {err.message}"
            ) from None

        started = time.monotonic()
        timeout_s = step_timeout(None, req)
        deadline = started + timeout_s
        deploy_env = {
            "DEPLOY_ENVIRONMENT": name,
            "DEPLOY_STRATEGY": params.strategy,
            "DEPLOY_SLOT": slot,
            "DEPLOY_VERSION": params.version or "",
            "DEPLOY_PREVIOUS_SLOT": previous,
        }
        outputs: dict[str, Any] = {
            "environment": name,
            "strategy": params.strategy,
            "slot": slot,
            "previousSlot": previous,
            "version": params.version,
        }

        outcome = await run_in_workspace(req, spec.deployCommand, timeout_s=timeout_s, extra_env=deploy_env)
        outputs.update(_command_outputs(outcome))
        health_timeout = 0.0
        if not outcome.ok:
            failure = outcome.failure_message("deploy command")
        else:
            if health_url is None:
                outputs.update(healthy=True, healthChecks=0)
            else:
                health_timeout = min(spec.healthCheckTimeout, max(deadline - time.monotonic(), 1.0))
                outputs.update(await with_heartbeats(_health_check(health_url, health_timeout)))
            failure = None
            if not outputs["healthy"]:
                got = outputs.get("healthStatus") or outputs.get("healthError") or "no answer"
                failure = (
                    f"health check of {safe_url(health_url or '')} failed after "
                    f"{format_seconds(round(health_timeout, 3))} (last: {got})"
                )

        if failure is None:
            try:
                await asyncio.to_thread(
                    _record,
                    name,
                    live_slot=slot if blue_green else live,
                    version=params.version,
                    key=key,
                    expected=(live, row.run_id if row else None) if blue_green else None,
                )
            except DeployConflict:
                # No rollback: the slot this deploy used may be the one the other deploy made live.
                outputs["durationMs"] = int((time.monotonic() - started) * 1000)
                raise step_failed(
                    f"deploy to {name!r} failed: another deploy finished while this one ran; the live slot "
                    "was not changed by this step",
                    {**outputs, "healthy": outputs.get("healthy", False), "rolledBack": False},
                    req,
                ) from None
            else:
                outputs["durationMs"] = int((time.monotonic() - started) * 1000)
                return ActionResult(outputs=outputs, attempt=current_attempt(), warnings=outcome.warnings)

        outputs["healthy"] = False
        failure = f"deploy to {name!r} failed: {failure}; " + await _compensate(
            req, spec, deploy_env, max(deadline - time.monotonic(), ROLLBACK_MIN_S), outputs
        )
        outputs["durationMs"] = int((time.monotonic() - started) * 1000)
        raise step_failed(failure, outputs, req)


async def _compensate(
    req: ActionRequest, spec: EnvironmentSpec, deploy_env: dict[str, str], timeout_s: float, outputs: dict
) -> str:
    """Run rollbackCommand after a failed deploy; fills rolledBack/rollbackExitCode, returns a summary."""
    if spec.rollbackCommand is None:
        outputs.update(rolledBack=False, rollbackExitCode=None)
        return "no rollbackCommand is configured"
    rollback = await run_in_workspace(req, spec.rollbackCommand, timeout_s=timeout_s, extra_env=deploy_env)
    outputs.update(
        rolledBack=rollback.ok,
        rollbackExitCode=rollback.exit_code,
        rollbackStdout=rollback.stdout,
        rollbackStderr=rollback.stderr,
    )
    return "rolled back" if rollback.ok else f"rollback failed: {rollback.failure_message('rollback command')}"


def _recorded_result(row: DeploymentRow, params: DeployParams, spec: EnvironmentSpec) -> ActionResult:
    """A retry of a step whose deploy is already recorded: report it without deploying again."""
    blue_green = params.strategy == "blue-green"
    slot = (row.live_slot or "") if blue_green else ""
    previous = (spec.slots[1] if slot == spec.slots[0] else spec.slots[0]) if blue_green else ""
    outputs = {
        "environment": params.environment,
        "strategy": params.strategy,
        "slot": slot,
        "previousSlot": previous,
        "healthy": True,
        "version": row.version,
        "durationMs": 0,
        "alreadyDeployed": True,
    }
    return ActionResult(outputs=outputs, attempt=current_attempt())


@activity.defn(name=names.DEPLOY)
async def deploy(req: ActionRequest) -> ActionResult:
    """Temporal entry point; the command runner heartbeats and handles cancellation."""
    return await run_deploy(req)
