"""The artifact retention Schedule (every STELLARFLOW_ARTIFACT_SWEEP_INTERVAL_S), created or updated idempotently
when a worker starts, like the memory sweep's."""

from __future__ import annotations

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

from core.names import ARTIFACT_SWEEP_WORKFLOW
from core.settings import Settings

SCHEDULE_ID = "stellarflow-artifact-retention"


def retention_schedule(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(ARTIFACT_SWEEP_WORKFLOW, id="artifact-sweep", task_queue=settings.task_queue,
                                           execution_timeout=timedelta(hours=1)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.artifact_sweep_interval_s))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedule(client: Client, settings: Settings) -> None:
    wanted = retention_schedule(settings)
    try:
        await client.create_schedule(SCHEDULE_ID, wanted)
        return
    except ScheduleAlreadyRunningError:
        pass

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(SCHEDULE_ID).update(replace)
