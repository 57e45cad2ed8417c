"""Temporal Schedules for memory maintenance, created idempotently when a worker starts.

`ensure_schedules` creates the TTL-sweep schedule, or brings an existing one in line with the settings (interval,
task queue), so any number of workers may call it on start-up.
"""

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

from core.names import MEMORY_SWEEP_WORKFLOW
from core.settings import Settings

log = logging.getLogger("stellarflow.memory")
SWEEP_SCHEDULE_ID = "stellarflow-memory-sweep"
SWEEP_WORKFLOW_ID = "memory-sweep"


def sweep_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(MEMORY_SWEEP_WORKFLOW, id=SWEEP_WORKFLOW_ID, task_queue=settings.task_queue,
                                           execution_timeout=timedelta(minutes=30)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.memory_sweep_interval_s))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),  # a slow sweep is never doubled up
    )


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create the memory sweep schedule, or update it when its interval or task queue changed."""
    wanted = sweep_schedule(settings)
    try:
        await client.create_schedule(SWEEP_SCHEDULE_ID, wanted)
        log.info("created schedule %s (every %ss)", SWEEP_SCHEDULE_ID, settings.memory_sweep_interval_s)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(SWEEP_SCHEDULE_ID)
    current = (await handle.describe()).schedule
    action = current.action
    if (current.spec.intervals == wanted.spec.intervals and isinstance(action, ScheduleActionStartWorkflow)
            and action.task_queue == settings.task_queue and action.workflow == MEMORY_SWEEP_WORKFLOW):
        return

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    log.info("updated schedule %s (every %ss)", SWEEP_SCHEDULE_ID, settings.memory_sweep_interval_s)
