"""Temporal Schedules for memory maintenance, created idempotently when a worker starts.

`ensure_schedules` creates the TTL-sweep schedule, or brings an existing one in line with the settings (interval,
task queue), so any number of workers may call it on start-up.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, Schedule

from core.names import MEMORY_SWEEP_WORKFLOW
from core.schedules.maintenance import ensure, interval_schedule
from core.settings import Settings

log = logging.getLogger("stellarflow.memory")
SWEEP_SCHEDULE_ID = "stellarflow-memory-sweep"
SWEEP_WORKFLOW_ID = "memory-sweep"


def sweep_schedule(settings: Settings) -> Schedule:
    return interval_schedule(MEMORY_SWEEP_WORKFLOW, SWEEP_WORKFLOW_ID, settings.task_queue,
                             timedelta(seconds=settings.memory_sweep_interval_s), timedelta(minutes=30))


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Create the memory sweep schedule, or update it when its interval or task queue changed."""
    await ensure(client, SWEEP_SCHEDULE_ID, sweep_schedule(settings), log,
                 f"every {settings.memory_sweep_interval_s}s")
