"""The daily reconciliation schedule, created (or brought in line with the task queue) when a worker starts."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, Schedule

from core.names import RECONCILE_WORKFLOW
from core.schedules.maintenance import ensure, interval_schedule
from core.settings import Settings

log = logging.getLogger("stellarflow.reconcile")
RECONCILE_SCHEDULE_ID = "stellarflow-reconcile"
RECONCILE_WORKFLOW_ID = "reconcile-projections"
EVERY = timedelta(days=1)


def reconcile_schedule(settings: Settings) -> Schedule:
    return interval_schedule(RECONCILE_WORKFLOW, RECONCILE_WORKFLOW_ID, settings.task_queue, EVERY,
                             timedelta(hours=2))


async def ensure_schedule(client: Client, settings: Settings) -> None:
    await ensure(client, RECONCILE_SCHEDULE_ID, reconcile_schedule(settings), log, "daily")
