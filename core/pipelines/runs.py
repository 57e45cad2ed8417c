"""Pipeline runs: start, read (live while running), list, cancel, approve, logs.

A run is a PipelineWorkflow whose workflow id is the run id; the database only holds its projection.
Starting a run is a *use* of its workflow, open to anyone with `workflows:run`; the run belongs to its starter
(`startedBy`). Cancelling needs the starter, the workflow's owner or an admin. Everyone signed in sees a run's
status and steps; its inputs, step outputs, step errors and logs are for those and the users the workflow is
shared with (withheld from others: `core.access.Redactable`). Approvals follow `core.pipelines.approvals`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.access import Caller, Redactable, may_read, may_write, owns
from core.db import session_scope
from core.dsl.validate import DefinitionError, resolve_inputs
from core.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from core.events.contracts import EntityRecord
from core.events.models import Event
from core.events.pending import PENDING
from core.events.store import list_events
from core.ids import derived_id, new_id
from core.listing import Page, PageRequest, paginate
from core.names import PIPELINE_WORKFLOW
from core.pipelines import approvals
from core.pipelines.contracts import DECIDE_APPROVAL_UPDATE, STATUS_QUERY, ApprovalDecision, PipelineInput
from core.pipelines.definitions import WorkflowAccess, definition_for_run, get_definition, workflow_access
from core.pipelines.launch import RunOptions, run_metadata
from core.pipelines.models import TERMINAL_RUN, RunStarter, RunState, RunStatus, StepState
from core.pipelines.projection import RUN_PROJECTION
from core.pipelines.tables import RunRow
from core.settings import Settings
from core.temporal import MAX_WORKFLOW_INPUT_BYTES, check_workflow_input, run_search_attributes

SORTABLE = {"createdAt": RunRow.created_at, "status": RunRow.status}
FILTERABLE = {"status": RunRow.status, "workflowId": RunRow.workflow_id, "startedBy": RunRow.started_by}
RUN_WITHHELD = ("inputs", "outputs", "step_errors")


class RunInfo(Redactable):
    id: str
    workflowId: str
    version: int
    startedBy: RunStarter | None = None
    status: RunStatus
    inputs: dict[str, Any]
    createdAt: datetime
    startedAt: datetime | None
    endedAt: datetime | None
    error: str | None
    steps: list[StepState]
    trigger: dict[str, Any] | None = None
    rerunOf: str | None = None
    reruns: list[str] = []
    parentRunId: str | None = None
    concurrency: dict[str, Any] | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.status.value] = counts.get(step.status.value, 0) + 1
        return counts

    @property
    def duration_ms(self) -> int | None:
        if self.startedAt and self.endedAt:
            return int((_aware(self.endedAt) - _aware(self.startedAt)).total_seconds() * 1000)
        return None


def ui_link(settings: Settings, run_id: str) -> str:
    return f"{settings.ui_url}/namespaces/{settings.temporal_namespace}/workflows/{run_id}"


async def start_run(
    client: Client,
    settings: Settings,
    workflow_id: str,
    inputs: dict[str, Any] | None = None,
    *,
    caller: Caller,
    version: int | None = None,
    options: RunOptions | None = None,
    id_seed: str | None = None,
) -> tuple[RunInfo, bool]:
    """Start a run owned by the caller (anyone who may run workflows: a run is a use of its workflow). Returns
    (run, created). Retries are made safe by the API's Idempotency-Key layer (api/idempotency.py), which answers a
    retry with the first response before this is called again."""
    options = options or RunOptions()
    pinned, definition, dumped, owner = definition_for_run(workflow_id, version)  # two primary-key reads
    # With an Idempotency-Key the run id is derived from it, and Temporal refuses a second workflow with that id: a
    # retry whose first attempt started the run but never answered (a killed API, a Temporal restart) gets that run.
    run_id = options.run_id or (derived_id("run", id_seed) if id_seed else new_id("run"))
    try:
        resolved = resolve_inputs(definition, inputs or {})
    except DefinitionError as err:
        raise ValidationFailed("Run inputs are invalid", details=[i.as_detail() for i in err.issues]) from None

    starter = RunStarter(id=caller.id, username=caller.username)
    state = RunState(id=run_id, workflowId=workflow_id, version=pinned, inputs=resolved, startedBy=starter,
                     steps=[StepState(id=s.id, name=s.name, action=s.action) for s in definition.steps],
                     trigger=options.trigger.summary() if options.trigger else None, rerunOf=options.rerun_of)
    pipeline_input = PipelineInput(
        run_id=run_id,
        workflow_id=workflow_id,
        version=pinned,
        definition=dumped,
        inputs=resolved,
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        default_timeout_s=settings.default_step_timeout_s,
        link=ui_link(settings, run_id),
        started_by=starter,
        **options.input_fields(owner, settings),
    )
    summary, details = run_metadata(definition.name, workflow_id, pinned, options.trigger_name, starter.username,
                                    rerun_of=options.rerun_of)
    if len(_json(dumped)) + len(_json(resolved)) > MAX_WORKFLOW_INPUT_BYTES // 2:  # encoding twice costs: only then
        check_workflow_input(pipeline_input, "run (its definition and inputs)")
    try:
        await client.start_workflow(
            PIPELINE_WORKFLOW,
            pipeline_input,
            id=run_id,
            task_queue=settings.task_queue,
            search_attributes=run_search_attributes(workflow_id, pinned, options.trigger_name),
            static_summary=summary,
            static_details=details,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:  # started by an earlier attempt with this key, and finished since
        return await asyncio.to_thread(get_run_row, run_id), False
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the run: {err.message}") from None
    # The pending row is written off the request path, batched with other starts (core/events/pending.py); the
    # run's workflow writes its row too, on its first flush.
    PENDING.submit(EntityRecord(kind=RUN_PROJECTION.kind, id=run_id, seq=0, snapshot=state.model_dump(mode="json")),
                   RUN_PROJECTION)
    return _from_state(state, datetime.now(UTC)), True


def entitled(info: RunInfo, caller: Caller, access: WorkflowAccess | None) -> bool:
    """May read the run's inputs, outputs and logs: its starter, the workflow's owner, the users the workflow is
    shared with, and admins."""
    if info.startedBy is not None and owns(caller, info.startedBy.id):
        return True
    return may_read(caller, access.owner if access else None, access.shared_with if access else None)


def run_view(info: RunInfo, caller: Caller, access: WorkflowAccess | None) -> RunInfo:
    """The run as the caller may see it: whole, or with inputs, step outputs and step errors withheld."""
    if entitled(info, caller, access):
        return info
    steps = [_bare(step) for step in info.steps]
    return info.withheld(RUN_WITHHELD, inputs={}, steps=steps)


def _bare(step: StepState) -> StepState:
    return step.model_copy(update={"outputs": {}, "error": None,
                                   "instances": None if step.instances is None else [_bare(i) for i in step.instances]})


def _access(workflow_id: str) -> WorkflowAccess | None:
    return workflow_access([workflow_id]).get(workflow_id)


async def view_run(client: Client, run_id: str, *, caller: Caller, wait_s: float = 0) -> RunInfo:
    """`get_run` as the caller may see it."""
    info = await get_run(client, run_id, wait_s=wait_s)
    return run_view(info, caller, await asyncio.to_thread(_access, info.workflowId))


async def get_run(client: Client, run_id: str, *, wait_s: float = 0) -> RunInfo:
    """The live state while the run is open (a workflow query), the projection once it is closed (whole: callers
    outside this module read through `view_run`).

    With `wait_s`, first wait up to that long for the run to close (a long poll on the server, so a client
    that only wants the outcome need not poll)."""
    try:
        info = await asyncio.to_thread(get_run_row, run_id)
    except NotFound:
        info = await _just_started(client, run_id)
    if info.status in TERMINAL_RUN:
        return info
    handle = client.get_workflow_handle(run_id)
    if wait_s > 0:
        with contextlib.suppress(Exception):  # timed out, or closed as failed/cancelled: read below
            await asyncio.wait_for(handle.result(), timeout=wait_s)
        info = await asyncio.to_thread(get_run_row, run_id)
        if info.status in TERMINAL_RUN:
            return info
    try:
        live = await handle.query(
            STATUS_QUERY,
            result_type=RunState,
            rpc_timeout=timedelta(seconds=5),
            # A closed run would be replayed just to answer; its projection already holds the answer.
            reject_condition=QueryRejectCondition.NOT_OPEN,
        )
    except Exception:  # closed meanwhile, or no worker right now: the projection is still true
        return await asyncio.to_thread(get_run_row, run_id)
    return RunInfo(
        id=live.id, workflowId=live.workflowId, version=live.version, startedBy=live.startedBy or info.startedBy,
        status=live.status, inputs=live.inputs, createdAt=info.createdAt, startedAt=live.startedAt,
        endedAt=live.endedAt, error=live.error, steps=live.steps, trigger=live.trigger, rerunOf=live.rerunOf,
        reruns=info.reruns, parentRunId=live.parentRunId, concurrency=live.concurrency,
    )


async def _just_started(client: Client, run_id: str) -> RunInfo:
    """A run another API process started a moment ago, whose pending row is not written yet: its workflow knows it.
    NotFound when Temporal has no such run (or no worker answers right now)."""
    if not run_id.startswith("run-"):
        raise NotFound("run", run_id)
    try:
        live = await client.get_workflow_handle(run_id).query(STATUS_QUERY, result_type=RunState,
                                                              rpc_timeout=timedelta(seconds=2))
    except Exception:  # noqa: BLE001 - unknown, or unanswerable now: the projection's answer stands
        raise NotFound("run", run_id) from None
    return _from_state(live, live.startedAt or datetime.now(UTC))


def get_run_row(run_id: str) -> RunInfo:
    for attempt in range(2):
        with session_scope() as session:
            row = session.get(RunRow, run_id)
            if row is not None:
                info = _from_row(row)
                info.reruns = list(session.exec(select(RunRow.id).where(RunRow.rerun_of == run_id)
                                                .order_by(RunRow.created_at)).all())  # type: ignore[arg-type]
                return info
        if attempt == 0:
            PENDING.flush()  # a run this process started a moment ago may still be queued
    raise NotFound("run", run_id)


def list_runs(page: PageRequest, *, caller: Caller, workflow_id: str | None = None) -> Page[RunInfo]:
    PENDING.flush()  # runs this process started a moment ago are listed too
    if workflow_id is not None:
        get_definition(workflow_id)  # 404 for an unknown workflow
    with session_scope() as session:
        query = select(RunRow)
        if workflow_id is not None:
            query = query.where(RunRow.workflow_id == workflow_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=RunRow.id,
                        filterable=FILTERABLE)
    runs = rows.map(_from_row)
    access = workflow_access([info.workflowId for info in runs.items])
    return runs.map(lambda info: run_view(info, caller, access.get(info.workflowId)))


async def cancel_run(client: Client, run_id: str, *, caller: Caller) -> RunInfo:
    """The run's starter, its workflow's owner or an admin (403 otherwise)."""
    info = await asyncio.to_thread(get_run_row, run_id)
    access = await asyncio.to_thread(_access, info.workflowId)
    started_it = info.startedBy is not None and owns(caller, info.startedBy.id)
    if not started_it and not may_write(caller, access.owner if access else None):
        raise Forbidden("Only the run's starter, its workflow's owner or an admin may cancel it", resource="run",
                        id=run_id)
    if info.status in TERMINAL_RUN:
        raise Conflict(f"Run {run_id} already finished ({info.status.value})")
    await client.get_workflow_handle(run_id).cancel()
    return run_view(await get_run(client, run_id), caller, access)


async def decide_approval(
    client: Client, run_id: str, step_id: str, *, approved: bool, caller: Caller, comment: str | None
) -> StepState:
    """Approve or reject a waiting approval step. Who may is `core.pipelines.approvals`: checked here for a clear
    403, and again by the run's workflow, which has the last word. The decision names the decider (id, username,
    role); the `step.approval_decided` event and the Update in the run's history keep it."""
    info = await get_run(client, run_id)
    step = next((s for s in info.steps if s.id == step_id), None)
    if step is None:
        raise NotFound("step", step_id)
    if info.status in TERMINAL_RUN:
        raise Conflict(f"Run {run_id} already finished ({info.status.value})")
    if step.approval and step.approval.get("status") == "waiting":
        reason = approvals.refusal(
            approvers=step.approval.get("approvers") or [], allow_self=bool(step.approval.get("allowSelfApproval")),
            starter_id=info.startedBy.id if info.startedBy else None, approved=approved, decider_id=caller.id,
            decider_username=caller.username, decider_role=caller.role)
        if reason is not None:
            raise Forbidden(reason, resource="step", id=step_id)
    decision = ApprovalDecision(step_id=step_id, approved=approved, by=caller.username, by_id=caller.id,
                                by_role=caller.role, comment=comment)
    handle = client.get_workflow_handle(run_id)
    try:
        return await handle.execute_update(DECIDE_APPROVAL_UPDATE, decision, result_type=StepState)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        if isinstance(cause, ApplicationError) and cause.type == approvals.FORBIDDEN_TYPE:
            raise Forbidden(message, resource="step", id=step_id) from None
        raise Conflict(message) from None
    except RPCError as err:
        raise Conflict(f"Run {run_id} is not accepting decisions: {err.message}") from None


