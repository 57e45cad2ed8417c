"""Repair the read model from Temporal: the `runs`, `agents`, `tasks`, `swarms` and `orchestrations` projections.

Workflows write their projection rows themselves (`core.events.store.record`), in the same transaction as their
events, so in normal operation the two never disagree. They can drift when the database loses writes — a restore
from a backup older than Temporal's state, a manual edit, a deleted row. `reconcile` compares the two and repairs
the projection:

1. **Temporal → projection.** Every PipelineWorkflow, AgentWorkflow, TaskWorkflow, SwarmWorkflow and
   OrchestrationWorkflow in Temporal's visibility (the latest run of each workflow id) is matched with its row.
   A row that is missing is rebuilt; a row whose status disagrees with the workflow's (open vs. finished) is
   rewritten. The state comes from the workflow's `status` query — live for open workflows, a replay on a worker
   for closed ones — so the rebuilt row is exactly what the workflow would have written. A workflow that Temporal
   ended without it recording its end (terminated, timed out, cancelled before it could record) is marked ended
   with Temporal's reason.
2. **Projection → Temporal.** Rows whose workflow Temporal does not know are reported as `orphans` and left alone:
   Temporal deletes closed histories after the namespace's retention period, while the projection keeps them.

A rebuilt row keeps the highest sequence number seen for the resource (its row's or its events'), so the workflow's
own next write still replaces it. The report says what was checked, rebuilt, rewritten and orphaned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus

from core.agents.projection import AGENT_PROJECTION, SWARM_PROJECTION, TASK_PROJECTION
from core.agents.state import AgentState, SwarmState, TaskState
from core.agents.tables import AgentRow, SwarmRow, TaskRow
from core.db import session_scope
from core.events.contracts import EntityRecord
from core.events.store import repair
from core.events.tables import EventRow
from core.names import AGENT_WORKFLOW, ORCHESTRATION_WORKFLOW, PIPELINE_WORKFLOW, SWARM_WORKFLOW, TASK_WORKFLOW
from core.orchestrations.models import OrchestrationState
from core.orchestrations.projection import ORCHESTRATION_PROJECTION
from core.orchestrations.tables import OrchestrationRow
from core.pipelines.models import RunState
from core.pipelines.projection import RUN_PROJECTION
from core.pipelines.tables import RunRow

log = logging.getLogger("stellarflow.reconcile")
STATUS_QUERY = "status"  # every workflow with a projection answers it with its state (core.agents.contracts too)
QUERY_TIMEOUT = timedelta(seconds=15)


class Kind(BaseModel, arbitrary_types_allowed=True):
    name: str  # run | agent | task | swarm
    workflow_type: str
    state: type[BaseModel]
    writer: Any  # ProjectionWriter
    table: Any
    open_statuses: frozenset[str]
    # What the workflow's Recorder leaves out of its snapshot (workflows/agent.py, workflows/swarm.py).
    exclude: frozenset[str] = frozenset()
    ended: dict[str, str]  # Temporal's close status -> the status a workflow ended that way gets, if it did not say


KINDS = [
    Kind(name="run", workflow_type=PIPELINE_WORKFLOW, state=RunState, writer=RUN_PROJECTION, table=RunRow,
         open_statuses=frozenset({"pending", "running"}),
         ended={"CANCELED": "cancelled", "TERMINATED": "failed", "TIMED_OUT": "failed", "FAILED": "failed",
                "COMPLETED": "failed"}),
    Kind(name="agent", workflow_type=AGENT_WORKFLOW, state=AgentState, writer=AGENT_PROJECTION, table=AgentRow,
         open_statuses=frozenset({"initializing", "idle", "active"}), exclude=frozenset({"recent"}),
         ended=dict.fromkeys(("CANCELED", "TERMINATED", "TIMED_OUT", "FAILED", "COMPLETED"), "terminated")),
    Kind(name="task", workflow_type=TASK_WORKFLOW, state=TaskState, writer=TASK_PROJECTION, table=TaskRow,
         open_statuses=frozenset({"pending", "queued", "running"}),
         ended={"CANCELED": "cancelled", "TERMINATED": "failed", "TIMED_OUT": "failed", "FAILED": "failed",
                "COMPLETED": "failed"}),
    Kind(name="swarm", workflow_type=SWARM_WORKFLOW, state=SwarmState, writer=SWARM_PROJECTION, table=SwarmRow,
         open_statuses=frozenset({"initializing", "active", "paused"}),
         exclude=frozenset({"queue", "tickets", "recent"}),
         ended=dict.fromkeys(("CANCELED", "TERMINATED", "TIMED_OUT", "FAILED", "COMPLETED"), "terminated")),
    Kind(name="orchestration", workflow_type=ORCHESTRATION_WORKFLOW, state=OrchestrationState,
         writer=ORCHESTRATION_PROJECTION, table=OrchestrationRow, open_statuses=frozenset({"planning", "running"}),
         ended={"CANCELED": "cancelled", "TERMINATED": "failed", "TIMED_OUT": "failed", "FAILED": "failed",
                "COMPLETED": "failed"}),
]
BY_TYPE = {kind.workflow_type: kind for kind in KINDS}


class Fix(BaseModel):
    kind: str
    id: str
    action: str  # "rebuilt" (the row was missing) | "rewritten" (its status disagreed)
    before: str | None = None  # the row's status before
    after: str
    temporal: str  # Temporal's execution status


class ReconcileReport(BaseModel):
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool = False
    checked: dict[str, int] = Field(default_factory=dict)  # workflows seen in Temporal, per kind
    rows: dict[str, int] = Field(default_factory=dict)  # projection rows, per kind
    fixes: list[Fix] = Field(default_factory=list)
    orphans: dict[str, list[str]] = Field(default_factory=dict)  # rows Temporal does not know, per kind
    errors: list[str] = Field(default_factory=list)

    @property
    def fixed(self) -> int:
        return len(self.fixes)

    def summary(self) -> str:
        checked = ", ".join(f"{n} {k}s" for k, n in self.checked.items())
        orphaned = sum(len(ids) for ids in self.orphans.values())
        verb = "would fix" if self.dry_run else "fixed"
        return (f"checked {checked or 'nothing'}; {verb} {self.fixed} "
                f"({sum(f.action == 'rebuilt' for f in self.fixes)} rebuilt, "
                f"{sum(f.action == 'rewritten' for f in self.fixes)} rewritten); {orphaned} orphaned rows; "
                f"{len(self.errors)} errors")


class _Execution(BaseModel):
    id: str
    run_id: str | None
    status: str  # RUNNING | COMPLETED | FAILED | CANCELED | TERMINATED | TIMED_OUT
    start_time: datetime | None
    close_time: datetime | None


async def _executions(client: Client, kind: Kind, heartbeat: Callable[[], Any]) -> dict[str, _Execution]:
    """The latest execution of every workflow id of this kind (continued-as-new runs are superseded)."""
    found: dict[str, _Execution] = {}
    query = f"WorkflowType = '{kind.workflow_type}'"
    count = 0
    async for execution in client.list_workflows(query, page_size=1000):
        count += 1
        if count % 500 == 0:
            heartbeat()
        status = execution.status.name if execution.status is not None else "RUNNING"
        if status == WorkflowExecutionStatus.CONTINUED_AS_NEW.name:
            continue
        current = found.get(execution.id)
        if current is None or (current.status != "RUNNING" and status == "RUNNING"):
            found[execution.id] = _Execution(id=execution.id, run_id=execution.run_id, status=status,
                                             start_time=execution.start_time, close_time=execution.close_time)
    return found


def _rows(kind: Kind) -> dict[str, tuple[str, int]]:
    """id -> (status, seq) of every projection row of this kind."""
    table = kind.table.__table__
    with session_scope() as session:
        return {row.id: (row.status, row.seq) for row in session.execute(select(table.c.id, table.c.status,
                                                                                 table.c.seq))}


def _event_seq(resource_id: str) -> int:
    with session_scope() as session:
        return int(session.execute(select(func.coalesce(func.max(EventRow.seq), 0))
                                   .where(EventRow.resource_id == resource_id)).scalar_one())


async def _state(client: Client, kind: Kind, execution: _Execution) -> dict[str, Any]:
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    state = await handle.query(STATUS_QUERY, result_type=kind.state, rpc_timeout=QUERY_TIMEOUT)
    snapshot = state.model_dump(mode="json", exclude=set(kind.exclude))
    status = snapshot.get("status")
    if execution.status != "RUNNING" and status in kind.open_statuses:
        # Temporal ended it before it could record its end: say so, as it would have.
        snapshot["status"] = kind.ended.get(execution.status, status)
        message = f"{execution.status.lower().replace('_', ' ')} in Temporal"
        if kind.name == "run":
            snapshot["error"] = snapshot.get("error") or message
            snapshot["endedAt"] = snapshot.get("endedAt") or _iso(execution.close_time)
        elif kind.name in ("task", "orchestration"):
            snapshot["error"] = snapshot.get("error") or message
    return snapshot


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _disagrees(kind: Kind, row_status: str, execution: _Execution) -> bool:
    return (execution.status == "RUNNING") != (row_status in kind.open_statuses)


async def reconcile(client: Client, *, dry_run: bool = False, kinds: list[str] | None = None,
                    only: list[str] | None = None, heartbeat: Callable[[], Any] = lambda: None,
                    concurrency: int = 8) -> ReconcileReport:
    """Compare every projection with Temporal and repair it (see the module docstring); `dry_run` only reports,
    `kinds` and `only` (resource ids) narrow what is looked at."""
    wanted = set(only) if only is not None else None
    report = ReconcileReport(started_at=datetime.now(UTC), dry_run=dry_run)
    limit = asyncio.Semaphore(concurrency)
    for kind in KINDS:
        if kinds and kind.name not in kinds:
            continue
        executions = await _executions(client, kind, heartbeat)
        rows = await asyncio.to_thread(_rows, kind)
        if wanted is not None:
            executions = {key: value for key, value in executions.items() if key in wanted}
            rows = {key: value for key, value in rows.items() if key in wanted}
        report.checked[kind.name] = len(executions)
        report.rows[kind.name] = len(rows)
        orphans = sorted(set(rows) - set(executions))
        if orphans:
            report.orphans[kind.name] = orphans
        todo = [execution for execution in executions.values()
                if execution.id not in rows or _disagrees(kind, rows[execution.id][0], execution)]

        async def fix(execution: _Execution, kind: Kind = kind, rows: dict = rows) -> None:
            async with limit:
                before = rows.get(execution.id)
                try:
                    snapshot = await _state(client, kind, execution)
                except Exception as err:  # noqa: BLE001 - one workflow's failure is reported, not fatal
                    report.errors.append(f"{kind.name} {execution.id}: {type(err).__name__}: {err}")
                    return
                if not dry_run:
                    seq = max(before[1] if before else 0, await asyncio.to_thread(_event_seq, execution.id))
                    record = EntityRecord(kind=kind.name, id=execution.id, seq=seq, snapshot=snapshot)
                    created = execution.start_time if kind.name == "run" and before is None else None
                    await asyncio.to_thread(repair, record, kind.writer, created_at=created)
                report.fixes.append(Fix(kind=kind.name, id=execution.id, action="rewritten" if before else "rebuilt",
                                        before=before[0] if before else None, after=str(snapshot.get("status")),
                                        temporal=execution.status))
                heartbeat()

        await asyncio.gather(*(fix(execution) for execution in todo))
    report.finished_at = datetime.now(UTC)
    log.info("reconcile: %s", report.summary())
    return report


