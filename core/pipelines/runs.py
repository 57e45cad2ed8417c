"""Pipeline runs: start, read (live while running), list, cancel, approve, logs.

A run is a PipelineWorkflow whose workflow id is the run id; the database only holds its projection.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import QueryRejectCondition, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core.db import session_scope
from core.dsl.validate import DefinitionError, resolve_inputs
from core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from core.events.contracts import EntityRecord
from core.events.models import Event
from core.events.store import list_events, record
from core.ids import new_id
from core.listing import Page, PageRequest, paginate
from core.names import PIPELINE_WORKFLOW
from core.pipelines.contracts import DECIDE_APPROVAL_UPDATE, STATUS_QUERY, ApprovalDecision, PipelineInput
from core.pipelines.definitions import get_definition
from core.pipelines.models import TERMINAL_RUN, RunState, RunStatus, StepState
from core.pipelines.projection import RUN_PROJECTION
from core.pipelines.tables import RunRow
from core.settings import Settings
from core.temporal import SA_STATUS, SA_VERSION, SA_WORKFLOW_ID

SORTABLE = {"createdAt": RunRow.created_at, "status": RunRow.status}
FILTERABLE = {"status": RunRow.status, "workflowId": RunRow.workflow_id}


class RunInfo(BaseModel):
    id: str
    workflowId: str
    version: int
    status: RunStatus
    inputs: dict[str, Any]
    createdAt: datetime
    startedAt: datetime | None
    endedAt: datetime | None
    error: str | None
    steps: list[StepState]

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
    version: int | None = None,
) -> tuple[RunInfo, bool]:
    """Returns (run, created). Retries are made safe by the API's Idempotency-Key layer (api/idempotency.py),
    which answers a retry with the first response before this is called again."""
    info, definition = await asyncio.to_thread(get_definition, workflow_id, version)
    pinned = version or info.version
    run_id = new_id("run")
    try:
        resolved = resolve_inputs(definition, inputs or {})
    except DefinitionError as err:
        raise ValidationFailed("Run inputs are invalid", details=[i.as_detail() for i in err.issues]) from None

    state = RunState(id=run_id, workflowId=workflow_id, version=pinned, inputs=resolved,
                     steps=[StepState(id=s.id, name=s.name, action=s.action) for s in definition.steps])
    pipeline_input = PipelineInput(
        run_id=run_id,
        workflow_id=workflow_id,
        version=pinned,
        definition=definition.dump(),
        inputs=resolved,
        heartbeat_timeout_s=settings.heartbeat_timeout_s,
        default_timeout_s=settings.default_step_timeout_s,
        link=ui_link(settings, run_id),
    )
    try:
        await client.start_workflow(
            PIPELINE_WORKFLOW,
            pipeline_input,
            id=run_id,
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SA_WORKFLOW_ID, workflow_id),
                SearchAttributePair(SA_VERSION, pinned),
                SearchAttributePair(SA_STATUS, RunStatus.running.value),
            ]),
        )
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the run: {err.message}") from None
    snapshot = EntityRecord(kind=RUN_PROJECTION.kind, id=run_id, seq=0, snapshot=state.model_dump(mode="json"))
    await asyncio.to_thread(record, snapshot, RUN_PROJECTION)
    return await asyncio.to_thread(get_run_row, run_id), True


async def get_run(client: Client, run_id: str, *, wait_s: float = 0) -> RunInfo:
    """The live state while the run is open (a workflow query), the projection once it is closed.

    With `wait_s`, first wait up to that long for the run to close (a long poll on the server, so a client
    that only wants the outcome need not poll)."""
    info = await asyncio.to_thread(get_run_row, run_id)
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
        id=live.id, workflowId=live.workflowId, version=live.version, status=live.status, inputs=live.inputs,
        createdAt=info.createdAt, startedAt=live.startedAt, endedAt=live.endedAt, error=live.error,
        steps=live.steps,
    )


def get_run_row(run_id: str) -> RunInfo:
    with session_scope() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise NotFound("run", run_id)
        return _from_row(row)


def list_runs(page: PageRequest, *, workflow_id: str | None = None) -> Page[RunInfo]:
    if workflow_id is not None:
        get_definition(workflow_id)  # 404 for an unknown workflow
    with session_scope() as session:
        query = select(RunRow)
        if workflow_id is not None:
            query = query.where(RunRow.workflow_id == workflow_id)
        rows = paginate(session, query, page, sortable=SORTABLE, default="-createdAt", id_column=RunRow.id,
                        filterable=FILTERABLE)
        return rows.map(_from_row)


async def cancel_run(client: Client, run_id: str) -> RunInfo:
    info = get_run_row(run_id)
    if info.status in TERMINAL_RUN:
        raise Conflict(f"Run {run_id} already finished ({info.status.value})")
    await client.get_workflow_handle(run_id).cancel()
    return await get_run(client, run_id)


async def decide_approval(
    client: Client, run_id: str, step_id: str, *, approved: bool, by: str | None, comment: str | None
) -> StepState:
    info = get_run_row(run_id)
    if step_id not in {s.id for s in info.steps}:
        raise NotFound("step", step_id)
    if info.status in TERMINAL_RUN:
        raise Conflict(f"Run {run_id} already finished ({info.status.value})")
    handle = client.get_workflow_handle(run_id)
    try:
        return await handle.execute_update(
            DECIDE_APPROVAL_UPDATE,
            ApprovalDecision(step_id=step_id, approved=approved, by=by, comment=comment),
            result_type=StepState,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise Conflict(message) from None
    except RPCError as err:
        raise Conflict(f"Run {run_id} is not accepting decisions: {err.message}") from None


def run_logs(run_id: str) -> tuple[RunInfo, list[Event]]:
    return get_run_row(run_id), list_events(run_id)


# ---- internals ---------------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_row(row: RunRow) -> RunInfo:
    state = RunState.model_validate(row.state) if row.state else None
    return RunInfo(
        id=row.id,
        workflowId=row.workflow_id,
        version=row.version,
        status=RunStatus(row.status),
        inputs=row.inputs,
        createdAt=_aware(row.created_at),
        startedAt=_aware(row.started_at) if row.started_at else None,
        endedAt=_aware(row.ended_at) if row.ended_at else None,
        error=row.error,
        steps=state.steps if state else [],
    )