def run_logs(run_id: str, *, caller: Caller) -> tuple[RunInfo, list[Event] | None]:
    """The run and its events — the events (and the steps' output) only for those entitled to them (None)."""
    info = get_run_row(run_id)
    access = _access(info.workflowId)
    if not entitled(info, caller, access):
        return run_view(info, caller, access), None
    return info, list_events(run_id)


# ---- internals ---------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def _from_state(state: RunState, created_at: datetime) -> RunInfo:
    return RunInfo(id=state.id, workflowId=state.workflowId, version=state.version, startedBy=state.startedBy,
                   status=state.status, inputs=state.inputs, createdAt=created_at, startedAt=state.startedAt,
                   endedAt=state.endedAt, error=state.error, steps=state.steps)


def _from_row(row: RunRow) -> RunInfo:
    state = RunState.model_validate(row.state) if row.state else None
    return RunInfo(
        id=row.id,
        workflowId=row.workflow_id,
        version=row.version,
        startedBy=state.startedBy if state else None,
        status=RunStatus(row.status),
        inputs=row.inputs,
        createdAt=_aware(row.created_at),
        startedAt=_aware(row.started_at) if row.started_at else None,
        endedAt=_aware(row.ended_at) if row.ended_at else None,
        error=row.error,
        steps=state.steps if state else [],
        trigger=state.trigger if state else None,
        rerunOf=state.rerunOf if state else None,
        parentRunId=state.parentRunId if state else None,
        concurrency=state.concurrency if state else None,
    )
