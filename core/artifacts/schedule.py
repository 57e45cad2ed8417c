"""The artifact retention Schedule (every STELLARFLOW_ARTIFACT_SWEEP_INTERVAL_S), created or updated idempotently
when a worker starts, like the memory sweep's."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, Schedule

from core.names import ARTIFACT_SWEEP_WORKFLOW
from core.schedules.maintenance import ensure, interval_schedule
from core.settings import Settings

log = logging.getLogger("stellarflow.artifacts")
SCHEDULE_ID = "stellarflow-artifact-retention"


def retention_schedule(settings: Settings) -> Schedule:
    return interval_schedule(ARTIFACT_SWEEP_WORKFLOW, "artifact-sweep", settings.task_queue,
                             timedelta(seconds=settings.artifact_sweep_interval_s), timedelta(hours=1))


async def ensure_schedule(client: Client, settings: Settings) -> None:
    await ensure(client, SCHEDULE_ID, retention_schedule(settings), log,
                 f"every {settings.artifact_sweep_interval_s}s")
