"""The metrics sampling Schedule (every STELLARFLOW_METRICS_SAMPLE_INTERVAL_S, one minute by default), created or
brought in line with the settings when a worker starts, like the memory sweep's."""

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

from core.names import METRICS_SAMPLE_WORKFLOW
from core.settings import Settings

log = logging.getLogger("stellarflow.metrics")
SCHEDULE_ID = "stellarflow-metrics-sample"
WORKFLOW_ID = "metrics-sample"


def sample_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(METRICS_SAMPLE_WORKFLOW, id=WORKFLOW_ID, task_queue=settings.task_queue,
                                           execution_timeout=timedelta(minutes=2)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(seconds=settings.metrics_sample_interval_s))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedule(client: Client, settings: Settings) -> None:
    wanted = sample_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        log.info("created schedule %s (every %ss)", SCHEDULE_ID, settings.metrics_sample_interval_s)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(SCHEDULE_ID)
    current = (await handle.describe()).schedule
    action = current.action
    if (current.spec.intervals == wanted.spec.intervals and isinstance(action, ScheduleActionStartWorkflow)
            and action.task_queue == settings.task_queue and action.workflow == METRICS_SAMPLE_WORKFLOW):
        return

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    log.info("updated schedule %s (every %ss)", SCHEDULE_ID, settings.metrics_sample_interval_s)
