"""Concurrency groups' side effects: asking a group's workflow for the lock (signal-with-start, so the first request
starts the group), and telling a group which of its runs still exist."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from core import names
from core.concurrency.contracts import ACQUIRE_SIGNAL, GroupState, LockRequest


@activity.defn(name=names.REQUEST_LOCK)
async def request_lock(request: LockRequest) -> None:
    """Idempotent: the group answers a repeated request with the request's current state."""
    await activity.client().start_workflow(
        names.CONCURRENCY_GROUP_WORKFLOW, GroupState(group=request.group), id=request.group_id,
        task_queue=activity.info().task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=ACQUIRE_SIGNAL, start_signal_args=[request],
        static_summary=f"concurrency group {request.group}"[:400])


@activity.defn(name=names.OPEN_WORKFLOWS)
async def open_workflows(workflow_ids: list[str]) -> list[str]:
    """Which of these workflows are still running (a run terminated by hand never released its group)."""
    client = activity.client()
    still: list[str] = []
    for workflow_id in workflow_ids:
        try:
            described = await client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        if described.status == WorkflowExecutionStatus.RUNNING:
            still.append(workflow_id)
    return still
