"""Re-running a finished run: a new run of the same pinned version with the same inputs, in which the steps that
succeeded before the chosen point are not executed again — their recorded outputs (and artifacts) are reused and
marked `reusedFrom`. `failedOnly`: every step that succeeded is reused; `fromStep: X`: every step that succeeded and
is neither X nor downstream of X. The new run names the original (`rerunOf`); the original lists its re-runs."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from core.access import Caller
from core.dsl.models import WorkflowDefinition
from core.errors import Conflict, Forbidden, ValidationFailed
from core.pipelines.contracts import TriggerInfo
from core.pipelines.definitions import get_definition, workflow_access
from core.pipelines.launch import RunOptions
from core.pipelines.models import TERMINAL_RUN, StepState, StepStatus
from core.pipelines.runs import RunInfo, entitled, get_run_row, start_run
from core.settings import Settings


def downstream(definition: WorkflowDefinition, step_id: str) -> set[str]:
    """The step and every step that depends on it, directly or not."""
    found = {step_id}
    changed = True
    while changed:
        changed = False
        for step in definition.steps:
            if step.id not in found and found & set(step.dependsOn):
                found.add(step.id)
                changed = True
    return found


def reused_steps(definition: WorkflowDefinition, steps: list[StepState], *, failed_only: bool,
                 from_step: str | None) -> dict[str, StepState]:
    """Which recorded steps a re-run takes over instead of executing them (pure)."""
    if from_step is not None:
        if from_step not in {s.id for s in definition.steps}:
            raise ValidationFailed(f"The run has no step {from_step!r}",
                                   details=[{"field": "fromStep", "constraint": "unknown_step", "value": from_step}])
        again = downstream(definition, from_step)
    elif failed_only:
        again = set()
    else:
        raise ValidationFailed("Say what to re-run: {\"failedOnly\": true} or {\"fromStep\": \"<step id>\"}",
                               details=[{"field": "failedOnly", "constraint": "required"}])
    known = {s.id for s in definition.steps}
    return {s.id: s for s in steps if s.status == StepStatus.succeeded and s.id not in again and s.id in known}


async def rerun(client: Client, settings: Settings, run_id: str, *, caller: Caller, failed_only: bool = False,
                from_step: str | None = None) -> RunInfo:
    """Who may: whoever may read the original run in full (its inputs and outputs are carried over) and run
    workflows; the new run is theirs."""
    original = await asyncio.to_thread(get_run_row, run_id)
    access = (await asyncio.to_thread(workflow_access, [original.workflowId])).get(original.workflowId)
    if not entitled(original, caller, access):
        raise Forbidden("Only those who may read the run's inputs and outputs may re-run it", resource="run",
                        id=run_id)
    if original.status not in TERMINAL_RUN:
        raise Conflict(f"Run {run_id} is still {original.status.value}; re-run it once it has finished")
    _, definition = await asyncio.to_thread(get_definition, original.workflowId, original.version)
    reuse = reused_steps(definition, original.steps, failed_only=failed_only, from_step=from_step)
    info, _ = await start_run(client, settings, original.workflowId, original.inputs, caller=caller,
                              version=original.version,
                              options=RunOptions(trigger=TriggerInfo(type="rerun"), rerun_of=run_id, reuse=reuse))
    return info
