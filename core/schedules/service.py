"""Schedule triggers on Temporal Schedules (see the package doc).

One schedule per `{type: schedule}` trigger, id `stellarflow-wf-<workflow id>-<n>` (n: its position among the
definition's schedule triggers, from 0). Its action starts PipelineWorkflow with the current version pinned and the
trigger's inputs, as the workflow's owner, with the run's search attributes and Temporal UI summary; the run id is
the one Temporal gives a scheduled workflow (`run-<workflow id>-s<n>-<time>`). A new version updates the schedule
(its paused state kept), a dropped trigger or a deleted workflow deletes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlmodel import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from core.access import Caller, require_write
from core.db import session_scope, utcnow
from core.dsl.models import Trigger, WorkflowDefinition
from core.dsl.validate import resolve_inputs
from core.errors import NotFound, Unavailable, ValidationFailed
from core.names import PIPELINE_WORKFLOW
from core.pipelines.contracts import PipelineInput, TriggerInfo
from core.pipelines.launch import run_metadata
from core.pipelines.models import RunStarter
from core.pipelines.owners import owner_caller
from core.pipelines.tables import WorkflowRow, WorkflowVersionRow
from core.schedules.tables import WorkflowScheduleRow
from core.settings import Settings
from core.temporal import run_search_attributes

log = logging.getLogger("stellarflow.schedules")

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer-all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel-other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate-other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow-all": ScheduleOverlapPolicy.ALLOW_ALL,
}
Action = Literal["pause", "resume", "trigger", "backfill"]


class ScheduleView(BaseModel):
    n: int
    scheduleId: str
    cron: str | None = None
    every: float | None = None  # seconds
    timezone: str | None = None
    overlap: str
    paused: bool = False
    note: str | None = None
    nextRun: datetime | None = None
    lastRun: datetime | None = None
    recentRuns: list[str] = []


class Backfill(BaseModel):
    start: datetime
    end: datetime
    overlap: str | None = None


def schedule_id(workflow_id: str, n: int) -> str:
    return f"stellarflow-wf-{workflow_id}-{n}"


@dataclass
class _Wanted:
    n: int
    trigger: Trigger
    schedule: Schedule
    digest: str


def _wanted(workflow: WorkflowRow, definition: WorkflowDefinition, settings: Settings) -> list[_Wanted]:
    starter_caller = owner_caller(workflow.owner)
    starter = RunStarter(id=starter_caller.id, username=starter_caller.username)
    out = []
    for n, trigger in enumerate(definition.schedules()):
        inputs = resolve_inputs(definition, trigger.inputs)
        sid = schedule_id(workflow.id, n)
        payload = PipelineInput(
            run_id="", workflow_id=workflow.id, version=workflow.version, definition=definition.dump(),
            inputs=inputs, heartbeat_timeout_s=settings.heartbeat_timeout_s,
            default_timeout_s=settings.default_step_timeout_s, started_by=starter, owner=workflow.owner,
            trigger=TriggerInfo(type="schedule", schedule=sid),
            ui_base=f"{settings.ui_url}/namespaces/{settings.temporal_namespace}/workflows/",
            max_depth=settings.max_workflow_depth)
        summary, details = run_metadata(definition.name, workflow.id, workflow.version, "schedule", starter.username,
                                        schedule=sid)
        spec = ScheduleSpec(cron_expressions=[trigger.cron], time_zone_name=trigger.timezone) if trigger.cron else \
            ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=trigger.every or 60))])
        policy = SchedulePolicy(overlap=OVERLAP[trigger.overlap],
                                catchup_window=timedelta(seconds=trigger.catchupWindow)
                                if trigger.catchupWindow else timedelta(days=365))
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                PIPELINE_WORKFLOW, payload, id=f"run-{workflow.id}-s{n}", task_queue=settings.task_queue,
                typed_search_attributes=run_search_attributes(workflow.id, workflow.version, "schedule"),
                static_summary=summary, static_details=details),
            spec=spec, policy=policy,
            state=ScheduleState(note=f"schedule trigger {n} of workflow {workflow.id} (version {workflow.version})"))
        digest = hashlib.sha256(json.dumps([payload.model_dump(mode="json"), trigger.model_dump(mode="json"),
                                            settings.task_queue], sort_keys=True).encode()).hexdigest()[:32]
        out.append(_Wanted(n, trigger, schedule, digest))
    return out


def _load(workflow_id: str) -> tuple[WorkflowRow | None, WorkflowDefinition | None, list[WorkflowScheduleRow]]:
    with session_scope() as session:
        row = session.get(WorkflowRow, workflow_id)
        existing = list(session.exec(select(WorkflowScheduleRow)
                                     .where(WorkflowScheduleRow.workflow_id == workflow_id)).all())
        for item in existing:
            session.expunge(item)
        if row is None or row.status == "deleted":
            return None, None, existing
        stored = session.get(WorkflowVersionRow, (workflow_id, row.version))
        session.expunge(row)
        definition = WorkflowDefinition.model_validate(stored.definition) if stored else None
        return row, definition, existing


async def reconcile(client: Client | Callable[[], Awaitable[Client]], settings: Settings,
                    workflow_id: str) -> list[str]:
    """Bring the workflow's Temporal Schedules in line with its current definition (none once it is deleted).
    Idempotent: run it after every create, version and delete, at start-up, and again after a failure. `client` may
    be a function connecting on demand: a workflow that has and had no schedules never needs Temporal here."""
    row, definition, existing = await asyncio.to_thread(_load, workflow_id)
    wanted = await asyncio.to_thread(_wanted, row, definition, settings) if row and definition else []
    known = {item.schedule_id: item for item in existing}
    if not wanted and not known:
        return []
    if not isinstance(client, Client):
        client = await client()
    ids = []
    try:
        for item in wanted:
            sid = schedule_id(workflow_id, item.n)
            ids.append(sid)
            previous = known.get(sid)
            if previous is not None and previous.digest == item.digest:
                continue
            await _create_or_update(client, sid, item.schedule)
            await asyncio.to_thread(_remember, sid, workflow_id, item.n, row.version if row else 0, item.digest)
        for sid in set(known) - set(ids):
            await _delete(client, sid)
            await asyncio.to_thread(_forget, sid)
    except RPCError as err:
        raise Unavailable(f"Temporal did not accept the workflow's schedules: {err.message}") from None
    return ids


async def _create_or_update(client: Client, sid: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(sid, schedule)
        log.info("created schedule %s", sid)
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        schedule.state = ScheduleState(note=schedule.state.note, paused=state.paused)  # a pause survives versions
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(sid).update(replace)
    log.info("updated schedule %s", sid)


async def _delete(client: Client, sid: str) -> None:
    try:
        await client.get_schedule_handle(sid).delete()
        log.info("deleted schedule %s", sid)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


def _remember(sid: str, workflow_id: str, n: int, version: int, digest: str) -> None:
    with session_scope() as session:
        row = session.get(WorkflowScheduleRow, sid) or WorkflowScheduleRow(
            schedule_id=sid, workflow_id=workflow_id, position=n, version=version, digest=digest)
        row.version, row.digest, row.updated_at = version, digest, utcnow()
        session.add(row)


def _forget(sid: str) -> None:
    with session_scope() as session:
        row = session.get(WorkflowScheduleRow, sid)
        if row is not None:
            session.delete(row)


def scheduled_workflow_ids() -> list[str]:
    with session_scope() as session:
        return sorted(set(session.exec(select(WorkflowScheduleRow.workflow_id)).all()))


async def reconcile_all(client: Client, settings: Settings) -> None:
    """Every active workflow with schedule triggers, and every workflow that still has schedules (start-up)."""

    def ids() -> list[str]:
        with session_scope() as session:
            active = session.exec(select(WorkflowRow.id).where(WorkflowRow.status == "active")).all()
        return sorted(set(active) | set(scheduled_workflow_ids()))

    for workflow_id in await asyncio.to_thread(ids):
        try:
            await reconcile(client, settings, workflow_id)
        except Exception:  # noqa: BLE001 - one bad workflow must not stop the others
            log.exception("could not reconcile the schedules of %s", workflow_id)


# ---- reading and controlling ------------------------------------------------------------------------------------


async def views(client: Client, workflow_id: str) -> list[ScheduleView]:
    """The workflow's schedules as Temporal describes them: next and last run, paused, recent runs."""
    row, definition, existing = await asyncio.to_thread(_load, workflow_id)
    if row is None:
        raise NotFound("workflow", workflow_id)
    triggers = definition.schedules() if definition else []
    out = []
    for n, trigger in enumerate(triggers):
        sid = schedule_id(workflow_id, n)
        view = ScheduleView(n=n, scheduleId=sid, cron=trigger.cron, every=trigger.every, timezone=trigger.timezone,
                            overlap=trigger.overlap)
        try:
            described = await client.get_schedule_handle(sid).describe()
        except RPCError:
            out.append(view)
            continue
        info = described.info
        view.paused = described.schedule.state.paused
        view.note = described.schedule.state.note
        view.nextRun = info.next_action_times[0] if info.next_action_times else None
        if info.recent_actions:
            view.lastRun = max(action.started_at for action in info.recent_actions)
            view.recentRuns = [getattr(action.action, "workflow_id", "") for action in info.recent_actions]
        out.append(view)
    return out


