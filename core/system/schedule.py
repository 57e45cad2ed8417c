"""The metrics sampling Schedule (every STELLARFLOW_METRICS_SAMPLE_INTERVAL_S, one minute by default), created or
brought in line with the settings when a worker starts, like the memory sweep's."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, Schedule

from core.names import METRICS_SAMPLE_WORKFLOW
from core.schedules.maintenance import ensure, interval_schedule
from core.settings import Settings

log = logging.getLogger("stellarflow.metrics")
SCHEDULE_ID = "stellarflow-metrics-sample"
WORKFLOW_ID = "metrics-sample"


def sample_schedule(settings: Settings) -> Schedule:
    return interval_schedule(METRICS_SAMPLE_WORKFLOW, WORKFLOW_ID, settings.task_queue,
                             timedelta(seconds=settings.metrics_sample_interval_s), timedelta(minutes=2))


async def ensure_schedule(client: Client, settings: Settings) -> None:
    await ensure(client, SCHEDULE_ID, sample_schedule(settings), log, f"every {settings.metrics_sample_interval_s}s")
