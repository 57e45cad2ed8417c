"""The maintenance Schedules workers keep in line on start-up (memory TTL sweep, artifact retention, metrics
sample, daily reconciliation): one shape — start one workflow every interval, never two at once — and one
idempotent create-or-update, so any number of workers may call it as they start."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


def interval_schedule(workflow: str, workflow_id: str, task_queue: str, every: timedelta,
                      timeout: timedelta) -> Schedule:
    """Start `workflow` every `every`; a run still going when the next is due is not doubled up (SKIP)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(workflow, id=workflow_id, task_queue=task_queue,
                                           execution_timeout=timeout),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure(client: Client, schedule_id: str, wanted: Schedule, log: logging.Logger, what: str) -> None:
    """Create the schedule, or update it when its interval, task queue or workflow differ from `wanted`."""
    try:
        await client.create_schedule(schedule_id, wanted)
        log.info("created schedule %s (%s)", schedule_id, what)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)
    current = (await handle.describe()).schedule
    action, target = current.action, wanted.action
    assert isinstance(target, ScheduleActionStartWorkflow)
    if (current.spec.intervals == wanted.spec.intervals and isinstance(action, ScheduleActionStartWorkflow)
            and action.task_queue == target.task_queue and action.workflow == target.workflow):
        return

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    log.info("updated schedule %s (%s)", schedule_id, what)