async def run_times(client: Client | Callable[[], Awaitable[Client]],
                    workflow_id: str) -> tuple[datetime | None, datetime | None]:
    """(nextRun, lastRun) over the workflow's schedules (None without schedules)."""
    if workflow_id not in await asyncio.to_thread(scheduled_workflow_ids):
        return None, None
    if not isinstance(client, Client):
        client = await client()
    try:
        found = await views(client, workflow_id)
    except (NotFound, RPCError):
        return None, None
    upcoming = [v.nextRun for v in found if v.nextRun and not v.paused]
    past = [v.lastRun for v in found if v.lastRun]
    return (min(upcoming) if upcoming else None), (max(past) if past else None)


async def control(client: Client, workflow_id: str, n: int, action: Action, *, caller: Caller,
                  backfill: Backfill | None = None) -> ScheduleView:
    """Pause, resume, trigger now or backfill the workflow's n-th schedule: its owner or an admin (403)."""
    row, definition, _ = await asyncio.to_thread(_load, workflow_id)
    if row is None or definition is None:
        raise NotFound("workflow", workflow_id)
    require_write(caller, row.owner, "workflow", workflow_id, f"{action} its schedules")
    if not 0 <= n < len(definition.schedules()):
        raise NotFound("schedule", f"{workflow_id}/{n}")
    handle = client.get_schedule_handle(schedule_id(workflow_id, n))
    note = f"{action} by {caller.username}"
    try:
        if action == "pause":
            await handle.pause(note=note)
        elif action == "resume":
            await handle.unpause(note=note)
        elif action == "trigger":
            await handle.trigger()
        else:
            if backfill is None:
                raise ValidationFailed("A backfill needs `start` and `end`")
            start, end = _aware(backfill.start), _aware(backfill.end)
            if end <= start:
                raise ValidationFailed("`end` must be after `start`", details=[{"field": "end", "constraint": "min"}])
            overlap = OVERLAP.get(backfill.overlap or "") or OVERLAP[definition.schedules()[n].overlap]
            await handle.backfill(ScheduleBackfill(start_at=start, end_at=end, overlap=overlap))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise NotFound("schedule", f"{workflow_id}/{n}") from None
        raise Unavailable(f"Temporal did not accept the request: {err.message}") from None
    return (await views(client, workflow_id))[n]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
