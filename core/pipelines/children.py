"""Sub-workflows: what a run-workflow step starts. The child is a run of the named workflow (the pinned version, or
its current one), with the step's inputs, started by the parent run's starter, one level deeper; its pending
projection row is written here, like `start_run` does for API runs."""

from __future__ import annotations

import hashlib

from core.dsl.validate import DefinitionError, resolve_inputs
from core.errors import ValidationFailed
from core.events.contracts import EntityRecord
from core.events.store import record
from core.ids import id_at
from core.pipelines.contracts import ChildRunPlan, ChildRunRequest, PipelineInput, TriggerInfo
from core.pipelines.definitions import get_definition
from core.pipelines.launch import run_metadata
from core.pipelines.models import RunState, StepState
from core.pipelines.projection import RUN_PROJECTION
from core.pipelines.runs import ui_link
from core.settings import Settings


def child_run_id(parent_run_id: str, step_id: str, at_ms: int) -> str:
    """Derived from the parent run and step (and the parent's start time): a retried resolve names the same run."""
    entropy = hashlib.sha256(f"{parent_run_id}\0{step_id}".encode()).digest()
    return id_at("run", at_ms, entropy)


def plan_child_run(request: ChildRunRequest, settings: Settings, *, at_ms: int | None = None) -> ChildRunPlan:
    if request.depth > request.max_depth:
        raise ValidationFailed(f"sub-workflows nest at most {request.max_depth} deep (STELLARFLOW_MAX_WORKFLOW_DEPTH);"
                               f" {request.workflow} would be level {request.depth}")
    name, _, pinned = request.workflow.partition("@")
    info, definition = get_definition(name, int(pinned) if pinned else None)
    try:
        inputs = resolve_inputs(definition, request.inputs)
    except DefinitionError as err:
        raise ValidationFailed(f"inputs of {request.workflow}: {err}") from None
    version = int(pinned) if pinned else info.version
    run_id = child_run_id(request.parent_run_id, request.step_id, at_ms if at_ms is not None else _parent_ms(request))
    child = PipelineInput(
        run_id=run_id, workflow_id=name, version=version, definition=definition.dump(), inputs=inputs,
        heartbeat_timeout_s=request.heartbeat_timeout_s, default_timeout_s=request.default_timeout_s,
        link=ui_link(settings, run_id), started_by=request.started_by, owner=info.owner,
        trigger=TriggerInfo(type="workflow"), parent_run_id=request.parent_run_id, depth=request.depth,
        max_depth=request.max_depth)
    state = RunState(id=run_id, workflowId=name, version=version, inputs=inputs, startedBy=request.started_by,
                     steps=[StepState(id=s.id, name=s.name, action=s.action) for s in definition.steps],
                     trigger={"type": "workflow"}, parentRunId=request.parent_run_id)
    record(EntityRecord(kind=RUN_PROJECTION.kind, id=run_id, seq=0, snapshot=state.model_dump(mode="json")),
           RUN_PROJECTION)
    summary, details = run_metadata(definition.name, name, version, "parent",
                                    request.started_by.username if request.started_by else None,
                                    parent_run_id=request.parent_run_id)
    return ChildRunPlan(input=child, summary=summary, details=details, name=definition.name)


def _parent_ms(request: ChildRunRequest) -> int:
    # the parent's run id is a ULID when the API started it: its time part is fixed, so retries agree
    from ulid import ULID

    try:
        return int(ULID.from_str(request.parent_run_id.rsplit("-", 1)[-1]).milliseconds)
    except ValueError:
        return int(hashlib.sha256(request.parent_run_id.encode()).hexdigest()[:10], 16)
