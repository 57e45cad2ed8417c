"""The daily reconciliation schedule, created (or brought in line with the task queue) when a worker starts."""

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

from core.names import RECONCILE_WORKFLOW
from core.settings import Settings

log = logging.getLogger("stellarflow.reconcile")
RECONCILE_SCHEDULE_ID = "stellarflow-reconcile"
RECONCILE_WORKFLOW_ID = "reconcile-projections"
EVERY = timedelta(days=1)


def reconcile_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(RECONCILE_WORKFLOW, id=RECONCILE_WORKFLOW_ID,
                                           task_queue=settings.task_queue, execution_timeout=timedelta(hours=2)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedule(client: Client, settings: Settings) -> None:
    wanted = reconcile_schedule(settings)
    try:
        await client.create_schedule(RECONCILE_SCHEDULE_ID, wanted)
        log.info("created schedule %s (daily)", RECONCILE_SCHEDULE_ID)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(RECONCILE_SCHEDULE_ID)
    current = (await handle.describe()).schedule
    action = current.action
    if (current.spec.intervals == wanted.spec.intervals and isinstance(action, ScheduleActionStartWorkflow)
            and action.task_queue == settings.task_queue and action.workflow == RECONCILE_WORKFLOW):
        return

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    log.info("updated schedule %s", RECONCILE_SCHEDULE_ID)
